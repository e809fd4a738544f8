"""Notifications, alarms and the dashboard, read from the synthesized templates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import constants
from ivs_revocation import names
from tests.infra.support import Synthesis, Synthesized, get_att, ref, statements

pytestmark = pytest.mark.infra

SECONDS_PER_DAY = 86_400


def _alarm(s: Synthesized, suffix: str) -> dict[str, Any]:
    name = f"{s.settings.stack_name}-{suffix}"
    found = [
        a["Properties"] for a in s.resources("AWS::CloudWatch::Alarm").values() if a["Properties"]["AlarmName"] == name
    ]
    assert len(found) == 1, name
    return found[0]


def _queue_name(s: Synthesized, name: str) -> list[dict[str, Any]]:
    return [{"Name": "QueueName", "Value": get_att(s.logical_id(getattr(s.stack.queues, name)), "QueueName")}]


def _function_dimension(s: Synthesized, lane: str = names.LANE_BULK) -> list[dict[str, Any]]:
    return [{"Name": "FunctionName", "Value": ref(s.logical_id(s.lane_function(lane).function))}]


def _operation_dimensions(operation: str) -> list[dict[str, Any]]:
    """The dimensions of an operation's metric, sorted by name."""
    return sorted(
        [{"Name": "service", "Value": names.SERVICE_NAME}, {"Name": names.DIMENSION_OPERATION, "Value": operation}],
        key=lambda d: d["Name"],
    )


def _dashboard(s: Synthesized) -> dict[str, Any]:
    _, dashboard = s.only("AWS::CloudWatch::Dashboard")
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text = "".join(p if isinstance(p, str) else "${" + json.dumps(p).replace('"', "'") + "}" for p in parts)
    return json.loads(text)


def _graphed(s: Synthesized) -> dict[str, set[str]]:
    """Widget title -> names of the metrics it graphs."""
    graphed: dict[str, set[str]] = {}
    for widget in _dashboard(s)["widgets"]:
        metrics = widget["properties"].get("metrics", [])
        graphed[widget["properties"]["title"]] = {m[1] for m in metrics}
    return graphed


def test_alarm_topic_is_encrypted_with_a_rotated_customer_managed_key(each: Synthesized) -> None:
    key_id, key = each.only("AWS::KMS::Key")
    _, topic = each.only("AWS::SNS::Topic")

    assert topic["Properties"]["KmsMasterKeyId"] == get_att(key_id)
    assert key["Properties"]["EnableKeyRotation"] is True


def test_alarm_topic_accepts_publishes_over_tls_from_this_accounts_alarms_only(each: Synthesized) -> None:
    _, policy = each.only("AWS::SNS::TopicPolicy")
    document = statements(policy["Properties"]["PolicyDocument"])

    deny = [s for s in document if s["Effect"] == "Deny"]
    allow = [s for s in document if s["Effect"] == "Allow"]

    assert [s["Condition"] for s in deny] == [{"Bool": {"aws:SecureTransport": "false"}}]
    assert [s["Principal"] for s in allow] == [{"Service": "cloudwatch.amazonaws.com"}]
    assert allow[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_key_lets_cloudwatch_encrypt_for_the_topic(each: Synthesized) -> None:
    _, key = each.only("AWS::KMS::Key")

    cloudwatch = [
        s
        for s in statements(key["Properties"]["KeyPolicy"])
        if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]

    assert [sorted(s["Action"]) for s in cloudwatch] == [["kms:Decrypt", "kms:GenerateDataKey*"]]


def test_email_subscription_only_when_an_address_is_set(synthesis: Synthesis) -> None:
    assert not synthesis.default.resources("AWS::SNS::Subscription")
    _, subscription = synthesis.full.only("AWS::SNS::Subscription")
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == synthesis.full.settings.alarm_email


def test_dead_letter_queue_alarm_fires_on_any_visible_message(each: Synthesized) -> None:
    alarm = _alarm(each, constants.ALARM_DLQ_NOT_EMPTY)

    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == _queue_name(each, "dead_letter_queue")
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_delivery_dead_letter_queue_alarm_fires_on_any_visible_message(each: Synthesized) -> None:
    alarm = _alarm(each, constants.ALARM_DELIVERY_DLQ_NOT_EMPTY)

    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == _queue_name(each, "delivery_dead_letter_queue")
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_source_queue_alarm_on_the_age_of_its_oldest_message(each: Synthesized) -> None:
    alarm = _alarm(each, constants.ALARM_QUEUE_OLDEST_MESSAGE)

    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert alarm["Dimensions"] == _queue_name(each, "queue")
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "GreaterThanThreshold",
        each.settings.queue_age_alarm_seconds,
    )


