"""The revocation service: intake, plan, revoke and settle one batch of SQS records.

Each record is admitted alone (`_admit`, the isolation boundary: nothing about one record can fail the
others), then the admitted pairs of all records are planned, revoked and settled together. Pairs
outside the deployment's scope are refused there, before any call. Side effects come in through
ports (the IVS gateway and the queue writers), so that unit tests pass in-memory fakes and the
domain modules stay pure. Both lanes are this service: the urgent lane's has
a single-pair gateway, calls of one pair, and an overflow writer to the bulk queue, to which it sends
the pairs of a message beyond MAX_PAIRS_PER_MESSAGE.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Protocol, cast

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ivs_revocation import names, outcomes
from ivs_revocation.intake import ValidRequest, read_request, unreadable
from ivs_revocation.models import MAX_SESSIONS_PER_CALL, Lane, PairKey, ViewerSession
from ivs_revocation.observability import logger, metrics, tracer
from ivs_revocation.outcome_events import EarlyEvents, OutcomeEvent, PublishReport, Unpublished, outcome_events
from ivs_revocation.outcomes import RecordVerdict
from ivs_revocation.plan import PlannedCall, Scope, admit, deployment_scope, merge_sessions, plan_calls
from ivs_revocation.revoke import RevocationGateway, Revoker, RevokeReport
from ivs_revocation.settings import FunctionSettings
from ivs_revocation.settle import OutboundMessage, Settlement, SourceRecord, settle

# Kept at the end of an invocation, after the outcome events, for the response and the metrics.
PUBLISH_RESERVE_SECONDS = 0.25


class MessageWriter(Protocol):
    def send(self, messages: Sequence[OutboundMessage]) -> set[int]:
        """Writes the messages to its queue; returns the indexes of those that could not be written."""
        ...


class EventPublisher(Protocol):
    def put(self, entries: Sequence[dict[str, str]], entry_bytes: Sequence[int], deadline: float) -> PublishReport:
        """Puts the entries in calls started before `deadline`; reports those that could not be put."""
        ...


class InvocationContext(Protocol):
    """What the service reads of a LambdaContext: the time left, and the function's ARN (its account)."""

    @property
    def invoked_function_arn(self) -> str: ...

    def get_remaining_time_in_millis(self) -> int: ...


