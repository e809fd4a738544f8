"""Outcomes: what happens to a pair for each cause, the README's outcome table as pure steps.

Revoke reports each planned pair revoked or with a Failure made here (the causes); settle asks
`record_outcome` what becomes of each record and builds the messages; once they are written,
`after_writes` says what a message that could not be written means for its record. Nothing here
sleeps, calls out or builds a message.

| cause                                                     | what happens to the pair                      |
|-----------------------------------------------------------|-----------------------------------------------|
| revoked                                                   | done                                          |
| per-pair code that cannot pass (4xx other than 429)       | dead-lettered at once                         |
| per-pair 429, 5xx or unknown; a call throttled, failed,   | record retried by SQS; dead-lettered on the   |
| unanswered, malformed or denied after its attempts        | last attempt                                  |
| ValidationException of a call of that pair alone          | dead-lettered at once                         |
| message that is not a valid request                       | dead-lettered at once, never retried          |
| pair whose channel names a region or account outside the  | dead-lettered at once without a call, never   |
| deployment's scope (IVS_REGIONS, the function's account)  | retried                                       |
| call not started in time                                  | requeued (with a source queue and progress),  |
|                                                           | else as a retryable failure                   |
| a dead letter or requeue that could not be written        | record retried by SQS                         |
| pair of an urgent message beyond the lane's bound         | sent to the bulk queue as a request; with a   |
|                                                           | pair to retry, it comes back with its record  |
| a request to the bulk queue that could not be written     | record retried by SQS                         |
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ivs_revocation.call_policy import pair_error_is_retryable
from ivs_revocation.models import (
    CODE_INVALID_MESSAGE,
    CODE_NOT_STARTED,
    CODE_OUT_OF_SCOPE,
    CallFailed,
    Failure,
    PairKey,
    RevocationError,
    ViewerSession,
)

# --- The causes: why a pair was not revoked --------------------------------------------------------


def pair_error(error: RevocationError) -> Failure:
    """A per-pair entry of the response's `errors`: its code says whether it may pass later."""
    return Failure(
        error.code or "Unknown", error.message or "no message", retryable=pair_error_is_retryable(error.code)
    )


def out_of_scope(problem: str) -> Failure:
    """A pair outside the deployment's scope (plan.Scope): no call is made for it, and none will pass."""
    return Failure(CODE_OUT_OF_SCOPE, problem, retryable=False)


def rejected_alone(failed: CallFailed) -> Failure:
    """A ValidationException for a call of one pair: the pair itself is what the service rejects."""
    return Failure(failed.code, failed.message, retryable=False)


def gave_up(failed: CallFailed, attempts: int) -> Failure:
    """A call that failed on its last attempt of this invocation, or was denied: a later delivery may pass."""
    return Failure(failed.code, f"{failed.message} (after {_attempts(attempts)})", retryable=True)


def not_started(last: CallFailed | None, attempts: int) -> Failure:
    """A call the invocation had no time for; after failed attempts, it keeps the last one's reason."""
    if last is None:
        return Failure(CODE_NOT_STARTED, "not started: the invocation ran out of time", retryable=True)
    return Failure(last.code, f"{last.message} (after {_attempts(attempts)}; no time left for another)", retryable=True)


# Every planned pair has an outcome; should one ever lack it, it is retried, not lost.
UNSETTLED = Failure("Unsettled", "no outcome was recorded for this pair", retryable=True)


# --- What becomes of a pair, and of its record ------------------------------------------------------


class Fate(enum.Enum):
    REVOKED = "revoked"
    DEAD_LETTER = "dead-letter"
    RETRY = "retry"  # its record is delivered again by SQS
    REQUEUE = "requeue"  # put back on the source queue as a new request


def pair_fate(failure: Failure | None, *, last_attempt: bool, requeue: bool) -> Fate:
    """What becomes of a pair, given why it was not revoked (None: it was), whether this is its record's
    last delivery, and whether pairs not started may be requeued."""
    if failure is None:
        return Fate.REVOKED
    if failure.code == CODE_NOT_STARTED and requeue:
        return Fate.REQUEUE
    if failure.retryable and not last_attempt:
        return Fate.RETRY
    return Fate.DEAD_LETTER


def may_requeue(has_source_queue: bool, calls_made: int) -> bool:
    """Pairs not started are requeued only when this invocation made progress: requeueing without a
    single call would go round for ever."""
    return has_source_queue and calls_made > 0


