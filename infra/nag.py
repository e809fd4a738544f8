"""cdk-nag 3 wiring: the rule packs the app is checked against, and acknowledgments with reasons."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Stage, Validations
from cdk_nag import AwsSolutionsChecks, NagPack, ServerlessChecks
from constructs import IConstruct


def nag_packs(stage: Stage | None = None) -> list[NagPack]:
    """AwsSolutions and Serverless; with a stage, acknowledgments are also written to template metadata."""
    audit = stage is not None
    return [
        AwsSolutionsChecks(stage, write_suppressions_to_cloud_formation=audit),
        ServerlessChecks(stage, write_suppressions_to_cloud_formation=audit),
    ]


def add_nag_checks(stage: Stage) -> None:
    """Synthesis fails when a pack reports a finding that no acknowledgment covers.

    Each acknowledgment is also written to its resource's `Metadata.cdk_nag`, so that the template
    itself says what was accepted and why.
    """
    Validations.of(stage).add_plugins(*nag_packs(stage))


def nag_form(stack: Stack, arn: str) -> str:
    """An ARN as cdk-nag prints it in a finding id: pseudo parameters as <AWS::Name>."""
    resolved = stack.resolve(arn)
    if isinstance(resolved, str):
        return resolved
    parts = resolved["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else f"<{part['Ref']}>" for part in parts)


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledges one finding (a rule id, or `RuleId[FindingId]`) on one CloudFormation resource.

    An acknowledgment covers a construct and everything under it; given an L2 construct, it goes on
    the L2's own resource, so that it cannot cover a child it was not written for.
    """
    target = construct.node.default_child or construct
    Validations.of(target).acknowledge(Acknowledgment(id=finding, reason=reason))
