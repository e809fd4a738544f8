"""Deploy-time settings: one typed model, read from `cdk.json` context by the stack and the local stack.

Pure pydantic on purpose (no aws-cdk-lib import), so that the local stack can load the same settings
without jsii. Values given with `cdk deploy -c key=value` arrive as strings; lax parsing turns them
into the declared types, and a list may be given as JSON or comma-separated.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ivs_revocation import names
from ivs_revocation.call_policy import BATCH_CALLS_PER_SECOND, SINGLE_CALLS_PER_SECOND
from ivs_revocation.models import (
    CHANNEL_ARN_PATTERN,
    MAX_SESSIONS_PER_CALL,
    SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    RevocationRequest,
    ViewerSession,
)
from ivs_revocation.settings import (
    ACCOUNT_PATTERN,
    MAX_MEMBER_ACCOUNTS,
    MAX_PAIRS_PER_MESSAGE_LIMIT,
    REGION_PATTERN,
)
from ivs_revocation.settings import ROLE_NAME_PATTERN as MEMBER_ROLE_NAME_PATTERN

# BatchStartViewerSessionRevocation: calls per second per account and region, not adjustable.
IVS_ACCOUNT_QUOTA_CALLS_PER_SECOND = BATCH_CALLS_PER_SECOND
# StartViewerSessionRevocation, the urgent lane's operation: its own row of the quota table.
IVS_SINGLE_QUOTA_CALLS_PER_SECOND = SINGLE_CALLS_PER_SECOND
# Lambda refuses a standard-queue mapping with more than 10 records per batch and no batching window.
MAX_BATCH_SIZE_WITHOUT_WINDOW = 10
# An urgent message keeps, by default, the pairs one instance of the urgent lane sends in this time.
URGENT_MESSAGE_SECONDS = 2
# The most pairs of one message the function accepts to send in the urgent lane.
URGENT_MAX_PAIRS_PER_MESSAGE_LIMIT = MAX_PAIRS_PER_MESSAGE_LIMIT
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"

# How this model's context keys look; the CDK's own keys carry ':', '@', '/' or '-'.
SETTING_KEY = re.compile(r"^[a-z][A-Za-z0-9]*$")
# A channelArns entry is the API's channel ARN (models.CHANNEL_ARN_PATTERN) whose account has all 12
# digits: the API's pattern takes any digits, but IAM matches the account exactly, and a policy
# scoped to a mistyped account would grant nothing.
ACCOUNT_ID_PATTERN = r"^\d{12}$"
LAYER_ARN_PATTERN = r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:\d+$"
SCHEDULE_EXPRESSION_PATTERN = r"^(rate|cron|at)\(.+\)$"
# The retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
# EventBridge Scheduler: "The maximum size of the Input field is 256 KB" (its API reference, Target).
SCHEDULER_MAX_INPUT_BYTES = 256 * 1024
# A schedule's payload is its target's Input, delivered as one message to the source queue: it must
# fit both. The scheduler's limit is the smaller today; min() keeps that true if either changes.
MAX_SCHEDULE_PAYLOAD_BYTES = min(SCHEDULER_MAX_INPUT_BYTES, SOURCE_QUEUE_MAX_MESSAGE_BYTES)
# An IAM role or user, as `aws:PrincipalArn` names it (a role's path included, never its session).
# A source queue's policy names each producer twice (allowed, and excepted from the Deny); SQS takes
# at most 8,192 bytes and 50 principals per policy (SQS developer guide, "Amazon SQS policy quotas").
# These bounds leave room for the pipeline's own statements, roles and conditions.
MAX_PRODUCER_PRINCIPALS = 40
MAX_PRODUCER_PRINCIPALS_CHARACTERS = 2_800
PRINCIPAL_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$"


class Schedule(BaseModel):
    """An EventBridge Scheduler schedule that re-sends a static list of viewer sessions."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-zA-Z-_.]+$")
    # rate(...), cron(...) or at(...), as EventBridge Scheduler reads them.
    expression: str = Field(min_length=1, pattern=SCHEDULE_EXPRESSION_PATTERN)
    timezone: str = Field("UTC", min_length=1, max_length=50)
    description: str | None = Field(None, max_length=512)
    # A disabled schedule is deployed but never runs: how cdk.json ships its example.
    enabled: bool = True
    viewer_sessions: list[ViewerSession] = Field(alias="viewerSessions", min_length=1)

    def payload(self) -> str:
        """The message body the schedule sends: the API's request shape, which the function accepts."""
        return RevocationRequest(viewer_sessions=list(self.viewer_sessions)).to_json()

    @model_validator(mode="after")
    def _fits_one_message(self) -> Schedule:
        size = len(self.payload().encode())
        if size > MAX_SCHEDULE_PAYLOAD_BYTES:
            raise ValueError(
                f"schedules[{self.name}].viewerSessions is {size} bytes as a message; a schedule's "
                f"input (EventBridge Scheduler) holds at most {MAX_SCHEDULE_PAYLOAD_BYTES} bytes"
            )
        return self


