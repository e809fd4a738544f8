"""The queue writer: the only code that writes to SQS (dead letters, and requests put back on the queue)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ivs_revocation.adapters import clients as aws_clients
from ivs_revocation.models import SQS_MAX_BATCH_ENTRIES, SQS_MAX_MESSAGE_BYTES, sqs_message_bytes
from ivs_revocation.observability import logger
from ivs_revocation.settle import OutboundMessage


class SqsMessageWriter:
    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self._queue_url = queue_url
        self._client = client  # made on first use: most invocations write nothing

    @property
    def client(self) -> Any:
        if self._client is None:
            # Here botocore's standard retry mode fits: there is no quota of ours to respect, and it
            # backs off with jitter on throttling and 5xx.
            self._client = aws_clients.client("sqs", config=Config(retries={"mode": "standard", "max_attempts": 4}))
        return self._client

    def send(self, letters: Sequence[OutboundMessage]) -> set[int]:
        """Sends every letter; returns the indexes of those that could not be written."""
        failed: set[int] = set()
        for batch in _batches(letters):
            entries = [
                {
                    "Id": str(index),
                    "MessageBody": letters[index].body,
                    "MessageAttributes": {
                        name: {"DataType": "String", "StringValue": value}
                        for name, value in letters[index].attributes.items()
                    },
                }
                for index in batch
            ]
            try:
                response = self.client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            except (ClientError, BotoCoreError):
                logger.exception(
                    "message batch not written", extra={"queue_url": self._queue_url, "entries": len(entries)}
                )
                failed.update(batch)
                continue
            for entry in response.get("Failed") or []:
                logger.error("message not written", extra={"queue_url": self._queue_url, "code": entry.get("Code")})
                failed.add(int(entry["Id"]))
        return failed


def _batches(letters: Sequence[OutboundMessage]) -> list[list[int]]:
    # A SendMessageBatch request takes at most SQS_MAX_BATCH_ENTRIES entries, and as many bytes of
    # bodies and attributes together as one message may hold.
    batches: list[list[int]] = [[]]
    size = 0
    for index, letter in enumerate(letters):
        added = sqs_message_bytes(letter.body, letter.attributes)
        if batches[-1] and (len(batches[-1]) == SQS_MAX_BATCH_ENTRIES or size + added > SQS_MAX_MESSAGE_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(index)
        size += added
    return [batch for batch in batches if batch]
