"""Queues: encryption, TLS, sizes, redrive, retention and visibility, read from the synthesized templates."""

from __future__ import annotations

from typing import Any

import pytest

from ivs_revocation.models import (
    DEAD_LETTER_ATTRIBUTES_MAX_BYTES,
    DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES,
    SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    SQS_MAX_MESSAGE_BYTES,
)
from tests.infra.support import Synthesized, get_att, ref, statements

pytestmark = pytest.mark.infra

SECONDS_PER_DAY = 86_400
# The queues producers send to: one per lane.
SOURCE_QUEUES = ("queue", "urgent_queue")


def _queue(s: Synthesized, name: str) -> dict:
    return s.json["Resources"][s.logical_id(getattr(s.stack.queues, name))]["Properties"]


def test_every_queue_states_sse_sqs_and_no_kms_key(each: Synthesized) -> None:
    queues = each.resources("AWS::SQS::Queue")

    assert len(queues) == 4
    for logical_id, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, logical_id
        assert "KmsMasterKeyId" not in queue["Properties"], logical_id


def _references(value: Any) -> set[str]:
    """Logical ids a template fragment refers to with Ref or Fn::GetAtt (pseudo parameters left out)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str) and not value["Ref"].startswith("AWS::"):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _sqs_arn(name: str) -> dict[str, Any]:
    """A queue's ARN as the template builds it from a name: partition, region and account of the stack."""
    return {
        "Fn::Join": [
            "",
            ["arn:", ref("AWS::Partition"), ":sqs:", ref("AWS::Region"), ":", ref("AWS::AccountId"), f":{name}"],
        ]
    }


def test_every_queue_denies_requests_without_tls(each: Synthesized) -> None:
    policies = each.resources("AWS::SQS::QueuePolicy").values()

    for logical_id in each.resources("AWS::SQS::Queue"):
        # Every Deny of every action; the source queue's Deny of other senders is in test_routing.py.
        denies = [
            statement
            for policy in policies
            if ref(logical_id) in policy["Properties"]["Queues"]
            for statement in statements(policy["Properties"]["PolicyDocument"])
            if statement["Effect"] == "Deny" and statement["Action"] == "sqs:*"
        ]
        assert denies == [
            {
                "Action": "sqs:*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Resource": get_att(logical_id),
            }
        ], logical_id


@pytest.mark.parametrize("name", SOURCE_QUEUES)
def test_source_queue_redrives_to_the_dead_letter_queue_after_max_receive_count(each: Synthesized, name: str) -> None:
    # One DLQ for both lanes: every failed pair is in one place, in one format.
    dlq_id = each.logical_id(each.stack.queues.dead_letter_queue)

    redrive = _queue(each, name)["RedrivePolicy"]

    assert redrive == {"deadLetterTargetArn": get_att(dlq_id), "maxReceiveCount": each.settings.max_receive_count}


def test_urgent_queue_is_named_after_the_stack(each: Synthesized) -> None:
    name = _queue(each, "urgent_queue")["QueueName"]

    assert name == f"{each.settings.stack_name}-urgent" == each.settings.urgent_queue_name


def test_urgent_queue_keeps_messages_as_long_as_the_bulk_queue(each: Synthesized) -> None:
    # The dead-letter retention rule (longer than the source queue's) then holds for both lanes.
    urgent = _queue(each, "urgent_queue")["MessageRetentionPeriod"]

    assert urgent == _queue(each, "queue")["MessageRetentionPeriod"] == each.settings.queue_retention_days * 86_400


def test_urgent_queue_visibility_timeout_is_its_setting_and_at_least_six_urgent_function_timeouts(
    each: Synthesized,
) -> None:
    function = each.resource(each.stack.urgent_function.function)

    visibility = _queue(each, "urgent_queue")["VisibilityTimeout"]

    assert visibility == each.settings.urgent_visibility_timeout_seconds
    assert visibility >= 6 * function["Properties"]["Timeout"]


