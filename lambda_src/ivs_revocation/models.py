"""The message formats, defined once: what producers send, what the API takes, what the DLQ holds.

The function, the local stack and the operator's CLI all import these; nothing else spells them out.
Constraints are the API's documented ones (botocore's service model plus the documented maxima that
botocore does not check), so that a request this model accepts is one the service accepts.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

# --- The API's limits --------------------------------------------------------------------------
MAX_SESSIONS_PER_CALL: Final = 20
CHANNEL_ARN_MAX_LENGTH: Final = 128
CHANNEL_ARN_PATTERN: Final = r"^arn:aws:ivs:[a-z0-9-]+:[0-9]+:channel/[a-zA-Z0-9-]+$"
VIEWER_ID_MAX_LENGTH: Final = 40
# No documented maximum; typed SDKs hold the version as a 32-bit signed integer.
VERSION_MAX: Final = 2_147_483_647
# Ours, not the API's: a producer's correlation id (`requestId`, or an event's `id`) that every message
# written on a request's behalf carries.
REQUEST_ID_MAX_LENGTH: Final = 256

# --- SQS's limits (SQS developer guide, "Amazon SQS message quotas"; botocore's SQS model) ----------
# A message, and a SendMessageBatch request (all entries together), since 2025; also the default
# MaximumMessageSize of a new queue. SQS counts the body's UTF-8 bytes plus every attribute's name,
# data type and value.
SQS_MAX_MESSAGE_BYTES: Final = 1_048_576
SQS_MAX_BATCH_ENTRIES: Final = 10
# What the function adds to a dead letter as attributes, at most: five values of at most 1,000 bytes
# each, their names and types. Kept back from the source queue's limit, so that the dead-letter copy
# of any message the source queue accepted fits the dead-letter queue.
ATTRIBUTE_VALUE_MAX_BYTES: Final = 1_000
DEAD_LETTER_ATTRIBUTES_MAX_BYTES: Final = 8_192
SOURCE_QUEUE_MAX_MESSAGE_BYTES: Final = SQS_MAX_MESSAGE_BYTES - DEAD_LETTER_ATTRIBUTES_MAX_BYTES
DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES: Final = SQS_MAX_MESSAGE_BYTES
# EventBridge PutEvents: an entry, and a request, at most 256 KB (unchanged in 2025).
EVENTBRIDGE_MAX_ENTRY_BYTES: Final = 262_144
# The only characters SQS takes in a body or attribute value; anything else is InvalidMessageContents.
SQS_DISALLOWED_CHARACTER: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def sqs_safe(text: str) -> str:
    """`text` with every character SQS refuses written as a JSON escape (\\uXXXX).

    Inside a JSON string this keeps the value: a producer's escaped `\\uffff` stays `\\uffff`.
    """
    return SQS_DISALLOWED_CHARACTER.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def sqs_message_bytes(body: str, attributes: Mapping[str, str]) -> int:
    """A message's size as SQS counts it: body bytes plus each String attribute's name, type and value."""
    return len(body.encode("utf-8", "surrogatepass")) + sum(
        len(name.encode()) + len("String") + len(value.encode("utf-8", "surrogatepass"))
        for name, value in attributes.items()
    )


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 encoding fits `max_bytes`, never a split character."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", "ignore")


def to_sqs_json(value: Any) -> str:
    """Compact JSON that SQS accepts: non-ASCII kept as is, only what SQS refuses escaped."""
    return sqs_safe(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def viewer_reference(viewer_id: str) -> str:
    """How the function's own reasons and logs name a viewer: a short hash, never the ID itself (a
    viewer ID identifies a person; reasons reach INFO logs and dead-letter attributes)."""
    return "sha256:" + hashlib.sha256(viewer_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]


# --- Reading JSON without guessing ---------------------------------------------------------------


class RepeatedKeyError(ValueError):
    """A JSON object holds the same key twice: `json.loads` would silently keep the last one.

    `location` is the path to the object (e.g. `("viewerSessions", 3)`), `key` the repeated key.
    """

    def __init__(self, location: tuple[int | str, ...], key: str) -> None:
        self.location = location
        self.key = key
        super().__init__(f"{_path('', location)}: repeated key {key!r}")

    def describe(self, root: str = "") -> str:
        """The problem with the path written from `root`, e.g. `detail.viewerSessions[3]: repeated key 'viewerId'`."""
        return f"{_path(root, self.location)}: repeated key {self.key!r}"


class IntegerTooLongError(ValueError):
    """A JSON integer literal with more digits than Python converts (`sys.get_int_max_str_digits()`).

    It is valid JSON, but `json.loads` raises a plain ValueError for it, which a boundary that catches
    JSONDecodeError only lets through: `loads_unambiguous` raises this instead, so that it can be named.
    """

    def __init__(self) -> None:
        self.max_digits = sys.get_int_max_str_digits()
        super().__init__(f"integer literal of more than {self.max_digits} digits")


class _Object(dict[str, Any]):
    """A parsed JSON object that held a key twice, and the first such key."""

    def __init__(self, pairs: list[tuple[str, Any]], repeated: str) -> None:
        super().__init__(pairs)
        self.repeated = repeated


def loads_unambiguous(text: str | bytes) -> Any:
    """`json.loads`, refusing an object with a repeated key anywhere (raises RepeatedKeyError), and
    naming an integer literal too long to convert (raises IntegerTooLongError).

    A revocation request with a repeated key is ambiguous (`{"viewerId": "a", "viewerId": "b"}`):
    whichever value a parser keeps, it may not be the one the producer meant.
    """
    repeated = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        repeated = True
        return _Object(pairs, _first_repeated(pairs))

    try:
        data = json.loads(text, object_pairs_hook=pairs_hook)
    except ValueError as error:
        # Beside JSONDecodeError (and UnicodeDecodeError for bytes), the one ValueError json.loads raises.
        if type(error) is ValueError and "integer string conversion" in str(error):
            raise IntegerTooLongError from error
        raise
    # The walk only names where the repeated key is: most bodies have none and skip it.
    if repeated:
        _raise_on_repeated(data, ())
    return data


def _first_repeated(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("called only for pairs with a repeated key")


def _raise_on_repeated(value: Any, location: tuple[int | str, ...]) -> None:
    # Iterative, so that a deeply nested body cannot exhaust the stack here.
    pending = [(value, location)]
    while pending:
        value, location = pending.pop()
        if isinstance(value, dict):
            if isinstance(value, _Object):
                raise RepeatedKeyError(location, value.repeated)
            pending.extend((item, (*location, key)) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend((item, (*location, index)) for index, item in reversed(list(enumerate(value))))


# --- The EventBridge contract: what a producer puts on the bus and the stack's rule matches ------
EVENT_SOURCE: Final = "ivs-revocation"
EVENT_DETAIL_TYPE: Final = "Viewer Session Revocation Requested"

# --- Which lane a request asks for: the `priority` member of a request or an event's detail -------
# It only routes (an event rule, the CLI): both lanes accept either value. Default bulk.
Priority = Literal["bulk", "urgent"]
PRIORITY_BULK: Final[Priority] = "bulk"
PRIORITY_URGENT: Final[Priority] = "urgent"
PRIORITIES: Final = get_args(Priority)

# --- Dead-letter message attributes: what an operator filters on ------------------------------
ATTR_ERROR_CODE: Final = "ErrorCode"
ATTR_ERROR_MESSAGE: Final = "ErrorMessage"
ATTR_SOURCE_MESSAGE_ID: Final = "SourceMessageId"
ATTR_ATTEMPTS: Final = "Attempts"
ATTR_REQUEST_ID: Final = "RequestId"

# Error codes the function writes beside the service's own per-pair codes ("403", "500", ...).
CODE_INVALID_MESSAGE: Final = "InvalidMessage"
CODE_NOT_STARTED: Final = "NotStarted"
# Not written to any message: what a request to the bulk queue is, beside dead letters and requeues.
CODE_SENT_TO_BULK: Final = "SentToBulk"
CODE_CONNECTION_ERROR: Final = "ConnectionError"
# A pair whose channel ARN names a region or account this deployment does not revoke in: refused
# before any call (settings IVS_REGIONS, and the function's own account), never retried.
CODE_OUT_OF_SCOPE: Final = "OutOfScope"

# --- Why a call or a pair did not go through: the causes of the outcome table (outcomes.py) ------

# What a revocation is about: (channel ARN, viewer ID).
PairKey = tuple[str, str]


class CallErrorKind(enum.Enum):
    """What a failed call is, whatever client made it (ivs_revocation.call_policy says what each kind gets)."""

    THROTTLED = "throttled"  # ThrottlingException, or any 429
    INVALID = "invalid"  # ValidationException: some pair of the call is rejected
    DENIED = "denied"  # AccessDeniedException / PendingVerification: an account or policy problem
    # The credentials of the call's account could not be had (a member role that cannot be assumed):
    # no call was made, and none of that account's would pass within this invocation.
    CREDENTIALS = "credentials"
    SERVER = "server"  # 5xx, or a code the operation does not name
    CONNECTION = "connection"  # no answer (refused, reset, timed out, past the call's deadline)
    # A 2xx that is not the operation's JSON, or names pairs not sent: nothing of it counts.
    MALFORMED = "malformed"


class CallFailed(Exception):
    """A call that the service rejected as a whole, or that got no answer."""

    def __init__(self, kind: CallErrorKind, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.kind = kind
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Failure:
    """Why one pair was not revoked (the code and message a dead letter carries), and whether it may pass later."""

    code: str
    message: str
    retryable: bool


ChannelArn = Annotated[StrictStr, Field(min_length=1, max_length=CHANNEL_ARN_MAX_LENGTH, pattern=CHANNEL_ARN_PATTERN)]
ViewerId = Annotated[StrictStr, Field(min_length=1, max_length=VIEWER_ID_MAX_LENGTH)]
Version = Annotated[StrictInt, Field(ge=0, le=VERSION_MAX)]
RequestId = Annotated[StrictStr, Field(max_length=REQUEST_ID_MAX_LENGTH)]


class ViewerSession(BaseModel):
    """One (channel, viewer) pair and the highest session version to revoke: the API's item shape."""

    # Code constructs the models by their Python field names; what a producer sends is read by the
    # API's names only (intake validates with by_alias=True, by_name=False), so that `viewer_id` or
    # `version` in a message is an unknown field, as the format documents.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)

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
        return self.channel_arn.split(":", 5)[3]

    @property
    def account(self) -> str:
        """The account named by the channel ARN: the one whose channel it is."""
        return self.channel_arn.split(":", 5)[4]

    def to_api(self) -> dict[str, Any]:
        return {
            "channelArn": self.channel_arn,
            "viewerId": self.viewer_id,
            "viewerSessionVersionsLessThanOrEqualTo": self.version,
        }


