"""SQS calls that the DLQ commands and the local stack share: batches, receive, visibility, counts, names.

Each takes a client (from `ivs_revoke.aws`, or the local stack's); the limits are ivs_revocation.models'.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, TypeVar

from ivs_revocation.models import SQS_MAX_BATCH_ENTRIES
from ivs_revoke.errors import ConfigurationError

T = TypeVar("T")

# What GetQueueAttributes counts, by the names the counts go by here (without "ApproximateNumberOf").
_COUNT_ATTRIBUTES: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)

# A count or a timestamp as SQS writes it: ASCII digits that fit a 64-bit integer. `str.isdigit` is not
# enough for text a producer wrote (an attribute of a message moved bare): it accepts "²", which `int`
# refuses, and any number of digits, past Python's 4,300-digit limit for `int`.
_WHOLE_NUMBER: Final = re.compile(r"[0-9]{1,18}")


def whole_number(text: str) -> int | None:
    """`text` as a whole number when it is one as SQS writes them (e.g. SentTimestamp), else None."""
    return int(text) if _WHOLE_NUMBER.fullmatch(text) else None


def batches(items: Iterable[T], size: int = SQS_MAX_BATCH_ENTRIES) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items: what one batch call (or one receive) takes."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def receive(sqs: Any, queue_url: str, *, visibility_timeout: int, wait_seconds: int) -> list[dict[str, Any]]:
    """One ReceiveMessage of as many messages as SQS gives, with every attribute."""
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=SQS_MAX_BATCH_ENTRIES,
        VisibilityTimeout=visibility_timeout,
        WaitTimeSeconds=wait_seconds,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    )
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages


def make_visible(sqs: Any, queue_url: str, receipt_handles: Iterable[str]) -> None:
    """Makes received messages visible again at once."""
    for batch in batches(receipt_handles):
        entries = [
            {"Id": str(number), "ReceiptHandle": handle, "VisibilityTimeout": 0} for number, handle in enumerate(batch)
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def delete(sqs: Any, queue_url: str, receipt_handles: Sequence[str]) -> dict[str, Any]:
    """DeleteMessageBatch of at most SQS_MAX_BATCH_ENTRIES handles; entry ids are their indexes."""
    entries = [{"Id": str(number), "ReceiptHandle": handle} for number, handle in enumerate(receipt_handles)]
    response: dict[str, Any] = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    return response


def queue_counts(sqs: Any, queue_url: str) -> dict[str, int]:
    """The queue's approximate counts: Messages (visible), MessagesNotVisible (in flight), MessagesDelayed."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(_COUNT_ATTRIBUTES))
    values = attributes.get("Attributes", {})
    return {name.removeprefix("ApproximateNumberOf"): int(values.get(name, 0)) for name in _COUNT_ATTRIBUTES}


def queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])


def queue_url_of(sqs: Any, arn: str) -> str:
    """A queue's URL from its ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ConfigurationError(f"{arn} is not the ARN of an SQS queue")
    return str(sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"])


def rule_may_send(queue_arn: str, rule_arn: str, sid: str) -> str:
    """A queue policy letting EventBridge deliver the events of one rule (and of no other) to the queue."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
    )
