"""The queue writer: the only code that writes to SQS (dead letters, and requests put back on the queue)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from revocation.observability import logger
from revocation.settle import OutboundMessage

# SendMessageBatch takes at most 10 entries and 256 KiB of bodies and attributes together.
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 262_144


class SqsMessageWriter:
    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self._queue_url = queue_url
        self._client = client  # made on first use: most invocations write nothing

    @property
    def client(self) -> Any:
        if self._client is None:
            # Here botocore's standard retry mode fits: there is no quota of ours to respect, and it
            # backs off with jitter on throttling and 5xx.
            self._client = boto3.client("sqs", config=Config(retries={"mode": "standard", "max_attempts": 4}))
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
    batches: list[list[int]] = [[]]
    size = 0
    for index, letter in enumerate(letters):
        added = _size(letter)
        if batches[-1] and (len(batches[-1]) == MAX_BATCH_ENTRIES or size + added > MAX_BATCH_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(index)
        size += added
    return [batch for batch in batches if batch]


def _size(letter: OutboundMessage) -> int:
    # SQS counts the body plus each attribute's name, type and value.
    return len(letter.body.encode()) + sum(
        len(name.encode()) + len("String") + len(value.encode()) for name, value in letter.attributes.items()
    )