def test_dead_letter_queue_keeps_messages_14_days_longer_than_the_source_queue(default: Synthesized) -> None:
    source = _queue(default, "queue")["MessageRetentionPeriod"]
    dead_letters = _queue(default, "dead_letter_queue")["MessageRetentionPeriod"]

    assert dead_letters == 14 * SECONDS_PER_DAY
    assert source == default.settings.queue_retention_days * SECONDS_PER_DAY
    assert dead_letters > source


def test_source_queue_visibility_timeout_is_at_least_six_function_timeouts(each: Synthesized) -> None:
    function = each.resource(each.stack.function.function)

    visibility = _queue(each, "queue")["VisibilityTimeout"]

    assert visibility == each.settings.visibility_timeout_seconds
    assert visibility >= 6 * function["Properties"]["Timeout"]


def test_delivery_dead_letter_queue_keeps_failed_deliveries_14_days_and_is_no_redrive_target(
    each: Synthesized,
) -> None:
    queue = _queue(each, "delivery_dead_letter_queue")

    assert queue["MessageRetentionPeriod"] == 14 * SECONDS_PER_DAY
    assert queue["RedriveAllowPolicy"] == {"redrivePermission": "denyAll"}
    assert "RedrivePolicy" not in queue


def test_only_the_source_queues_have_a_redrive_policy(each: Synthesized) -> None:
    with_redrive = {k for k, v in each.resources("AWS::SQS::Queue").items() if "RedrivePolicy" in v["Properties"]}

    assert with_redrive == {each.logical_id(getattr(each.stack.queues, name)) for name in SOURCE_QUEUES}


def test_every_queue_states_its_maximum_message_size(each: Synthesized) -> None:
    sizes = {
        name: _queue(each, name).get("MaximumMessageSize")
        for name in ("queue", "urgent_queue", "dead_letter_queue", "delivery_dead_letter_queue")
    }

    assert sizes == {
        "queue": SOURCE_QUEUE_MAX_MESSAGE_BYTES,
        "urgent_queue": SOURCE_QUEUE_MAX_MESSAGE_BYTES,
        "dead_letter_queue": DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES,
        "delivery_dead_letter_queue": SQS_MAX_MESSAGE_BYTES,
    }
    assert all(0 < size <= SQS_MAX_MESSAGE_BYTES for size in sizes.values())


@pytest.mark.parametrize("name", SOURCE_QUEUES)
def test_a_dead_letter_copy_of_any_accepted_message_fits_the_dead_letter_queue(each: Synthesized, name: str) -> None:
    # The copy is the body the source queue accepted plus the attributes the function adds.
    source = _queue(each, name)["MaximumMessageSize"]
    dead_letters = _queue(each, "dead_letter_queue")["MaximumMessageSize"]

    assert source < dead_letters
    assert source + DEAD_LETTER_ATTRIBUTES_MAX_BYTES <= dead_letters


def test_dead_letter_queue_admits_only_the_two_source_queues_as_redrive_sources(each: Synthesized) -> None:
    source_name, urgent_name = (_queue(each, name)["QueueName"] for name in SOURCE_QUEUES)

    allow = _queue(each, "dead_letter_queue")["RedriveAllowPolicy"]

    # Named after the stack: unique in the account and region, as the stack's name is.
    assert source_name == f"{each.settings.stack_name}-requests" == each.settings.source_queue_name
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [_sqs_arn(source_name), _sqs_arn(urgent_name)]}


def test_dead_letter_queue_refers_to_no_other_resource_so_that_the_redrive_pair_has_no_cycle(
    each: Synthesized,
) -> None:
    # The source queue's RedrivePolicy refers to the DLQ; a reference back would be a cycle.
    dlq = each.json["Resources"][each.logical_id(each.stack.queues.dead_letter_queue)]

    assert _references(dlq) == set()
    assert "DependsOn" not in dlq
    for name in SOURCE_QUEUES:
        source_id = each.logical_id(getattr(each.stack.queues, name))
        assert each.logical_id(each.stack.queues.dead_letter_queue) in _references(
            each.json["Resources"][source_id]["Properties"]["RedrivePolicy"]
        )
