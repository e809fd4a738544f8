"""Outcome events: what each record's settled pairs became, as "Viewer Session Revocation Settled" details.

Pure: built from the settlement and from which of its dead letters were written. A pair is in an event
when it is settled: revoked, or in a dead letter that was written. Pairs to be retried by SQS, requeued,
sent to the bulk queue, or in a dead letter that could not be written (their record is retried) are in
no event yet: the record that settles them reports them later, with the same requestId. A message that
is not a valid request is reported FAILED with its reason once its dead letter is written.

A record's event is cut so that each entry stays within OUTCOME_EVENT_MAX_ENTRY_BYTES; each part has the
record's requestId and sourceMessageId, and its own status.

`EarlyEvents` gives the events of the records settled before the batch is (every pair revoked), so that
they are put while the invocation's other calls wait for the quota; `outcome_events` then leaves them out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from ivs_revocation.intake import InvalidRequest, ValidRequest
from ivs_revocation.models import (
    ATTRIBUTE_VALUE_MAX_BYTES,
    CODE_INVALID_MESSAGE,
    EVENT_SOURCE,
    OUTCOME_EVENT_DETAIL_TYPE,
    OUTCOME_EVENT_MAX_ENTRY_BYTES,
    STATUS_FAILED,
    STATUS_PARTIALLY_REVOKED,
    STATUS_REVOKED,
    FailedPair,
    InvalidMessageOutcome,
    Lane,
    OutcomeStatus,
    PairKey,
    RevocationSettled,
    SettledPair,
    eventbridge_entry_bytes,
    truncate_utf8,
)
from ivs_revocation.plan import merge_sessions
from ivs_revocation.settle import Settlement, SourceRecord, json_bytes, pack


@dataclass(frozen=True, slots=True)
class OutcomeEvent:
    """One PutEvents entry to be: the detail, and its JSON as put (`Detail`)."""

    detail: RevocationSettled
    detail_json: str

    @property
    def entry_bytes(self) -> int:
        return eventbridge_entry_bytes(EVENT_SOURCE, OUTCOME_EVENT_DETAIL_TYPE, self.detail_json)

    def entry(self, event_bus_name: str) -> dict[str, str]:
        return {
            "Source": EVENT_SOURCE,
            "DetailType": OUTCOME_EVENT_DETAIL_TYPE,
            "Detail": self.detail_json,
            "EventBusName": event_bus_name,
        }


@dataclass(frozen=True, slots=True)
class Unpublished:
    """An entry that could not be put (its index among those given), and why (the last code seen)."""

    index: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class PublishReport:
    """What putting the events took (PutEvents calls), and what could not be put."""

    calls: int
    unpublished: list[Unpublished]


def status_of(revoked: int, failed: int) -> OutcomeStatus:
    if revoked and not failed:
        return STATUS_REVOKED
    return STATUS_PARTIALLY_REVOKED if revoked else STATUS_FAILED


def outcome_events(
    sources: Sequence[SourceRecord],
    settlement: Settlement,
    dead_letters_unwritten: Collection[int],
    lane: Lane,
    already: Collection[str] = (),
) -> list[OutcomeEvent]:
    """The events of the records' settled pairs, in the records' order; none for the records whose
    message ids are in `already` (their events were given by EarlyEvents)."""
    failed: dict[str, list[FailedPair]] = {}
    invalid_written: set[str] = set()
    for index, letter in enumerate(settlement.dead_letters):
        if index in dead_letters_unwritten:
            continue
        if letter.code == CODE_INVALID_MESSAGE and not letter.failed:
            invalid_written.add(letter.source_message_id)
        failed.setdefault(letter.source_message_id, []).extend(
            FailedPair(
                channel_arn=session.channel_arn,
                viewer_id=session.viewer_id,
                version=session.version,
                code=error.code or "",
                message=error.message or "",
            )
            for session, error in letter.failed
        )

    events: list[OutcomeEvent] = []
    for record in sources:
        message_id, intake = record.message_id, record.intake
        if message_id in already:
            continue
        if isinstance(intake, InvalidRequest):
            if message_id in invalid_written:
                reason = truncate_utf8(intake.reason, ATTRIBUTE_VALUE_MAX_BYTES)
                detail = RevocationSettled(
                    request_id=intake.request_id,
                    source_message_id=message_id,
                    lane=lane,
                    status=STATUS_FAILED,
                    invalid_message=InvalidMessageOutcome(reason=reason),
                )
                events.append(OutcomeEvent(detail, detail.to_json()))
            continue
        revoked = [SettledPair.of(session) for session in settlement.revoked.get(message_id, ())]
        events.extend(_record_events(intake.request_id, message_id, lane, revoked, failed.get(message_id, [])))
    return events


class EarlyEvents:
    """The events of the records settled before their batch is: a valid record whose every pair has
    been revoked by the calls made so far.

    Such a record can only settle as revoked, whatever the batch's other calls do: a pair that a call
    revoked is never failed afterwards, and settle gives a record whose pairs are all revoked no
    dead letter, retry or requeue. So its event is final the moment its last pair is revoked, and is
    the one `outcome_events` would give (`test_outcome_events` checks both ways over arbitrary
    batches). Records with pairs refused before any call, or beyond their lane's bound, are left to
    the end (`excluded`): they are never all revoked here.
    """

    def __init__(self, sources: Sequence[SourceRecord], lane: Lane, excluded: Collection[str] = ()) -> None:
        self._lane = lane
        self._requests: dict[str, ValidRequest] = {}
        self._unrevoked: dict[str, set[PairKey]] = {}
        self._records_of: dict[PairKey, list[str]] = {}
        for record in sources:
            intake = record.intake
            if not isinstance(intake, ValidRequest) or record.message_id in excluded or not intake.sessions:
                continue
            keys = {session.key for session in intake.sessions}
            self._requests[record.message_id] = intake
            self._unrevoked[record.message_id] = keys
            for key in keys:
                self._records_of.setdefault(key, []).append(record.message_id)
        # The records whose events have been given.
        self.given: set[str] = set()

    def revoked(self, keys: Iterable[PairKey]) -> list[OutcomeEvent]:
        """The events of the records that these newly revoked pairs settle."""
        settled: list[str] = []
        for key in keys:
            for message_id in self._records_of.pop(key, ()):
                unrevoked = self._unrevoked[message_id]
                unrevoked.discard(key)
                if not unrevoked:
                    settled.append(message_id)
        events: list[OutcomeEvent] = []
        for message_id in settled:
            intake = self._requests[message_id]
            revoked = [SettledPair.of(session) for session in merge_sessions(intake.sessions).values()]
            events += _record_events(intake.request_id, message_id, self._lane, revoked, [])
        # Only once every event is made: a record is given whole or not at all.
        self.given.update(settled)
        return events


def _record_events(
    request_id: str | None, message_id: str, lane: Lane, revoked: list[SettledPair], failed: list[FailedPair]
) -> list[OutcomeEvent]:
    if not revoked and not failed:
        return []

    def event(pairs: Sequence[SettledPair]) -> OutcomeEvent:
        chunk_revoked = [pair for pair in pairs if not isinstance(pair, FailedPair)]
        chunk_failed = [pair for pair in pairs if isinstance(pair, FailedPair)]
        detail = RevocationSettled(
            request_id=request_id,
            source_message_id=message_id,
            lane=lane,
            status=status_of(len(chunk_revoked), len(chunk_failed)),
            revoked=chunk_revoked,
            failed=chunk_failed,
        )
        return OutcomeEvent(detail, detail.to_json())

    # Exact sizes, as settle's messages: compact JSON of a list is its items joined by commas (the
    # comma counted for every added item, so at most one byte over when a chunk starts the second list).
    chunks = pack(
        [*revoked, *failed],
        alone=lambda pair: event([pair]).entry_bytes,
        added=lambda pair: len(",") + json_bytes(pair.model_dump(mode="json", by_alias=True)),
        limit=OUTCOME_EVENT_MAX_ENTRY_BYTES,
    )
    return [event(chunk) for chunk in chunks]
