"""Intake: one SQS message body becomes a list of viewer sessions, or the reason it cannot.

Accepted bodies (all describe one or more viewer sessions):
1. one pair: `{"channelArn": ..., "viewerId": ..., "viewerSessionVersionsLessThanOrEqualTo": 7}`
2. a JSON list of pairs (the AWS CLI's `--viewer-sessions` JSON)
3. the API request: `{"viewerSessions": [...]}` (also what a dead-letter message holds)
4. an EventBridge event whose `detail` is any of 1-3 (what a rule delivers to SQS)

Shapes 1 and 3 (and so an event's detail) may say which lane they ask for: `"priority": "urgent"` or
`"bulk"` (the default). Priority only routes; any other value makes the message invalid.

A message is valid or invalid as a whole: the reason for an invalid one names the field, the item's
index and the limit, so that a producer can fix it without reading our code. A body with a repeated
key anywhere is invalid: whichever value a parser kept, it may not be the one the producer meant.
Only the documented (camelCase) keys are read, in every shape: the models' Python field names
(`viewer_id`, `version`, ...) are unknown fields here. Reasons never quote a viewer ID.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ivs_revocation.models import (
    PRIORITY_BULK,
    VIEWER_SESSION_FIELDS,
    IntegerTooLongError,
    OnePairRequest,
    Priority,
    RepeatedKeyError,
    RevocationEvent,
    RevocationRequest,
    ViewerSession,
    describe_errors,
    loads_unambiguous,
)


@dataclass(frozen=True, slots=True)
class ValidRequest:
    sessions: tuple[ViewerSession, ...]
    request_id: str | None = None
    priority: Priority = PRIORITY_BULK


@dataclass(frozen=True, slots=True)
class InvalidRequest:
    reason: str
    request_id: str | None = None


Intake = ValidRequest | InvalidRequest

# A reason travels in a message attribute: a message with thousands of bad items names the first few.
_MAX_PROBLEMS = 5
_SESSION_KEYS = frozenset(VIEWER_SESSION_FIELDS)
_SESSION_LIST: TypeAdapter[list[ViewerSession]] = TypeAdapter(list[ViewerSession])
_SHAPES = (
    'a viewer session {"channelArn", "viewerId", "viewerSessionVersionsLessThanOrEqualTo"}, a list of them, '
    '{"viewerSessions": [...]}, or an EventBridge event whose detail is one of those'
)


def read_request(body: str) -> Intake:
    """Parses and validates one message body; never raises: whatever goes wrong is the body's reason.

    The operator's CLI reads dead letters with it too, so it holds its own guard besides the service's.
    """
    try:
        return _read(body)
    except Exception as error:
        return unreadable(error)


def unreadable(error: Exception) -> InvalidRequest:
    """A record that something not foreseen went wrong with: named by the exception's type only, since
    its text may quote the body (a viewer ID); the body itself is kept in the dead letter."""
    return InvalidRequest(f"body: could not be read ({type(error).__name__})")


def _read(body: str) -> Intake:
    try:
        data: Any = loads_unambiguous(body)
    except RepeatedKeyError as error:
        return _repeated_key(body, error)
    except IntegerTooLongError as error:
        return InvalidRequest(f"body: {error}")
    except json.JSONDecodeError as error:
        return InvalidRequest(f"body is not JSON: {error.msg} at line {error.lineno} column {error.colno}")
    except RecursionError:
        return InvalidRequest("body is not JSON: nested too deeply")

    prefix = ""
    request_id: str | None = None
    if _is_event(data):
        try:
            event = RevocationEvent.model_validate(data, by_alias=True, by_name=False)
        except ValidationError as error:
            return InvalidRequest(_describe(error, ""))
        request_id = event.id
        data = event.detail
        prefix = "detail."
    return _read_sessions(data, prefix, request_id)


def _is_event(data: Any) -> bool:
    return isinstance(data, dict) and "detail-type" in data and "detail" in data


def _repeated_key(body: str, error: RepeatedKeyError) -> InvalidRequest:
    """Names the repeated key where validation errors name fields: a list of pairs as `viewerSessions`."""
    # Parsed again, keeping the last of each repeated key, only to tell which shape the body has.
    data = json.loads(body)
    head: tuple[int | str, ...] = ("detail",) if _is_event(data) and error.location[:1] == ("detail",) else ()
    rest = error.location[len(head) :]
    if rest and isinstance(rest[0], int):
        rest = ("viewerSessions", *rest)
    request_id = data.get("id") if head and isinstance(data.get("id"), str) else None
    return InvalidRequest(RepeatedKeyError((*head, *rest), error.key).describe(), request_id)


def _read_sessions(data: Any, prefix: str, request_id: str | None) -> Intake:
    try:
        if isinstance(data, list):
            if not data:
                return InvalidRequest(f"{prefix or 'body'}: the list must hold at least 1 viewer session", request_id)
            sessions = _SESSION_LIST.validate_python(data, by_alias=True, by_name=False)
            return ValidRequest(tuple(sessions), request_id)
        if isinstance(data, dict) and "viewerSessions" in data:
            request = RevocationRequest.model_validate(data, by_alias=True, by_name=False)
            return ValidRequest(tuple(request.viewer_sessions), request.request_id or request_id, request.priority)
        if isinstance(data, dict) and _SESSION_KEYS.intersection(data):
            pair = OnePairRequest.model_validate(data, by_alias=True, by_name=False)
            return ValidRequest((pair.session(),), request_id, pair.priority)
    except ValidationError as error:
        return InvalidRequest(_describe(error, prefix, list_root=isinstance(data, list)), request_id)
    return InvalidRequest(f"{prefix or 'body'}: expected {_SHAPES}", request_id)


def _describe(error: ValidationError, prefix: str, *, list_root: bool = False) -> str:
    root = prefix + "viewerSessions" if list_root else prefix.rstrip(".")
    problems = describe_errors(error, root)
    if len(problems) > _MAX_PROBLEMS:
        problems = [*problems[:_MAX_PROBLEMS], f"and {len(problems) - _MAX_PROBLEMS} more problems"]
    return "; ".join(problems)
