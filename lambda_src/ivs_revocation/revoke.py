"""Revoke: planned calls go to IVS through a rate limiter per (account, region), within the invocation's time.

IVS allows 2 BatchStartViewerSessionRevocation calls per second per account and region (and 10 of
StartViewerSessionRevocation, the urgent lane's), shared by every instance of the lane's function;
each instance gets its share (`IVS_CALLS_PER_SECOND`). Retries are
made here rather than by botocore because every attempt must pass the rate limiter (a botocore retry
would spend quota the limiter did not grant) and the time budget (a call that cannot finish before
the deadline is not started). Here calls are run, paced and retried; how (the limiter, the backoff,
which errors are retried) is call_policy's, and the failure each pair is left with is outcomes'.

Each (account, region) is a quota of its own: its own limiter and its own line of calls. One thread
makes every call, taking next the line whose next call may start soonest (interleaving by readiness),
so a line waiting for its limiter or its backoff never holds back the others, and an account whose
calls fail (a role that cannot be assumed fails at once, see adapters/member_credentials.py) only
spends its own turns. A call in flight does hold the thread for its duration, at most the call deadline.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ivs_revocation import outcomes
from ivs_revocation.call_policy import RETRIED_KINDS, RateLimiter, backoff_seconds
from ivs_revocation.models import CallErrorKind, CallFailed, Failure, PairKey, RevocationError, ViewerSession
from ivs_revocation.plan import PlannedCall


class RevocationGateway(Protocol):
    """The port to IVS: one call of a revocation operation in one region (a batch of pairs, or one)."""

    def revoke(self, region: str, sessions: Sequence[ViewerSession]) -> list[RevocationError]:
        """Returns the per-pair errors (empty when every pair was accepted), each naming a pair of
        `sessions`; raises CallFailed, also for an answer that is not the operation's (MALFORMED)."""
        ...


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
    # When the call that revoked each pair was answered, on the Revoker's clock.
    accepted_at: dict[PairKey, float] = field(default_factory=dict)
    failures: dict[PairKey, Failure] = field(default_factory=dict)
    calls: int = 0
    throttled_calls: int = 0
    not_started_calls: int = 0
    # The same two counts by the account the calls were for.
    calls_by_account: Counter[str] = field(default_factory=Counter)
    throttled_by_account: Counter[str] = field(default_factory=Counter)


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
        self._max_attempts = max_attempts
        self._call_timeout = call_timeout
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        # One per (account, region): each is a quota of its own, paced at this instance's share of it.
        self._limiters: defaultdict[tuple[str, str], RateLimiter] = defaultdict(lambda: RateLimiter(calls_per_second))

    def run(
        self,
        calls: Sequence[PlannedCall],
        deadline: float,
        on_revoked: Callable[[list[PairKey]], None] | None = None,
    ) -> RevokeReport:
        """Makes the calls, each (account, region) as its limiter allows, until done or out of time.

        `deadline` is on this Revoker's clock: the last moment a call may still be running. `on_revoked`
        is told the pairs of each answered call that IVS accepted, as the call is answered.
        """
        report = RevokeReport()
        queues: dict[tuple[str, str], deque[_Attempt]] = {}
        for call in calls:
            queues.setdefault(call.quota, deque()).append(_Attempt(call))

        while any(queues.values()):
            quota, ready = self._next_ready(queues)
            if ready + self._call_timeout > deadline:
                self._give_up(queues, report)
                break
            attempt = queues[quota].popleft()
            now = self._clock()
            if ready > now:
                self._sleep(ready - now)
            self._limiters[quota].take(self._clock())
            self._attempt(attempt, queues, report, on_revoked)
        return report

    def _next_ready(self, queues: dict[tuple[str, str], deque[_Attempt]]) -> tuple[tuple[str, str], float]:
        """The (account, region) whose next attempt may start first, and when."""
        now = self._clock()
        candidates = (
            (quota, max(now, self._limiters[quota].ready_at(), queue[0].not_before))
            for quota, queue in queues.items()
            if queue
        )
        return min(candidates, key=lambda candidate: candidate[1])

    def _attempt(
        self,
        attempt: _Attempt,
        queues: dict[tuple[str, str], deque[_Attempt]],
        report: RevokeReport,
        on_revoked: Callable[[list[PairKey]], None] | None,
    ) -> None:
        sessions = attempt.call.sessions
        report.calls += 1
        report.calls_by_account[attempt.call.account] += 1
        limiter = self._limiters[attempt.call.quota]
        sent = self._clock()
        try:
            errors = self._gateway.revoke(attempt.call.region, sessions)
        except CallFailed as failed:
            limiter.observe(sent, self._clock())
            if failed.kind is CallErrorKind.CREDENTIALS:
                self._without_credentials(attempt, failed, queues, report)
                return
            self._on_call_failed(attempt, failed, queues[attempt.call.quota], report)
            return
        answered = self._clock()
        limiter.observe(sent, answered)
        errors_by_key = {(error.channel_arn, error.viewer_id): error for error in errors}
        revoked: list[PairKey] = []
        for session in sessions:
            error = errors_by_key.get(session.key)
            if error is None:
                report.revoked.add(session.key)
                report.accepted_at[session.key] = answered
                revoked.append(session.key)
            else:
                report.failures[session.key] = outcomes.pair_error(error)
        if revoked and on_revoked is not None:
            on_revoked(revoked)

    def _without_credentials(
        self,
        attempt: _Attempt,
        failed: CallFailed,
        queues: dict[tuple[str, str], deque[_Attempt]],
        report: RevokeReport,
    ) -> None:
        """The account's credentials could not be had: its other calls, in every region, would fail
        alike, each waiting its turn of the limiter and holding the invocation open. They fail now,
        unmade, and their records come back from SQS (dead-lettered with this reason on the last)."""
        account = attempt.call.account
        # No call reached IVS: it is not one of IvsCalls.
        report.calls -= 1
        report.calls_by_account[account] -= 1
        failure = outcomes.gave_up(failed, attempt.number)
        for session in attempt.call.sessions:
            report.failures[session.key] = failure
        for (queued_account, _), queue in queues.items():
            if queued_account != account:
                continue
            while queue:
                for session in queue.popleft().call.sessions:
                    report.failures[session.key] = failure

    def _on_call_failed(
        self, attempt: _Attempt, failed: CallFailed, queue: deque[_Attempt], report: RevokeReport
    ) -> None:
        sessions = attempt.call.sessions
        if failed.kind is CallErrorKind.INVALID:
            if len(sessions) == 1:
                report.failures[sessions[0].key] = outcomes.rejected_alone(failed)
                return
            # Halve until the rejected pairs stand alone; the others go on.
            middle = len(sessions) // 2
            queue.appendleft(_Attempt(PlannedCall(attempt.call.region, sessions[middle:])))
            queue.appendleft(_Attempt(PlannedCall(attempt.call.region, sessions[:middle])))
            return
        if failed.kind is CallErrorKind.THROTTLED:
            report.throttled_calls += 1
            report.throttled_by_account[attempt.call.account] += 1
        if failed.kind in RETRIED_KINDS and attempt.number < self._max_attempts:
            interval = self._limiters[attempt.call.quota].interval
            not_before = self._clock() + backoff_seconds(attempt.number, interval, self._jitter())
            queue.append(_Attempt(attempt.call, attempt.number + 1, not_before, failed))
            return
        # Out of attempts, or not worth another within this invocation: left to SQS's redelivery.
        for session in sessions:
            report.failures[session.key] = outcomes.gave_up(failed, attempt.number)

    def _give_up(self, queues: dict[tuple[str, str], deque[_Attempt]], report: RevokeReport) -> None:
        """Out of time: what is left is not started, and its records come back from SQS."""
        for queue in queues.values():
            while queue:
                attempt = queue.popleft()
                report.not_started_calls += 1
                failure = outcomes.not_started(attempt.last_failure, attempt.number - 1)
                for session in attempt.call.sessions:
                    report.failures[session.key] = failure
