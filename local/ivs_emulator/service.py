"""The emulated service: routing, authentication scope, quota, faults, validation and the ledger.

Everything here works on plain request data (method, path, headers, body) and returns a `Reply`, so the
HTTP layer (`server.py`) stays a thin adapter and the rules can be read in one place.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Final, TypedDict

from ivs_revocation import names
from local.ivs_emulator.validation import Violation, operation_model, validate, validation_message

BATCH_OPERATION: Final = names.OPERATION_BATCH
SINGLE_OPERATION: Final = names.OPERATION_SINGLE
CONTROL_PREFIX: Final = "/_emulator/"
"""Control paths start with an underscore; IVS operation paths are ``/`` + an operation name, which
never starts with one, so the two can never collide."""

QUOTA_WINDOW_SECONDS: Final = 1.0
# The quota table's separate rows: BatchStartViewerSessionRevocation 2 calls/s, StartViewerSessionRevocation
# 10 calls/s, per account and region.
DEFAULT_TPS: Final = 2
DEFAULT_SINGLE_TPS: Final = 10

# Per-pair server faults: the code is an HTTP status written as a string, as in the documented "403".
# AWS documents no 5xx per-pair codes or messages; these are the emulator's choice.
_PAIR_FAULTS: Final = (("500", "internal server error"), ("503", "service unavailable"))
NOT_AUTHORIZED: Final = ("403", "not authorized")  # the AWS CLI documentation example's per-pair error
WRONG_REGION: Final = ("404", "channel not found in this region")  # only with strict_region (not documented)

JSON: Final = "application/json"


@dataclass(frozen=True)
class Malformed:
    """A 2xx answer sent in place of the operation's (``malformed_answer``)."""

    body: bytes
    content_type: str | None = JSON
    """None sends no Content-Type header."""
    status: int = 200


@dataclass(frozen=True)
class MalformedKind:
    """One ``malformed_answer`` kind: its help line, and what it answers each operation.

    An answer of None names the call's pair (its channel ARN and viewer ID), so it is made once the
    call is read and valid (`IvsService._batch`, `IvsService._single`); the others are answered before
    the call is read, as a proxy or a wrong endpoint answers whatever was sent, and revoke nothing.
    """

    description: str
    answers: Mapping[str, Malformed | None]


# The kinds whose answer names the call's pair, for one operation or both.
ERRORS_403: Final = "errors-403"
UNKNOWN_PAIR: Final = "unknown-pair"


def _both(answer: Malformed | None) -> dict[str, Malformed | None]:
    return {BATCH_OPERATION: answer, SINGLE_OPERATION: answer}


# What a proxy, a wrong endpoint or a broken service answers, each chosen so that a lax check would
# take it for the operation's success: botocore reads any 2xx as one, and a body that is not the
# operation's JSON as an answer without members ("no errors"; for the single operation, "done").
MALFORMED_ANSWERS: Final[Mapping[str, MalformedKind]] = {
    "html": MalformedKind(
        "an HTML page (text/html)",
        _both(
            Malformed(
                b"<!DOCTYPE html><html><head><title>Welcome</title></head><body>It works!</body></html>", "text/html"
            )
        ),
    ),
    "text": MalformedKind('"OK" as text/plain', _both(Malformed(b"OK", "text/plain"))),
    # The single operation's success is an empty body (AWS sends no media type): there the empty body
    # comes as a proxy's empty page would, as text/html.
    "empty": MalformedKind(
        "an empty body: application/json to a batch call, text/html to a single call",
        {BATCH_OPERATION: Malformed(b""), SINGLE_OPERATION: Malformed(b"", "text/html")},
    ),
    "errors-junk": MalformedKind('{"errors": "junk"}', _both(Malformed(b'{"errors": "junk"}'))),
    "errors-not-objects": MalformedKind('{"errors": [1, 2]}', _both(Malformed(b'{"errors": [1, 2]}'))),
    "message-object": MalformedKind(
        'a JSON object that is an error, {"message": "Forbidden"}', _both(Malformed(b'{"message": "Forbidden"}'))
    ),
    # To a single call, the batch operation's answer with its pair denied (a wrong endpoint). To a batch
    # call that answer would be the documented per-pair 403, so there the entry names no pair.
    ERRORS_403: MalformedKind(
        'the batch operation\'s per-pair "403": naming the pair of a single call, no pair to a batch call',
        {
            BATCH_OPERATION: Malformed(b'{"errors": [{"code": "403", "message": "not authorized"}]}'),
            SINGLE_OPERATION: None,
        },
    ),
    "list": MalformedKind("a JSON list, []", _both(Malformed(b"[]"))),
    # The operation's success body under another 2xx: both operations document 200.
    "status-202": MalformedKind(
        '202 with the operation\'s success body: {"errors": []} to a batch call, empty to a single call',
        {
            BATCH_OPERATION: Malformed(b'{"errors": []}', status=202),
            SINGLE_OPERATION: Malformed(b"", None, status=202),
        },
    ),
    # A batch call is processed, but the first pair's per-pair "500" names its viewer ID spelled
    # otherwise (`" Alice "` sent, `"alice"` answered): that pair is not revoked, and the answer names a
    # pair that was not sent. A single call gets that entry as its whole answer, and revokes nothing.
    UNKNOWN_PAIR: MalformedKind(
        'a per-pair "500" naming the (first) pair\'s viewer ID spelled otherwise, that pair not revoked',
        _both(None),
    ),
}
MALFORMED_ANSWER_KINDS: Final = tuple(MALFORMED_ANSWERS)

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")
_ARN_REGION = re.compile(r"arn:aws:ivs:([a-z0-9-]+):")


