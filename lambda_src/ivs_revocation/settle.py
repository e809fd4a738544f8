"""Settle: the messages each record's outcome asks for, written back on behalf of the record.

What becomes of each pair is decided in outcomes.py (the outcome table); here that becomes messages:
dead letters, one per error code, each a valid request to redrive, the pairs not started as new
requests for the source queue, and the pairs of an urgent message beyond the lane's bound as requests
for the bulk queue, each within a source queue's size (a dead letter too, so that a redrive can move
it back). A record whose message cannot be read is dead-lettered with its body untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from ivs_revocation import outcomes
from ivs_revocation.intake import Intake, InvalidRequest
from ivs_revocation.models import (
    ATTR_ATTEMPTS,
    ATTR_ERROR_CODE,
    ATTR_ERROR_MESSAGE,
    ATTR_REQUEST_ID,
    ATTR_SOURCE_MESSAGE_ID,
    ATTRIBUTE_VALUE_MAX_BYTES,
    CODE_INVALID_MESSAGE,
    CODE_NOT_STARTED,
    CODE_SENT_TO_BULK,
    SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    DeadLetterMessage,
    Failure,
    PairKey,
    RevocationError,
    RevocationRequest,
    ViewerSession,
    sqs_message_bytes,
    sqs_safe,
    to_sqs_json,
    truncate_utf8,
)
from ivs_revocation.outcomes import RecordVerdict
from ivs_revocation.plan import merge_sessions

_Item = TypeVar("_Item")


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
    # A dead letter's pairs with the error each carries (what its outcome event reports once written).
    failed: tuple[tuple[ViewerSession, RevocationError], ...] = ()


@dataclass(slots=True)
class Settlement:
    verdicts: dict[str, RecordVerdict] = field(default_factory=dict)
    # The pairs each record revoked, by message id (a record with none is absent).
    revoked: dict[str, list[ViewerSession]] = field(default_factory=dict)
    dead_letters: list[OutboundMessage] = field(default_factory=list)
    requeued: list[OutboundMessage] = field(default_factory=list)
    sent_to_bulk: list[OutboundMessage] = field(default_factory=list)


def settle(
    records: Sequence[SourceRecord],
    revoked: set[PairKey],
    failures: Mapping[PairKey, Failure],
    max_receive_count: int,
    *,
    requeue_not_started: bool = False,
    beyond_bound: Mapping[str, Sequence[ViewerSession]] | None = None,
) -> Settlement:
    """`beyond_bound` holds, by message id, the pairs of a record that its lane did not send (the
    record's intake holds those it sent)."""
    settlement = Settlement()
    beyond_bound = beyond_bound or {}
    for record in records:
        intake = record.intake
        if isinstance(intake, InvalidRequest):
            settlement.verdicts[record.message_id] = outcomes.invalid_record(intake.reason).verdict
            settlement.dead_letters.append(_invalid(record, intake))
            continue
        outcome = outcomes.record_outcome(
            # A record's own pairs, each once: what it asked for, whatever other records asked.
            merge_sessions(intake.sessions).values(),
            revoked,
            failures,
            last_attempt=record.receive_count >= max_receive_count,
            requeue=requeue_not_started,
            beyond_bound=beyond_bound.get(record.message_id, ()),
        )
        settlement.verdicts[record.message_id] = outcome.verdict
        if outcome.revoked:
            settlement.revoked[record.message_id] = list(outcome.revoked)
        settlement.dead_letters.extend(_failed_pairs(record, intake.request_id, outcome.dead_letter))
        if outcome.requeue:
            settlement.requeued.extend(_requests(record, intake.request_id, outcome.requeue, CODE_NOT_STARTED))
        if outcome.send_on:
            settlement.sent_to_bulk.extend(_requests(record, intake.request_id, outcome.send_on, CODE_SENT_TO_BULK))
    return settlement


def _requests(
    record: SourceRecord, request_id: str | None, sessions: Sequence[ViewerSession], code: str
) -> list[OutboundMessage]:
    """Pairs as new requests on behalf of the record (its requestId kept), each within a source queue's
    size: the pairs not started, for the source queue; those beyond the bound, for the bulk queue."""
    attributes = _attribute_values({ATTR_SOURCE_MESSAGE_ID: record.message_id, ATTR_REQUEST_ID: request_id or ""})

    def message(chunk: Sequence[ViewerSession]) -> OutboundMessage:
        body = RevocationRequest(viewer_sessions=list(chunk), request_id=request_id).to_json()
        return OutboundMessage(record.message_id, body, attributes, code, len(chunk))

    chunks = pack(
        sessions,
        alone=lambda session: _size(message([session])),
        added=lambda session: len(",") + json_bytes(session.to_api()),
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
    record: SourceRecord, request_id: str | None, failed: Sequence[tuple[ViewerSession, Failure]]
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
        return OutboundMessage(record.message_id, body, attributes, code, len(chunk), tuple(chunk))

    chunks = pack(
        pairs,
        alone=lambda pair: _size(letter([pair])),
        # The pair's session and its error, each after a comma in its list.
        added=lambda pair: 2 * len(",") + json_bytes(pair[0].to_api()) + json_bytes(pair[1].to_api()),
        # A redrive moves the letter, attributes and all, into the source queue: it must fit that queue.
        limit=SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    )
    return [letter(chunk) for chunk in chunks]


def pack(
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


def json_bytes(value: object) -> int:
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
