"""Deploy-time settings: one typed model, read from `cdk.json` context by the stack and the local stack.

Pure pydantic on purpose (no aws-cdk-lib import), so that the local stack can load the same settings
without jsii. Values given with `cdk deploy -c key=value` arrive as strings; lax parsing turns them
into the declared types.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# The context keys this model reads; anything else in cdk.json's context belongs to the CDK itself.
PAIRS_PER_CALL = 20
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


class Schedule(BaseModel):
    """An EventBridge Scheduler schedule that re-sends a static list of viewer sessions."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-zA-Z-_.]+$")
    expression: str = Field(min_length=1, description="rate(...), cron(...) or at(...)")
    viewer_sessions: list[dict[str, Any]] = Field(alias="viewerSessions", min_length=1)


class DeploySettings(BaseModel):
    """Every deploy-time setting, with its default; names are the keys of cdk.json's context."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    stack_name: str = Field("IvsRevocation", alias="stackName")
    account_quota_calls_per_second: float = Field(2.0, alias="accountQuotaCallsPerSecond", gt=0, le=2)
    max_concurrency: int = Field(2, alias="maxConcurrency", ge=2, le=1000)
    batch_size: int = Field(100, alias="batchSize", ge=1, le=10_000)
    max_batching_window_seconds: int = Field(1, alias="maxBatchingWindowSeconds", ge=0, le=300)
    function_timeout_seconds: int = Field(60, alias="functionTimeoutSeconds", ge=1, le=900)
    function_memory_mb: int = Field(512, alias="functionMemoryMb", ge=128, le=10_240)
    visibility_timeout_seconds: int = Field(360, alias="visibilityTimeoutSeconds", ge=0, le=43_200)
    max_receive_count: int = Field(5, alias="maxReceiveCount", ge=1, le=1000)
    queue_retention_days: int = Field(4, alias="queueRetentionDays", ge=1, le=14)
    dead_letter_retention_days: int = Field(14, alias="deadLetterRetentionDays", ge=1, le=14)
    time_safety_margin_seconds: float = Field(3.0, alias="timeSafetyMarginSeconds", ge=0, le=60)
    ivs_call_timeout_seconds: float = Field(5.0, alias="ivsCallTimeoutSeconds", gt=0, le=60)
    log_retention_days: int = Field(30, alias="logRetentionDays", ge=1)
    ivs_regions: list[str] = Field(default_factory=list, alias="ivsRegions")
    channel_arns: list[str] = Field(default_factory=list, alias="channelArns")
    event_bus_name: str = Field("default", alias="eventBusName", min_length=1)
    create_event_bus: bool = Field(False, alias="createEventBus")
    schedules: list[Schedule] = Field(default_factory=list)
    alarm_email: str | None = Field(None, alias="alarmEmail")

    @property
    def ivs_calls_per_second(self) -> float:
        """This instance's share of the account quota: every instance of the mapping shares it."""
        return self.account_quota_calls_per_second / self.max_concurrency

    @property
    def full_batch_seconds(self) -> float:
        """Time a batch of one-pair records takes at this instance's share of the quota."""
        calls = math.ceil(self.batch_size / PAIRS_PER_CALL)
        return calls / self.ivs_calls_per_second + self.time_safety_margin_seconds + self.ivs_call_timeout_seconds

    @model_validator(mode="after")
    def _consistent(self) -> DeploySettings:
        if self.visibility_timeout_seconds < 6 * self.function_timeout_seconds:
            raise ValueError(
                f"visibilityTimeoutSeconds ({self.visibility_timeout_seconds}) must be at least 6 x "
                f"functionTimeoutSeconds ({self.function_timeout_seconds}) = {6 * self.function_timeout_seconds}"
            )
        if self.full_batch_seconds > self.function_timeout_seconds:
            raise ValueError(
                f"batchSize ({self.batch_size}) does not fit functionTimeoutSeconds "
                f"({self.function_timeout_seconds}): {math.ceil(self.batch_size / PAIRS_PER_CALL)} calls at "
                f"{self.ivs_calls_per_second:g} calls/s (accountQuotaCallsPerSecond / maxConcurrency) plus "
                f"ivsCallTimeoutSeconds and timeSafetyMarginSeconds need {self.full_batch_seconds:g} s"
            )
        if self.time_safety_margin_seconds + self.ivs_call_timeout_seconds >= self.function_timeout_seconds:
            raise ValueError(
                "timeSafetyMarginSeconds + ivsCallTimeoutSeconds must be less than functionTimeoutSeconds"
            )
        if self.dead_letter_retention_days <= self.queue_retention_days:
            raise ValueError(
                f"deadLetterRetentionDays ({self.dead_letter_retention_days}) must be longer than "
                f"queueRetentionDays ({self.queue_retention_days}): a message keeps its enqueue time in the DLQ"
            )
        return self

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> DeploySettings:
        """Parses CDK context (cdk.json plus `-c` overrides); list values may come as JSON strings."""
        values = {k: _maybe_json(v) for k, v in context.items()}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise SettingsError(_describe(error)) from None

    @classmethod
    def from_cdk_json(cls, path: Path = CDK_JSON, overrides: Mapping[str, Any] | None = None) -> DeploySettings:
        context = json.loads(path.read_text())["context"]
        return cls.from_context({**context, **(overrides or {})})


class SettingsError(ValueError):
    """A deploy setting is missing, malformed, or inconsistent with another."""


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "settings"
        lines.append(f"{where}: {item['msg']}")
    return "invalid deploy settings in cdk.json context:\n  " + "\n  ".join(lines)