class EmulatorConfigError(ValueError):
    """A fault or option value that the emulator cannot use."""


@dataclass(frozen=True)
class Faults:
    """Injected faults (see the package docstring and `FAULT_HELP`). Rates are probabilities per call
    (per pair for ``pair_error_rate``), 0 to 1; ``throttle_burst`` is a count that goes down to 0."""

    pair_error_rate: float = 0.0
    server_error_rate: float = 0.0
    throttle_rate: float = 0.0
    throttle_burst: int = 0
    drop_rate: float = 0.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    malformed_answer: str = ""
    malformed_rate: float = 1.0
    trickle_ms: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "malformed_answer":
                if value not in ("", *MALFORMED_ANSWER_KINDS):
                    raise EmulatorConfigError(f"{f.name} must be one of {list(MALFORMED_ANSWER_KINDS)}, got {value!r}")
            elif f.name == "throttle_burst":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise EmulatorConfigError(f"{f.name} must be an integer >= 0, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise EmulatorConfigError(f"{f.name} must be a number >= 0, got {value!r}")
            elif f.name.endswith("_rate") and value > 1:
                raise EmulatorConfigError(f"{f.name} must be between 0 and 1, got {value!r}")

    def updated(self, changes: Mapping[str, object]) -> Faults:
        """A copy with ``changes`` applied; unknown names are an error, not silently ignored."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise EmulatorConfigError(f"unknown fault(s) {unknown}; known: {sorted(known)}")
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# Each fault's command-line option, for `python -m local.ivs_emulator` and `python -m local.up` alike.
FAULT_HELP: Final = {
    "pair_error_rate": 'share of pairs answered "500"/"503"',
    "server_error_rate": "share of calls answered InternalServerException",
    "throttle_rate": "share of calls answered ThrottlingException, quota or not",
    "throttle_burst": "answer the next N calls ThrottlingException",
    "drop_rate": "share of calls whose connection is closed without a response",
    "latency_ms": "latency added to every API response",
    "latency_jitter_ms": "plus a uniform random 0..MS ms on every API response",
    "malformed_answer": "answer calls of both operations with a 2xx that is not the operation's success, but that a "
    "lax check would take for it: "
    + "; ".join(f"{name}: {kind.description}" for name, kind in MALFORMED_ANSWERS.items()),
    "malformed_rate": "share of calls given --malformed-answer",
    "trickle_ms": "send every API response's body one byte every MS milliseconds (status and headers at once)",
}


def add_fault_options(parser: argparse.ArgumentParser, title: str) -> None:
    """One option per field of `Faults`, named after it: ``--pair-error-rate`` sets ``pair_error_rate``."""
    group = parser.add_argument_group(title)
    for f in fields(Faults):
        default = f.default
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            type=type(default),
            default=default,
            choices=MALFORMED_ANSWER_KINDS if f.name == "malformed_answer" else None,
            metavar="MS" if f.name.endswith("_ms") else {int: "N", float: "RATE"}.get(type(default)),
            help=f"{FAULT_HELP[f.name]} (default {default!r})",
        )


def faults_of(options: argparse.Namespace) -> Faults:
    """The faults that `add_fault_options`'s options ask for; EmulatorConfigError for values out of range."""
    return Faults(**{f.name: getattr(options, f.name) for f in fields(Faults)})


@dataclass(frozen=True)
class AcceptedCall:
    """An API call answered 200 (per-pair errors included)."""

    at: float
    """Wall-clock arrival time (``time.time()``), for drain-rate measurements."""
    operation: str
    account: str
    region: str
    pairs: int
    channel_arn: str | None = None
    """The pair of a StartViewerSessionRevocation call (None for a batch call): when it was revoked."""
    viewer_id: str | None = None
    access_key: str = ""
    """The access key id that signed the call (whose account is `account` when accounts are resolved)."""
    channel_accounts: tuple[str, ...] = ()
    """The accounts the call's pairs named (a call of a member account's credentials names only it)."""


@dataclass(frozen=True)
class Ledger:
    """A snapshot of what the emulator did since it started or was last reset (see the package docstring)."""

    revoked: Mapping[tuple[str, str], int]
    calls_accepted: int
    calls_throttled: int
    """Quota throttling and injected throttling alike."""
    throttled_by_operation: Mapping[str, int]
    calls_rejected: int
    """ValidationException: a malformed or invalid request."""
    calls_denied: int
    """Missing or malformed SigV4 credentials, and StartViewerSessionRevocation on an unauthorized channel."""
    faults_injected: Mapping[str, int]
    """By kind: ``dropped_connection``, ``server_error``, ``throttle``, ``pair_error``, ``latency``,
    ``malformed_answer``, ``trickle``."""
    pair_errors: Mapping[str, int]
    accepted_calls: tuple[AcceptedCall, ...]

    @property
    def accepted_at(self) -> list[float]:
        return [call.at for call in self.accepted_calls]

    @property
    def pairs_per_call(self) -> dict[int, int]:
        """Histogram of accepted calls by number of pairs."""
        return dict(sorted(Counter(call.pairs for call in self.accepted_calls).items()))

    def single_call_at(self, channel_arn: str, viewer_id: str) -> float | None:
        """Wall-clock time of the first accepted StartViewerSessionRevocation of the pair, or None."""
        for call in self.accepted_calls:
            if call.channel_arn == channel_arn and call.viewer_id == viewer_id:
                return call.at
        return None

    def version(self, channel_arn: str, viewer_id: str) -> int | None:
        """The highest version revoked for the pair, or None if it was never revoked."""
        return self.revoked.get((channel_arn, viewer_id))

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "revoked": [
                {"channelArn": arn, "viewerId": viewer, "version": version}
                for (arn, viewer), version in sorted(self.revoked.items())
            ],
            "accepted_calls": [asdict(call) for call in self.accepted_calls],
            "pairs_per_call": {str(size): count for size, count in self.pairs_per_call.items()},
            "accepted_at": self.accepted_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ledger:
        counts = {f.name: data[f.name] for f in fields(cls) if f.name not in ("revoked", "accepted_calls")}
        return cls(
            revoked={(item["channelArn"], item["viewerId"]): item["version"] for item in data["revoked"]},
            accepted_calls=tuple(
                AcceptedCall(**{**call, "channel_accounts": tuple(call.get("channel_accounts", ()))})
                for call in data["accepted_calls"]
            ),
            **counts,
        )


@dataclass
class _Book:
    """The mutable ledger behind `Ledger`; guarded by the service's lock."""

    revoked: dict[tuple[str, str], int] = field(default_factory=dict)
    calls_accepted: int = 0
    calls_throttled: int = 0
    throttled_by_operation: Counter[str] = field(default_factory=Counter)
    calls_rejected: int = 0
    calls_denied: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    pair_errors: Counter[str] = field(default_factory=Counter)
    accepted_calls: list[AcceptedCall] = field(default_factory=list)

    def snapshot(self) -> Ledger:
        # Copies: the counters and mappings as plain dicts, the list of calls as a tuple.
        copies: dict[str, Any] = {
            name: tuple(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value
            for name, value in vars(self).items()
        }
        return Ledger(**copies)


# How long after it arrived a call may still come to the quota (see SlidingWindowQuota).
_OUT_OF_ORDER_SECONDS: Final = 30.0


class SlidingWindowQuota:
    """At most ``limit`` admitted calls in any window of one second, per key; ``limit`` 0 means no quota.

    A sliding window rather than a token bucket: it is the strictest reading of "2 calls per second".
    Throttled calls do not take a place in the window. A call is counted at its arrival, which the
    caller passes: calls handled concurrently may come to the quota out of arrival order (one waited
    for its account to be resolved), so admitted arrivals are kept sorted and every window around the
    new one is checked.
    """

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise EmulatorConfigError(f"a quota must be an integer >= 0 calls per second, got {limit!r}")
        self._limit = limit
        self._admitted: dict[tuple[str, ...], list[float]] = {}

    def admit(self, key: tuple[str, ...], arrived: float | None = None) -> bool:
        if self._limit == 0:
            return True
        now = time.monotonic() if arrived is None else arrived
        admitted = self._admitted.setdefault(key, [])
        # A call reaches the quota at most seconds after it arrived (its handling is bounded by the
        # resolver's timeouts), so what arrived well before can share no window with it.
        keep_from = bisect.bisect_left(admitted, now - _OUT_OF_ORDER_SECONDS - QUOTA_WINDOW_SECONDS)
        del admitted[:keep_from]
        place = bisect.bisect_right(admitted, now)
        candidate = [*admitted[:place], now, *admitted[place:]]
        limit = self._limit
        for first in range(max(0, place - limit), place + 1):
            last = first + limit
            if last < len(candidate) and candidate[last] - candidate[first] < QUOTA_WINDOW_SECONDS:
                return False
        admitted.insert(place, now)
        return True

    def clear(self) -> None:
        self._admitted.clear()


@dataclass(frozen=True)
class Reply:
    """What to answer: status and JSON body, or ``drop`` to close the connection without an answer."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    drop: bool = False
    raw: bytes | None = None
    """Sent as the body instead of ``body`` as JSON: for answers that are not JSON."""
    content_type: str | None = JSON
    """None sends no Content-Type header."""
    trickle_seconds: float = 0.0
    """The body is sent one byte at a time, this long apart."""


def aws_error(status: int, error_type: str, message: str) -> Reply:
    """A call-level error as AWS's rest-json services send it.

    The error type travels in ``x-amzn-ErrorType``. The model names the body member ``exceptionMessage``
    (botocore copies it to ``response["exceptionMessage"]``), while botocore's generic error parser reads
    ``Error.Message`` (what ``str(exc)`` and the AWS CLI print) from ``message``: both are sent.
    """
    return Reply(
        status=status,
        body={"exceptionMessage": message, "message": message},
        headers={"x-amzn-ErrorType": error_type},
    )


def _control_error(status: int, message: str) -> Reply:
    return Reply(status=status, body={"message": message})


class ServiceOptions(TypedDict, total=False):
    """`IvsService`'s options, which `IvsEmulator` takes too."""

    tps: int
    single_tps: int | None
    shared_quota: bool
    unauthorized_channels: Iterable[str]
    strict_region: bool
    faults: Faults | None
    seed: int | None


@dataclass(frozen=True)
class _Scope:
    account: str
    region: str
    access_key: str = ""
    # True when `account` is the account of the signing credentials (an AccountResolver said so):
    # then a pair of another account's channel is refused, as IAM would.
    resolved: bool = False


# An access key id -> the account its credentials belong to (e.g. by STS GetCallerIdentity).
AccountResolver = Callable[[str], str]


class IvsService:
    """The emulated revocation operations and the control API, thread-safe (options: see the package docstring)."""

    def __init__(
        self,
        *,
        tps: int = DEFAULT_TPS,
        single_tps: int | None = None,
        shared_quota: bool = False,
        unauthorized_channels: Iterable[str] = (),
        strict_region: bool = False,
        faults: Faults | None = None,
        seed: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        if shared_quota and single_tps is not None:
            raise EmulatorConfigError("a shared quota is the batch operation's tps: give single_tps or shared_quota")
        self._batch_quota = SlidingWindowQuota(tps)
        # Shared: the single operation draws from the batch operation's window (same keys).
        self._single_quota = (
            self._batch_quota
            if shared_quota
            else SlidingWindowQuota(DEFAULT_SINGLE_TPS if single_tps is None else single_tps)
        )
        self._unauthorized = frozenset(unauthorized_channels)
        self._strict_region = strict_region
        self._faults = faults or Faults()
        self._seed = seed
        self._random = random.Random(seed)
        self._book = _Book()
        self._resolver: AccountResolver | None = None

    # -- Python API (also behind the control paths)

    def resolve_accounts(self, resolver: AccountResolver | None) -> None:
        """From now on, attribute each call to the account of its credentials (`resolver`), keep its
        quota there, and refuse its pairs of other accounts' channels as AWS does (a per-pair "403" in
        a batch, AccessDeniedException to a single call). None: the access key id stands for the account."""
        self._resolver = resolver

    def ledger(self) -> Ledger:
        with self._lock:
            return self._book.snapshot()

    def reset(self) -> None:
        """Clear the ledger and the quota windows, and re-seed the fault generator; faults stay set."""
        with self._lock:
            self._book = _Book()
            self._batch_quota.clear()
            self._single_quota.clear()
            self._random = random.Random(self._seed)

    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def set_faults(self, **changes: float | str) -> Faults:
        """Change the named faults (see `Faults`), keep the others; returns the faults now in force."""
        with self._lock:
            self._faults = self._faults.updated(changes)
            return self._faults

    def clear_faults(self) -> Faults:
        with self._lock:
            self._faults = Faults()
            return self._faults

    # -- HTTP entry point

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one HTTP request. ``headers`` keys must be lower case."""
        path = path.split("?", 1)[0]
        if path.startswith(CONTROL_PREFIX):
            return self._handle_control(method, path.removeprefix(CONTROL_PREFIX), body)
        operation = path.removeprefix("/")
        if method != "POST" or operation not in (BATCH_OPERATION, SINGLE_OPERATION):
            return aws_error(404, "UnknownOperationException", f"No operation matches {method} {path}")
        # A call counts against the quota when it arrives, as at AWS: before its account is resolved,
        # which may ask another service and take a while under load (longer than the caller waits).
        arrived = time.monotonic()
        # Outside the lock: the resolver may ask another service (cached there).
        account = _resolved_account(self._resolver, headers.get("authorization"))
        with self._lock:
            reply = self._call(operation, headers, body, account, arrived)
            if reply.drop:
                return reply
            delay = self._latency()
            trickle = self._trickle()
        return replace(reply, delay_seconds=delay, trickle_seconds=trickle) if delay or trickle else reply

    # -- the API operations (under the lock: quota, faults and ledger change together)

    def _call(
        self,
        operation: str,
        headers: Mapping[str, str],
        body: bytes,
        account: str | None = None,
        arrived: float | None = None,
    ) -> Reply:
        book = self._book
        scope = _credential_scope(headers.get("authorization"))
        if isinstance(scope, Reply):
            book.calls_denied += 1
            return scope
        if account is not None:
            scope = replace(scope, account=account, resolved=True)

        if self._chance(self._faults.drop_rate):
            book.faults_injected["dropped_connection"] += 1
            return Reply(drop=True)
        injected = self._faults.throttle_burst > 0 or self._chance(self._faults.throttle_rate)
        if injected:
            if self._faults.throttle_burst > 0:
                self._faults = replace(self._faults, throttle_burst=self._faults.throttle_burst - 1)
            book.faults_injected["throttle"] += 1
        # Throttling comes before validation, as at AWS's front door: an invalid call still uses quota.
        quota = self._batch_quota if operation == BATCH_OPERATION else self._single_quota
        if injected or not quota.admit((scope.account, scope.region), arrived):
            book.calls_throttled += 1
            book.throttled_by_operation[operation] += 1
            return aws_error(429, "ThrottlingException", "Rate exceeded")
        if self._chance(self._faults.server_error_rate):
            book.faults_injected["server_error"] += 1
            return aws_error(500, "InternalServerException", "Unexpected error during processing of request.")
        malformed = self._malformed(operation)
        if isinstance(malformed, Malformed):
            return Reply(status=malformed.status, raw=malformed.body, content_type=malformed.content_type)

        request = _decode(body)
        if isinstance(request, str):
            book.calls_rejected += 1
            return aws_error(400, "ValidationException", request)
        violations: list[Violation] = validate(operation_model(operation).input_shape, request)
        if violations:
            book.calls_rejected += 1
            return aws_error(400, "ValidationException", validation_message(violations))

        if operation == BATCH_OPERATION:
            return self._batch(scope, request["viewerSessions"], naming_pairs=malformed is True)
        return self._single(scope, request, naming_pairs=malformed is True)

    def _malformed(self, operation: str) -> Malformed | bool:
        """The fault's answer to a call of `operation` if it is to be answered so; True if its answer
        names the call's pair (made once the call is read), False if the call is to be answered as usual."""
        kind = MALFORMED_ANSWERS.get(self._faults.malformed_answer)
        if kind is None or not self._chance(self._faults.malformed_rate):
            return False
        answer = kind.answers[operation]
        if answer is None:
            return True  # counted when answered (`_named_error`): an invalid call is refused instead
        self._book.faults_injected["malformed_answer"] += 1
        return answer

    def _batch(self, scope: _Scope, sessions: list[dict[str, Any]], *, naming_pairs: bool) -> Reply:
        errors: list[dict[str, str]] = []
        for index, session in enumerate(sessions):
            arn, viewer = session["channelArn"], session["viewerId"]
            if naming_pairs and index == 0:  # unknown-pair, the batch operation's only kind that names one
                errors.append(self._named_error(arn, viewer))
                continue
            failure = self._pair_failure(scope, arn)
            if failure is None:
                self._revoke(arn, viewer, session.get("viewerSessionVersionsLessThanOrEqualTo") or 0)
            else:
                code, message = failure
                self._book.pair_errors[code] += 1
                errors.append({"channelArn": arn, "viewerId": viewer, "code": code, "message": message})
        accounts = tuple(dict.fromkeys(_arn_account(session["channelArn"]) or "" for session in sessions))
        self._accept(BATCH_OPERATION, scope, len(sessions), channel_accounts=accounts)
        return Reply(body={"errors": errors})

    def _single(self, scope: _Scope, request: dict[str, Any], *, naming_pairs: bool) -> Reply:
        # The single operation has no per-pair errors: the same causes become call-level errors.
        arn, viewer = request["channelArn"], request["viewerId"]
        if naming_pairs:  # a batch-shaped answer, as from a wrong endpoint: nothing revoked
            return Reply(body={"errors": [self._named_error(arn, viewer)]})
        failure = self._pair_failure(scope, arn)
        if failure == NOT_AUTHORIZED:
            self._book.calls_denied += 1
            return aws_error(403, "AccessDeniedException", f"not authorized to revoke sessions of {arn}")
        if failure == WRONG_REGION:
            return aws_error(404, "ResourceNotFoundException", f"{arn} is not a channel in {scope.region}")
        if failure is not None:
            return aws_error(500, "InternalServerException", "Unexpected error during processing of request.")
        self._revoke(arn, viewer, request.get("viewerSessionVersionsLessThanOrEqualTo") or 0)
        self._accept(SINGLE_OPERATION, scope, 1, (arn, viewer), channel_accounts=(_arn_account(arn) or "",))
        # As AWS documents it: "an HTTP 200 response with an empty HTTP body" (not `{}`), and no media type.
        return Reply(content_type=None)

    def _named_error(self, channel_arn: str, viewer_id: str) -> dict[str, str]:
        """The per-pair entry of a malformed answer that names a pair sent (see `MALFORMED_ANSWERS`)."""
        self._book.faults_injected["malformed_answer"] += 1
        if self._faults.malformed_answer == UNKNOWN_PAIR:
            viewer_id, (code, message) = _spelled_otherwise(viewer_id), _PAIR_FAULTS[0]
        else:
            code, message = NOT_AUTHORIZED
        return {"channelArn": channel_arn, "viewerId": viewer_id, "code": code, "message": message}

    def _pair_failure(self, scope: _Scope, channel_arn: str) -> tuple[str, str] | None:
        if channel_arn in self._unauthorized:
            return NOT_AUTHORIZED
        if scope.resolved and _arn_account(channel_arn) != scope.account:
            # Another account's channel: the caller's IAM grants nothing there.
            return NOT_AUTHORIZED
        if self._strict_region and _arn_region(channel_arn) != scope.region:
            return WRONG_REGION
        if self._chance(self._faults.pair_error_rate):
            self._book.faults_injected["pair_error"] += 1
            return self._random.choice(_PAIR_FAULTS)
        return None

    def _revoke(self, channel_arn: str, viewer_id: str, version: int) -> None:
        key = (channel_arn, viewer_id)
        self._book.revoked[key] = max(version, self._book.revoked.get(key, version))

    def _accept(
        self,
        operation: str,
        scope: _Scope,
        pairs: int,
        pair: tuple[str, str] | None = None,
        channel_accounts: tuple[str, ...] = (),
    ) -> None:
        self._book.calls_accepted += 1
        channel_arn, viewer_id = pair or (None, None)
        self._book.accepted_calls.append(
            AcceptedCall(
                at=time.time(),
                operation=operation,
                account=scope.account,
                region=scope.region,
                pairs=pairs,
                channel_arn=channel_arn,
                viewer_id=viewer_id,
                access_key=scope.access_key,
                channel_accounts=channel_accounts,
            )
        )

    def _chance(self, rate: float) -> bool:
        # No draw at rate 0, so that turning one fault on does not shift the sequence of another.
        return rate > 0 and self._random.random() < rate

    def _latency(self) -> float:
        jitter = self._faults.latency_jitter_ms
        delay_ms = self._faults.latency_ms + (self._random.uniform(0, jitter) if jitter else 0.0)
        if delay_ms > 0:
            self._book.faults_injected["latency"] += 1
        return delay_ms / 1000

    def _trickle(self) -> float:
        if self._faults.trickle_ms > 0:
            self._book.faults_injected["trickle"] += 1
        return self._faults.trickle_ms / 1000

    # -- control API

    def _handle_control(self, method: str, name: str, body: bytes) -> Reply:
        if name == "ledger" and method == "GET":
            return Reply(body=self.ledger().to_json())
        if name == "reset" and method == "POST":
            self.reset()
            return Reply(body=self.ledger().to_json())
        if name == "faults" and method == "GET":
            return Reply(body=self.faults().to_json())
        if name == "faults" and method == "DELETE":
            return Reply(body=self.clear_faults().to_json())
        if name == "faults" and method in ("PUT", "POST"):
            changes = _decode(body)
            if isinstance(changes, str):
                return _control_error(400, changes)
            try:
                return Reply(body=self.set_faults(**changes).to_json())
            except (EmulatorConfigError, TypeError) as error:
                return _control_error(400, str(error))
        return _control_error(404, f"no control endpoint {method} {CONTROL_PREFIX}{name}")


def _credential_scope(authorization: str | None) -> _Scope | Reply:
    """Account and region from a SigV4 ``Authorization`` header; the signature itself is not checked.

    The access key id stands for the account: calls signed with one key share a quota. (AWS shares it
    across all keys of an account, which an emulator without IAM cannot know.)
    """
    if not authorization:
        return aws_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _CREDENTIAL.search(authorization)
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or match is None:
        return aws_error(403, "IncompleteSignatureException", "Authorization header requires a SigV4 Credential")
    access_key_id, _date, region, service = match.groups()
    if service != "ivs":
        return aws_error(403, "InvalidSignatureException", "Credential should be scoped to correct service: 'ivs'.")
    return _Scope(account=access_key_id, region=region, access_key=access_key_id)


def _resolved_account(resolver: AccountResolver | None, authorization: str | None) -> str | None:
    """The account of the call's signing credentials, when a resolver is set and the header names a key."""
    if resolver is None or not authorization:
        return None
    match = _CREDENTIAL.search(authorization)
    return resolver(match.group(1)) if match else None


def _arn_account(channel_arn: str) -> str | None:
    parts = channel_arn.split(":", 5)
    return parts[4] if len(parts) > 4 else None


def _decode(body: bytes) -> dict[str, Any] | str:
    """The JSON object in ``body``, or the reason it is not one."""
    try:
        value = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"Request body is not valid JSON: {error}"
    if not isinstance(value, dict):
        return "Request body must be a JSON object"
    return value


def _spelled_otherwise(viewer_id: str) -> str:
    """The viewer ID as a careless service might echo it: trimmed and lower case, or at least changed."""
    for changed in (viewer_id.strip().lower(), viewer_id.swapcase()):
        if changed != viewer_id:
            return changed
    return viewer_id + "_"


def _arn_region(channel_arn: str) -> str | None:
    match = _ARN_REGION.match(channel_arn)
    return match.group(1) if match else None
