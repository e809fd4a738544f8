"""EventBridge rule, schedules and the queue policy, read from the synthesized templates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.settings import DeploySettings
from infra.stack import RevocationStack
from ivs_revocation import names
from ivs_revocation.intake import InvalidRequest, read_request
from ivs_revocation.models import EVENT_DETAIL_TYPE, EVENT_SOURCE, PRIORITY_BULK, PRIORITY_URGENT, RevocationRequest
from tests.infra.event_patterns import matches
from tests.infra.support import (
    PRODUCER_ROLE,
    PRODUCER_USER,
    Synthesis,
    Synthesized,
    as_list,
    get_att,
    ref,
    statements,
)

pytestmark = pytest.mark.infra

ACCOUNT_ROOT = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}


@pytest.fixture(params=["default", "full"], scope="session")
def scheduled(request: pytest.FixtureRequest, synthesis: Synthesis) -> Synthesized:
    """The stacks with schedules: the default (its disabled example) and the full one."""
    return getattr(synthesis, request.param)


BULK, URGENT = names.LANE_BULK, names.LANE_URGENT
CHANNEL = "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh"
PAIR = {"channelArn": CHANNEL, "viewerId": "banned-viewer"}


def _rule(s: Synthesized, lane: str = BULK) -> tuple[str, dict[str, Any]]:
    routing = s.stack.routing
    rule = {BULK: routing.rule, URGENT: routing.urgent_rule}[lane]
    return s.logical_id(rule), s.resource(rule)["Properties"]


def _queue_id(s: Synthesized, name: str = "queue") -> str:
    return s.logical_id(getattr(s.stack.queues, name))


@pytest.fixture(params=list(names.LANES))
def lane(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _event(detail: Any, source: str = EVENT_SOURCE) -> dict[str, Any]:
    """An event as EventBridge matches it: the envelope PutEvents adds around the producer's detail."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": EVENT_DETAIL_TYPE,
        "source": source,
        "account": "123456789012",
        "time": "2025-01-01T00:00:00Z",
        "region": "us-west-2",
        "resources": [],
        "detail": detail,
    }


# (what the event is, its detail, the lane whose rule must take it). Every revocation event reaches
# exactly one queue: a priority the function refuses goes to bulk, where it is dead-lettered as invalid.
ROUTED = [
    ("one pair, no priority", PAIR, BULK),
    ("sessions, no priority", {"viewerSessions": [PAIR, PAIR | {"viewerId": "other"}]}, BULK),
    ("one pair, bulk", PAIR | {"priority": PRIORITY_BULK}, BULK),
    ("sessions, bulk", {"viewerSessions": [PAIR], "priority": PRIORITY_BULK}, BULK),
    ("one pair, urgent", PAIR | {"priority": PRIORITY_URGENT}, URGENT),
    ("sessions, urgent", {"viewerSessions": [PAIR], "priority": PRIORITY_URGENT}, URGENT),
    ("a priority in another case", PAIR | {"priority": "URGENT"}, BULK),
    ("an unknown priority", PAIR | {"priority": "high"}, BULK),
    ("an empty priority", PAIR | {"priority": ""}, BULK),
    ("urgent only inside a pair", {"viewerSessions": [PAIR | {"priority": PRIORITY_URGENT}]}, BULK),
]


def _send_statements(s: Synthesized, queue_id: str, effect: str) -> list[dict[str, Any]]:
    """Every statement of the queue's policies with this effect that names sqs:SendMessage."""
    return [
        statement
        for policy in s.resources("AWS::SQS::QueuePolicy").values()
        if ref(queue_id) in policy["Properties"]["Queues"]
        for statement in statements(policy["Properties"]["PolicyDocument"])
        if statement["Effect"] == effect and "sqs:SendMessage" in as_list(statement["Action"])
    ]


def _senders(s: Synthesized, queue_id: str) -> list[tuple[Any, Any]]:
    """(principal, condition) of every statement that allows sqs:SendMessage on the queue."""
    return [
        (statement["Principal"], statement.get("Condition")) for statement in _send_statements(s, queue_id, "Allow")
    ]


def _producers(s: Synthesized) -> tuple[Any, None]:
    """Who the policy admits besides the pipeline: the account (IAM decides), or the listed producers."""
    listed = s.settings.producer_principals
    if not listed:
        return ({"AWS": ACCOUNT_ROOT}, None)
    return ({"AWS": listed if len(listed) > 1 else listed[0]}, None)


def _granted_send_on(s: Synthesized, queue_id: str) -> list[str]:
    """Roles whose identity policies in the template allow sqs:SendMessage on the queue."""
    return sorted(
        role["Ref"]
        for policy in s.resources("AWS::IAM::Policy").values()
        for statement in statements(policy["Properties"]["PolicyDocument"])
        if "sqs:SendMessage" in as_list(statement["Action"]) and get_att(queue_id) in as_list(statement["Resource"])
        for role in policy["Properties"]["Roles"]
    )