# A viewer session's fields as the API spells them, in its order: the one list of them.
VIEWER_SESSION_FIELDS: Final = tuple(str(field.alias) for field in ViewerSession.model_fields.values())


class OnePairRequest(ViewerSession):
    """The one-pair body shape: a viewer session, with the lane it asks for beside its fields."""

    priority: Priority = PRIORITY_BULK

    def session(self) -> ViewerSession:
        return ViewerSession(channel_arn=self.channel_arn, viewer_id=self.viewer_id, version=self.version)


class RevocationError(BaseModel):
    """One entry of the API response's `errors`, and of a dead-letter message's."""

    # defer_build, here and below: built on first use, not at every cold start's import; only a
    # refused pair, a dead letter, an EventBridge-shaped body or an outcome event needs it.
    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True, defer_build=True)

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

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

    viewer_sessions: list[ViewerSession] = Field(alias="viewerSessions", min_length=1)
    errors: Any = None
    request_id: RequestId | None = Field(None, alias="requestId")
    priority: Priority = PRIORITY_BULK

    def to_json(self) -> str:
        return to_sqs_json(self._body())

    def _body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"viewerSessions": [session.to_api() for session in self.viewer_sessions]}
        if self.request_id is not None:
            body["requestId"] = self.request_id
        # Written only when given: a request made without one (a requeue, a dead letter) says nothing.
        if "priority" in self.model_fields_set:
            body["priority"] = self.priority
        return body