@dataclass(frozen=True)
class LaneSettings:
    """What one lane is deployed with: its queue, its function's timeout and rate, its mapping."""

    lane: str  # names.LANE_BULK or names.LANE_URGENT
    queue_name: str
    # One instance's share of the lane's operation quota: quota / max_concurrency unless set.
    calls_per_second: float
    batch_size: int
    max_batching_window_seconds: int
    max_concurrency: int
    function_timeout_seconds: int
    visibility_timeout_seconds: int
    reserved_concurrency: int | None

    def key(self, setting: str) -> str:
        """This lane's context key of a per-lane setting: the urgent lane's keys start with `urgent`."""
        return setting if self.lane == names.LANE_BULK else f"urgent{setting[0].upper()}{setting[1:]}"


class DeploySettings(BaseModel):
    """Every deploy-time setting, with its default; names are the keys of cdk.json's context."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    stack_name: str = Field("IvsRevocation", alias="stackName", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,63}$")
    # The calls per second this deployment may use of the account-and-region quota (2, not adjustable).
    account_quota_calls_per_second: float = Field(
        2.0, alias="accountQuotaCallsPerSecond", gt=0, le=IVS_ACCOUNT_QUOTA_CALLS_PER_SECOND
    )
    # One instance's rate; unset means accountQuotaCallsPerSecond / maxConcurrency.
    per_instance_calls_per_second: float | None = Field(None, alias="ivsCallsPerSecond", gt=0)
    max_concurrency: int = Field(2, alias="maxConcurrency", ge=2, le=1000)
    reserved_concurrency: int | None = Field(None, alias="reservedConcurrency", ge=1)
    batch_size: int = Field(200, alias="batchSize", ge=1, le=10_000)
    max_batching_window_seconds: int = Field(1, alias="maxBatchingWindowSeconds", ge=0, le=300)
    function_timeout_seconds: int = Field(60, alias="functionTimeoutSeconds", ge=1, le=900)
    function_memory_mb: int = Field(512, alias="functionMemoryMb", ge=128, le=10_240)
    visibility_timeout_seconds: int = Field(360, alias="visibilityTimeoutSeconds", ge=0, le=43_200)
    max_receive_count: int = Field(5, alias="maxReceiveCount", ge=1, le=1000)
    queue_retention_days: int = Field(4, alias="queueRetentionDays", ge=1, le=14)
    dead_letter_retention_days: int = Field(14, alias="deadLetterRetentionDays", ge=1, le=14)
    time_safety_margin_seconds: float = Field(3.0, alias="timeSafetyMarginSeconds", ge=0, le=60)
    ivs_call_timeout_seconds: float = Field(5.0, alias="ivsCallTimeoutSeconds", gt=0, le=60)
    ivs_max_attempts: int = Field(4, alias="ivsMaxAttempts", ge=1, le=10)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field("INFO", alias="logLevel")
    log_retention_days: int = Field(30, alias="logRetentionDays")
    # The Powertools release whose public layer the function runs on; its layer ARN is read, per
    # region, from the SSM parameter Powertools publishes for that release.
    powertools_version: str = Field("3.37.0", alias="powertoolsVersion", pattern=r"^(\d+\.\d+\.\d+|latest)$")
    powertools_layer_arn: str | None = Field(None, alias="powertoolsLayerArn", pattern=LAYER_ARN_PATTERN)
    ivs_regions: list[str] = Field(default_factory=list, alias="ivsRegions")
    channel_arns: list[str] = Field(default_factory=list, alias="channelArns")
    event_bus_name: str = Field("default", alias="eventBusName", min_length=1, max_length=256)
    create_event_bus: bool = Field(False, alias="createEventBus")
    # Outcome events: after settling each record, the functions put a "Viewer Session Revocation Settled"
    # event (docs/outcome-events.md) on outcomeEventBusName, by default the stack's eventBusName.
    outcome_events: bool = Field(True, alias="outcomeEvents")
    outcome_event_bus_name_setting: str | None = Field(None, alias="outcomeEventBusName", min_length=1, max_length=256)
    delivery_retry_attempts: int = Field(10, alias="deliveryRetryAttempts", ge=0, le=185)
    delivery_max_event_age_seconds: int = Field(3600, alias="deliveryMaxEventAgeSeconds", ge=60, le=86_400)
    schedules: list[Schedule] = Field(default_factory=list)
    alarm_email: str | None = Field(None, alias="alarmEmail", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    queue_age_alarm_seconds: int = Field(1800, alias="queueAgeAlarmSeconds", ge=60)
    dead_letter_age_alarm_days: int = Field(3, alias="deadLetterAgeAlarmDays", ge=1, le=13)
    throttled_calls_alarm_threshold: int = Field(1, alias="throttledCallsAlarmThreshold", ge=1)
    # Who may request revocations: empty means anyone of the account whose IAM policy allows it.
    producer_principals: list[str] = Field(default_factory=list, alias="producerPrincipals")
    # The urgent lane: its own queue, function and mapping, calling StartViewerSessionRevocation.
    # The calls per second this deployment may use of that operation's quota (10, its own row).
    urgent_calls_per_second: float = Field(
        10.0, alias="urgentCallsPerSecond", gt=0, le=IVS_SINGLE_QUOTA_CALLS_PER_SECOND
    )
    urgent_max_concurrency: int = Field(2, alias="urgentMaxConcurrency", ge=2, le=1000)
    # No batching window in this lane, so at most what Lambda allows without one.
    urgent_batch_size: int = Field(10, alias="urgentBatchSize", ge=1, le=MAX_BATCH_SIZE_WITHOUT_WINDOW)
    # Unset means the pairs one instance sends in URGENT_MESSAGE_SECONDS; the rest go to the bulk queue.
    urgent_pairs_per_message_limit: int | None = Field(
        None, alias="urgentMaxPairsPerMessage", ge=1, le=URGENT_MAX_PAIRS_PER_MESSAGE_LIMIT
    )
    urgent_function_timeout_seconds: int = Field(30, alias="urgentFunctionTimeoutSeconds", ge=1, le=900)
    urgent_visibility_timeout_seconds: int = Field(180, alias="urgentVisibilityTimeoutSeconds", ge=0, le=43_200)
    # Seconds, not minutes: a person waits on each urgent request.
    urgent_queue_age_alarm_seconds: int = Field(10, alias="urgentQueueAgeAlarmSeconds", ge=1)
    # A warm urgent lane on request (docs/deploy.md, "The urgent lane's cold path"): instances kept
    # initialised on a published version behind the alias the mapping invokes, or SnapStart.
    urgent_provisioned_concurrency: int = Field(0, alias="urgentProvisionedConcurrency", ge=0, le=1000)
    urgent_snap_start: bool = Field(False, alias="urgentSnapStart")
    # Member accounts (docs/many-accounts.md): the other accounts whose channels the functions revoke
    # in, each through the role memberRoleName there (infra/member.py deploys it).
    member_accounts: list[str] = Field(default_factory=list, alias="memberAccounts", max_length=MAX_MEMBER_ACCOUNTS)
    member_role_name: str = Field(
        names.DEFAULT_MEMBER_ROLE_NAME, alias="memberRoleName", pattern=MEMBER_ROLE_NAME_PATTERN
    )

    @field_validator("member_accounts")
    @classmethod
    def _accounts(cls, value: list[str]) -> list[str]:
        # The function's own rule (IVS_ACCOUNTS): 12 ASCII digits each, each once.
        for account in value:
            if not re.fullmatch(ACCOUNT_PATTERN, account):
                raise ValueError(f"{account!r} is not an account id (12 digits)")
        if len(set(value)) != len(value):
            raise ValueError("lists an account more than once")
        return value

    @field_validator("ivs_regions", "channel_arns", "producer_principals", "member_accounts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"CloudWatch Logs keeps logs for one of {sorted(LOG_RETENTION_DAYS)} days, not {value}")
        return value

    @field_validator("ivs_regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        # The function's own rule: a region accepted here is one that IVS_REGIONS takes at cold start.
        for region in value:
            if not re.fullmatch(REGION_PATTERN, region):
                raise ValueError(f"{region!r} is not a region name such as us-east-1")
        return value

    @field_validator("channel_arns")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not (re.match(CHANNEL_ARN_PATTERN, arn) and re.match(ACCOUNT_ID_PATTERN, arn.split(":")[4])):
                raise ValueError(f"{arn!r} is not a channel ARN (arn:aws:ivs:<region>:<12-digit account>:channel/<id>)")
        return value

    @field_validator("producer_principals")
    @classmethod
    def _principals(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not re.match(PRINCIPAL_ARN_PATTERN, arn):
                raise ValueError(
                    f"{arn!r} is not an IAM role or user ARN (arn:aws:iam::<account>:role/<name> or "
                    "...:user/<name>; a role, not an assumed-role session)"
                )
        repeated = sorted({arn for arn in value if value.count(arn) > 1})
        if repeated:
            raise ValueError(f"names {repeated} more than once")
        characters = sum(len(arn) for arn in value)
        if len(value) > MAX_PRODUCER_PRINCIPALS or characters > MAX_PRODUCER_PRINCIPALS_CHARACTERS:
            raise ValueError(
                f"{len(value)} ARNs of {characters} characters in all; a queue policy names each twice and SQS "
                f"takes 8,192 bytes a policy: at most {MAX_PRODUCER_PRINCIPALS} ARNs, "
                f"{MAX_PRODUCER_PRINCIPALS_CHARACTERS} characters in all (name a role the producers assume instead)"
            )
        return value

    @property
    def source_queue_name(self) -> str:
        """The source queue's name, known before it exists: its DLQ's redrive allow policy names it."""
        return f"{self.stack_name}-requests"

    @property
    def urgent_queue_name(self) -> str:
        """The urgent queue's name, known in advance for the same reason as source_queue_name."""
        return f"{self.stack_name}-urgent"

    @property
    def ivs_calls_per_second(self) -> float:
        """This instance's share of the account quota: every instance of the mapping shares it."""
        if self.per_instance_calls_per_second is not None:
            return self.per_instance_calls_per_second
        return self.account_quota_calls_per_second / self.max_concurrency

    @property
    def urgent_ivs_calls_per_second(self) -> float:
        """One urgent instance's share of the single operation's quota."""
        return self.urgent_calls_per_second / self.urgent_max_concurrency

    @property
    def urgent_max_pairs_per_message(self) -> int:
        """Pairs of one urgent message the lane sends itself: by default what one instance sends in 2 s."""
        if self.urgent_pairs_per_message_limit is not None:
            return self.urgent_pairs_per_message_limit
        # At least one: a lane that kept no pair of an urgent message would send them all to bulk.
        return max(1, math.floor(URGENT_MESSAGE_SECONDS * self.urgent_ivs_calls_per_second))

    @property
    def calls_per_full_batch(self) -> int:
        """API calls a batch of one-pair records needs: the worst case, since pairs merge across records."""
        return math.ceil(self.batch_size / MAX_SESSIONS_PER_CALL)

    @property
    def full_batch_seconds(self) -> float:
        """Time a batch of one-pair records takes at this instance's share of the quota."""
        return self._seconds_for(self.calls_per_full_batch, self.ivs_calls_per_second)

    @property
    def urgent_calls_per_full_batch(self) -> int:
        """Single-pair calls of a full urgent batch: every message at the most pairs the lane keeps."""
        return self.urgent_batch_size * self.urgent_max_pairs_per_message

    @property
    def urgent_full_batch_seconds(self) -> float:
        """Time a full urgent batch takes at one urgent instance's share of the quota."""
        return self._seconds_for(self.urgent_calls_per_full_batch, self.urgent_ivs_calls_per_second)

    def _seconds_for(self, calls: int, calls_per_second: float) -> float:
        """Time the calls take at that rate, plus the margins an invocation keeps."""
        return calls / calls_per_second + self.time_safety_margin_seconds + self.ivs_call_timeout_seconds

    def lane(self, lane: str) -> LaneSettings:
        """What one lane's queue, function and event source mapping are deployed with."""
        if lane == names.LANE_BULK:
            return LaneSettings(
                lane=lane,
                queue_name=self.source_queue_name,
                calls_per_second=self.ivs_calls_per_second,
                batch_size=self.batch_size,
                max_batching_window_seconds=self.max_batching_window_seconds,
                max_concurrency=self.max_concurrency,
                function_timeout_seconds=self.function_timeout_seconds,
                visibility_timeout_seconds=self.visibility_timeout_seconds,
                reserved_concurrency=self.reserved_concurrency,
            )
        if lane == names.LANE_URGENT:
            return LaneSettings(
                lane=lane,
                queue_name=self.urgent_queue_name,
                calls_per_second=self.urgent_ivs_calls_per_second,
                batch_size=self.urgent_batch_size,
                # A person waits on each request: the poller hands over what it has at once.
                max_batching_window_seconds=0,
                max_concurrency=self.urgent_max_concurrency,
                function_timeout_seconds=self.urgent_function_timeout_seconds,
                visibility_timeout_seconds=self.urgent_visibility_timeout_seconds,
                reserved_concurrency=None,
            )
        raise ValueError(f"lane must be one of {', '.join(names.LANES)}, not {lane!r}")

    def revocation_regions(self, own_region: str) -> list[str]:
        """The regions the function may revoke in: ivsRegions, else the regions channelArns name (each
        once, in the order first named), else `own_region`, the stack's own (in the stack a
        CloudFormation token, locally the local stack's region). The stack grants no others either."""
        if self.ivs_regions:
            return list(self.ivs_regions)
        if self.channel_arns:
            return list(dict.fromkeys(_channel_region(arn) for arn in self.channel_arns))
        return [own_region]

    @property
    def outcome_event_bus_name(self) -> str | None:
        """The bus the outcome events go to; None when outcomeEvents is false."""
        if not self.outcome_events:
            return None
        return self.outcome_event_bus_name_setting or self.event_bus_name

    def function_environment(
        self,
        *,
        dead_letter_queue_url: str,
        source_queue_url: str,
        region: str,
        lane: str = names.LANE_BULK,
        bulk_queue_url: str | None = None,
    ) -> dict[str, str]:
        """One lane's function environment, defined once for the stack and the local stack.

        source_queue_url is the lane's own queue; the urgent lane also needs bulk_queue_url. The URLs
        are CloudFormation references in the stack and real URLs locally. region is the stack's own
        (`revocation_regions`).
        """
        settings = self.lane(lane)
        if (lane == names.LANE_URGENT) != (bulk_queue_url is not None):
            raise ValueError("bulk_queue_url is given for the urgent lane, and only for it")
        environment = {
            names.ENV_DEAD_LETTER_QUEUE_URL: dead_letter_queue_url,
            # Pairs not started before the invocation ran out of time go back here as a new message.
            names.ENV_SOURCE_QUEUE_URL: source_queue_url,
            # Equal to the redrive policy's: on that delivery the function dead-letters retryable
            # failures itself, with their reason, before SQS would move the message bare.
            names.ENV_MAX_RECEIVE_COUNT: str(self.max_receive_count),
            # repr keeps every digit, so that rate x maximum concurrency stays within the quota.
            names.ENV_IVS_CALLS_PER_SECOND: repr(settings.calls_per_second),
            names.ENV_IVS_MAX_ATTEMPTS: str(self.ivs_max_attempts),
            names.ENV_IVS_CALL_TIMEOUT_SECONDS: repr(self.ivs_call_timeout_seconds),
            names.ENV_TIME_SAFETY_MARGIN_SECONDS: repr(self.time_safety_margin_seconds),
            names.ENV_POWERTOOLS_SERVICE_NAME: names.SERVICE_NAME,
            names.ENV_POWERTOOLS_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
            names.ENV_POWERTOOLS_LOG_LEVEL: self.log_level,
            # Pairs of other regions (and of other accounts than the function's) are dead-lettered
            # before any call: a producer's channel ARN cannot make the function reach further.
            names.ENV_IVS_REGIONS: ",".join(self.revocation_regions(region)),
        }
        if self.member_accounts:
            environment |= {
                names.ENV_IVS_ACCOUNTS: ",".join(self.member_accounts),
                names.ENV_IVS_MEMBER_ROLE_NAME: self.member_role_name,
            }
        if self.outcome_event_bus_name is not None:
            environment[names.ENV_OUTCOME_EVENT_BUS_NAME] = self.outcome_event_bus_name
        if bulk_queue_url is not None:
            environment |= {
                names.ENV_LANE: lane,
                names.ENV_MAX_PAIRS_PER_MESSAGE: str(self.urgent_max_pairs_per_message),
                # Where the pairs of a message beyond MAX_PAIRS_PER_MESSAGE go, as a request of their own.
                names.ENV_BULK_QUEUE_URL: bulk_queue_url,
            }
        return environment

    @model_validator(mode="after")
    def _consistent(self) -> DeploySettings:
        bulk, urgent = self.lane(names.LANE_BULK), self.lane(names.LANE_URGENT)
        _visibility_covers_retries(bulk)
        self._rate_within_quota()
        # Before the batch rule, which it implies: its message says more when margins alone overrun.
        self._margins_fit_timeout(bulk)
        self._batch_fits_timeout()
        _visibility_covers_retries(urgent)
        self._margins_fit_timeout(urgent)
        self._urgent_batch_fits_timeout()
        self._urgent_warm_path()
        self._window_for_large_batches()
        self._reserved_not_below_maximum()
        self._dead_letters_outlive_messages()
        self._bus_to_create_is_named()
        self._channels_in_listed_regions()
        self._schedule_names_unique()
        return self

    def _rate_within_quota(self) -> None:
        # A relative tolerance, so that a rate written as quota / concurrency never fails on rounding.
        total = self.ivs_calls_per_second * self.max_concurrency
        if total > self.account_quota_calls_per_second * (1 + 1e-9):
            raise ValueError(
                f"ivsCallsPerSecond ({self.ivs_calls_per_second:g}) x maxConcurrency ({self.max_concurrency}) "
                f"= {total:g} calls/s exceeds accountQuotaCallsPerSecond ({self.account_quota_calls_per_second:g}): "
                "every instance shares the account's quota"
            )

    def _batch_fits_timeout(self) -> None:
        if self.full_batch_seconds > self.function_timeout_seconds:
            raise ValueError(
                f"batchSize ({self.batch_size}) does not fit functionTimeoutSeconds "
                f"({self.function_timeout_seconds}): {self.calls_per_full_batch} calls at "
                f"{self.ivs_calls_per_second:g} calls/s (this instance's share of the quota) plus "
                f"ivsCallTimeoutSeconds and timeSafetyMarginSeconds need {self.full_batch_seconds:g} s"
            )

    def _margins_fit_timeout(self, lane: LaneSettings) -> None:
        if self.time_safety_margin_seconds + self.ivs_call_timeout_seconds >= lane.function_timeout_seconds:
            raise ValueError(
                f"timeSafetyMarginSeconds ({self.time_safety_margin_seconds:g}) + ivsCallTimeoutSeconds "
                f"({self.ivs_call_timeout_seconds:g}) must be less than {lane.key('functionTimeoutSeconds')} "
                f"({lane.function_timeout_seconds})"
            )

    def _urgent_batch_fits_timeout(self) -> None:
        if self.urgent_full_batch_seconds > self.urgent_function_timeout_seconds:
            raise ValueError(
                f"urgentBatchSize ({self.urgent_batch_size}) x urgentMaxPairsPerMessage "
                f"({self.urgent_max_pairs_per_message}) does not fit urgentFunctionTimeoutSeconds "
                f"({self.urgent_function_timeout_seconds}): {self.urgent_calls_per_full_batch} calls at "
                f"{self.urgent_ivs_calls_per_second:g} calls/s (urgentCallsPerSecond / urgentMaxConcurrency) plus "
                f"ivsCallTimeoutSeconds and timeSafetyMarginSeconds need {self.urgent_full_batch_seconds:g} s"
            )

    def _window_for_large_batches(self) -> None:
        if self.batch_size > MAX_BATCH_SIZE_WITHOUT_WINDOW and self.max_batching_window_seconds < 1:
            raise ValueError(
                f"batchSize ({self.batch_size}) above {MAX_BATCH_SIZE_WITHOUT_WINDOW} needs "
                "maxBatchingWindowSeconds of at least 1: Lambda refuses the mapping otherwise"
            )

    def _urgent_warm_path(self) -> None:
        if self.urgent_snap_start and self.urgent_provisioned_concurrency:
            raise ValueError(
                f"urgentSnapStart and urgentProvisionedConcurrency ({self.urgent_provisioned_concurrency}) "
                "exclude each other: Lambda does not support SnapStart with provisioned concurrency; choose one"
            )
        if self.urgent_provisioned_concurrency > self.urgent_max_concurrency:
            raise ValueError(
                f"urgentProvisionedConcurrency ({self.urgent_provisioned_concurrency}) must not exceed "
                f"urgentMaxConcurrency ({self.urgent_max_concurrency}): the mapping never invokes more "
                "instances, so the rest would be paid for and never used"
            )

    @property
    def urgent_published(self) -> bool:
        """Whether the urgent mapping invokes a published version (through the alias) instead of $LATEST."""
        return self.urgent_snap_start or self.urgent_provisioned_concurrency > 0

    def _reserved_not_below_maximum(self) -> None:
        if self.reserved_concurrency is not None and self.reserved_concurrency < self.max_concurrency:
            raise ValueError(
                f"reservedConcurrency ({self.reserved_concurrency}) must not be below maxConcurrency "
                f"({self.max_concurrency}): throttled invocations would push messages to the DLQ unprocessed"
            )

    def _dead_letters_outlive_messages(self) -> None:
        if self.dead_letter_retention_days <= self.queue_retention_days:
            raise ValueError(
                f"deadLetterRetentionDays ({self.dead_letter_retention_days}) must be longer than "
                f"queueRetentionDays ({self.queue_retention_days}): a message keeps its enqueue time in the DLQ"
            )
        # A message SQS moves keeps its first enqueue time, and the DLQ's age metric counts from the
        # move: in the worst case it expires deadLetterRetentionDays - queueRetentionDays after arriving.
        shortest_life = self.dead_letter_retention_days - self.queue_retention_days
        if self.dead_letter_age_alarm_days >= shortest_life:
            raise ValueError(
                f"deadLetterAgeAlarmDays ({self.dead_letter_age_alarm_days}) must be less than "
                f"deadLetterRetentionDays - queueRetentionDays ({shortest_life}): the alarm must fire before "
                "dead-lettered messages can expire"
            )

    def _bus_to_create_is_named(self) -> None:
        if self.create_event_bus and self.event_bus_name == "default":
            raise ValueError("createEventBus needs an eventBusName other than 'default': the default bus exists")

    def _channels_in_listed_regions(self) -> None:
        if not (self.channel_arns and self.ivs_regions):
            return
        outside = sorted({_channel_region(arn) for arn in self.channel_arns} - set(self.ivs_regions))
        if outside:
            raise ValueError(
                f"channelArns name regions {outside} that ivsRegions ({self.ivs_regions}) does not list: "
                "leave ivsRegions empty or list every channel's region"
            )

    def _schedule_names_unique(self) -> None:
        names = [schedule.name for schedule in self.schedules]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"schedules: names must be unique, repeated: {repeated}")

    @classmethod
    def context_keys(cls) -> list[str]:
        """The cdk.json context keys this model reads."""
        return [field.alias or name for name, field in cls.model_fields.items()]

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> DeploySettings:
        """Parses CDK context (cdk.json plus `-c` overrides); list values may come as JSON strings.

        A key shaped like a setting that no setting has (`-c maxConcurency=4`) is refused rather than
        ignored; the CDK's own keys (`aws:cdk:...`, `@aws-cdk/...`, `acknowledged-issue-numbers`) are
        left alone.
        """
        known = set(cls.context_keys()) | set(cls.model_fields)
        unknown = sorted(key for key in context if SETTING_KEY.match(key) and key not in known)
        if unknown:
            hints = [
                f"{key} (did you mean {', '.join(close)}?)"
                if (close := get_close_matches(key, cls.context_keys(), n=1))
                else key
                for key in unknown
            ]
            raise DeploySettingsError(
                f"invalid deploy settings in cdk.json context:\n  unknown setting: {', '.join(hints)}"
            )
        values = {k: _from_text(v) for k, v in context.items()}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise DeploySettingsError(_describe(error)) from None

    @classmethod
    def from_cdk_json(cls, path: Path = CDK_JSON, overrides: Mapping[str, Any] | None = None) -> DeploySettings:
        context = json.loads(path.read_text())["context"]
        return cls.from_context({**context, **(overrides or {})})


