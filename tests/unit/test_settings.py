"""Function settings: parsed once from the environment; a bad one is named."""

from __future__ import annotations

import pytest

from revocation.settings import FunctionSettings, SettingsError

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
