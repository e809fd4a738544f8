"""Revoke: planned calls go to IVS through a per-region rate limiter, within the invocation's time.

IVS allows 2 BatchStartViewerSessionRevocation calls per second per account and region, shared by
every instance of the function; each instance gets its share (`IVS_CALLS_PER_SECOND`). Retries are
made here rather than by botocore because every attempt must pass the rate limiter (a botocore retry
would spend quota the limiter did not grant) and the time budget (a call that cannot finish before
the deadline is not started).
"""

from __future__ import annotations

import enum
import math
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from revocation.models import CODE_NOT_STARTED, RevocationError, ViewerSession
from revocation.plan import PlannedCall

PairKey = tuple[str, str]

# Calls are spaced 2% wider than the share of the quota strictly allows, so that a little network
# jitter between two instances does not put three calls into one second of the service's window.
SPACING_HEADROOM = 1.02
# Backoff after a throttled or failed attempt: full jitter, capped.
BACKOFF_CAP_SECONDS = 8.0


class CallErrorKind(enum.Enum):
    THROTTLED = "throttled"  # ThrottlingException: retry after backoff
    INVALID = "invalid"  # ValidationException: split the call to find the rejected pair(s)
    DENIED = "denied"  # AccessDeniedException / PendingVerification: an account or policy problem
    SERVER = "server"  # 5xx: retry after backoff
    CONNECTION = "connection"  # no answer (refused, reset, timed out, past the call's deadline): retry after backoff
    # A 2xx that is not the operation's JSON, or names pairs not sent: nothing of it counts; retried
    # after backoff as a 5xx is, and its pairs left retryable after the last attempt.
    MALFORMED = "malformed"


