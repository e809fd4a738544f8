"""Where a command sends: an explicit option, else an environment variable, else the deployed stack.

An operator's machine has no `cdk.json`; what it can always reach is the stack itself, whose outputs
(CloudFormation `DescribeStacks`) name the queues (the bulk queue's URL and ARN, the urgent queue's URL),
the dead-letter queue and the event bus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

# The stack's output names, defined once with the stack (a module without CDK imports).
from infra.constants import OUTPUT_BUS_NAME as OUTPUT_EVENT_BUS_NAME
from infra.constants import OUTPUT_DLQ_URL, OUTPUT_QUEUE_ARN, OUTPUT_QUEUE_URL, OUTPUT_URGENT_QUEUE_URL
from ivs_revoke.errors import ConfigurationError

ENV_QUEUE_URL: Final = "IVS_REVOKE_QUEUE_URL"
ENV_URGENT_QUEUE_URL: Final = "IVS_REVOKE_URGENT_QUEUE_URL"
ENV_DLQ_URL: Final = "IVS_REVOKE_DLQ_URL"
ENV_EVENT_BUS: Final = "IVS_REVOKE_EVENT_BUS"
ENV_STACK_NAME: Final = "IVS_REVOKE_STACK_NAME"

__all__ = [
    "ENV_DLQ_URL",
    "ENV_EVENT_BUS",
    "ENV_QUEUE_URL",
    "ENV_STACK_NAME",
    "ENV_URGENT_QUEUE_URL",
    "OUTPUT_DLQ_URL",
    "OUTPUT_EVENT_BUS_NAME",
    "OUTPUT_QUEUE_ARN",
    "OUTPUT_QUEUE_URL",
    "OUTPUT_URGENT_QUEUE_URL",
    "Environment",
    "StackOutputs",
    "resolve",
]


@dataclass(frozen=True)
class Environment:
    """The environment variables this command reads, read once."""

    queue_url: str | None = None
    urgent_queue_url: str | None = None
    dlq_url: str | None = None
    event_bus: str | None = None
    stack_name: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Environment:
        return cls(
            queue_url=environ.get(ENV_QUEUE_URL) or None,
            urgent_queue_url=environ.get(ENV_URGENT_QUEUE_URL) or None,
            dlq_url=environ.get(ENV_DLQ_URL) or None,
            event_bus=environ.get(ENV_EVENT_BUS) or None,
            stack_name=environ.get(ENV_STACK_NAME) or None,
        )


class StackOutputs:
    """The outputs of one deployed stack, fetched on first use."""

    def __init__(self, stack_name: str | None, cloudformation: Callable[[], Any]) -> None:
        self.stack_name = stack_name
        self._cloudformation = cloudformation
        self._outputs: dict[str, str] | None = None

    def get(self, key: str) -> str | None:
        if self.stack_name is None:
            return None
        if self._outputs is None:
            self._outputs = self._fetch(self.stack_name)
        return self._outputs.get(key)

    def _fetch(self, stack_name: str) -> dict[str, str]:
        try:
            stacks = self._cloudformation().describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationError":
                # CloudFormation's answer for a stack that does not exist (in this account and region).
                raise ConfigurationError(f"stack {stack_name}: {error.response['Error'].get('Message')}") from error
            raise
        if not stacks:
            raise ConfigurationError(f"stack {stack_name} not found")
        return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def resolve(
    *,
    what: str,
    explicit: str | None,
    option: str,
    env_value: str | None,
    env_name: str,
    stack: StackOutputs,
    output_key: str,
) -> str:
    """The first of: the option, the environment variable, the stack's output; else a clear error."""
    for value in (explicit, env_value):
        if value:
            return value
    value = stack.get(output_key)
    if value:
        return value
    if stack.stack_name is not None:
        raise ConfigurationError(f"stack {stack.stack_name} has no output {output_key} ({what})")
    raise ConfigurationError(
        f"no {what}: give {option}, set {env_name}, or name the deployed stack with --stack-name (or {ENV_STACK_NAME})"
    )