def test_rule_listens_on_the_default_bus_by_default(default: Synthesized) -> None:
    _, rule = _rule(default)

    assert rule.get("EventBusName", "default") == "default"
    assert not default.resources("AWS::Events::EventBus")


def test_rule_listens_on_an_existing_bus_named_in_the_settings(regional: Synthesized) -> None:
    _, rule = _rule(regional)

    assert rule["EventBusName"] == "partner-bus"
    assert not regional.resources("AWS::Events::EventBus")


def test_rule_listens_on_the_bus_the_stack_creates_when_asked(full: Synthesized) -> None:
    bus_id, bus = full.only("AWS::Events::EventBus")
    _, rule = _rule(full)

    assert bus["Properties"]["Name"] == full.settings.event_bus_name
    assert rule["EventBusName"] == ref(bus_id)


def test_bulk_rule_matches_the_revocation_events_whose_priority_is_not_urgent(each: Synthesized) -> None:
    _, rule = _rule(each)

    # anything-but matches only an event that has the field; exists:false takes those without one.
    assert rule["EventPattern"] == {
        "source": [EVENT_SOURCE],
        "detail-type": [EVENT_DETAIL_TYPE],
        "detail": {"priority": [{"anything-but": [PRIORITY_URGENT]}, {"exists": False}]},
    }


def test_urgent_rule_matches_the_revocation_events_whose_priority_is_urgent(each: Synthesized) -> None:
    _, rule = _rule(each, URGENT)

    assert rule["EventPattern"] == {
        "source": [EVENT_SOURCE],
        "detail-type": [EVENT_DETAIL_TYPE],
        "detail": {"priority": [PRIORITY_URGENT]},
    }


def test_both_rules_listen_on_the_same_bus(each: Synthesized) -> None:
    assert _rule(each)[1].get("EventBusName") == _rule(each, URGENT)[1].get("EventBusName")
    assert len(each.resources("AWS::Events::Rule")) == len(names.LANES)


@pytest.mark.parametrize(("detail", "lane"), [(d, lane) for _, d, lane in ROUTED], ids=[n for n, _, _ in ROUTED])
def test_a_revocation_event_reaches_exactly_one_lane(default: Synthesized, detail: Any, lane: str) -> None:
    event = _event(detail)

    taken = [rule_lane for rule_lane in names.LANES if matches(_rule(default, rule_lane)[1]["EventPattern"], event)]

    assert taken == [lane]


def test_a_list_of_priorities_reaches_both_lanes_which_refuse_it(default: Synthesized) -> None:
    # EventBridge matches an array when any element matches; each lane then dead-letters it as invalid.
    detail = PAIR | {"priority": [PRIORITY_URGENT, PRIORITY_BULK]}
    event = _event(detail)

    taken = [lane for lane in names.LANES if matches(_rule(default, lane)[1]["EventPattern"], event)]

    assert taken == list(names.LANES)
    assert isinstance(read_request(json.dumps(event)), InvalidRequest)


def test_neither_rule_takes_an_event_of_another_source(default: Synthesized, lane: str) -> None:
    event = _event(PAIR | {"priority": PRIORITY_URGENT}, source="moderation")

    assert not matches(_rule(default, lane)[1]["EventPattern"], event)


def test_rule_targets_its_lanes_queue_with_a_retry_policy_and_the_delivery_dead_letter_queue(
    each: Synthesized, lane: str
) -> None:
    _, rule = _rule(each, lane)

    (target,) = rule["Targets"]

    assert target["Arn"] == get_att(each.lane_queue_id(lane))
    assert "Input" not in target and "InputTransformer" not in target  # the whole event is the body
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": each.settings.delivery_retry_attempts,
        "MaximumEventAgeInSeconds": each.settings.delivery_max_event_age_seconds,
    }
    assert target["DeadLetterConfig"] == {"Arn": get_att(_queue_id(each, "delivery_dead_letter_queue"))}


def test_queue_policy_lets_only_the_producer_and_the_rule_send_without_schedules(regional: Synthesized) -> None:
    rule_id, _ = _rule(regional)

    assert sorted(map(json.dumps, _senders(regional, _queue_id(regional)))) == sorted(
        map(
            json.dumps,
            [
                ({"AWS": PRODUCER_ROLE}, None),
                ({"Service": "events.amazonaws.com"}, {"ArnEquals": {"aws:SourceArn": get_att(rule_id)}}),
            ],
        )
    )


