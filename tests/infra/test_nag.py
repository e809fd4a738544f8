"""cdk-nag 3 (AwsSolutions and Serverless): no finding left unacknowledged, each acknowledgment reasoned."""

from __future__ import annotations

import re

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs

from infra.nag import nag_packs
from tests.infra.support import VARIANTS, Synthesis, Synthesized

pytestmark = pytest.mark.infra

# What a reviewer accepted, per resource type: a new acknowledgment must be added here on purpose.
REVIEWED = {
    ("AWS::SQS::Queue", "Serverless-SQSRedrivePolicy"),
    ("AWS::SQS::Queue", "AwsSolutions-SQS3"),
    ("AWS::IAM::Policy", "AwsSolutions-IAM5[Resource::*]"),
    ("AWS::IAM::Policy", "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ivs:<region>:<AWS::AccountId>:channel/*]"),
    ("AWS::Lambda::Function", "AwsSolutions-L1"),
    ("AWS::Lambda::Function", "Serverless-LambdaLatestVersion"),
    ("AWS::Lambda::Function", "Serverless-LambdaDLQ"),
    ("AWS::Lambda::EventSourceMapping", "Serverless-LambdaEventSourceMappingDestination"),
    ("AWS::SNS::Subscription", "Serverless-SNSRedrivePolicy"),
}


def _acknowledged(s: Synthesized) -> list[tuple[str, str, str]]:
    """(resource type, finding, reason) of every acknowledgment written to the template's metadata.

    The region of a channel wildcard reads `<region>`: the stack's own, or each listed one.
    """
    return [
        (resource["Type"], re.sub(r":ivs:(<AWS::Region>|[a-z0-9-]+):", ":ivs:<region>:", rule["id"]), rule["reason"])
        for resource in s.json["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]


@pytest.mark.parametrize("pack", [0, 1], ids=["AwsSolutions", "Serverless"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_pack_reports_no_unacknowledged_finding(synthesis: Synthesis, variant: str, pack: int) -> None:
    checks = nag_packs()[pack]

    report = checks.validate_scope(getattr(synthesis, variant).stack)

    assert [
        (violation.rule_name, [c.construct_path for c in violation.violating_constructs])
        for violation in report.violations
    ] == []


def test_packs_report_a_plain_violation() -> None:
    # The check has teeth: a queue without TLS enforcement or encryption settings is reported.
    stack = Stack(App(), "Plain")
    sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.UNENCRYPTED)

    report = nag_packs()[0].validate_scope(stack)

    assert "AwsSolutions-SQS4" in {violation.rule_name for violation in report.violations}


def test_acknowledged_findings_are_the_reviewed_ones(synthesis: Synthesis) -> None:
    acknowledged = {(kind, finding) for s in synthesis.all for kind, finding, _ in _acknowledged(s)}

    assert acknowledged == REVIEWED


def test_every_acknowledgment_gives_a_reason(synthesis: Synthesis) -> None:
    for s in synthesis.all:
        for kind, finding, reason in _acknowledged(s):
            assert len(reason.split()) >= 15, (kind, finding, reason)
