"""The function's settings: read from the environment once, at cold start, into one typed model.

Nothing else in the function reads `os.environ`. Endpoints are not settings of ours: botocore reads
the standard `AWS_ENDPOINT_URL_IVS` / `AWS_ENDPOINT_URL_SQS` variables itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from revocation import names
from revocation.call_policy import BATCH_CALLS_PER_SECOND


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names the environment variable."""


class FunctionSettings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    dead_letter_queue_url: str = Field(alias=names.ENV_DEAD_LETTER_QUEUE_URL, pattern=r"^https?://\S+$")
    # The queue the function drains. When set, pairs not started before the invocation ran out of time
    # are put back on it as a new request instead of the whole record being delivered again.
    source_queue_url: str | None = Field(None, alias=names.ENV_SOURCE_QUEUE_URL, pattern=r"^https?://\S+$")
    # Must equal the source queue's redrive maxReceiveCount: at that attempt the function
    # dead-letters retryable failures itself, with their reason, instead of SQS moving them bare.
    # The stack always sets it; the default is the stack's default, so a hand-made setup still works.
    max_receive_count: int = Field(5, alias=names.ENV_MAX_RECEIVE_COUNT, ge=1, le=1000)
    # This instance's share of the account-and-region quota (2 calls/s / maximum concurrency).
    ivs_calls_per_second: float = Field(1.0, alias=names.ENV_IVS_CALLS_PER_SECOND, gt=0, le=BATCH_CALLS_PER_SECOND)
    # Attempts per call within one invocation before the pairs are left to SQS's redelivery.
    ivs_max_attempts: int = Field(4, alias=names.ENV_IVS_MAX_ATTEMPTS, ge=1, le=10)
    # Connect plus read timeout of one IVS call: also the time a call needs to be worth starting.
    ivs_call_timeout_seconds: float = Field(5.0, alias=names.ENV_IVS_CALL_TIMEOUT_SECONDS, gt=0, le=60)
    # Time kept back at the end of an invocation for dead-letter writes and the response.
    time_safety_margin_seconds: float = Field(3.0, alias=names.ENV_TIME_SAFETY_MARGIN_SECONDS, ge=0, le=60)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> FunctionSettings:
        try:
            return cls.model_validate(dict(environ))
        except ValidationError as error:
            problems = "; ".join(f"{_name(item['loc'])}: {item['msg']}" for item in error.errors())
            raise SettingsError(f"invalid function settings: {problems}") from None


def _name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)