class CallFailed(Exception):
    """A call that the service rejected as a whole, or that got no answer."""

    def __init__(self, kind: CallErrorKind, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.kind = kind
        self.code = code
        self.message = message


class RevocationGateway(Protocol):
    """The port to IVS: one BatchStartViewerSessionRevocation call in one region."""

    def revoke(self, region: str, sessions: Sequence[ViewerSession]) -> list[RevocationError]:
        """Returns the per-pair errors (empty when every pair was accepted), each naming a pair of
        `sessions`; raises CallFailed, also for an answer that is not the operation's (MALFORMED)."""
        ...


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    message: str
    retryable: bool


def pair_error_is_retryable(code: str | None) -> bool:
    """A per-pair code is an HTTP status as a string: 429 and 5xx may pass later, other 4xx never.

    Codes are opaque: anything that does not parse as a 4xx status is treated as retryable, so an
    unknown code costs a retry rather than a lost revocation.
    """
    try:
        status = int(code or "")
    except ValueError:
        return True
    return not (400 <= status < 500) or status == 429


class RateLimiter:
    """Spaces calls at least one interval apart; kept across invocations of a warm instance.

    The service counts a call when it arrives, which is somewhere between sending and the answer. A
    call slower than this client's fastest (a new connection, a retransmission) may have arrived
    late, so the next call is spaced from that later moment: without this, the call after a slow
    first call lands within one window of it and is throttled.
    """

    def __init__(self, calls_per_second: float) -> None:
        self.interval = SPACING_HEADROOM / calls_per_second
        self._next_free = -math.inf
        self._fastest = math.inf

    def ready_at(self) -> float:
        return self._next_free

    def take(self, now: float) -> None:
        self._next_free = max(now, self._next_free) + self.interval

    def observe(self, sent: float, answered: float) -> None:
        """Pushes the next call back by how much slower this call was than the fastest seen."""
        latency = answered - sent
        # With no history yet, the whole latency may have been a late arrival.
        extra = latency - (self._fastest if self._fastest != math.inf else 0.0)
        self._fastest = min(self._fastest, latency)
        if extra > 0:
            self._next_free = max(self._next_free, sent + self.interval + extra)


@dataclass(slots=True)
class _Attempt:
    call: PlannedCall
    number: int = 1
    not_before: float = -math.inf
    last_failure: CallFailed | None = None


@dataclass(slots=True)
class RevokeReport:
    """Every planned pair is either revoked or has a failure."""

    revoked: set[PairKey] = field(default_factory=set)
    failures: dict[PairKey, Failure] = field(default_factory=dict)
    calls: int = 0
    throttled_calls: int = 0
    not_started_calls: int = 0


class Revoker:
    def __init__(
        self,
        gateway: RevocationGateway,
        *,
        calls_per_second: float,
        max_attempts: int,
        call_timeout: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._gateway = gateway
        self._calls_per_second = calls_per_second
        self._max_attempts = max_attempts
        self._call_timeout = call_timeout
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._limiters: dict[str, RateLimiter] = {}

    def run(self, calls: Sequence[PlannedCall], deadline: float) -> RevokeReport:
        """Makes the calls, region by region as each region's limiter allows, until done or out of time.

        `deadline` is on this Revoker's clock: the last moment a call may still be running.
        """
        report = RevokeReport()
        queues: dict[str, deque[_Attempt]] = {}
        for call in calls:
            queues.setdefault(call.region, deque()).append(_Attempt(call))

        while any(queues.values()):
            region, ready = self._next_ready(queues)
            if ready + self._call_timeout > deadline:
                self._give_up(queues, report)
                break
            attempt = queues[region].popleft()
            now = self._clock()
            if ready > now:
                self._sleep(ready - now)
            self._limiter(region).take(self._clock())
            self._attempt(attempt, queues[region], report)
        return report

    def _next_ready(self, queues: dict[str, deque[_Attempt]]) -> tuple[str, float]:
        """The region whose next attempt may start first, and when."""
        now = self._clock()
        candidates = (
            (region, max(now, self._limiter(region).ready_at(), queue[0].not_before))
            for region, queue in queues.items()
            if queue
        )
        return min(candidates, key=lambda candidate: candidate[1])

    def _attempt(self, attempt: _Attempt, queue: deque[_Attempt], report: RevokeReport) -> None:
        sessions = attempt.call.sessions
        report.calls += 1
        limiter = self._limiter(attempt.call.region)
        sent = self._clock()
        try:
            errors = self._gateway.revoke(attempt.call.region, sessions)
        except CallFailed as failed:
            limiter.observe(sent, self._clock())
            self._on_call_failed(attempt, failed, queue, report)
            return
        limiter.observe(sent, self._clock())
        errors_by_key = {(error.channel_arn, error.viewer_id): error for error in errors}
        for session in sessions:
            error = errors_by_key.get(session.key)
            if error is None:
                report.revoked.add(session.key)
            else:
                report.failures[session.key] = Failure(
                    code=error.code or "Unknown",
                    message=error.message or "no message",
                    retryable=pair_error_is_retryable(error.code),
                )

    def _on_call_failed(
        self, attempt: _Attempt, failed: CallFailed, queue: deque[_Attempt], report: RevokeReport
    ) -> None:
        sessions = attempt.call.sessions
        if failed.kind is CallErrorKind.INVALID:
            if len(sessions) == 1:
                report.failures[sessions[0].key] = Failure(failed.code, failed.message, retryable=False)
                return
            # Halve until the rejected pairs stand alone; the others go on.
            middle = len(sessions) // 2
            queue.appendleft(_Attempt(PlannedCall(attempt.call.region, sessions[middle:])))
            queue.appendleft(_Attempt(PlannedCall(attempt.call.region, sessions[:middle])))
            return
        if failed.kind is CallErrorKind.THROTTLED:
            report.throttled_calls += 1
        # An account or policy problem will not pass within this invocation: leave it to SQS.
        if failed.kind is not CallErrorKind.DENIED and attempt.number < self._max_attempts:
            ceiling = min(BACKOFF_CAP_SECONDS, self._limiter(attempt.call.region).interval * 2**attempt.number)
            backoff = self._jitter() * ceiling
            queue.append(_Attempt(attempt.call, attempt.number + 1, self._clock() + backoff, failed))
            return
        message = f"{failed.message} (after {_attempts(attempt.number)})"
        for session in sessions:
            report.failures[session.key] = Failure(failed.code, message, retryable=True)

    def _give_up(self, queues: dict[str, deque[_Attempt]], report: RevokeReport) -> None:
        """Out of time: what is left is not started, and its records come back from SQS."""
        for queue in queues.values():
            while queue:
                attempt = queue.popleft()
                report.not_started_calls += 1
                last = attempt.last_failure
                failure = (
                    Failure(
                        last.code,
                        f"{last.message} (after {_attempts(attempt.number - 1)}; no time left for another)",
                        retryable=True,
                    )
                    if last is not None
                    else Failure(CODE_NOT_STARTED, "not started: the invocation ran out of time", retryable=True)
                )
                for session in attempt.call.sessions:
                    report.failures[session.key] = failure

    def _limiter(self, region: str) -> RateLimiter:
        limiter = self._limiters.get(region)
        if limiter is None:
            limiter = self._limiters[region] = RateLimiter(self._calls_per_second)
        return limiter


def _attempts(count: int) -> str:
    return f"{count} attempt" + ("" if count == 1 else "s")