def test_urgent_queue_alarm_on_the_age_of_its_oldest_message_in_seconds(each: Synthesized) -> None:
    alarm = _alarm(each, constants.ALARM_URGENT_QUEUE_OLDEST_MESSAGE)

    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "Maximum",
    )
    assert alarm["Dimensions"] == _queue_name(each, "urgent_queue")
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (60, 1)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "GreaterThanThreshold",
        each.settings.urgent_queue_age_alarm_seconds,
    )
    assert each.settings.urgent_queue_age_alarm_seconds < each.settings.queue_age_alarm_seconds


def test_dead_letter_queue_alarm_on_the_age_of_its_oldest_message(each: Synthesized) -> None:
    alarm = _alarm(each, constants.ALARM_DLQ_OLDEST_MESSAGE)

    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert alarm["Dimensions"] == _queue_name(each, "dead_letter_queue")
    assert alarm["Threshold"] == each.settings.dead_letter_age_alarm_days * SECONDS_PER_DAY
    shortest_life = each.settings.dead_letter_retention_days - each.settings.queue_retention_days
    assert alarm["Threshold"] < shortest_life * SECONDS_PER_DAY


def test_function_errors_alarm(each: Synthesized) -> None:
    alarm = _alarm(each, constants.ALARM_FUNCTION_ERRORS)

    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    assert alarm["Dimensions"] == _function_dimension(each)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


def test_function_throttles_alarm(each: Synthesized) -> None:
    alarm = _alarm(each, constants.ALARM_FUNCTION_THROTTLES)

    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Throttles", "Sum")
    assert alarm["Dimensions"] == _function_dimension(each)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


def test_urgent_function_errors_alarm(each: Synthesized) -> None:
    alarm = _alarm(each, constants.ALARM_URGENT_FUNCTION_ERRORS)

    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    assert alarm["Dimensions"] == _function_dimension(each, names.LANE_URGENT)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


def test_urgent_function_throttles_alarm(each: Synthesized) -> None:
    alarm = _alarm(each, constants.ALARM_URGENT_FUNCTION_THROTTLES)

    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Throttles", "Sum")
    assert alarm["Dimensions"] == _function_dimension(each, names.LANE_URGENT)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


@pytest.mark.parametrize(
    ("suffix", "operation"),
    [
        (constants.ALARM_IVS_THROTTLED_CALLS, names.OPERATION_BATCH),
        (constants.ALARM_IVS_THROTTLED_SINGLE_CALLS, names.OPERATION_SINGLE),
    ],
)
def test_throttled_ivs_calls_alarm_per_operation_reads_the_functions_own_metric(
    each: Synthesized, suffix: str, operation: str
) -> None:
    # Per operation: the two have separate quotas, and a throttle says which one ran out.
    alarm = _alarm(each, suffix)

    assert (alarm["Namespace"], alarm["MetricName"]) == (names.METRICS_NAMESPACE, names.METRIC_THROTTLED_CALLS)
    assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == _operation_dimensions(operation)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "GreaterThanOrEqualToThreshold",
        each.settings.throttled_calls_alarm_threshold,
    )


