"""The function's settings: read from the environment once, at cold start, into one typed model.

Nothing else in the function reads `os.environ`. Endpoints are not settings of ours: botocore reads
the standard `AWS_ENDPOINT_URL_IVS` / `AWS_ENDPOINT_URL_SQS` variables itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ivs_revocation import names
from ivs_revocation.call_policy import BATCH_CALLS_PER_SECOND, SINGLE_CALLS_PER_SECOND

# The most one instance may be set to call per second, by lane: its operation's whole quota.
MAX_CALLS_PER_SECOND: dict[str, float] = {
    names.LANE_BULK: BATCH_CALLS_PER_SECOND,
    names.LANE_URGENT: SINGLE_CALLS_PER_SECOND,
}

# The most pairs of one urgent message the lane may be set to send itself (the rest go to the bulk queue).
MAX_PAIRS_PER_MESSAGE_LIMIT = 1000

# An AWS region's name: us-west-2, eu-central-1, us-gov-west-1, ap-southeast-4, ...
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
# An AWS account id, and an IAM role's name (IAM's own rule: 1 to 64 of these characters).
ACCOUNT_PATTERN = r"^[0-9]{12}$"
ROLE_NAME_PATTERN = r"^[\w+=,.@-]{1,64}$"
# The most member accounts one deployment revokes in: each is a rate limiter and a client per region,
# a role ARN in the function's policy, and a value of the Account metric dimension.
MAX_MEMBER_ACCOUNTS = 50
# Lambda sets it to the function's own region; the default of IVS_REGIONS.
ENV_AWS_REGION = "AWS_REGION"


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
    # The bulk lane calls BatchStartViewerSessionRevocation with the merged pairs of a batch; the urgent
    # lane calls StartViewerSessionRevocation, one pair per call, for at most max_pairs_per_message pairs
    # of a message, and sends the rest of it to the bulk queue.
    lane: str = Field(names.LANE_BULK, alias=names.ENV_LANE)
    # This instance's share of its operation's account-and-region quota (quota / maximum concurrency);
    # at most the whole quota of the lane's operation (checked below, where the lane is known).
    ivs_calls_per_second: float = Field(1.0, alias=names.ENV_IVS_CALLS_PER_SECOND, gt=0)
    max_pairs_per_message: int = Field(10, alias=names.ENV_MAX_PAIRS_PER_MESSAGE, ge=1, le=MAX_PAIRS_PER_MESSAGE_LIMIT)
    bulk_queue_url: str | None = Field(None, alias=names.ENV_BULK_QUEUE_URL, pattern=r"^https?://\S+$")
    # Attempts per call within one invocation before the pairs are left to SQS's redelivery.
    ivs_max_attempts: int = Field(4, alias=names.ENV_IVS_MAX_ATTEMPTS, ge=1, le=10)
    # Connect plus read timeout of one IVS call: also the time a call needs to be worth starting.
    ivs_call_timeout_seconds: float = Field(5.0, alias=names.ENV_IVS_CALL_TIMEOUT_SECONDS, gt=0, le=60)
    # Time kept back at the end of an invocation for dead-letter writes and the response.
    time_safety_margin_seconds: float = Field(3.0, alias=names.ENV_TIME_SAFETY_MARGIN_SECONDS, ge=0, le=60)
    # The regions whose channels this deployment revokes (comma-separated); pairs of any other region
    # are dead-lettered before any call, so that clients and limiters exist for these only. Unset:
    # the function's own region (AWS_REGION, which Lambda sets). Empty only where neither is set (a
    # hand-made environment): then the region of the invoked function's ARN (see plan.Scope).
    ivs_regions: tuple[str, ...] = Field((), alias=names.ENV_IVS_REGIONS)
    # The event bus (name or ARN) the outcome events go to; unset: the function puts none.
    outcome_event_bus_name: str | None = Field(None, alias=names.ENV_OUTCOME_EVENT_BUS_NAME, min_length=1)
    # Member accounts (comma-separated ids, other than the function's own) whose channels it revokes
    # through the role IVS_MEMBER_ROLE_NAME it assumes in each; its own account uses its own credentials.
    ivs_accounts: tuple[str, ...] = Field((), alias=names.ENV_IVS_ACCOUNTS, max_length=MAX_MEMBER_ACCOUNTS)
    ivs_member_role_name: str = Field(
        names.DEFAULT_MEMBER_ROLE_NAME, alias=names.ENV_IVS_MEMBER_ROLE_NAME, pattern=ROLE_NAME_PATTERN
    )

    @model_validator(mode="before")
    @classmethod
    def _own_region_by_default(cls, values: object) -> object:
        if isinstance(values, dict) and not values.get(names.ENV_IVS_REGIONS) and values.get(ENV_AWS_REGION):
            return {**values, names.ENV_IVS_REGIONS: values[ENV_AWS_REGION]}
        return values

    @field_validator("ivs_regions", mode="before")
    @classmethod
    def _region_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        regions = [region.strip() for region in value.split(",") if region.strip()]
        if not regions:
            raise ValueError(f"at least one region (got {value!r})")
        wrong = [region for region in regions if not re.fullmatch(REGION_PATTERN, region)]
        if wrong:
            raise ValueError(f"not a region name: {', '.join(map(repr, wrong))} (expected e.g. us-west-2,eu-west-1)")
        # Each once, in the order given (the order the reasons name them in).
        return tuple(dict.fromkeys(regions))

    @field_validator("ivs_accounts", mode="before")
    @classmethod
    def _account_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        accounts = [account.strip() for account in value.split(",") if account.strip()]
        wrong = [account for account in accounts if not re.fullmatch(ACCOUNT_PATTERN, account)]
        if wrong:
            raise ValueError(f"not an account id: {', '.join(map(repr, wrong))} (expected 12 digits each)")
        return tuple(dict.fromkeys(accounts))

    @field_validator("lane")
    @classmethod
    def _known_lane(cls, value: str) -> str:
        if value not in names.LANES:
            raise ValueError(f"must be one of {', '.join(names.LANES)} (got {value!r})")
        return value

    @model_validator(mode="after")
    def _fits_lane(self) -> FunctionSettings:
        # Raised as ValueError so that pydantic reports it; the message names the variable itself.
        most = MAX_CALLS_PER_SECOND[self.lane]
        if self.ivs_calls_per_second > most:
            raise ValueError(
                f"{names.ENV_IVS_CALLS_PER_SECOND} must be at most {most:g} in the {self.lane} lane"
                f" (got {self.ivs_calls_per_second:g})"
            )
        if self.lane == names.LANE_URGENT and self.bulk_queue_url is None:
            raise ValueError(f"{names.ENV_BULK_QUEUE_URL} is required in the {names.LANE_URGENT} lane")
        return self

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> FunctionSettings:
        try:
            return cls.model_validate(dict(environ))
        except ValidationError as error:
            problems = "; ".join(_problem(item["loc"], item["msg"]) for item in error.errors())
            raise SettingsError(f"invalid function settings: {problems}") from None


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    # A check across settings has no location: its message names the variables itself.
    message = message.removeprefix("Value error, ")
    return f"{'.'.join(str(part) for part in loc)}: {message}" if loc else message
