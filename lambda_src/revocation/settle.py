"""Settle: every pair's outcome goes back to the record it came from.

Per record, exactly the outcome table of the design:
- a record that is not a valid request goes to the dead-letter queue at once, with the reason;
- pairs that failed for a reason that cannot pass on retry go to the dead-letter queue at once;
- pairs that failed for a reason that may pass make the record a batch item failure, so SQS delivers
  it again, except on the last delivery attempt, when they go to the dead-letter queue with their
  reason instead of being moved there bare by the queue's redrive policy.

A record that is retried and also had pairs dead-lettered at once is delivered again whole; its
permanently failing pairs are then tried and dead-lettered again. Revocation is idempotent, so a
redrive of both copies is harmless; the alternative, holding them back, would delay the alarm.

Pairs that were not started because the invocation ran out of time did not fail. When the service can
requeue them (`requeue_not_started`), they go back to the source queue as a new request, and their
record is done: redelivering the record whole would make the same first calls again and never reach
the tail of a message that needs more calls than one invocation can make.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from revocation.intake import Intake, InvalidRequest
from revocation.models import (
    ATTR_ATTEMPTS,
    ATTR_ERROR_CODE,
    ATTR_ERROR_MESSAGE,
    ATTR_REQUEST_ID,
    ATTR_SOURCE_MESSAGE_ID,
    CODE_INVALID_MESSAGE,
    CODE_NOT_STARTED,
    DeadLetterMessage,
    RevocationError,
    RevocationRequest,
    ViewerSession,
)
from revocation.plan import merge_sessions
from revocation.revoke import Failure, PairKey

# A dead-letter body stays well under SQS's 256 KiB message limit, beside its attributes.
MAX_DEAD_LETTER_BODY_BYTES = 200_000
# Attribute values are for filtering and reading, not for whole documents.
MAX_ATTRIBUTE_CHARS = 1_000
_UNSETTLED = Failure("Unsettled", "no outcome was recorded for this pair", retryable=True)
_NOT_STARTED = Failure(CODE_NOT_STARTED, "", retryable=True)


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """What settling needs of one SQS record."""

    message_id: str
    receive_count: int
    body: str
    intake: Intake


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message to write on behalf of one source record: a dead letter, or a requeued request."""

    source_message_id: str
    body: str
    attributes: Mapping[str, str]
    code: str
    pairs: int


@dataclass(slots=True)
class RecordVerdict:
    retry: bool = False
    reason: str = ""
    revoked: int = 0
    dead_lettered: int = 0
    requeued: int = 0


@dataclass(slots=True)
class Settlement:
    verdicts: dict[str, RecordVerdict] = field(default_factory=dict)
    dead_letters: list[OutboundMessage] = field(default_factory=list)
    requeued: list[OutboundMessage] = field(default_factory=list)


def settle(
    records: Sequence[SourceRecord],
    revoked: set[PairKey],
    failures: Mapping[PairKey, Failure],
    max_receive_count: int,
    *,
    requeue_not_started: bool = False,
) -> Settlement:
    settlement = Settlement()
    for record in records:
        verdict = settlement.verdicts[record.message_id] = RecordVerdict()
        last_attempt = record.receive_count >= max_receive_count
        intake = record.intake
        if isinstance(intake, InvalidRequest):
            settlement.dead_letters.append(_invalid(record, intake))
            verdict.dead_lettered = 1
            verdict.reason = f"{CODE_INVALID_MESSAGE}: {intake.reason}"
            continue

        to_dead_letter: list[tuple[ViewerSession, Failure]] = []
        retryable: list[Failure] = []
        not_started: list[ViewerSession] = []
        for session in merge_sessions(intake.sessions).values():
            failure = failures.get(session.key)
            if failure is None and session.key not in revoked:
                # Every planned pair has an outcome; should one ever lack it, it is retried, not lost.
                failure = _UNSETTLED
            if failure is None:
                verdict.revoked += 1
            elif failure.code == CODE_NOT_STARTED and requeue_not_started:
                not_started.append(session)
            elif failure.retryable and not last_attempt:
                retryable.append(failure)
            else:
                to_dead_letter.append((session, failure))

        if retryable:
            # Delivered again whole, its not-started pairs with it.
            verdict.retry = True
            verdict.reason = f"{len(retryable)} pairs to retry, first: {retryable[0].code}: {retryable[0].message}"
        elif not_started:
            verdict.requeued = len(not_started)
            settlement.requeued.extend(_requeued(record, intake.request_id, not_started))
            verdict.reason = f"{len(not_started)} pairs not started in time, put back on the queue"
        if to_dead_letter and not retryable:
            first = to_dead_letter[0][1]
            verdict.reason = f"{len(to_dead_letter)} pairs dead-lettered, first: {first.code}: {first.message}"
        verdict.dead_lettered = len(to_dead_letter)
        settlement.dead_letters.extend(_failed_pairs(record, intake.request_id, to_dead_letter))
    return settlement