def test_unwritten_dead_letters_alarm_fires_on_the_first_one_within_a_minute(each: Synthesized) -> None:
    topic_id, _ = each.only("AWS::SNS::Topic")

    alarm = _alarm(each, constants.ALARM_DEAD_LETTERS_UNWRITTEN)

    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        names.METRICS_NAMESPACE,
        names.METRIC_DEAD_LETTERS_UNWRITTEN,
        "Sum",
    )
    assert alarm["Dimensions"] == [{"Name": "service", "Value": names.SERVICE_NAME}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (60, 1)
    assert alarm["AlarmActions"] == [ref(topic_id)]
    # No data means no dead letter went unwritten.
    assert alarm["TreatMissingData"] == "notBreaching"


def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_clears(each: Synthesized) -> None:
    topic_id, _ = each.only("AWS::SNS::Topic")
    alarms = each.resources("AWS::CloudWatch::Alarm")

    assert {a["Properties"]["AlarmName"] for a in alarms.values()} == {
        f"{each.settings.stack_name}-{suffix}" for suffix in constants.ALARM_SUFFIXES
    }
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [ref(topic_id)]
        assert alarm["Properties"]["OKActions"] == [ref(topic_id)]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def test_dashboard_shows_backlog_and_drain_rate(each: Synthesized) -> None:
    graphed = _graphed(each)

    assert {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"} <= graphed["Backlog"]
    assert {"NumberOfMessagesSent", "NumberOfMessagesDeleted", names.METRIC_PAIRS_REVOKED} <= graphed[
        "Drain rate (per minute)"
    ]


def test_dashboard_shows_revoked_and_dead_lettered_pairs(each: Synthesized) -> None:
    graphed = _graphed(each)["Pairs: received, revoked, dead-lettered (per minute)"]

    assert {names.METRIC_PAIRS_RECEIVED, names.METRIC_PAIRS_REVOKED, names.METRIC_PAIRS_DEAD_LETTERED} <= graphed


def _widget(s: Synthesized, title: str) -> dict[str, Any]:
    (widget,) = [w["properties"] for w in _dashboard(s)["widgets"] if w["properties"].get("title") == title]
    return widget


def _dimensions(metric: list[Any]) -> dict[str, Any]:
    """A dashboard metric row, [namespace, name, dimension, value, ..., {options}], as its dimensions."""
    values = [item for item in metric[2:] if not isinstance(item, dict)]
    return dict(zip(values[::2], values[1::2], strict=True))


@pytest.mark.parametrize(
    ("title", "operation", "quota"),
    [
        ("Batch calls and throttles (per minute)", names.OPERATION_BATCH, "account_quota_calls_per_second"),
        ("Single calls and throttles (per minute)", names.OPERATION_SINGLE, "urgent_calls_per_second"),
    ],
)
def test_dashboard_shows_each_operations_calls_and_throttles_against_its_quota(
    each: Synthesized, title: str, operation: str, quota: str
) -> None:
    widget = _widget(each, title)

    assert {m[1] for m in widget["metrics"]} == {names.METRIC_IVS_CALLS, names.METRIC_THROTTLED_CALLS}
    assert all(_dimensions(m)[names.DIMENSION_OPERATION] == operation for m in widget["metrics"])
    assert [a["value"] for a in widget["annotations"]["horizontal"]] == [getattr(each.settings, quota) * 60]


def test_dashboard_shows_the_urgent_backlog_and_its_oldest_message(each: Synthesized) -> None:
    widget = _widget(each, "Urgent backlog")
    queue_name = _queue_name(each, "urgent_queue")[0]["Value"]

    assert {m[1] for m in widget["metrics"]} == {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateAgeOfOldestMessage",
    }
    assert all(
        _dimensions(m)["QueueName"] == "${" + json.dumps(queue_name).replace('"', "'") + "}" for m in widget["metrics"]
    )


def test_dashboard_shows_the_pair_wait_of_each_lane(each: Synthesized) -> None:
    widget = _widget(each, "Pair wait, send to accepted call (s)")

    assert {m[1] for m in widget["metrics"]} == {names.METRIC_PAIR_WAIT_SECONDS}
    by_lane = [_dimensions(m) for m in widget["metrics"] if names.DIMENSION_COLD_START not in _dimensions(m)]
    assert sorted(dimensions[names.DIMENSION_LANE] for dimensions in by_lane) == sorted(names.LANES)


def test_dashboard_shows_the_urgent_pair_wait_of_cold_and_warm_starts(each: Synthesized) -> None:
    widget = _widget(each, "Pair wait, send to accepted call (s)")

    split = [_dimensions(m) for m in widget["metrics"] if names.DIMENSION_COLD_START in _dimensions(m)]
    assert sorted(d[names.DIMENSION_COLD_START] for d in split) == ["false", "true"]
    assert {d[names.DIMENSION_LANE] for d in split} == {names.LANE_URGENT}


def test_dashboard_shows_errors_and_duration(each: Synthesized) -> None:
    graphed = _graphed(each)

    assert {
        "Errors",
        "Throttles",
        names.METRIC_INVALID_MESSAGES,
        names.METRIC_RECORDS_RETRIED,
        names.METRIC_DEAD_LETTERS_UNWRITTEN,
    } <= graphed["Errors"]
    assert graphed["Duration (ms)"] == {"Duration"}


def test_dashboard_shows_every_alarm(each: Synthesized) -> None:
    alarm_widgets = [w for w in _dashboard(each)["widgets"] if w["type"] == "alarm"]

    (widget,) = alarm_widgets
    assert len(widget["properties"]["alarms"]) == len(constants.ALARM_SUFFIXES)


@pytest.mark.parametrize("name", [names.METRIC_IVS_CALLS, names.METRIC_THROTTLED_CALLS])
def test_dashboard_shows_calls_and_throttles_by_account_with_members(full: Synthesized, name: str) -> None:
    title = {names.METRIC_IVS_CALLS: "IVS calls", names.METRIC_THROTTLED_CALLS: "Throttled IVS calls"}[name]
    widget = _widget(full, f"{title} by account (per minute)")

    assert {m[1] for m in widget["metrics"]} == {name}
    accounts = [_dimensions(m)[names.DIMENSION_ACCOUNT] for m in widget["metrics"]]
    # The own account (the stack's, a reference) and each listed member: a bounded set.
    assert accounts == ["${{'Ref': 'AWS::AccountId'}}", *full.settings.member_accounts]


def test_dashboard_has_no_account_widgets_without_members(default: Synthesized) -> None:
    assert not [title for title in _graphed(default) if "by account" in title]
