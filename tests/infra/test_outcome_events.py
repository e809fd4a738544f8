"""Outcome events in the stack: no request rule (the stack's, or the local stack's) ever matches one,
whatever its detail; the function's environment names the outcome bus."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import constants
from infra.settings import DeploySettings
from ivs_revocation import names
from ivs_revocation.models import EVENT_SOURCE, OUTCOME_EVENT_DETAIL_TYPE, outcome_event_schema
from local.provision import BULK_EVENT_PATTERN, OUTCOME_EVENT_PATTERN, URGENT_EVENT_PATTERN
from tests.infra.event_patterns import matches
from tests.infra.support import Synthesized

PAIR = {"channelArn": "arn:aws:ivs:us-west-2:123456789012:channel/abcd", "viewerId": "v"}
DETAILS: list[dict[str, Any]] = [
    {
        "version": "1",
        "requestId": "r",
        "sourceMessageId": "m",
        "lane": lane,
        "status": status,
        "revoked": [{**PAIR, "viewerSessionVersionsLessThanOrEqualTo": 0}],
        "failed": [],
    }
    for lane in names.LANES
    for status in ("REVOKED", "PARTIALLY_REVOKED", "FAILED")
] + [
    {
        "version": "1",
        "requestId": None,
        "sourceMessageId": "m",
        "lane": "urgent",
        "status": "FAILED",
        "revoked": [],
        "failed": [],
        "invalidMessage": {"reason": "body: expected ..."},
    },
    # Whatever fields a later version adds, a priority among them.
    {"version": "2", "priority": "urgent", "viewerSessions": [PAIR], **PAIR},
    {"version": "2", "priority": "bulk"},
]


def outcome_event(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e",
        "detail-type": OUTCOME_EVENT_DETAIL_TYPE,
        "source": EVENT_SOURCE,
        "account": "123456789012",
        "time": "2026-12-07T15:00:00Z",
        "region": "us-west-2",
        "resources": [],
        "detail": detail,
    }


@pytest.mark.parametrize("detail", DETAILS)
def test_no_request_rule_of_the_stack_matches_an_outcome_event(each: Synthesized, detail: dict[str, Any]) -> None:
    rules = each.resources("AWS::Events::Rule")
    assert rules
    for logical_id, rule in rules.items():
        assert not matches(rule["Properties"]["EventPattern"], outcome_event(detail)), logical_id


@pytest.mark.parametrize("detail", DETAILS)
def test_no_request_rule_of_the_local_stack_matches_an_outcome_event(detail: dict[str, Any]) -> None:
    for pattern in (BULK_EVENT_PATTERN, URGENT_EVENT_PATTERN):
        assert not matches(pattern, outcome_event(detail))
    assert matches(OUTCOME_EVENT_PATTERN, outcome_event(detail))


def test_the_functions_put_outcome_events_on_the_stacks_bus_by_default(each: Synthesized) -> None:
    for lane in names.LANES:
        environment = each.resource(each.lane_function(lane).function)["Properties"]["Environment"]["Variables"]
        assert environment[names.ENV_OUTCOME_EVENT_BUS_NAME] == each.settings.event_bus_name


def _grants(s: Synthesized, lane: str) -> list[dict[str, Any]]:
    role_id = s.logical_id(s.lane_function(lane).role)
    return [
        statement
        for policy in s.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "events:PutEvents" in statement["Action"]
    ]


@pytest.mark.parametrize("lane", names.LANES)
def test_each_function_may_put_only_outcome_events_and_only_on_the_outcome_bus(each: Synthesized, lane: str) -> None:
    [statement] = _grants(each, lane)
    assert statement["Action"] == "events:PutEvents"
    resource = json.dumps(statement["Resource"])
    assert f":event-bus/{each.settings.event_bus_name}" in resource and "*" not in resource
    assert statement["Condition"] == {
        "StringEquals": {"events:source": EVENT_SOURCE, "events:detail-type": OUTCOME_EVENT_DETAIL_TYPE}
    }


def test_outcome_bus_name_setting_and_switch() -> None:
    own = DeploySettings.from_cdk_json(overrides={"outcomeEventBusName": "outcomes"})
    assert own.outcome_event_bus_name == "outcomes"
    off = DeploySettings.from_cdk_json(overrides={"outcomeEvents": False})
    assert off.outcome_event_bus_name is None
    environment = off.function_environment(
        dead_letter_queue_url="https://q/dlq", source_queue_url="https://q/q", region="us-west-2"
    )
    assert names.ENV_OUTCOME_EVENT_BUS_NAME not in environment
    default = DeploySettings.from_cdk_json()
    assert default.outcome_event_bus_name == default.event_bus_name == "default"


def test_unpublished_outcome_events_alarm_and_dashboard(each: Synthesized) -> None:
    [alarm] = [
        a["Properties"]
        for a in each.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == f"{each.settings.stack_name}-{constants.ALARM_OUTCOME_EVENTS_UNPUBLISHED}"
    ]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"], alarm["Period"]) == (
        names.METRIC_OUTCOME_EVENTS_UNPUBLISHED,
        "Sum",
        0,
        60,
    )
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    _, dashboard = each.only("AWS::CloudWatch::Dashboard")
    assert names.METRIC_OUTCOME_EVENTS_UNPUBLISHED in json.dumps(dashboard["Properties"]["DashboardBody"])


def test_the_stack_holds_the_outcome_events_schema_in_a_registry(each: Synthesized) -> None:
    registry_id, registry = each.only("AWS::EventSchemas::Registry")
    assert registry["Properties"]["RegistryName"] == each.settings.stack_name
    _, schema = each.only("AWS::EventSchemas::Schema")
    properties = schema["Properties"]
    assert properties["Type"] == "JSONSchemaDraft4"
    assert properties["SchemaName"] == "ivs-revocation@ViewerSessionRevocationSettled"
    assert properties["RegistryName"] == {"Fn::GetAtt": [registry_id, "RegistryName"]}
    assert json.loads(properties["Content"]) == outcome_event_schema()