class RevocationService:
    def __init__(
        self,
        settings: FunctionSettings,
        gateway: RevocationGateway,
        dead_letters: MessageWriter,
        requeue: MessageWriter | None = None,
        *,
        overflow: MessageWriter | None = None,
        events: EventPublisher | None = None,
        pairs_per_call: int = MAX_SESSIONS_PER_CALL,
        operation: str = names.OPERATION_BATCH,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        background: Executor | None = None,
    ) -> None:
        """`overflow`: where the pairs of a message beyond `settings.max_pairs_per_message` go (the
        bulk queue); without it, every pair of a message is sent here. `events`: where the outcome events
        go (to settings.outcome_event_bus_name); without it, none are put. `operation` names the gateway's
        IVS operation in the metrics; `wall_clock` is compared with SQS's SentTimestamp. `background`
        puts the outcome events while the calls go on (by default one thread, made on first use)."""
        self._settings = settings
        self._dead_letters = dead_letters
        self._requeue = requeue
        self._overflow = overflow
        self._events = events if settings.outcome_event_bus_name else None
        self._pairs_per_call = pairs_per_call
        self._operation = operation
        self._clock = clock
        self._wall_clock = wall_clock
        self._background = background
        self._revoker = Revoker(
            gateway,
            calls_per_second=settings.ivs_calls_per_second,
            max_attempts=settings.ivs_max_attempts,
            call_timeout=settings.ivs_call_timeout_seconds,
            clock=clock,
            sleep=sleep,
        )

    @tracer.capture_method(capture_response=False)
    def settle_batch(self, records: Sequence[SQSRecord], lambda_context: InvocationContext) -> dict[str, RecordVerdict]:
        """Returns each record's verdict by message id: retry, or done (revoked, dead-lettered or sent on)."""
        started, started_wall = self._clock(), self._wall_clock()
        deadline = (
            started + lambda_context.get_remaining_time_in_millis() / 1000 - self._settings.time_safety_margin_seconds
        )
        scope = deployment_scope(
            lambda_context.invoked_function_arn, self._settings.ivs_regions, self._settings.ivs_accounts
        )
        admitted = [self._admit(record, scope) for record in records]
        sources = [entry.source for entry in admitted]
        pairs_received = sum(entry.pairs_received for entry in admitted)
        beyond = {entry.source.message_id: entry.beyond for entry in admitted if entry.beyond}
        # A pair's scope depends on its channel alone: a refused key is never one that was called.
        refused = {
            session.key: outcomes.out_of_scope(problem) for entry in admitted for session, problem in entry.refused
        }
        calls = plan_calls((entry.to_call for entry in admitted), self._pairs_per_call)
        # Outcome events are the invocation's last work, within the time kept back for them.
        publish_deadline = deadline + self._settings.time_safety_margin_seconds - PUBLISH_RESERVE_SECONDS
        publishing = self._events_in_flight(admitted, publish_deadline)
        report = self._revoker.run(calls, deadline, publishing.revoked if publishing else None)
        settlement = settle(
            sources,
            report.revoked,
            {**report.failures, **refused},
            self._settings.max_receive_count,
            requeue_not_started=outcomes.may_requeue(self._requeue is not None, report.calls),
            beyond_bound=beyond,
        )

        unwritten = self._write(self._dead_letters, settlement.dead_letters)
        unrequeued = self._write(self._requeue, settlement.requeued)
        unsent = self._write(self._overflow, settlement.sent_to_bulk)
        verdicts = outcomes.after_writes(
            settlement.verdicts,
            dead_letters_unwritten=[settlement.dead_letters[index].source_message_id for index in sorted(unwritten)],
            requeues_unwritten=[settlement.requeued[index].source_message_id for index in sorted(unrequeued)],
            sent_on_unwritten=[settlement.sent_to_bulk[index].source_message_id for index in sorted(unsent)],
        )
        wait = longest_wait(
            {record.message_id: record.attributes.sent_timestamp for record in records},
            sources,
            {key: started_wall + (at - started) for key, at in report.accepted_at.items()},
        )
        self._publish(
            sources, pairs_received, calls, report, settlement, verdicts, Unwritten(unwritten, unrequeued, unsent), wait
        )
        # Last: a ban is never delayed by its notification, and what cannot be put changes no verdict.
        if publishing is not None:
            self._put_outcome_events(publishing, sources, settlement, unwritten)
        return verdicts

    def _events_in_flight(self, admitted: Sequence[Admitted], deadline: float) -> _EventsInFlight | None:
        bus = self._settings.outcome_event_bus_name
        if self._events is None or bus is None:
            return None
        if self._background is None:
            # Kept for the instance's life: one thread, so that the publisher's puts never overlap.
            self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outcome-events")
        # Records with pairs refused or beyond the bound settle only with the batch.
        excluded = {entry.source.message_id for entry in admitted if entry.refused or entry.beyond}
        early = EarlyEvents([entry.source for entry in admitted], cast(Lane, self._settings.lane), excluded)
        return _EventsInFlight(self._events, self._background, bus, deadline, early)

    def _put_outcome_events(
        self,
        publishing: _EventsInFlight,
        sources: Sequence[SourceRecord],
        settlement: Settlement,
        dead_letters_unwritten: set[int],
    ) -> None:
        lane = cast(Lane, self._settings.lane)
        began = self._clock()
        publishing.put(outcome_events(sources, settlement, dead_letters_unwritten, lane, publishing.early.given))
        events, calls, unpublished = publishing.finish()
        # After the calls: what publishing held the invocation for (the early puts ran beside the calls).
        took = self._clock() - began
        metrics.add_metric(
            name=names.METRIC_OUTCOME_EVENTS_PUBLISHED, unit=MetricUnit.Count, value=events - len(unpublished)
        )
        # Every invocation, 0 included, as DeadLettersUnwritten: its alarm has data rather than a gap.
        metrics.add_metric(name=names.METRIC_OUTCOME_EVENTS_UNPUBLISHED, unit=MetricUnit.Count, value=len(unpublished))
        for event, failure in unpublished:
            # Whole, so that it can be replayed from the logs (PutEvents with this entry).
            logger.warning(
                "outcome event not published",
                extra={
                    "entry": event.entry(publishing.bus),
                    "error_code": failure.code,
                    "error_message": failure.message,
                },
            )
        if events:
            # What publishing cost this invocation (the benchmark reads it).
            logger.info(
                "outcome events put",
                extra={
                    "events": events,
                    "events_put_early": publishing.put_early,
                    "unpublished": len(unpublished),
                    "put_calls": calls,
                    "put_seconds": round(took, 4),
                },
            )

    def _admit(self, record: SQSRecord, scope: Scope) -> Admitted:
        """One record read, validated, scope-checked and bounded: the isolation boundary.

        Everything done to one record alone happens inside this `try`, and whatever it raises becomes
        that record's InvalidRequest (dead-lettered with its body and the exception's type), while the
        other records go on. It is here, around every per-record step rather than around a list of
        exceptions known today, because an exception leaving settle_batch fails the whole invocation:
        SQS would deliver every record of the batch again, innocent ones included, and at last move
        them all to the dead-letter queue without a reason. Past this point (plan, revoke, settle)
        only admitted, valid values travel.
        """
        message_id, body = record.message_id, record.body
        receive_count = _receive_count(record.attributes.approximate_receive_count)
        try:
            intake = read_request(body)
            if not isinstance(intake, ValidRequest):
                return Admitted(SourceRecord(message_id, receive_count, body, intake))
            bound = self._settings.max_pairs_per_message if self._overflow is not None else None
            admission = admit(intake.sessions, scope, bound)
            # What settle accounts for: the pairs called, and those refused before any call.
            accounted = (*admission.to_call, *(session for session, _ in admission.refused))
            source = SourceRecord(message_id, receive_count, body, dataclasses.replace(intake, sessions=accounted))
            return Admitted(source, len(intake.sessions), admission.to_call, admission.refused, admission.beyond)
        except Exception as error:
            # The type and where it was raised, not its text: that may quote the body (a viewer ID).
            frames = traceback.extract_tb(error.__traceback__)
            where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else None
            logger.warning(
                "record could not be admitted",
                extra={"message_id": message_id, "error_type": type(error).__name__, "raised_at": where},
            )
            return Admitted(SourceRecord(message_id, receive_count, body, unreadable(error)))

    @staticmethod
    def _write(writer: MessageWriter | None, messages: list[OutboundMessage]) -> set[int]:
        return writer.send(messages) if writer is not None and messages else set()

    def _publish(
        self,
        sources: Sequence[SourceRecord],
        pairs_received: int,
        calls: Sequence[PlannedCall],
        report: RevokeReport,
        settlement: Settlement,
        verdicts: dict[str, RecordVerdict],
        failed_writes: Unwritten,
        wait: float | None,
    ) -> None:
        letters = settlement.dead_letters
        unwritten = failed_writes.dead_letters
        requeued = _pairs_written(settlement.requeued, failed_writes.requeued)
        sent_to_bulk = _pairs_written(settlement.sent_to_bulk, failed_writes.sent_to_bulk)
        invalid = sum(1 for source in sources if not isinstance(source.intake, ValidRequest))
        retried = sum(1 for verdict in verdicts.values() if verdict.retry)
        metrics.add_metric(name=names.METRIC_PAIRS_RECEIVED, unit=MetricUnit.Count, value=pairs_received)
        metrics.add_metric(name=names.METRIC_PAIRS_REVOKED, unit=MetricUnit.Count, value=len(report.revoked))
        metrics.add_metric(name=names.METRIC_INVALID_MESSAGES, unit=MetricUnit.Count, value=invalid)
        metrics.add_metric(name=names.METRIC_IVS_CALLS, unit=MetricUnit.Count, value=report.calls)
        metrics.add_metric(name=names.METRIC_THROTTLED_CALLS, unit=MetricUnit.Count, value=report.throttled_calls)
        metrics.add_metric(name=names.METRIC_RECORDS_RETRIED, unit=MetricUnit.Count, value=retried)
        metrics.add_metric(name=names.METRIC_PAIRS_REQUEUED, unit=MetricUnit.Count, value=requeued)
        metrics.add_metric(name=names.METRIC_PAIRS_SENT_TO_BULK, unit=MetricUnit.Count, value=sent_to_bulk)
        # Per operation too, for the throttle alarm of each operation's quota: two values, bounded.
        _dimensioned(names.METRIC_IVS_CALLS, report.calls, MetricUnit.Count, names.DIMENSION_OPERATION, self._operation)
        _dimensioned(
            names.METRIC_THROTTLED_CALLS,
            report.throttled_calls,
            MetricUnit.Count,
            names.DIMENSION_OPERATION,
            self._operation,
        )
        # By account: only accounts in the scope are ever called, so the values are bounded.
        for account, count in report.calls_by_account.items():
            _dimensioned(names.METRIC_IVS_CALLS, count, MetricUnit.Count, names.DIMENSION_ACCOUNT, account)
            throttled = report.throttled_by_account[account]
            _dimensioned(names.METRIC_THROTTLED_CALLS, throttled, MetricUnit.Count, names.DIMENSION_ACCOUNT, account)
        if wait is not None:
            _dimensioned(
                names.METRIC_PAIR_WAIT_SECONDS, wait, MetricUnit.Seconds, names.DIMENSION_LANE, self._settings.lane
            )
            if self._settings.lane == names.LANE_URGENT:
                _urgent_wait_by_cold_start(wait)
        # Every invocation, 0 included, so that its alarm has data rather than a gap to guess about.
        metrics.add_metric(name=names.METRIC_DEAD_LETTERS_UNWRITTEN, unit=MetricUnit.Count, value=len(unwritten))

        by_code: dict[str, int] = {}
        for index, letter in enumerate(letters):
            if index not in unwritten:
                by_code[letter.code] = by_code.get(letter.code, 0) + max(letter.pairs, 1)
        metrics.add_metric(name=names.METRIC_PAIRS_DEAD_LETTERED, unit=MetricUnit.Count, value=sum(by_code.values()))
        for code, count in by_code.items():
            # Codes are few (HTTP statuses and exception names), so they make a bounded dimension.
            _dimensioned(names.METRIC_PAIRS_DEAD_LETTERED, count, MetricUnit.Count, names.DIMENSION_ERROR_CODE, code)

        for source in sources:
            verdict = verdicts[source.message_id]
            if verdict.retry or verdict.dead_lettered or verdict.requeued or verdict.sent_to_bulk:
                logger.info(
                    "record settled",
                    extra={
                        "message_id": source.message_id,
                        "request_id": source.intake.request_id,
                        "receive_count": source.receive_count,
                        "retry": verdict.retry,
                        "reason": verdict.reason or None,
                        "pairs_revoked": verdict.revoked,
                        "pairs_dead_lettered": verdict.dead_lettered,
                        "pairs_requeued": verdict.requeued,
                        "pairs_sent_to_bulk": verdict.sent_to_bulk,
                    },
                )
        logger.info(
            "batch settled",
            extra={
                "lane": self._settings.lane,
                "records": len(sources),
                "invalid_records": invalid,
                "pairs_received": pairs_received,
                "pairs_revoked": len(report.revoked),
                "calls_planned": len(calls),
                "ivs_calls": report.calls,
                "throttled_calls": report.throttled_calls,
                "calls_not_started": report.not_started_calls,
                "dead_letter_messages": len(letters) - len(unwritten),
                "dead_letter_messages_unwritten": len(unwritten),
                "records_retried": retried,
                "pairs_requeued": requeued,
                "pairs_sent_to_bulk": sent_to_bulk,
                "pair_wait_seconds": wait,
            },
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Unwritten:
    """The indexes of the messages of each kind that could not be written."""

    dead_letters: set[int]
    requeued: set[int]
    sent_to_bulk: set[int]


class _EventsInFlight:
    """One invocation's outcome events, put on the background thread as they become final: a record's
    as soon as its last pair is revoked (EarlyEvents), while the calls go on, the rest once the batch
    is settled. Putting them all after the calls held every invocation, and the lane's share of the
    IVS quota, for the PutEvents round trips of a whole batch."""

    def __init__(
        self, publisher: EventPublisher, background: Executor, bus: str, deadline: float, early: EarlyEvents
    ) -> None:
        self._publisher = publisher
        self._background = background
        self.bus = bus
        self._deadline = deadline
        self.early = early
        self.put_early = 0
        self._puts: list[tuple[list[OutcomeEvent], Future[PublishReport]]] = []

    def revoked(self, keys: list[PairKey]) -> None:
        """The Revoker's report of an answered call: the events this settles are put now."""
        try:
            events = self.early.revoked(keys)
        except Exception:
            # Never a reason to stop revoking: what was not given early is put with the rest.
            logger.exception("outcome events could not be made early")
            return
        self.put_early += len(events)
        self.put(events)

    def put(self, events: list[OutcomeEvent]) -> None:
        if not events:
            return
        entries = [event.entry(self.bus) for event in events]
        sizes = [event.entry_bytes for event in events]
        self._puts.append((events, self._background.submit(self._publisher.put, entries, sizes, self._deadline)))

    def finish(self) -> tuple[int, int, list[tuple[OutcomeEvent, Unpublished]]]:
        """Waits for every put; returns the events, the PutEvents calls, and each event not put."""
        events = calls = 0
        unpublished: list[tuple[OutcomeEvent, Unpublished]] = []
        for put, done in self._puts:
            events += len(put)
            try:
                report = done.result()
            except Exception as error:  # a publisher that raised: nothing of this put is known to be put
                report = PublishReport(0, [Unpublished(i, type(error).__name__, "") for i in range(len(put))])
            calls += report.calls
            unpublished += [(put[failure.index], failure) for failure in report.unpublished]
        return events, calls, unpublished


@dataclasses.dataclass(frozen=True, slots=True)
class Admitted:
    """One record past the isolation boundary: the record as settle sees it (a valid intake holds the
    pairs called and those refused), its pairs as received, and what plan.admit made of them."""

    source: SourceRecord
    pairs_received: int = 0
    to_call: tuple[ViewerSession, ...] = ()
    refused: tuple[tuple[ViewerSession, str], ...] = ()
    beyond: tuple[ViewerSession, ...] = ()


def _receive_count(value: str | None) -> int:
    # SQS's ApproximateReceiveCount; anything else counts as a first delivery.
    return int(value) if value is not None and value.isascii() and value.isdigit() else 1


def longest_wait(
    sent_timestamps: Mapping[str, str | None], sources: Sequence[SourceRecord], accepted_at: Mapping[PairKey, float]
) -> float | None:
    """The longest time, in seconds, from a record's SQS SentTimestamp (epoch milliseconds) to the
    accepted call of the last of its pairs that was revoked (`accepted_at`, epoch seconds), over the
    records with a revoked pair; None when there is none."""
    waits: list[float] = []
    for source in sources:
        sent = sent_timestamps.get(source.message_id)
        if not isinstance(source.intake, ValidRequest) or not sent or not (sent.isascii() and sent.isdigit()):
            continue
        accepted = [accepted_at[key] for key in merge_sessions(source.intake.sessions) if key in accepted_at]
        if accepted:
            # Lambda's clock and SQS's may differ a little: a wait is never negative.
            waits.append(max(0.0, max(accepted) - int(sent) / 1000))
    return max(waits, default=None)


def _pairs_written(messages: Sequence[OutboundMessage], unwritten: set[int]) -> int:
    return sum(message.pairs for index, message in enumerate(messages) if index not in unwritten)


def _urgent_wait_by_cold_start(wait: float) -> None:
    """The urgent lane's PairWaitSeconds again, split by Powertools' cold-start flag (which
    `logger.inject_lambda_context` puts in the log keys), so that the dashboard shows the cold path."""
    cold = "true" if logger.get_current_keys().get("cold_start") is True else "false"
    with single_metric(
        name=names.METRIC_PAIR_WAIT_SECONDS,
        unit=MetricUnit.Seconds,
        value=wait,
        namespace=names.METRICS_NAMESPACE,
        default_dimensions={"service": names.SERVICE_NAME},
    ) as metric:
        metric.add_dimension(name=names.DIMENSION_LANE, value=names.LANE_URGENT)
        metric.add_dimension(name=names.DIMENSION_COLD_START, value=cold)


def _dimensioned(name: str, value: float, unit: MetricUnit, dimension: str, dimension_value: str) -> None:
    """`name` emitted on its own, with the dimension `dimension` beside `service`."""
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=names.METRICS_NAMESPACE,
        default_dimensions={"service": names.SERVICE_NAME},
    ) as metric:
        metric.add_dimension(name=dimension, value=dimension_value)