class DeadLetterMessage(RevocationRequest):
    """A dead-letter message body: a valid request for the failed pairs, with why each failed."""

    model_config = ConfigDict(defer_build=True)  # merged with RevocationRequest's
    errors: list[RevocationError] = Field(default_factory=list)

    def _body(self) -> dict[str, Any]:
        body = super()._body()
        body["errors"] = [error.to_api() for error in self.errors]
        return body


class RevocationEvent(BaseModel):
    """An EventBridge event as a rule delivers it to SQS; `detail` is any of the other body shapes."""

    model_config = ConfigDict(extra="allow", validate_by_name=True, validate_by_alias=True, defer_build=True)

    # The request id of the messages written on its behalf: held to the same type, so that they can be.
    id: RequestId | None = None
    source: str
    detail_type: str = Field(alias="detail-type")
    detail: Any


# --- The outcome events: what the function puts on EventBridge once a record's pairs are settled ----
OUTCOME_EVENT_DETAIL_TYPE: Final = "Viewer Session Revocation Settled"
# The detail's own version (the envelope's `version` is EventBridge's, always "0").
OUTCOME_EVENT_VERSION: Final = "1"
OutcomeStatus = Literal["REVOKED", "PARTIALLY_REVOKED", "FAILED"]
STATUS_REVOKED: Final[OutcomeStatus] = "REVOKED"
STATUS_PARTIALLY_REVOKED: Final[OutcomeStatus] = "PARTIALLY_REVOKED"
STATUS_FAILED: Final[OutcomeStatus] = "FAILED"
Lane = Literal["bulk", "urgent"]
# What a rule adds around the detail when it delivers an event (id, time, account, region, ...):
# kept back from the 256 KB an SQS or SNS target takes, so that an event delivered whole fits.
OUTCOME_EVENT_ENVELOPE_BYTES: Final = 2_048
OUTCOME_EVENT_MAX_ENTRY_BYTES: Final = EVENTBRIDGE_MAX_ENTRY_BYTES - OUTCOME_EVENT_ENVELOPE_BYTES


