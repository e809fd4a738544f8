"""The SQS event Lambda's event source mapping passes the function, built in one place.

The runner builds it from what ReceiveMessage returned (system and message attributes 'All'); unit
tests and benchmarks, which invoke the handler with no queue, build it from `received_message`, a
message as ReceiveMessage would have returned it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

# What a first delivery carries besides ApproximateReceiveCount, for messages made without a queue.
_SENT_ATTRIBUTES = {
    "SentTimestamp": "1767225600000",
    "SenderId": "AIDAEXAMPLE",
    "ApproximateFirstReceiveTimestamp": "1767225600001",
}


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event for a batch of ReceiveMessage messages."""
    return {"Records": [sqs_record(message, queue_arn, region) for message in messages]}


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event: every system attribute as a string, message attributes as Lambda writes them."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: str(value) for name, value in (message.get("Attributes") or {}).items()},
        "messageAttributes": {
            name: _message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def received_message(body: str, number: int, receive_count: int = 1) -> dict[str, Any]:
    """Message `number` as ReceiveMessage returns it, with no message attributes."""
    return {
        "MessageId": f"00000000-0000-4000-8000-{number:012d}",
        "ReceiptHandle": f"handle-{number}",
        "Body": body,
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "Attributes": {"ApproximateReceiveCount": str(receive_count), **_SENT_ATTRIBUTES},
    }


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # In the event, binary values are base64 text, and the list fields are always present.
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [base64.b64encode(item).decode() for item in value.get("BinaryListValues") or []]
    attribute["dataType"] = value["DataType"]
    return attribute
