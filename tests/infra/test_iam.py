"""Least privilege: who may do what, read from the policies in the synthesized templates."""

from __future__ import annotations

from typing import Any

import pytest

from ivs_revocation import names
from tests.infra.support import CHANNEL_EU, CHANNEL_US, Synthesized, as_list, get_att, ref, statements

pytestmark = pytest.mark.infra

BULK, URGENT = names.LANE_BULK, names.LANE_URGENT
BATCH_ACTION = f"ivs:{names.OPERATION_BATCH}"
SINGLE_ACTION = f"ivs:{names.OPERATION_SINGLE}"
# Each lane's function may call its own operation, and only it.
ACTION = {BULK: BATCH_ACTION, URGENT: SINGLE_ACTION}

CONSUME = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}


def _role_grants(s: Synthesized, role_id: str) -> dict[str, list[Any]]:
    """Action -> resources, over every Allow statement of every policy attached to the role."""
    grants: dict[str, list[Any]] = {}
    for policy in s.resources("AWS::IAM::Policy").values():
        if ref(role_id) not in policy["Properties"]["Roles"]:
            continue
        for statement in statements(policy["Properties"]["PolicyDocument"]):
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                grants.setdefault(action, []).extend(as_list(statement["Resource"]))
    return grants


def _function_role(s: Synthesized, lane: str = BULK) -> str:
    function = s.resource(s.lane_function(lane).function)
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def _ids(s: Synthesized, lane: str = BULK) -> dict[str, str]:
    queues = s.stack.queues
    return {
        "queue": s.lane_queue_id(lane),
        "bulk_queue": s.logical_id(queues.queue),
        "dlq": s.logical_id(queues.dead_letter_queue),
        "delivery_dlq": s.logical_id(queues.delivery_dead_letter_queue),
        "log_group": s.logical_id(s.lane_function(lane).log_group),
    }


