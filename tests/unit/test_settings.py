"""Function settings: parsed once from the environment; a bad one is named."""

from __future__ import annotations

import pytest

from ivs_revocation.settings import FunctionSettings, SettingsError

pytestmark = pytest.mark.unit

VALID = {"DEAD_LETTER_QUEUE_URL": "https://sqs.us-west-2.amazonaws.com/1/dlq", "MAX_RECEIVE_COUNT": "5"}


def test_settings_defaults() -> None:
    settings = FunctionSettings.from_environ({"DEAD_LETTER_QUEUE_URL": VALID["DEAD_LETTER_QUEUE_URL"]})

    assert settings.max_receive_count == 5
    assert settings.source_queue_url is None
    assert settings.ivs_calls_per_second == 1.0
    assert settings.ivs_max_attempts == 4


def test_settings_read_every_variable() -> None:
    settings = FunctionSettings.from_environ(
        {
            **VALID,
            "IVS_CALLS_PER_SECOND": "0.5",
            "IVS_MAX_ATTEMPTS": "2",
            "IVS_CALL_TIMEOUT_SECONDS": "3",
            "TIME_SAFETY_MARGIN_SECONDS": "1.5",
        }
    )

    assert (settings.ivs_calls_per_second, settings.ivs_max_attempts) == (0.5, 2)
    assert (settings.ivs_call_timeout_seconds, settings.time_safety_margin_seconds) == (3.0, 1.5)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"MAX_RECEIVE_COUNT": "5"}, "DEAD_LETTER_QUEUE_URL"),
        ({**VALID, "MAX_RECEIVE_COUNT": "zero"}, "MAX_RECEIVE_COUNT"),
        ({**VALID, "MAX_RECEIVE_COUNT": "0"}, "MAX_RECEIVE_COUNT"),
        ({**VALID, "DEAD_LETTER_QUEUE_URL": "my-dlq"}, "DEAD_LETTER_QUEUE_URL"),
        ({**VALID, "IVS_CALLS_PER_SECOND": "3"}, "IVS_CALLS_PER_SECOND"),
        ({**VALID, "IVS_CALLS_PER_SECOND": "0"}, "IVS_CALLS_PER_SECOND"),
        ({**VALID, "IVS_MAX_ATTEMPTS": "0"}, "IVS_MAX_ATTEMPTS"),
    ],
)
def test_settings_name_the_variable_that_is_missing_or_invalid(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        FunctionSettings.from_environ(environ)


URGENT = {**VALID, "REVOCATION_LANE": "urgent", "BULK_QUEUE_URL": "https://sqs.us-west-2.amazonaws.com/1/bulk"}


def test_settings_default_to_the_bulk_lane() -> None:
    settings = FunctionSettings.from_environ(VALID)

    assert (settings.lane, settings.bulk_queue_url, settings.max_pairs_per_message) == ("bulk", None, 10)


def test_settings_read_the_urgent_lane() -> None:
    settings = FunctionSettings.from_environ({**URGENT, "IVS_CALLS_PER_SECOND": "10", "MAX_PAIRS_PER_MESSAGE": "4"})

    assert (settings.lane, settings.ivs_calls_per_second, settings.max_pairs_per_message) == ("urgent", 10.0, 4)
    assert settings.bulk_queue_url == URGENT["BULK_QUEUE_URL"]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({**VALID, "REVOCATION_LANE": "fast"}, "REVOCATION_LANE: must be one of bulk, urgent (got 'fast')"),
        ({**VALID, "IVS_CALLS_PER_SECOND": "2.5"}, "IVS_CALLS_PER_SECOND must be at most 2 in the bulk lane (got 2.5)"),
        (
            {**URGENT, "IVS_CALLS_PER_SECOND": "11"},
            "IVS_CALLS_PER_SECOND must be at most 10 in the urgent lane (got 11)",
        ),
        ({**VALID, "REVOCATION_LANE": "urgent"}, "BULK_QUEUE_URL is required in the urgent lane"),
        ({**URGENT, "BULK_QUEUE_URL": "bulk"}, "BULK_QUEUE_URL"),
        ({**URGENT, "MAX_PAIRS_PER_MESSAGE": "0"}, "MAX_PAIRS_PER_MESSAGE"),
    ],
)
def test_settings_name_the_variable_the_lane_makes_invalid(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        FunctionSettings.from_environ(environ)

    assert message in str(raised.value)


# --- IVS_REGIONS: the regions this deployment revokes in -----------------------------------------


def test_ivs_regions_are_read_as_a_list_each_once_in_order() -> None:
    settings = FunctionSettings.from_environ({**VALID, "IVS_REGIONS": " us-west-2,eu-west-1 ,us-west-2,us-gov-west-1"})

    assert settings.ivs_regions == ("us-west-2", "eu-west-1", "us-gov-west-1")


def test_ivs_regions_default_to_the_functions_own_region() -> None:
    """Lambda always sets AWS_REGION; without either, the scope takes the invoked function's region."""
    assert FunctionSettings.from_environ({**VALID, "AWS_REGION": "eu-west-1"}).ivs_regions == ("eu-west-1",)
    assert FunctionSettings.from_environ(
        {**VALID, "AWS_REGION": "eu-west-1", "IVS_REGIONS": "us-west-2"}
    ).ivs_regions == ("us-west-2",)
    assert FunctionSettings.from_environ(VALID).ivs_regions == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("us-west-2,Mars", "IVS_REGIONS: not a region name: 'Mars'"),
        ("us-west-2;eu-west-1", "IVS_REGIONS: not a region name: 'us-west-2;eu-west-1'"),
        ("arn:aws:ivs:us-west-2", "IVS_REGIONS: not a region name"),
        (" , ", "IVS_REGIONS: at least one region (got ' , ')"),
    ],
)
def test_ivs_regions_name_what_is_not_a_region(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        FunctionSettings.from_environ({**VALID, "IVS_REGIONS": value})

    assert message in str(raised.value)