def eventbridge_entry_bytes(source: str, detail_type: str, detail: str) -> int:
    """A PutEvents entry's size as EventBridge counts it (no Time, no Resources): UTF-8 bytes of each."""
    return sum(len(part.encode("utf-8", "surrogatepass")) for part in (source, detail_type, detail))


class _OutcomeModel(BaseModel):
    # Consumers ignore fields they do not know (the schema allows them); the function writes these only.
    model_config = ConfigDict(
        frozen=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True, defer_build=True
    )


class SettledPair(_OutcomeModel):
    """A pair as the request named it (the version is the highest one revoked)."""

    channel_arn: str = Field(alias="channelArn")
    viewer_id: str = Field(alias="viewerId")
    version: int = Field(alias="viewerSessionVersionsLessThanOrEqualTo")

    @classmethod
    def of(cls, session: ViewerSession) -> SettledPair:
        return cls(channel_arn=session.channel_arn, viewer_id=session.viewer_id, version=session.version)


class FailedPair(SettledPair):
    """A pair that went to the dead-letter queue, with the code and message of its dead letter."""

    code: str
    message: str


class InvalidMessageOutcome(_OutcomeModel):
    reason: str


class RevocationSettled(_OutcomeModel):
    """The detail of a "Viewer Session Revocation Settled" event: the one source of its JSON Schema."""

    version: Literal["1"] = OUTCOME_EVENT_VERSION
    request_id: RequestId | None = Field(alias="requestId")
    source_message_id: str = Field(alias="sourceMessageId")
    lane: Lane
    status: OutcomeStatus
    revoked: list[SettledPair] = Field(default_factory=list)
    failed: list[FailedPair] = Field(default_factory=list)
    # Only when the body was not a valid request (then no pairs).
    invalid_message: InvalidMessageOutcome | None = Field(None, alias="invalidMessage")

    def to_detail(self) -> dict[str, Any]:
        detail = self.model_dump(mode="json", by_alias=True)
        if self.invalid_message is None:
            del detail["invalidMessage"]
        return detail

    def to_json(self) -> str:
        return to_sqs_json(self.to_detail())