@dataclass(frozen=True, slots=True)
class RecordVerdict:
    """What the processor reports for a record (`retry`: in batchItemFailures), with what the logs count."""

    retry: bool = False
    reason: str = ""
    revoked: int = 0
    dead_lettered: int = 0
    requeued: int = 0
    sent_to_bulk: int = 0


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """A record's verdict, the pairs that settle writes for it, and those it revoked."""

    verdict: RecordVerdict
    dead_letter: Sequence[tuple[ViewerSession, Failure]] = ()
    requeue: Sequence[ViewerSession] = ()
    send_on: Sequence[ViewerSession] = ()
    revoked: Sequence[ViewerSession] = ()


def invalid_record(reason: str) -> RecordOutcome:
    """A message that is not a valid request: dead-lettered at once (body untouched), never retried."""
    return RecordOutcome(RecordVerdict(reason=f"{CODE_INVALID_MESSAGE}: {reason}", dead_lettered=1))


def record_outcome(
    sessions: Iterable[ViewerSession],
    revoked: set[PairKey],
    failures: Mapping[PairKey, Failure],
    *,
    last_attempt: bool,
    requeue: bool,
    beyond_bound: Sequence[ViewerSession] = (),
) -> RecordOutcome:
    """The fates of a record's pairs (each distinct pair once) made one verdict.

    `sessions` are the pairs this lane sent; `beyond_bound` the record's other pairs, which the urgent
    lane does not send itself. They go on to the bulk queue, unless the record is to be retried: then
    they come back with it, and go on from its next delivery (so that they are not sent on twice).

    A pair to retry makes SQS deliver the record again whole, its not-started pairs with it; the pairs
    that cannot pass are dead-lettered all the same (revoking again is harmless, and holding them back
    would delay the alarm). Without a pair to retry, the pairs not started are requeued, and the record
    is done: delivered again whole, a message that needs more calls than one invocation can make would
    make the same first calls on every delivery and never reach its tail.
    """
    by_fate: dict[Fate, list[tuple[ViewerSession, Failure | None]]] = {fate: [] for fate in Fate}
    for session in sessions:
        failure = failures.get(session.key)
        if failure is None and session.key not in revoked:
            failure = UNSETTLED
        by_fate[pair_fate(failure, last_attempt=last_attempt, requeue=requeue)].append((session, failure))

    dead_letter = [(session, failure) for session, failure in by_fate[Fate.DEAD_LETTER] if failure is not None]
    to_retry, to_requeue = by_fate[Fate.RETRY], by_fate[Fate.REQUEUE]
    reason = ""
    if to_retry:
        reason = f"{len(to_retry)} pairs to retry, first: {_first_reason(to_retry)}"
    elif dead_letter:
        reason = f"{len(dead_letter)} pairs dead-lettered, first: {_first_reason(dead_letter)}"
    elif to_requeue:
        reason = f"{len(to_requeue)} pairs not started in time, put back on the queue"
    elif beyond_bound:
        reason = f"{len(beyond_bound)} pairs beyond the lane's bound sent to the bulk queue"
    requeued = [] if to_retry else [session for session, _ in to_requeue]
    send_on = [] if to_retry else list(beyond_bound)
    verdict = RecordVerdict(
        retry=bool(to_retry),
        reason=reason,
        revoked=len(by_fate[Fate.REVOKED]),
        dead_lettered=len(dead_letter),
        requeued=len(requeued),
        sent_to_bulk=len(send_on),
    )
    return RecordOutcome(verdict, dead_letter, requeued, send_on, [session for session, _ in by_fate[Fate.REVOKED]])


def after_writes(
    verdicts: Mapping[str, RecordVerdict],
    *,
    dead_letters_unwritten: Iterable[str],
    requeues_unwritten: Iterable[str],
    sent_on_unwritten: Iterable[str] = (),
) -> dict[str, RecordVerdict]:
    """The verdicts once the messages are written, given the source message ids of those that could not
    be. Nothing is deleted without a trace: such a record comes back, and on its last attempt SQS's own
    redrive moves it to the dead-letter queue whole."""
    final = dict(verdicts)
    for what, message_ids in (
        ("dead-letter", dead_letters_unwritten),
        ("requeued", requeues_unwritten),
        ("bulk-queue", sent_on_unwritten),
    ):
        for message_id in message_ids:
            final[message_id] = replace(
                final[message_id], retry=True, reason=f"its {what} message could not be written"
            )
    return final


def _first_reason(pairs: Sequence[tuple[ViewerSession, Failure | None]]) -> str:
    first = pairs[0][1] or UNSETTLED
    return f"{first.code}: {first.message}"


def _attempts(count: int) -> str:
    return f"{count} attempt" + ("" if count == 1 else "s")
