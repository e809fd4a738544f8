"""The revocation service: intake, plan, revoke and settle one batch of SQS records.

Side effects come in through two ports (the IVS gateway and the dead-letter writer), so that unit
tests pass in-memory fakes and the domain modules stay pure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from revocation import names, outcomes
from revocation.intake import ValidRequest, read_request
from revocation.observability import logger, metrics, tracer
from revocation.outcomes import RecordVerdict
from revocation.plan import PlannedCall, plan_calls
from revocation.revoke import RevocationGateway, Revoker, RevokeReport
from revocation.settings import FunctionSettings
from revocation.settle import OutboundMessage, Settlement, SourceRecord, settle


class MessageWriter(Protocol):
    def send(self, messages: Sequence[OutboundMessage]) -> set[int]:
        """Writes the messages to its queue; returns the indexes of those that could not be written."""
        ...


class RemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class RevocationService:
    def __init__(
        self,
        settings: FunctionSettings,
        gateway: RevocationGateway,
        dead_letters: MessageWriter,
        requeue: MessageWriter | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._dead_letters = dead_letters
        self._requeue = requeue
        self._clock = clock
        self._revoker = Revoker(
            gateway,
            calls_per_second=settings.ivs_calls_per_second,
            max_attempts=settings.ivs_max_attempts,
            call_timeout=settings.ivs_call_timeout_seconds,
            clock=clock,
            sleep=sleep,
        )

    @tracer.capture_method(capture_response=False)
    def settle_batch(self, records: Sequence[SQSRecord], lambda_context: RemainingTime) -> dict[str, RecordVerdict]:
        """Returns each record's verdict by message id: retry, or done (revoked or dead-lettered)."""
        deadline = (
            self._clock()
            + lambda_context.get_remaining_time_in_millis() / 1000
            - self._settings.time_safety_margin_seconds
        )
        sources = [
            SourceRecord(
                message_id=record.message_id,
                receive_count=int(record.attributes.approximate_receive_count or 1),
                body=record.body,
                intake=read_request(record.body),
            )
            for record in records
        ]
        valid = [source.intake for source in sources if isinstance(source.intake, ValidRequest)]
        calls = plan_calls(intake.sessions for intake in valid)
        report = self._revoker.run(calls, deadline)
        settlement = settle(
            sources,
            report.revoked,
            report.failures,
            self._settings.max_receive_count,
            requeue_not_started=outcomes.may_requeue(self._requeue is not None, report.calls),
        )

        unwritten = self._write(self._dead_letters, settlement.dead_letters)
        unrequeued = self._write(self._requeue, settlement.requeued) if self._requeue is not None else set()
        verdicts = outcomes.after_writes(
            settlement.verdicts,
            dead_letters_unwritten=[settlement.dead_letters[index].source_message_id for index in sorted(unwritten)],
            requeues_unwritten=[settlement.requeued[index].source_message_id for index in sorted(unrequeued)],
        )
        self._publish(sources, valid, calls, report, settlement, verdicts, unwritten, unrequeued)
        return verdicts

    @staticmethod
    def _write(writer: MessageWriter, messages: list[OutboundMessage]) -> set[int]:
        return writer.send(messages) if messages else set()

    def _publish(
        self,
        sources: Sequence[SourceRecord],
        valid: Sequence[ValidRequest],
        calls: Sequence[PlannedCall],
        report: RevokeReport,
        settlement: Settlement,
        verdicts: dict[str, RecordVerdict],
        unwritten: set[int],
        unrequeued: set[int],
    ) -> None:
        letters = settlement.dead_letters
        requeued = sum(message.pairs for index, message in enumerate(settlement.requeued) if index not in unrequeued)
        pairs_received = sum(len(intake.sessions) for intake in valid)
        invalid = len(sources) - len(valid)
        retried = sum(1 for verdict in verdicts.values() if verdict.retry)
        metrics.add_metric(name=names.METRIC_PAIRS_RECEIVED, unit=MetricUnit.Count, value=pairs_received)
        metrics.add_metric(name=names.METRIC_PAIRS_REVOKED, unit=MetricUnit.Count, value=len(report.revoked))
        metrics.add_metric(name=names.METRIC_INVALID_MESSAGES, unit=MetricUnit.Count, value=invalid)
        metrics.add_metric(name=names.METRIC_IVS_CALLS, unit=MetricUnit.Count, value=report.calls)
        metrics.add_metric(name=names.METRIC_THROTTLED_CALLS, unit=MetricUnit.Count, value=report.throttled_calls)
        metrics.add_metric(name=names.METRIC_RECORDS_RETRIED, unit=MetricUnit.Count, value=retried)
        metrics.add_metric(name=names.METRIC_PAIRS_REQUEUED, unit=MetricUnit.Count, value=requeued)
        # Every invocation, 0 included, so that its alarm has data rather than a gap to guess about.
        metrics.add_metric(name=names.METRIC_DEAD_LETTERS_UNWRITTEN, unit=MetricUnit.Count, value=len(unwritten))

        by_code: dict[str, int] = {}
        for index, letter in enumerate(letters):
            if index not in unwritten:
                by_code[letter.code] = by_code.get(letter.code, 0) + max(letter.pairs, 1)
        metrics.add_metric(name=names.METRIC_PAIRS_DEAD_LETTERED, unit=MetricUnit.Count, value=sum(by_code.values()))
        for code, count in by_code.items():
            # Codes are few (HTTP statuses and exception names), so they make a bounded dimension.
            with single_metric(
                name=names.METRIC_PAIRS_DEAD_LETTERED,
                unit=MetricUnit.Count,
                value=count,
                namespace=names.METRICS_NAMESPACE,
                default_dimensions={"service": names.SERVICE_NAME},
            ) as metric:
                metric.add_dimension(name=names.DIMENSION_ERROR_CODE, value=code)

        for source in sources:
            verdict = verdicts[source.message_id]
            if verdict.retry or verdict.dead_lettered or verdict.requeued:
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
                    },
                )
        logger.info(
            "batch settled",
            extra={
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
            },
        )
