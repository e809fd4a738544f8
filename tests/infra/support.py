"""What the infra tests share: the full stack's context, the synthesized stacks, template helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from infra.constants import PROJECT_ROOT
from infra.constructs.function import RevocationFunction
from infra.settings import DeploySettings
from infra.stack import RevocationStack
from ivs_revocation import names

CHANNEL_US = "arn:aws:ivs:us-east-1:123456789012:channel/abcdEFGH1234"
CHANNEL_EU = "arn:aws:ivs:eu-west-1:123456789012:channel/xyzXYZ987"
# Who may request revocations in the full stack: a role of this account (with a path), a user of another.
PRODUCER_ROLE = "arn:aws:iam::123456789012:role/moderation/ban-service"
PRODUCER_USER = "arn:aws:iam::210987654321:user/partner-moderation"

FULL_CONTEXT: dict[str, Any] = {
    "stackName": "IvsRevocationFull",
    "createEventBus": "true",
    "eventBusName": "moderation",
    "alarmEmail": "ops@example.com",
    # As `cdk deploy -c` passes them: strings, lists comma-separated or as JSON.
    "ivsRegions": "us-east-1,eu-west-1",
    "memberAccounts": "111111111111,222222222222",
    "channelArns": json.dumps([CHANNEL_US, CHANNEL_EU]),
    "producerPrincipals": f"{PRODUCER_ROLE},{PRODUCER_USER}",
    "maxConcurrency": "4",
    "reservedConcurrency": "6",
    # The urgent lane warm: one instance kept initialised behind the alias its mapping invokes.
    "urgentProvisionedConcurrency": "1",
    "logRetentionDays": "90",
    "powertoolsLayerArn": "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:20",
    "schedules": json.dumps(
        [
            {
                "name": "standing-bans",
                "expression": "rate(1 hour)",
                "viewerSessions": [
                    {"channelArn": CHANNEL_US, "viewerId": "banned-1", "viewerSessionVersionsLessThanOrEqualTo": 3}
                ],
            },
            {
                "name": "nightly-sweep",
                "expression": "cron(0 3 * * ? *)",
                "timezone": "Europe/Berlin",
                "viewerSessions": [{"channelArn": CHANNEL_EU, "viewerId": "banned-2"}],
            },
        ]
    ),
}


@dataclass(frozen=True)
class Synthesized:
    """One stack as synthesized: its settings, its construct tree, its template (dict and assertions)."""

    settings: DeploySettings
    stack: RevocationStack
    template: Template
    json: dict[str, Any]
    template_path: Path

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == resource_type}

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def resource(self, construct: Any) -> dict[str, Any]:
        return self.json["Resources"][self.logical_id(construct)]

    def lane_function(self, lane: str) -> RevocationFunction:
        """The construct of one lane's function: its function, role, log group and mapping."""
        return {names.LANE_BULK: self.stack.function, names.LANE_URGENT: self.stack.urgent_function}[lane]

    def lane_queue_id(self, lane: str) -> str:
        queues = self.stack.queues
        return self.logical_id({names.LANE_BULK: queues.queue, names.LANE_URGENT: queues.urgent_queue}[lane])


# Revocation on every channel of listed regions, a bus that exists already, a quota share of 2/3, one
# producer.
REGIONAL_CONTEXT: dict[str, Any] = {
    "stackName": "IvsRevocationRegional",
    "ivsRegions": json.dumps(["us-east-1", "eu-west-1"]),
    "eventBusName": "partner-bus",
    "maxConcurrency": "3",
    "batchSize": "10",
    "maxBatchingWindowSeconds": "0",
    # The urgent lane restored from a SnapStart snapshot of its published version.
    "urgentSnapStart": "true",
    # The variant without schedules (cdk.json ships a disabled example).
    "schedules": "[]",
    # Producers listed, with a bus the stack does not own: only the queue's policy can restrict them.
    "producerPrincipals": json.dumps([PRODUCER_ROLE]),
}

VARIANTS: dict[str, dict[str, Any]] = {"default": {}, "full": FULL_CONTEXT, "regional": REGIONAL_CONTEXT}


@dataclass(frozen=True)
class Synthesis:
    default: Synthesized
    full: Synthesized
    regional: Synthesized
    outdir: Path

    @property
    def all(self) -> tuple[Synthesized, ...]:
        return (self.default, self.full, self.regional)


def cli_templates() -> list[Path]:
    """Templates `make synth` wrote through the real CDK CLI, if it ran."""
    return sorted((PROJECT_ROOT / "cdk.out").glob("*.template.json"))


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy_document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def get_att(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}