def test_queue_policy_lets_only_the_producers_the_rule_and_the_scheduler_role_send(scheduled: Synthesized) -> None:
    rule_id, _ = _rule(scheduled)
    role_id = scheduled.logical_id(scheduled.stack.routing.scheduler_role)

    assert sorted(map(json.dumps, _senders(scheduled, _queue_id(scheduled)))) == sorted(
        map(
            json.dumps,
            [
                _producers(scheduled),
                ({"Service": "events.amazonaws.com"}, {"ArnEquals": {"aws:SourceArn": get_att(rule_id)}}),
                ({"AWS": get_att(role_id)}, None),
            ],
        )
    )


def test_urgent_queue_policy_lets_only_the_producers_and_the_urgent_rule_send(each: Synthesized) -> None:
    rule_id, _ = _rule(each, URGENT)

    assert sorted(map(json.dumps, _senders(each, _queue_id(each, "urgent_queue")))) == sorted(
        map(
            json.dumps,
            [
                _producers(each),
                ({"Service": "events.amazonaws.com"}, {"ArnEquals": {"aws:SourceArn": get_att(rule_id)}}),
            ],
        )
    )


def test_delivery_dead_letter_queue_accepts_eventbridge_only_for_these_rules(each: Synthesized) -> None:
    rule_ids = [_rule(each, lane)[0] for lane in names.LANES]

    assert sorted(map(json.dumps, _senders(each, _queue_id(each, "delivery_dead_letter_queue")))) == sorted(
        json.dumps(({"Service": "events.amazonaws.com"}, {"ArnEquals": {"aws:SourceArn": get_att(rule_id)}}))
        for rule_id in rule_ids
    )


def test_no_schedule_and_no_scheduler_role_without_schedules_in_settings(regional: Synthesized) -> None:
    assert not regional.settings.schedules
    assert not regional.resources("AWS::Scheduler::Schedule")
    assert not regional.resources("AWS::Scheduler::ScheduleGroup")
    assert regional.stack.routing.scheduler_role is None


def test_the_shipped_example_schedule_is_deployed_disabled(default: Synthesized) -> None:
    (example,) = default.settings.schedules
    _, schedule = default.only("AWS::Scheduler::Schedule")

    assert example.enabled is False
    assert schedule["Properties"]["Name"] == example.name
    assert schedule["Properties"]["State"] == "DISABLED"


def test_one_schedule_per_setting_in_the_stacks_own_group(full: Synthesized) -> None:
    _, group = full.only("AWS::Scheduler::ScheduleGroup")
    schedules = {s["Properties"]["Name"]: s["Properties"] for s in full.resources("AWS::Scheduler::Schedule").values()}

    assert group["Properties"]["Name"] == full.settings.stack_name
    assert set(schedules) == {schedule.name for schedule in full.settings.schedules}
    for schedule in full.settings.schedules:
        assert schedules[schedule.name]["GroupName"] == full.settings.stack_name
        assert schedules[schedule.name]["ScheduleExpression"] == schedule.expression
        assert schedules[schedule.name]["ScheduleExpressionTimezone"] == schedule.timezone
        assert schedules[schedule.name]["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert schedules[schedule.name]["State"] == "ENABLED"


def test_schedule_payload_is_the_static_request_the_function_accepts(full: Synthesized) -> None:
    schedules = {s["Properties"]["Name"]: s["Properties"] for s in full.resources("AWS::Scheduler::Schedule").values()}

    for schedule in full.settings.schedules:
        payload = schedules[schedule.name]["Target"]["Input"]
        request = RevocationRequest.model_validate_json(payload)
        assert list(request.viewer_sessions) == list(schedule.viewer_sessions)
        assert payload == schedule.payload()


def test_schedules_target_the_queue_with_their_own_retry_policy_and_dead_letter_queue(scheduled: Synthesized) -> None:
    role_id = scheduled.logical_id(scheduled.stack.routing.scheduler_role)

    schedules = scheduled.resources("AWS::Scheduler::Schedule")
    assert schedules
    for schedule in schedules.values():
        target = schedule["Properties"]["Target"]
        assert target["Arn"] == get_att(_queue_id(scheduled))
        assert target["RoleArn"] == get_att(role_id)
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": scheduled.settings.delivery_retry_attempts,
            "MaximumEventAgeInSeconds": scheduled.settings.delivery_max_event_age_seconds,
        }
        assert target["DeadLetterConfig"] == {"Arn": get_att(_queue_id(scheduled, "delivery_dead_letter_queue"))}


def test_without_producer_principals_the_account_sends_as_its_iam_policies_allow(default: Synthesized) -> None:
    assert default.settings.producer_principals == []
    for queue in ("queue", "urgent_queue"):
        assert ({"AWS": ACCOUNT_ROOT}, None) in _senders(default, _queue_id(default, queue))
        assert _send_statements(default, _queue_id(default, queue), "Deny") == []
    assert not default.resources("AWS::Events::EventBusPolicy")