# The JSON Schema of an outcome event's detail, in draft 4 (what an EventBridge schema registry takes
# besides OpenAPI 3): made from RevocationSettled, the model that builds the detail, and kept in the
# repository as lambda_src/ivs_revocation/schemas/OUTCOME_EVENT_SCHEMA_FILE (tests/unit/test_outcome_schema.py
# compares them); the stack puts the whole event's schema in its schema registry.
OUTCOME_EVENT_SCHEMA_FILE: Final = "viewer-session-revocation-settled.detail.schema.json"
JSON_SCHEMA_DRAFT_4: Final = "http://json-schema.org/draft-04/schema#"


def outcome_detail_schema() -> dict[str, Any]:
    """The detail's schema: every field the function writes, unknown ones allowed (consumers ignore them)."""
    generated = RevocationSettled.model_json_schema(
        by_alias=True, mode="serialization", ref_template="#/definitions/{model}"
    )
    schema = _draft4(generated)
    definitions = schema.pop("$defs", {})
    schema["definitions"] = definitions
    # invalidMessage is written only for an invalid message: absent, not null.
    schema["properties"]["invalidMessage"] = {"$ref": "#/definitions/InvalidMessageOutcome"}
    # The function writes every other field, always.
    schema["required"] = [name for name in schema["properties"] if name != "invalidMessage"]
    schema["description"] = (
        "What became of the settled pairs of one SQS message (sourceMessageId) of a producer's request"
        " (requestId): revoked, or failed for good (dead-lettered, with the dead letter's code and message);"
        " or the message was not a valid request (invalidMessage). Delivered at least once: de-duplicate by"
        " (requestId, channelArn, viewerId), and ignore fields you do not know."
    )
    return {"$schema": JSON_SCHEMA_DRAFT_4, "title": OUTCOME_EVENT_DETAIL_TYPE, **schema}


def outcome_event_schema() -> dict[str, Any]:
    """The whole event as a rule delivers it (EventBridge's envelope around the detail): what the schema
    registry holds, so that code bindings name every field."""
    detail = outcome_detail_schema()
    definitions = detail.pop("definitions")
    detail.pop("$schema")
    return {
        "$schema": JSON_SCHEMA_DRAFT_4,
        "title": OUTCOME_EVENT_DETAIL_TYPE,
        "type": "object",
        "required": ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"],
        "properties": {
            "version": {"type": "string"},
            "id": {"type": "string"},
            "detail-type": {"type": "string", "enum": [OUTCOME_EVENT_DETAIL_TYPE]},
            "source": {"type": "string", "enum": [EVENT_SOURCE]},
            "account": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "region": {"type": "string"},
            "resources": {"type": "array", "items": {"type": "string"}},
            "detail": {"$ref": "#/definitions/RevocationSettled"},
        },
        "definitions": {**definitions, "RevocationSettled": detail},
    }


def _draft4(value: Any) -> Any:
    """Pydantic writes draft 2020-12: `const` becomes a one-value `enum`; defaults and titles of fields go."""
    if isinstance(value, dict):
        converted = {key: _draft4(item) for key, item in value.items() if key not in ("default", "title")}
        if "const" in converted:
            converted["enum"] = [converted.pop("const")]
        return converted
    if isinstance(value, list):
        return [_draft4(item) for item in value]
    return value


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
        return f"unknown field, expected one of: {', '.join(VIEWER_SESSION_FIELDS)}"
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
    if kind == "literal_error":
        return (
            f"must be {ctx['expected']} (got {value!r})"
            if isinstance(value, str)
            else (f"must be {ctx['expected']} (got {json_type(value)})")
        )
    if kind == "string_type":
        return f"must be a string (got {json_type(value)})"
    if kind.startswith("int_"):
        return f"must be an integer (got {json_type(value)})"
    if kind in ("list_type", "model_type", "dict_type", "model_attributes_type"):
        return f"must be {'a list' if kind == 'list_type' else 'an object'} (got {json_type(value)})"
    return str(item["msg"])
