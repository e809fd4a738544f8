"""The message formats, defined once: what producers send, what the API takes, what the DLQ holds.

The function, the local stack and the operator's CLI all import these; nothing else spells them out.
Constraints are the API's documented ones (botocore's service model plus the documented maxima that
botocore does not check), so that a request this model accepts is one the service accepts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

# --- The API's limits --------------------------------------------------------------------------
MAX_SESSIONS_PER_CALL: Final = 20
CHANNEL_ARN_MAX_LENGTH: Final = 128
CHANNEL_ARN_PATTERN: Final = r"^arn:aws:ivs:[a-z0-9-]+:[0-9]+:channel/[a-zA-Z0-9-]+$"
VIEWER_ID_MAX_LENGTH: Final = 40
# No documented maximum; typed SDKs hold the version as a 32-bit signed integer.
VERSION_MAX: Final = 2_147_483_647

# --- The EventBridge contract: what a producer puts on the bus and the stack's rule matches ------
EVENT_SOURCE: Final = "ivs-revocation"
EVENT_DETAIL_TYPE: Final = "Viewer Session Revocation Requested"

# --- Dead-letter message attributes: what an operator filters on ------------------------------
ATTR_ERROR_CODE: Final = "ErrorCode"
ATTR_ERROR_MESSAGE: Final = "ErrorMessage"
ATTR_SOURCE_MESSAGE_ID: Final = "SourceMessageId"
ATTR_ATTEMPTS: Final = "Attempts"
ATTR_REQUEST_ID: Final = "RequestId"

# Error codes the function writes beside the service's own per-pair codes ("403", "500", ...).
CODE_INVALID_MESSAGE: Final = "InvalidMessage"
CODE_NOT_STARTED: Final = "NotStarted"
CODE_CONNECTION_ERROR: Final = "ConnectionError"

ChannelArn = Annotated[StrictStr, Field(min_length=1, max_length=CHANNEL_ARN_MAX_LENGTH, pattern=CHANNEL_ARN_PATTERN)]
ViewerId = Annotated[StrictStr, Field(min_length=1, max_length=VIEWER_ID_MAX_LENGTH)]
Version = Annotated[StrictInt, Field(ge=0, le=VERSION_MAX)]


class ViewerSession(BaseModel):
    """One (channel, viewer) pair and the highest session version to revoke: the API's item shape."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    channel_arn: ChannelArn = Field(alias="channelArn")
    viewer_id: ViewerId = Field(alias="viewerId")
    version: Version = Field(0, alias="viewerSessionVersionsLessThanOrEqualTo")

    @property
    def key(self) -> tuple[str, str]:
        """What a revocation is about; the version only widens it."""
        return (self.channel_arn, self.viewer_id)

    @property
    def region(self) -> str:
        """The region named by the channel ARN: the call must go to that region's endpoint."""
        return self.channel_arn.split(":", 4)[3]

    def to_api(self) -> dict[str, Any]:
        return {
            "channelArn": self.channel_arn,
            "viewerId": self.viewer_id,
            "viewerSessionVersionsLessThanOrEqualTo": self.version,
        }


class RevocationError(BaseModel):
    """One entry of the API response's `errors`, and of a dead-letter message's."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    channel_arn: str = Field(alias="channelArn")
    viewer_id: str = Field(alias="viewerId")
    code: str | None = None
    message: str | None = None

    def to_api(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"channelArn": self.channel_arn, "viewerId": self.viewer_id}
        if self.code is not None:
            entry["code"] = self.code
        if self.message is not None:
            entry["message"] = self.message
        return entry


class RevocationRequest(BaseModel):
    """The API's request shape, `{"viewerSessions": [...]}`, with any number of sessions.

    `errors` is what a dead-letter message carries beside its sessions; intake ignores it, so that a
    dead-letter message redriven to the source queue is simply tried again. `requestId` is a
    producer's own correlation id, logged with every line about the message.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    viewer_sessions: list[ViewerSession] = Field(alias="viewerSessions", min_length=1)
    errors: Any = None
    request_id: Annotated[StrictStr, Field(max_length=256)] | None = Field(None, alias="requestId")

    def to_json(self) -> str:
        return json.dumps(self._body(), separators=(",", ":"), ensure_ascii=False)

    def _body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"viewerSessions": [session.to_api() for session in self.viewer_sessions]}
        if self.request_id is not None:
            body["requestId"] = self.request_id
        return body


class DeadLetterMessage(RevocationRequest):
    """A dead-letter message body: a valid request for the failed pairs, with why each failed."""

    errors: list[RevocationError] = Field(default_factory=list)

    def _body(self) -> dict[str, Any]:
        body = super()._body()
        body["errors"] = [error.to_api() for error in self.errors]
        return body


class RevocationEvent(BaseModel):
    """An EventBridge event as a rule delivers it to SQS; `detail` is any of the other body shapes."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str | None = None
    source: str
    detail_type: str = Field(alias="detail-type")
    detail: Any


# --- How a broken request is described: one wording for the function's reasons and the CLI's errors --


def describe_errors(error: ValidationError, root: str = "") -> list[str]:
    """One line per problem, naming the path (item index included), what is wrong, and the limit.

    For example `viewerSessions[3].viewerId: at most 40 characters (got 41)`.
    """
    return [f"{_path(root, item['loc'])}: {_problem(item)}" for item in error.errors(include_url=False)]


def json_type(value: Any) -> str:
    """The JSON name of a value's type, as a producer would call it."""
    if value is None:
        return "null"
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "object"}
    return names.get(type(value), "object" if isinstance(value, Mapping) else type(value).__name__)


_FIELDS = ("channelArn", "viewerId", "viewerSessionVersionsLessThanOrEqualTo")


def _path(root: str, loc: tuple[int | str, ...]) -> str:
    text = root
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "body"


def _problem(item: Any) -> str:
    kind = item["type"]
    value: Any = item.get("input")
    ctx = item.get("ctx") or {}
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return f"unknown field, expected one of: {', '.join(_FIELDS)}"
    if kind == "string_too_long":
        return f"at most {ctx['max_length']} characters (got {len(value)})"
    if kind == "string_too_short":
        return f"at least {ctx['min_length']} character{'s' if ctx['min_length'] != 1 else ''} (got {len(value)})"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx['pattern']} (got {value!r})"
    if kind == "greater_than_equal":
        return f"at least {ctx['ge']} (got {value})"
    if kind == "less_than_equal":
        return f"at most {ctx['le']} (got {value})"
    if kind == "too_short":
        plural = "s" if ctx["min_length"] != 1 else ""
        return f"at least {ctx['min_length']} item{plural} (got {ctx.get('actual_length', 0)})"
    if kind == "string_type":
        return f"must be a string (got {json_type(value)})"
    if kind.startswith("int_"):
        return f"must be an integer (got {json_type(value)})"
    if kind in ("list_type", "model_type", "dict_type", "model_attributes_type"):
        return f"must be {'a list' if kind == 'list_type' else 'an object'} (got {json_type(value)})"
    return str(item["msg"])
