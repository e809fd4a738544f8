"""Where a command sends: an explicit option, else an environment variable, else the deployed stack.

An operator's machine has no `cdk.json`; what it can always reach is the stack itself, whose outputs
(CloudFormation `DescribeStacks`) name the queues (the bulk queue's URL and ARN, the urgent queue's URL),
the dead-letter queue and the event bus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final, NamedTuple

from botocore.exceptions import ClientError

# The stack's output names, defined once in the package the stack and this command share, re-exported.
from ivs_revocation.names import OUTPUT_BUS_NAME, OUTPUT_OUTCOME_BUS_NAME
from ivs_revocation.names import OUTPUT_DLQ_URL as OUTPUT_DLQ_URL
from ivs_revocation.names import OUTPUT_QUEUE_ARN as OUTPUT_QUEUE_ARN
from ivs_revocation.names import OUTPUT_QUEUE_URL as OUTPUT_QUEUE_URL
from ivs_revocation.names import OUTPUT_URGENT_QUEUE_URL as OUTPUT_URGENT_QUEUE_URL
from ivs_revoke.errors import ConfigurationError

OUTPUT_EVENT_BUS_NAME: Final = OUTPUT_BUS_NAME
ENV_QUEUE_URL: Final = "IVS_REVOKE_QUEUE_URL"
ENV_URGENT_QUEUE_URL: Final = "IVS_REVOKE_URGENT_QUEUE_URL"
ENV_DLQ_URL: Final = "IVS_REVOKE_DLQ_URL"
ENV_EVENT_BUS: Final = "IVS_REVOKE_EVENT_BUS"
ENV_STACK_NAME: Final = "IVS_REVOKE_STACK_NAME"
ENV_OUTCOME_EVENT_BUS: Final = "IVS_REVOKE_OUTCOME_EVENT_BUS"


class Target(NamedTuple):
    """A thing a command needs: what it is, its option, its environment variable, its stack output."""

    what: str
    option: str
    env_name: str
    output_key: str


QUEUE: Final = Target("queue URL", "--queue-url", ENV_QUEUE_URL, OUTPUT_QUEUE_URL)
URGENT_QUEUE: Final = Target("urgent queue URL", "--urgent-queue-url", ENV_URGENT_QUEUE_URL, OUTPUT_URGENT_QUEUE_URL)
DLQ: Final = Target("dead-letter queue URL", "--dlq-url", ENV_DLQ_URL, OUTPUT_DLQ_URL)
EVENT_BUS: Final = Target("event bus", "--event-bus NAME", ENV_EVENT_BUS, OUTPUT_EVENT_BUS_NAME)
OUTCOME_EVENT_BUS: Final = Target(
    "outcome event bus", "--outcome-event-bus", ENV_OUTCOME_EVENT_BUS, OUTPUT_OUTCOME_BUS_NAME
)


@dataclass
class StackOutputs:
    """The outputs of one deployed stack, fetched on first use."""

    stack_name: str | None
    cloudformation: Callable[[], Any]

    def get(self, key: str) -> str | None:
        return None if self.stack_name is None else self._outputs.get(key)

    @cached_property
    def _outputs(self) -> dict[str, str]:
        stack_name = self.stack_name
        try:
            stacks = self.cloudformation().describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationError":
                # CloudFormation's answer for a stack that does not exist (in this account and region).
                raise ConfigurationError(f"stack {stack_name}: {error.response['Error'].get('Message')}") from error
            raise
        return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def resolve(target: Target, explicit: str | None, environ: Mapping[str, str], stack: StackOutputs) -> str:
    """The first of: the option, the environment variable, the stack's output; else a clear error."""
    value = explicit or environ.get(target.env_name) or stack.get(target.output_key)
    if value:
        return value
    if stack.stack_name is not None:
        raise ConfigurationError(f"stack {stack.stack_name} has no output {target.output_key} ({target.what})")
    raise ConfigurationError(
        f"no {target.what}: give {target.option}, set {target.env_name}, "
        f"or name the deployed stack with --stack-name (or {ENV_STACK_NAME})"
    )
