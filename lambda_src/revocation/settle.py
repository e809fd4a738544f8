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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from revocation.intake import Intake, InvalidRequest
from revocation.models import (
    ATTR_ATTEMPTS,
    ATTR_ERROR_CODE,
    ATTR_ERROR_MESSAGE,
    ATTR_REQUEST_ID,
    ATTR_SOURCE_MESSAGE_ID,
    ATTRIBUTE_VALUE_MAX_BYTES,
    CODE_INVALID_MESSAGE,
    CODE_NOT_STARTED,
    DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES,
    SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    DeadLetterMessage,
    RevocationError,
    RevocationRequest,
    ViewerSession,
    sqs_message_bytes,
    sqs_safe,
    to_sqs_json,
    truncate_utf8,
)
from revocation.plan import merge_sessions
from revocation.revoke import Failure, PairKey

_Item = TypeVar("_Item")
_UNSETTLED = Failure("Unsettled", "no outcome was recorded for this pair", retryable=True)


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
    """The pairs not started, as new requests for the source queue, each within the queue's size."""
    attributes = _attribute_values({ATTR_SOURCE_MESSAGE_ID: record.message_id, ATTR_REQUEST_ID: request_id or ""})

    def message(chunk: Sequence[ViewerSession]) -> OutboundMessage:
        body = RevocationRequest(viewer_sessions=list(chunk), request_id=request_id).to_json()
        return OutboundMessage(record.message_id, body, attributes, CODE_NOT_STARTED, len(chunk))

    chunks = _pack(
        sessions,
        alone=lambda session: _size(message([session])),
        added=lambda session: len(",") + _json_bytes(session.to_api()),
        limit=SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    )
    return [message(chunk) for chunk in chunks]


def _invalid(record: SourceRecord, intake: InvalidRequest) -> OutboundMessage:
    """The original body: the producer's message is what an operator needs to fix.

    SQS delivered it, so it holds only characters SQS takes and `sqs_safe` changes nothing; an endpoint
    less strict than SQS may deliver a body that SQS would refuse to take back.
    """
    return OutboundMessage(
        source_message_id=record.message_id,
        body=sqs_safe(record.body),
        attributes=_attributes(CODE_INVALID_MESSAGE, intake.reason, record, intake.request_id),
        code=CODE_INVALID_MESSAGE,
        pairs=0,
    )


def _failed_pairs(
    record: SourceRecord, request_id: str | None, failed: list[tuple[ViewerSession, Failure]]
) -> list[OutboundMessage]:
    """One message per error code (what operators filter on), each a valid request to redrive."""
    by_code: dict[str, list[tuple[ViewerSession, RevocationError]]] = {}
    for session, failure in failed:
        # A reason is for reading, in the body as in the attributes: cut, so that any pair fits a message.
        error = RevocationError(
            channel_arn=session.channel_arn,
            viewer_id=session.viewer_id,
            code=truncate_utf8(failure.code, ATTRIBUTE_VALUE_MAX_BYTES),
            message=truncate_utf8(failure.message, ATTRIBUTE_VALUE_MAX_BYTES),
        )
        by_code.setdefault(failure.code, []).append((session, error))
    return [
        letter for code, pairs in by_code.items() for letter in _dead_letters_of_code(record, request_id, code, pairs)
    ]


def _dead_letters_of_code(
    record: SourceRecord, request_id: str | None, code: str, pairs: list[tuple[ViewerSession, RevocationError]]
) -> list[OutboundMessage]:
    def letter(chunk: Sequence[tuple[ViewerSession, RevocationError]]) -> OutboundMessage:
        body = DeadLetterMessage(
            viewer_sessions=[session for session, _ in chunk],
            errors=[error for _, error in chunk],
            request_id=request_id,
        ).to_json()
        attributes = _attributes(code, chunk[0][1].message or "", record, request_id)
        return OutboundMessage(record.message_id, body, attributes, code, len(chunk))

    chunks = _pack(
        pairs,
        alone=lambda pair: _size(letter([pair])),
        # The pair's session and its error, each after a comma in its list.
        added=lambda pair: 2 * len(",") + _json_bytes(pair[0].to_api()) + _json_bytes(pair[1].to_api()),
        limit=DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES,
    )
    return [letter(chunk) for chunk in chunks]


def _pack(
    items: Sequence[_Item], alone: Callable[[_Item], int], added: Callable[[_Item], int], limit: int
) -> list[list[_Item]]:
    """The items in order, cut into as few messages as fit `limit` bytes each.

    `alone(item)` is the size of the message holding only that item, `added(item)` what the item adds to
    a message that holds others. Both are exact, not estimates: compact JSON of a list is its items'
    JSON joined by commas, and `sqs_safe` escapes character by character.
    """
    chunks: list[list[_Item]] = []
    size = 0
    for item in items:
        extra = added(item) if chunks else 0
        if chunks and size + extra <= limit:
            chunks[-1].append(item)
            size += extra
        else:
            # A new message. Any item fits one alone: sessions are validated and reasons cut.
            chunks.append([item])
            size = alone(item)
    return chunks


def _size(message: OutboundMessage) -> int:
    return sqs_message_bytes(message.body, message.attributes)


def _json_bytes(value: object) -> int:
    return len(to_sqs_json(value).encode())


def _attributes(code: str, message: str, record: SourceRecord, request_id: str | None) -> dict[str, str]:
    return _attribute_values(
        {
            ATTR_ERROR_CODE: code,
            ATTR_ERROR_MESSAGE: message,
            ATTR_SOURCE_MESSAGE_ID: record.message_id,
            ATTR_ATTEMPTS: str(record.receive_count),
            ATTR_REQUEST_ID: request_id or "",
        }
    )


def _attribute_values(attributes: Mapping[str, str]) -> dict[str, str]:
    """Values as SQS takes them: only its characters, at most ATTRIBUTE_VALUE_MAX_BYTES, never empty.

    Escaped before the cut, so that the cut counts what is written; SQS refuses an empty String value.
    """
    values = {name: truncate_utf8(sqs_safe(value), ATTRIBUTE_VALUE_MAX_BYTES) for name, value in attributes.items()}
    return {name: value for name, value in values.items() if value}