class DeploySettingsError(ValueError):
    """A deploy setting is missing, malformed, or inconsistent with another."""


def _visibility_covers_retries(lane: LaneSettings) -> None:
    visibility, timeout = lane.visibility_timeout_seconds, lane.function_timeout_seconds
    if visibility < 6 * timeout:
        raise ValueError(
            f"{lane.key('visibilityTimeoutSeconds')} ({visibility}) must be at least 6 x "
            f"{lane.key('functionTimeoutSeconds')} ({timeout}) = {6 * timeout}"
        )


def _channel_region(channel_arn: str) -> str:
    """The region a channel ARN names: arn:aws:ivs:<region>:<account>:channel/<id>."""
    return channel_arn.split(":")[3]


def _from_text(value: Any) -> Any:
    """`-c key=value` gives strings: JSON lists and objects are parsed, `null` and `` mean unset."""
    if not isinstance(value, str):
        return value
    if value.strip() in ("", "null"):
        return None
    if value[:1] in "[{":
        with suppress(json.JSONDecodeError):
            return json.loads(value)
    return value


def _describe(error: ValidationError) -> str:
    lines = [f"{'.'.join(map(str, item['loc'])) or 'settings'}: {item['msg']}" for item in error.errors()]
    return "invalid deploy settings in cdk.json context:\n  " + "\n  ".join(lines)