@pytest.fixture(params=list(names.LANES))
def lane(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_no_identity_policy_allows_a_wildcard_action(each: Synthesized) -> None:
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for logical_id, policy in each.resources(kind).items():
            for statement in statements(policy["Properties"]["PolicyDocument"]):
                assert not [a for a in as_list(statement["Action"]) if "*" in a], logical_id


def test_no_queue_or_topic_policy_allows_a_wildcard_action(each: Synthesized) -> None:
    # Deny statements may use sqs:* (TLS enforcement); only grants must be precise.
    for kind in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
        for logical_id, policy in each.resources(kind).items():
            for statement in statements(policy["Properties"]["PolicyDocument"]):
                if statement["Effect"] == "Allow":
                    assert not [a for a in as_list(statement["Action"]) if "*" in a], logical_id


def test_function_role_allows_exactly_revocation_consumption_dead_letters_logs_and_traces(
    each: Synthesized, lane: str
) -> None:
    ids = _ids(each, lane)

    grants = _role_grants(each, _function_role(each, lane))

    assert set(grants) == CONSUME | {
        ACTION[lane],
        "sqs:SendMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "events:PutEvents",
        # Only with member accounts (test_member.py: exactly their roles).
        *(["sts:AssumeRole"] if each.settings.member_accounts else []),
    }
    for action in CONSUME:
        assert grants[action] == [get_att(ids["queue"])], action
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert grants[action] == [get_att(ids["log_group"])], action
    for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
        assert grants[action] == ["*"], action


def test_function_may_send_only_to_its_dead_letter_queue_and_back_to_its_queue(each: Synthesized) -> None:
    ids = _ids(each)

    grants = _role_grants(each, _function_role(each))

    assert sorted(grants["sqs:SendMessage"], key=str) == sorted([get_att(ids["dlq"]), get_att(ids["queue"])], key=str)


def test_urgent_function_may_send_to_the_dead_letter_queue_its_queue_and_the_bulk_queue(each: Synthesized) -> None:
    # Back to its own queue: unstarted pairs; to the bulk queue: the pairs beyond an urgent message's bound.
    ids = _ids(each, URGENT)

    grants = _role_grants(each, _function_role(each, URGENT))

    assert sorted(grants["sqs:SendMessage"], key=str) == sorted(
        [get_att(ids["dlq"]), get_att(ids["queue"]), get_att(ids["bulk_queue"])], key=str
    )
    assert ids["queue"] != ids["bulk_queue"]


def test_the_roles_are_distinct_and_neither_lane_may_call_the_other_lanes_operation(each: Synthesized) -> None:
    bulk, urgent = _role_grants(each, _function_role(each, BULK)), _role_grants(each, _function_role(each, URGENT))

    assert _function_role(each, BULK) != _function_role(each, URGENT)
    assert BATCH_ACTION in bulk and SINGLE_ACTION not in bulk
    assert SINGLE_ACTION in urgent and BATCH_ACTION not in urgent
    assert not [action for action in {**bulk, **urgent} if action.startswith("ivs:") and action not in ACTION.values()]


def test_the_single_action_is_granted_on_exactly_the_batch_actions_channels(each: Synthesized) -> None:
    bulk, urgent = _role_grants(each, _function_role(each, BULK)), _role_grants(each, _function_role(each, URGENT))

    assert urgent[SINGLE_ACTION] == bulk[BATCH_ACTION]


def test_function_may_revoke_on_every_channel_of_the_account_in_its_region_by_default(
    default: Synthesized, lane: str
) -> None:
    grants = _role_grants(default, _function_role(default, lane))

    assert grants[ACTION[lane]] == [
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":ivs:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":channel/*",
                ],
            ]
        }
    ]


def test_function_may_revoke_on_every_channel_of_the_account_in_each_listed_region(
    regional: Synthesized, lane: str
) -> None:
    grants = _role_grants(regional, _function_role(regional, lane))

    assert grants[ACTION[lane]] == [
        {
            "Fn::Join": [
                "",
                ["arn:", {"Ref": "AWS::Partition"}, f":ivs:{region}:", {"Ref": "AWS::AccountId"}, ":channel/*"],
            ]
        }
        for region in ("us-east-1", "eu-west-1")
    ]


def test_function_may_revoke_only_on_the_channels_the_settings_list(full: Synthesized, lane: str) -> None:
    grants = _role_grants(full, _function_role(full, lane))

    assert grants[ACTION[lane]] == [CHANNEL_US, CHANNEL_EU]


def test_function_role_has_no_managed_policy_and_trusts_only_lambda(each: Synthesized, lane: str) -> None:
    role = each.json["Resources"][_function_role(each, lane)]["Properties"]

    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    assert statements(role["AssumeRolePolicyDocument"]) == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]


def test_scheduler_role_may_only_send_to_the_queue_and_the_delivery_dead_letter_queue(full: Synthesized) -> None:
    ids = _ids(full)
    role_id = full.logical_id(full.stack.routing.scheduler_role)

    grants = _role_grants(full, role_id)

    assert grants == {"sqs:SendMessage": [get_att(ids["queue"]), get_att(ids["delivery_dlq"])]}


def test_scheduler_role_trusts_only_this_accounts_schedule_group(full: Synthesized) -> None:
    role = full.json["Resources"][full.logical_id(full.stack.routing.scheduler_role)]["Properties"]
    group_id = full.only("AWS::Scheduler::ScheduleGroup")[0]

    assert statements(role["AssumeRolePolicyDocument"]) == [
        {
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                "ArnEquals": {"aws:SourceArn": get_att(group_id)},
            },
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
        }
    ]


def test_only_the_functions_and_scheduler_have_roles(each: Synthesized) -> None:
    expected = {_function_role(each, lane) for lane in names.LANES}
    if each.stack.routing.scheduler_role is not None:
        expected.add(each.logical_id(each.stack.routing.scheduler_role))

    assert set(each.resources("AWS::IAM::Role")) == expected