def test_full_stack_lists_a_role_of_its_account_and_a_user_of_another(full: Synthesized) -> None:
    assert full.settings.producer_principals == [PRODUCER_ROLE, PRODUCER_USER]
    for queue in ("queue", "urgent_queue"):
        assert _senders(full, _queue_id(full, queue))[0] == ({"AWS": [PRODUCER_ROLE, PRODUCER_USER]}, None)


def _pipeline_senders(s: Synthesized, queue: str) -> list[dict[str, Any]]:
    """The roles of the pipeline that send to a queue: both functions and the scheduler to bulk, the
    urgent function (its unstarted pairs) to urgent."""
    stack = s.stack
    roles = (
        [stack.function.role, stack.urgent_function.role, stack.routing.scheduler_role]
        if queue == "queue"
        else [stack.urgent_function.role]
    )
    return [get_att(s.logical_id(role)) for role in roles if role is not None]


@pytest.mark.parametrize("queue", ["queue", "urgent_queue"])
@pytest.mark.parametrize("variant", ["full", "regional"])
def test_with_producer_principals_the_queue_denies_every_other_principal(
    synthesis: Synthesis, variant: str, queue: str
) -> None:
    s: Synthesized = getattr(synthesis, variant)

    (deny,) = _send_statements(s, _queue_id(s, queue), "Deny")

    assert deny == {
        "Sid": "DenySendersOtherThanProducers",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "sqs:SendMessage",
        "Resource": get_att(_queue_id(s, queue)),
        "Condition": {
            # In its own account, an identity policy allowing SendMessage would suffice without it.
            "ArnNotEquals": {"aws:PrincipalArn": [*s.settings.producer_principals, *_pipeline_senders(s, queue)]},
            # EventBridge delivers as a service principal, which only this policy's Allow admits.
            "Bool": {"aws:PrincipalIsAWSService": "false"},
        },
    }


@pytest.mark.parametrize("queue", ["queue", "urgent_queue"])
@pytest.mark.parametrize("variant", ["full", "regional"])
def test_every_role_the_stack_lets_send_to_the_queue_is_excepted_from_the_deny(
    synthesis: Synthesis, variant: str, queue: str
) -> None:
    # The functions put unstarted pairs back, the urgent one sends the rest of a large message to
    # bulk, the scheduler sends its payloads: none may be locked out.
    s: Synthesized = getattr(synthesis, variant)
    (deny,) = _send_statements(s, _queue_id(s, queue), "Deny")
    excepted = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]

    senders = _granted_send_on(s, _queue_id(s, queue))

    assert senders
    assert [get_att(role) for role in senders if get_att(role) not in excepted] == []


def test_with_producer_principals_the_bus_the_stack_creates_admits_only_them(full: Synthesized) -> None:
    bus_id, _ = full.only("AWS::Events::EventBus")
    # And the functions, which put their outcome events on this bus (outcomeEventBusName unset).
    producers = [
        PRODUCER_ROLE,
        PRODUCER_USER,
        *(get_att(full.logical_id(full.lane_function(lane).role)) for lane in names.LANES),
    ]

    policies = sorted(
        (p["Properties"] for p in full.resources("AWS::Events::EventBusPolicy").values()),
        key=lambda p: p["StatementId"],
    )

    assert [p["EventBusName"] for p in policies] == [ref(bus_id), ref(bus_id)]
    assert [p["Statement"] for p in policies] == [
        {
            "Sid": "cdk-AllowProducersToPutEvents",
            "Effect": "Allow",
            "Principal": {"AWS": producers},
            "Action": "events:PutEvents",
            "Resource": get_att(bus_id),
        },
        {
            "Sid": "cdk-DenyPutEventsFromOthers",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "events:PutEvents",
            "Resource": get_att(bus_id),
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": producers}},
        },
    ]


def test_a_bus_the_stack_does_not_own_keeps_its_policy(regional: Synthesized) -> None:
    assert regional.settings.producer_principals
    assert not regional.resources("AWS::Events::EventBusPolicy")


def test_a_bus_the_stack_creates_without_producer_principals_has_no_policy() -> None:
    # Today's behaviour: the bus admits this account's principals as their IAM policies allow.
    settings = DeploySettings.from_cdk_json(
        overrides={"stackName": "BusOnly", "createEventBus": "true", "eventBusName": "own", "schedules": "[]"}
    )
    template = Template.from_stack(RevocationStack(App(), "BusOnly", settings=settings))

    template.resource_count_is("AWS::Events::EventBus", 1)
    template.resource_count_is("AWS::Events::EventBusPolicy", 0)
