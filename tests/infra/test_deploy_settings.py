"""The deploy settings model: defaults, `-c` overrides, and one test per rejected combination."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.settings import (
    CDK_JSON,
    MAX_PRODUCER_PRINCIPALS,
    MAX_PRODUCER_PRINCIPALS_CHARACTERS,
    MAX_SCHEDULE_PAYLOAD_BYTES,
    SCHEDULER_MAX_INPUT_BYTES,
    DeploySettings,
    DeploySettingsError,
)
from ivs_revocation import names
from ivs_revocation.models import SOURCE_QUEUE_MAX_MESSAGE_BYTES
from ivs_revocation.settings import FunctionSettings

pytestmark = pytest.mark.infra

CHANNEL = "arn:aws:ivs:us-west-2:123456789012:channel/abcd1234"
ROLE = "arn:aws:iam::123456789012:role/service-role/moderation"
USER = "arn:aws:iam::123456789012:user/ops"


def _rejected(**overrides: Any) -> str:
    with pytest.raises(DeploySettingsError) as error:
        DeploySettings.from_cdk_json(overrides=overrides)
    return str(error.value)


def test_cdk_json_context_holds_every_setting_at_its_default_but_a_disabled_example_schedule() -> None:
    context = json.loads(CDK_JSON.read_text())["context"]
    shipped = DeploySettings.from_cdk_json()

    assert set(context) == set(DeploySettings.context_keys())
    assert shipped.model_copy(update={"schedules": []}) == DeploySettings()
    assert shipped.schedules and not any(schedule.enabled for schedule in shipped.schedules)


def test_cdk_json_names_the_app_entry_point() -> None:
    assert json.loads(CDK_JSON.read_text())["app"] == ".venv/bin/python app.py"


def test_overrides_given_as_strings_are_parsed_into_their_types() -> None:
    settings = DeploySettings.from_cdk_json(
        overrides={
            "maxConcurrency": "4",
            "createEventBus": "true",
            "eventBusName": "moderation",
            "ivsRegions": "us-west-2, eu-west-1",
            "channelArns": json.dumps([CHANNEL]),
            "alarmEmail": "null",
        }
    )

    assert settings.max_concurrency == 4
    assert settings.create_event_bus is True
    assert settings.ivs_regions == ["us-west-2", "eu-west-1"]
    assert settings.channel_arns == [CHANNEL]
    assert settings.alarm_email is None


def test_instance_rate_defaults_to_the_quota_shared_by_maximum_concurrency() -> None:
    settings = DeploySettings.from_cdk_json(overrides={"maxConcurrency": "3"})

    assert settings.ivs_calls_per_second == pytest.approx(2 / 3)
    assert settings.ivs_calls_per_second * settings.max_concurrency <= 2


def test_instance_rate_that_fills_the_quota_exactly_is_accepted() -> None:
    settings = DeploySettings.from_cdk_json(overrides={"maxConcurrency": "3", "ivsCallsPerSecond": str(2 / 3)})

    assert settings.ivs_calls_per_second == 2 / 3


def test_rejects_visibility_timeout_below_six_function_timeouts() -> None:
    message = _rejected(functionTimeoutSeconds=90, visibilityTimeoutSeconds=500)

    assert "visibilityTimeoutSeconds (500) must be at least 6 x functionTimeoutSeconds (90) = 540" in message


def test_rejects_a_full_batch_that_does_not_fit_the_function_timeout() -> None:
    message = _rejected(batchSize=2000)

    assert "batchSize (2000) does not fit functionTimeoutSeconds (60)" in message
    assert "100 calls at 1 calls/s" in message


def test_rejects_a_full_batch_that_fits_only_at_the_whole_account_quota() -> None:
    # 60 calls take 30 s at 2 calls/s, but each of 4 instances has 0.5 calls/s: 120 s.
    message = _rejected(batchSize=1200, maxConcurrency=4, functionTimeoutSeconds=100, visibilityTimeoutSeconds=600)

    assert "batchSize (1200) does not fit functionTimeoutSeconds (100)" in message


def test_rejects_maximum_concurrency_below_two() -> None:
    assert "maxConcurrency: Input should be greater than or equal to 2" in _rejected(maxConcurrency=1)


def test_rejects_an_instance_rate_that_times_maximum_concurrency_exceeds_the_quota() -> None:
    message = _rejected(ivsCallsPerSecond=1.5, maxConcurrency=2)

    assert "ivsCallsPerSecond (1.5) x maxConcurrency (2) = 3 calls/s exceeds accountQuotaCallsPerSecond (2)" in message


def test_rejects_an_account_quota_above_the_fixed_two_calls_per_second() -> None:
    message = _rejected(accountQuotaCallsPerSecond=3)

    assert "accountQuotaCallsPerSecond: Input should be less than or equal to 2" in message


def test_rejects_time_margins_that_leave_no_time_in_the_function_timeout() -> None:
    message = _rejected(functionTimeoutSeconds=8, visibilityTimeoutSeconds=48, batchSize=1)

    assert "timeSafetyMarginSeconds (3) + ivsCallTimeoutSeconds (5) must be less than functionTimeoutSeconds (8)" in (
        message
    )


def test_rejects_a_batch_above_ten_without_a_batching_window() -> None:
    message = _rejected(batchSize=11, maxBatchingWindowSeconds=0)

    assert "batchSize (11) above 10 needs maxBatchingWindowSeconds of at least 1" in message


def test_rejects_reserved_concurrency_below_maximum_concurrency() -> None:
    message = _rejected(reservedConcurrency=1, maxConcurrency=2)

    assert "reservedConcurrency (1) must not be below maxConcurrency (2)" in message


def test_rejects_dead_letter_retention_not_longer_than_the_source_queues() -> None:
    message = _rejected(queueRetentionDays=14, deadLetterRetentionDays=14)

    assert "deadLetterRetentionDays (14) must be longer than queueRetentionDays (14)" in message


def test_rejects_a_dead_letter_age_alarm_that_would_fire_after_messages_expire() -> None:
    message = _rejected(deadLetterAgeAlarmDays=10, deadLetterRetentionDays=14, queueRetentionDays=4)

    assert "deadLetterAgeAlarmDays (10) must be less than deadLetterRetentionDays - queueRetentionDays (10)" in message


def test_rejects_creating_a_bus_named_default() -> None:
    assert "createEventBus needs an eventBusName other than 'default'" in _rejected(createEventBus="true")


def test_rejects_channels_outside_the_listed_regions() -> None:
    message = _rejected(channelArns=CHANNEL, ivsRegions="us-east-1")

    assert "channelArns name regions ['us-west-2'] that ivsRegions (['us-east-1']) does not list" in message


def test_rejects_a_malformed_channel_arn() -> None:
    assert "channelArns: Value error, 'arn:aws:ivs:x' is not a channel ARN" in _rejected(channelArns="arn:aws:ivs:x")


@pytest.mark.parametrize(
    "arn",
    [
        # The API's pattern takes any digits; IAM matches the account exactly, so the policy would grant nothing.
        "arn:aws:ivs:us-west-2:12345678901:channel/abcd1234",
        # Not the API's pattern (the function's intake refuses it): the stack would scope IAM to a
        # channel no request can name.
        "arn:aws-cn:ivs:cn-north-1:123456789012:channel/abcd1234",
        "arn:aws:ivs:us-west-2:123456789012:channel/abcd_1234",
    ],
)
def test_rejects_a_channel_arn_the_api_or_iam_would_not_match(arn: str) -> None:
    assert f"channelArns: Value error, {arn!r} is not a channel ARN" in _rejected(channelArns=arn)


def test_rejects_a_malformed_region() -> None:
    assert "ivsRegions: Value error, 'useast1' is not a region name" in _rejected(ivsRegions="useast1")


def test_rejects_a_log_retention_cloudwatch_does_not_offer() -> None:
    assert "logRetentionDays: Value error, CloudWatch Logs keeps logs for one of" in _rejected(logRetentionDays=13)


def _schedule(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "expression": "rate(1 day)", "viewerSessions": [{"channelArn": CHANNEL, "viewerId": "v"}]} | (
        fields
    )


def test_rejects_two_schedules_with_one_name() -> None:
    message = _rejected(schedules=json.dumps([_schedule("bans"), _schedule("bans")]))

    assert "schedules: names must be unique, repeated: ['bans']" in message


def test_rejects_a_schedule_payload_the_function_would_dead_letter() -> None:
    message = _rejected(schedules=[_schedule("bans", viewerSessions=[{"channelArn": CHANNEL, "viewerId": "x" * 41}])])

    assert "schedules.0.viewerSessions.0.viewerId: String should have at most 40 characters" in message


def test_rejects_a_schedule_expression_scheduler_does_not_read() -> None:
    message = _rejected(schedules=[_schedule("bans", expression="every hour")])

    assert "schedules.0.expression: String should match pattern" in message


def test_schedule_payload_limit_is_the_schedulers_input_limit_which_the_source_queue_holds() -> None:
    # A schedule delivers its Input as the message body: the smaller of the two limits applies.
    assert SCHEDULER_MAX_INPUT_BYTES == 256 * 1024
    assert min(SCHEDULER_MAX_INPUT_BYTES, SOURCE_QUEUE_MAX_MESSAGE_BYTES) == MAX_SCHEDULE_PAYLOAD_BYTES


def test_rejects_a_schedule_payload_larger_than_the_schedulers_input_limit() -> None:
    # About 480 KB: one SQS message of the source queue would hold it, the schedule's Input would not.
    sessions = [{"channelArn": CHANNEL, "viewerId": f"viewer-{i:033d}"} for i in range(3000)]

    message = _rejected(schedules=[_schedule("bans", viewerSessions=sessions)])

    assert "schedules[bans].viewerSessions is 498020 bytes as a message" in message
    assert f"a schedule's input (EventBridge Scheduler) holds at most {SCHEDULER_MAX_INPUT_BYTES} bytes" in message


def test_producer_principals_default_to_none_listed() -> None:
    assert DeploySettings.from_cdk_json().producer_principals == []


def test_producer_principals_given_comma_separated_or_as_json() -> None:
    for given in (f"{ROLE}, {USER}", json.dumps([ROLE, USER])):
        assert DeploySettings.from_cdk_json(overrides={"producerPrincipals": given}).producer_principals == [ROLE, USER]


@pytest.mark.parametrize(
    "bad",
    [
        "arn:aws:sts::123456789012:assumed-role/moderation/session-1",
        "arn:aws:iam::123456789012:root",
        "arn:aws:iam::123456789012:role/*",
        "arn:aws:iam::123456789012:group/moderators",
        "123456789012",
        "moderation",
    ],
)
def test_rejects_a_producer_principal_that_is_not_a_role_or_user_arn(bad: str) -> None:
    message = _rejected(producerPrincipals=json.dumps([ROLE, bad]))

    assert f"producerPrincipals: Value error, {bad!r} is not an IAM role or user ARN" in message


def _roles(count: int, length: int = 0) -> list[str]:
    """`count` distinct role ARNs, each padded to `length` characters when given."""
    return [f"arn:aws:iam::123456789012:role/producer-{index:03d}".ljust(length, "x") for index in range(count)]


@pytest.mark.parametrize(
    "arns",
    [_roles(MAX_PRODUCER_PRINCIPALS + 1), _roles(20, MAX_PRODUCER_PRINCIPALS_CHARACTERS // 20 + 1)],
    ids=["too many", "too long in all"],
)
def test_rejects_more_producer_principals_than_a_queue_policy_holds(arns: list[str]) -> None:
    message = _rejected(producerPrincipals=json.dumps(arns))

    assert "a queue policy names each twice and SQS takes 8,192 bytes a policy" in message
    assert f"at most {MAX_PRODUCER_PRINCIPALS} ARNs, {MAX_PRODUCER_PRINCIPALS_CHARACTERS} characters" in message


def test_accepts_as_many_producer_principals_as_a_queue_policy_holds() -> None:
    arns = _roles(MAX_PRODUCER_PRINCIPALS, MAX_PRODUCER_PRINCIPALS_CHARACTERS // MAX_PRODUCER_PRINCIPALS)

    assert DeploySettings.from_cdk_json(overrides={"producerPrincipals": arns}).producer_principals == arns


def test_rejects_a_producer_principal_listed_twice() -> None:
    message = _rejected(producerPrincipals=f"{ROLE},{USER},{ROLE}")

    assert f"producerPrincipals: Value error, names [{ROLE!r}] more than once" in message


def test_source_queue_name_is_derived_from_the_stack_name() -> None:
    assert DeploySettings.from_cdk_json(overrides={"stackName": "Bans"}).source_queue_name == "Bans-requests"


def test_urgent_queue_name_is_derived_from_the_stack_name() -> None:
    assert DeploySettings.from_cdk_json(overrides={"stackName": "Bans"}).urgent_queue_name == "Bans-urgent"


def test_urgent_lane_defaults_to_half_the_single_quota_per_instance_and_ten_pairs_per_message() -> None:
    settings = DeploySettings.from_cdk_json()

    assert (settings.urgent_calls_per_second, settings.urgent_max_concurrency) == (10, 2)
    assert settings.urgent_ivs_calls_per_second == 5
    # What one instance sends in 2 s: floor(2 x 10 / 2).
    assert settings.urgent_max_pairs_per_message == 10
    assert (settings.urgent_batch_size, settings.urgent_function_timeout_seconds) == (10, 30)
    assert (settings.urgent_visibility_timeout_seconds, settings.urgent_queue_age_alarm_seconds) == (180, 10)


def test_urgent_pairs_per_message_follow_the_instance_share_unless_set() -> None:
    assert DeploySettings.from_cdk_json(overrides={"urgentMaxConcurrency": "4"}).urgent_max_pairs_per_message == 5
    assert DeploySettings.from_cdk_json(overrides={"urgentCallsPerSecond": "3"}).urgent_max_pairs_per_message == 3
    # Never none: a lane that keeps no pair of an urgent message would send every one to bulk.
    slow = DeploySettings.from_cdk_json(overrides={"urgentCallsPerSecond": "0.5", "urgentBatchSize": "1"})
    assert slow.urgent_max_pairs_per_message == 1
    assert DeploySettings.from_cdk_json(overrides={"urgentMaxPairsPerMessage": "4"}).urgent_max_pairs_per_message == 4


def test_rejects_urgent_calls_per_second_above_the_single_operations_quota() -> None:
    message = _rejected(urgentCallsPerSecond=11)

    assert "urgentCallsPerSecond: Input should be less than or equal to 10" in message


def test_rejects_urgent_maximum_concurrency_below_two() -> None:
    assert "urgentMaxConcurrency: Input should be greater than or equal to 2" in _rejected(urgentMaxConcurrency=1)


def test_rejects_an_urgent_batch_above_ten_since_the_lane_has_no_batching_window() -> None:
    assert "urgentBatchSize: Input should be less than or equal to 10" in _rejected(urgentBatchSize=11)


def test_rejects_urgent_visibility_timeout_below_six_urgent_function_timeouts() -> None:
    message = _rejected(urgentFunctionTimeoutSeconds=40, urgentVisibilityTimeoutSeconds=200)

    assert "urgentVisibilityTimeoutSeconds (200) must be at least 6 x urgentFunctionTimeoutSeconds (40) = 240" in (
        message
    )


def test_rejects_a_full_urgent_batch_that_does_not_fit_the_urgent_function_timeout() -> None:
    # 10 messages x 20 pairs = 200 single calls at 5 calls/s: 40 s, plus 5 s and 3 s of margins.
    message = _rejected(urgentMaxPairsPerMessage=20)

    assert "urgentBatchSize (10) x urgentMaxPairsPerMessage (20) does not fit urgentFunctionTimeoutSeconds (30)" in (
        message
    )
    assert "200 calls at 5 calls/s (urgentCallsPerSecond / urgentMaxConcurrency)" in message
    assert "need 48 s" in message


def test_a_full_urgent_batch_that_fits_exactly_is_accepted() -> None:
    # 10 x 11 = 110 calls at 5 calls/s: 22 s + 5 s + 3 s = 30 s.
    settings = DeploySettings.from_cdk_json(overrides={"urgentMaxPairsPerMessage": "11"})

    assert settings.urgent_full_batch_seconds == settings.urgent_function_timeout_seconds == 30


def test_rejects_an_urgent_batch_that_fits_only_at_the_whole_single_quota() -> None:
    # 100 calls take 10 s at 10 calls/s, but each of 4 instances has 2.5 calls/s: 40 s.
    message = _rejected(urgentMaxConcurrency=4, urgentMaxPairsPerMessage=10)

    assert "urgentBatchSize (10) x urgentMaxPairsPerMessage (10) does not fit urgentFunctionTimeoutSeconds (30)" in (
        message
    )


def test_rejects_time_margins_that_leave_no_time_in_the_urgent_function_timeout() -> None:
    message = _rejected(urgentFunctionTimeoutSeconds=8, urgentVisibilityTimeoutSeconds=48)

    assert (
        "timeSafetyMarginSeconds (3) + ivsCallTimeoutSeconds (5) must be less than urgentFunctionTimeoutSeconds (8)"
    ) in message


def test_rejects_more_urgent_pairs_per_message_than_the_function_accepts() -> None:
    message = _rejected(urgentMaxPairsPerMessage=1001)

    assert "urgentMaxPairsPerMessage: Input should be less than or equal to 1000" in message


def test_rejects_an_urgent_queue_age_alarm_below_one_second() -> None:
    assert "urgentQueueAgeAlarmSeconds: Input should be greater than or equal to 1" in _rejected(
        urgentQueueAgeAlarmSeconds=0
    )


def test_lanes_differ_in_queue_rate_mapping_and_timeout() -> None:
    settings = DeploySettings.from_cdk_json(overrides={"reservedConcurrency": "4"})

    bulk, urgent = settings.lane(names.LANE_BULK), settings.lane(names.LANE_URGENT)

    assert (bulk.queue_name, urgent.queue_name) == (settings.source_queue_name, settings.urgent_queue_name)
    assert (bulk.calls_per_second, urgent.calls_per_second) == (1.0, 5.0)
    assert (bulk.batch_size, bulk.max_batching_window_seconds, bulk.max_concurrency) == (200, 1, 2)
    assert (urgent.batch_size, urgent.max_batching_window_seconds, urgent.max_concurrency) == (10, 0, 2)
    assert (bulk.function_timeout_seconds, urgent.function_timeout_seconds) == (60, 30)
    assert (bulk.visibility_timeout_seconds, urgent.visibility_timeout_seconds) == (360, 180)
    assert (bulk.reserved_concurrency, urgent.reserved_concurrency) == (4, None)
    with pytest.raises(ValueError, match="lane must be one of bulk, urgent"):
        settings.lane("fast")


QUEUES = "https://sqs.us-west-2.amazonaws.com/123456789012"


def test_urgent_function_environment_names_its_lane_bound_and_bulk_queue() -> None:
    settings = DeploySettings.from_cdk_json()

    environment = settings.function_environment(
        dead_letter_queue_url=f"{QUEUES}/dlq",
        source_queue_url=f"{QUEUES}/urgent",
        region="us-west-2",
        lane=names.LANE_URGENT,
        bulk_queue_url=f"{QUEUES}/requests",
    )

    assert environment[names.ENV_LANE] == names.LANE_URGENT
    assert environment[names.ENV_SOURCE_QUEUE_URL] == f"{QUEUES}/urgent"
    assert environment[names.ENV_BULK_QUEUE_URL] == f"{QUEUES}/requests"
    assert environment[names.ENV_MAX_PAIRS_PER_MESSAGE] == "10"
    assert float(environment[names.ENV_IVS_CALLS_PER_SECOND]) == 5.0


def test_bulk_function_environment_is_unchanged_by_the_urgent_settings() -> None:
    settings = DeploySettings.from_cdk_json(overrides={"urgentMaxConcurrency": "5"})

    environment = settings.function_environment(
        dead_letter_queue_url=f"{QUEUES}/dlq", source_queue_url=f"{QUEUES}/r", region="us-west-2"
    )

    assert names.ENV_LANE not in environment and names.ENV_BULK_QUEUE_URL not in environment
    assert float(environment[names.ENV_IVS_CALLS_PER_SECOND]) == 1.0


@pytest.mark.parametrize("lane", [names.LANE_BULK, names.LANE_URGENT])
def test_function_environment_wants_a_bulk_queue_for_the_urgent_lane_only(lane: str) -> None:
    settings = DeploySettings.from_cdk_json()
    bulk_queue_url = None if lane == names.LANE_URGENT else f"{QUEUES}/requests"

    with pytest.raises(ValueError, match="bulk_queue_url is given for the urgent lane, and only for it"):
        settings.function_environment(
            dead_letter_queue_url=f"{QUEUES}/dlq",
            source_queue_url=f"{QUEUES}/q",
            region="us-west-2",
            lane=lane,
            bulk_queue_url=bulk_queue_url,
        )


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"urgentCallsPerSecond": "10", "urgentMaxConcurrency": "2", "urgentMaxPairsPerMessage": "11"},
        {
            "urgentMaxConcurrency": "1000",
            "urgentBatchSize": "1",
            "urgentFunctionTimeoutSeconds": "900",
            "urgentVisibilityTimeoutSeconds": "5400",
        },
    ],
)
@pytest.mark.parametrize("lane", [names.LANE_BULK, names.LANE_URGENT])
def test_the_function_accepts_the_environment_of_each_lane(overrides: dict[str, str], lane: str) -> None:
    settings = DeploySettings.from_cdk_json(overrides=overrides)
    bulk_queue_url = f"{QUEUES}/requests" if lane == names.LANE_URGENT else None

    environment = settings.function_environment(
        dead_letter_queue_url=f"{QUEUES}/dlq",
        source_queue_url=f"{QUEUES}/q",
        region="us-west-2",
        lane=lane,
        bulk_queue_url=bulk_queue_url,
    )
    parsed = FunctionSettings.from_environ(environment)

    assert parsed.lane == lane
    assert parsed.ivs_calls_per_second == settings.lane(lane).calls_per_second


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "us-west-2"),
        ({"ivsRegions": "eu-west-1,us-east-1"}, "eu-west-1,us-east-1"),
        # ivsRegions may list more regions than the channels name: it is the scope.
        ({"ivsRegions": "us-east-1,us-west-2", "channelArns": CHANNEL}, "us-east-1,us-west-2"),
        (
            {"channelArns": f"{CHANNEL},arn:aws:ivs:eu-west-1:123456789012:channel/eu1,{CHANNEL[:-1]}5"},
            "us-west-2,eu-west-1",
        ),
    ],
    ids=["own-region", "ivs-regions", "ivs-regions-over-channels", "channel-regions"],
)
def test_function_environment_ivs_regions_is_ivs_regions_else_the_channels_regions_else_its_own(
    overrides: dict[str, str], expected: str
) -> None:
    settings = DeploySettings.from_cdk_json(overrides=overrides)

    for lane, bulk_queue_url in ((names.LANE_BULK, None), (names.LANE_URGENT, f"{QUEUES}/requests")):
        environment = settings.function_environment(
            dead_letter_queue_url=f"{QUEUES}/dlq",
            source_queue_url=f"{QUEUES}/q",
            region="us-west-2",
            lane=lane,
            bulk_queue_url=bulk_queue_url,
        )
        assert environment[names.ENV_IVS_REGIONS] == expected
        # And the function reads it as that scope, whatever its own region.
        parsed = FunctionSettings.from_environ({**environment, "AWS_REGION": "ap-south-1"})
        assert parsed.ivs_regions == tuple(expected.split(","))
