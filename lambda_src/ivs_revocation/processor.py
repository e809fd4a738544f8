"""A Powertools batch processor for which one batch of records is one unit of work.

The stock processors call the record handler once per record; merging the pairs of many records into
one API call needs the whole batch at once. This processor (Powertools' documented extension point,
`BasePartialBatchProcessor`) calls its handler once with every record, then reports each record as
Powertools does: `batchItemFailures` for the records to retry, and BatchProcessingError when every
record failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import BasePartialBatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ivs_revocation.outcomes import RecordVerdict

BatchHandler = Callable[[Sequence[SQSRecord], Any], Mapping[str, RecordVerdict]]


class RecordNotSettled(Exception):
    """A record SQS must deliver again: some of its pairs failed for a reason that may pass."""


class WholeBatchProcessor(BasePartialBatchProcessor):
    def __init__(self, logger: Any | None = None) -> None:
        # Raising when every record failed is deliberate: it is what happens when IVS throttles or
        # denies everything, and a function error makes Lambda's poller back off, which is what a
        # throttled downstream needs. The raise happens instead of a response that lists every
        # record, so no message is deleted either way.
        super().__init__(EventType.SQS, raise_on_entire_batch_failure=True, logger=logger)

    def process(self) -> list[tuple[Any, ...]]:
        records = [SQSRecord(record) for record in self.records]
        handler: BatchHandler = self.handler
        verdicts = handler(records, self.lambda_context)
        return [self._report(record, verdicts[record.message_id]) for record in records]

    def _report(self, record: SQSRecord, verdict: RecordVerdict) -> tuple[Any, ...]:
        if not verdict.retry:
            return self.success_handler(record=record, result=verdict)
        # Without a traceback: the service has logged the record with its reason ("record settled"),
        # and Powertools would add a warning with a stack trace that says nothing more.
        return self.failure_handler(record=record, exception=(RecordNotSettled, RecordNotSettled(verdict.reason), None))

    def _process_record(self, record: dict[str, Any]) -> Any:
        raise NotImplementedError("records are processed as one batch; see process()")

    async def _async_process_record(self, record: dict[str, Any]) -> Any:
        raise NotImplementedError("records are processed as one batch; see process()")
