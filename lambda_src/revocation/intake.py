"""Intake: one SQS message body becomes a list of viewer sessions, or the reason it cannot.

Accepted bodies (all describe one or more viewer sessions):
1. one pair: `{"channelArn": ..., "viewerId": ..., "viewerSessionVersionsLessThanOrEqualTo": 7}`
2. a JSON list of pairs (the AWS CLI's `--viewer-sessions` JSON)
3. the API request: `{"viewerSessions": [...]}` (also what a dead-letter message holds)
4. an EventBridge event whose `detail` is any of 1-3 (what a rule delivers to SQS)

A message is valid or invalid as a whole: the reason for an invalid one names the field, the item's
index and the limit, so that a producer can fix it without reading our code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from revocation.models import (
    CHANNEL_ARN_MAX_LENGTH,
    CHANNEL_ARN_PATTERN,
    VERSION_MAX,
    VIEWER_ID_MAX_LENGTH,
    RevocationEvent,
    RevocationRequest,
    ViewerSession,
)


@dataclass(frozen=True, slots=True)
class ValidRequest:
    sessions: tuple[ViewerSession, ...]
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class InvalidRequest:
    reason: str
    request_id: str | None = None


Intake = ValidRequest | InvalidRequest

# A reason travels in a message attribute: a message with thousands of bad items names the first few.
_MAX_PROBLEMS = 5
_SESSION_KEYS = frozenset(("channelArn", "viewerId", "viewerSessionVersionsLessThanOrEqualTo"))
_SESSION_LIST: TypeAdapter[list[ViewerSession]] = TypeAdapter(list[ViewerSession])
_SHAPES = (
    'a viewer session {"channelArn", "viewerId", "viewerSessionVersionsLessThanOrEqualTo"}, a list of them, '
    '{"viewerSessions": [...]}, or an EventBridge event whose detail is one of those'
)


def read_request(body: str) -> Intake:
    """Parses and validates one message body; never raises for bad input."""
    try:
        data: Any = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as error:
        detail = (
            f"{error.msg} at line {error.lineno} column {error.colno}"
            if isinstance(error, json.JSONDecodeError)
            else "nested too deeply"
        )
        return InvalidRequest(f"body is not JSON: {detail}")

    prefix = ""
    request_id: str | None = None
    if isinstance(data, dict) and "detail-type" in data and "detail" in data:
        try:
            event = RevocationEvent.model_validate(data)
        except ValidationError as error:
            return InvalidRequest(_describe(error, ""))
        request_id = event.id
        data = event.detail
        prefix = "detail."
    return _read_sessions(data, prefix, request_id)


def _read_sessions(data: Any, prefix: str, request_id: str | None) -> Intake:
    try:
        if isinstance(data, list):
            if not data:
                return InvalidRequest(f"{prefix or 'body'}: the list must hold at least 1 viewer session", request_id)
            return ValidRequest(tuple(_SESSION_LIST.validate_python(data)), request_id)
        if isinstance(data, dict) and "viewerSessions" in data:
            request = RevocationRequest.model_validate(data)
            return ValidRequest(tuple(request.viewer_sessions), request.request_id or request_id)
        if isinstance(data, dict) and _SESSION_KEYS.intersection(data):
            return ValidRequest((ViewerSession.model_validate(data),), request_id)
    except ValidationError as error:
        return InvalidRequest(_describe(error, prefix, list_root=isinstance(data, list)), request_id)
    return InvalidRequest(f"{prefix or 'body'}: expected {_SHAPES}", request_id)


# Field-specific wording: pydantic's own messages do not say the limit for every case.
_LIMITS = {
    "channelArn": f"a string of 1 to {CHANNEL_ARN_MAX_LENGTH} characters matching {CHANNEL_ARN_PATTERN}",
    "viewerId": f"a string of 1 to {VIEWER_ID_MAX_LENGTH} characters",
    "viewerSessionVersionsLessThanOrEqualTo": f"an integer from 0 to {VERSION_MAX}",
    "viewerSessions": "a list of at least 1 viewer session",
    "requestId": "a string of at most 256 characters",
}


def _describe(error: ValidationError, prefix: str, *, list_root: bool = False) -> str:
    """One line per problem: `<path>: <what is wrong> (must be <limit>)`."""
    problems = []
    errors = error.errors(include_url=False)
    for item in errors[:_MAX_PROBLEMS]:
        loc = item["loc"]
        path = _path(loc, prefix, list_root)
        field = next((part for part in reversed(loc) if isinstance(part, str)), "")
        problem = _problem(item)
        limit = _LIMITS.get(field)
        problems.append(f"{path}: {problem}" + (f" (must be {limit})" if limit and item["type"] != "missing" else ""))
    if len(errors) > _MAX_PROBLEMS:
        problems.append(f"and {len(errors) - _MAX_PROBLEMS} more problems")
    return "; ".join(problems)


def _path(loc: tuple[int | str, ...], prefix: str, list_root: bool) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    if list_root and loc and isinstance(loc[0], int):
        text = "viewerSessions" + text
    return prefix + text if text else prefix.rstrip(".") or "body"


def _problem(item: Any) -> str:
    kind = item["type"]
    value = item.get("input")
    ctx = item.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_too_long":
        return f"{len(value)} characters, over the maximum of {ctx['max_length']}"
    if kind == "string_too_short":
        return "empty"
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not match the pattern"
    if kind in ("less_than_equal", "greater_than_equal"):
        return f"{value} is out of range"
    if kind in ("int_type", "string_type", "list_type", "model_type", "dict_type", "model_attributes_type"):
        return f"wrong type ({_json_type(value)})"
    if kind == "too_short":
        return "empty list"
    return str(item["msg"])


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "object"}.get(
        type(value), type(value).__name__
    )
