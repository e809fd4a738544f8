"""Queues: encryption, TLS, redrive, retention and visibility, read from the synthesized templates."""

from __future__ import annotations

import pytest

from tests.infra.support import Synthesized, get_att, ref, statements

pytestmark = pytest.mark.infra

SECONDS_PER_DAY = 86_400


def _queue(s: Synthesized, name: str) -> dict:
    return s.json["Resources"][s.logical_id(getattr(s.stack.queues, name))]["Properties"]


def test_every_queue_states_sse_sqs_and_no_kms_key(each: Synthesized) -> None:
    queues = each.resources("AWS::SQS::Queue")

    assert len(queues) == 3
    for logical_id, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, logical_id
        assert "KmsMasterKeyId" not in queue["Properties"], logical_id


def test_every_queue_denies_requests_without_tls(each: Synthesized) -> None:
    policies = each.resources("AWS::SQS::QueuePolicy").values()

    for logical_id in each.resources("AWS::SQS::Queue"):
        denies = [
            statement
            for policy in policies
            if ref(logical_id) in policy["Properties"]["Queues"]
            for statement in statements(policy["Properties"]["PolicyDocument"])
            if statement["Effect"] == "Deny"
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


def test_source_queue_redrives_to_the_dead_letter_queue_after_max_receive_count(each: Synthesized) -> None:
    dlq_id = each.logical_id(each.stack.queues.dead_letter_queue)

    redrive = _queue(each, "queue")["RedrivePolicy"]

    assert redrive == {"deadLetterTargetArn": get_att(dlq_id), "maxReceiveCount": each.settings.max_receive_count}


def test_dead_letter_queue_keeps_messages_14_days_longer_than_the_source_queue(default: Synthesized) -> None:
    source = _queue(default, "queue")["MessageRetentionPeriod"]
    dead_letters = _queue(default, "dead_letter_queue")["MessageRetentionPeriod"]

    assert dead_letters == 14 * SECONDS_PER_DAY
    assert source == default.settings.queue_retention_days * SECONDS_PER_DAY
    assert dead_letters > source


def test_source_queue_visibility_timeout_is_at_least_six_function_timeouts(each: Synthesized) -> None:
    _, function = each.only("AWS::Lambda::Function")

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


def test_only_the_source_queue_has_a_redrive_policy(each: Synthesized) -> None:
    with_redrive = [k for k, v in each.resources("AWS::SQS::Queue").items() if "RedrivePolicy" in v["Properties"]]

    assert with_redrive == [each.logical_id(each.stack.queues.queue)]