def _requeued(record: SourceRecord, request_id: str | None, sessions: list[ViewerSession]) -> list[OutboundMessage]:
    """The pairs not started, as new requests for the source queue (split to stay within its size)."""
    messages = []
    for chunk in _chunks_within_size([(session, _NOT_STARTED) for session in sessions]):
        request = RevocationRequest(viewer_sessions=[session for session, _ in chunk], request_id=request_id)
        attributes = {ATTR_SOURCE_MESSAGE_ID: record.message_id}
        if request_id:
            attributes[ATTR_REQUEST_ID] = request_id[:MAX_ATTRIBUTE_CHARS]
        messages.append(OutboundMessage(record.message_id, request.to_json(), attributes, CODE_NOT_STARTED, len(chunk)))
    return messages


def _invalid(record: SourceRecord, intake: InvalidRequest) -> OutboundMessage:
    """The original body, untouched: the producer's message is what an operator needs to fix."""
    return OutboundMessage(
        source_message_id=record.message_id,
        body=record.body,
        attributes=_attributes(CODE_INVALID_MESSAGE, intake.reason, record, intake.request_id),
        code=CODE_INVALID_MESSAGE,
        pairs=0,
    )


def _failed_pairs(
    record: SourceRecord, request_id: str | None, failed: list[tuple[ViewerSession, Failure]]
) -> list[OutboundMessage]:
    """One message per error code (what operators filter on), each a valid request to redrive."""
    by_code: dict[str, list[tuple[ViewerSession, Failure]]] = {}
    for session, failure in failed:
        by_code.setdefault(failure.code, []).append((session, failure))

    letters = []
    for code, pairs in by_code.items():
        for chunk in _chunks_within_size(pairs):
            message = DeadLetterMessage(
                viewer_sessions=[session for session, _ in chunk],
                errors=[
                    RevocationError(
                        channel_arn=session.channel_arn,
                        viewer_id=session.viewer_id,
                        code=failure.code,
                        message=failure.message,
                    )
                    for session, failure in chunk
                ],
                request_id=request_id,
            )
            letters.append(
                OutboundMessage(
                    source_message_id=record.message_id,
                    body=message.to_json(),
                    attributes=_attributes(code, chunk[0][1].message, record, request_id),
                    code=code,
                    pairs=len(chunk),
                )
            )
    return letters


def _chunks_within_size(
    pairs: list[tuple[ViewerSession, Failure]],
) -> list[list[tuple[ViewerSession, Failure]]]:
    chunks: list[list[tuple[ViewerSession, Failure]]] = [[]]
    size = 0
    for session, failure in pairs:
        # A session and its error, as JSON; a generous estimate of what the pair adds to the body.
        added = len(json.dumps(session.to_api(), ensure_ascii=False).encode()) * 2 + len(failure.message.encode()) + 64
        if chunks[-1] and size + added > MAX_DEAD_LETTER_BODY_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append((session, failure))
        size += added
    return chunks


def _attributes(code: str, message: str, record: SourceRecord, request_id: str | None) -> dict[str, str]:
    attributes = {
        ATTR_ERROR_CODE: code,
        ATTR_ERROR_MESSAGE: message[:MAX_ATTRIBUTE_CHARS],
        ATTR_SOURCE_MESSAGE_ID: record.message_id,
        ATTR_ATTEMPTS: str(record.receive_count),
    }
    if request_id:
        attributes[ATTR_REQUEST_ID] = request_id[:MAX_ATTRIBUTE_CHARS]
    return attributes
