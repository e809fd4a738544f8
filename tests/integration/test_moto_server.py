"""The local SQS (moto's server with local/moto_server.py's patches): under concurrent sends and
deletes, and refusing what SQS refuses (characters outside its set, messages too large in bytes).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ivs_revocation.models import SQS_MAX_MESSAGE_BYTES, sqs_message_bytes
from local.clients import client
from local.moto_process import MotoServer

pytestmark = pytest.mark.integration

# A long queue makes moto's rebuild of its list slow, and the window for the race wide.
BACKLOG = 2000
MESSAGES = 3000


def test_concurrent_sends_and_deletes_lose_nothing_and_bring_nothing_back(moto_server: MotoServer) -> None:
    """Unpatched, moto's delete rebuilds the queue's list without a lock: a send made meanwhile is lost,
    and a message another thread deleted meanwhile comes back. Both show here."""
    sqs = client("sqs", moto_server.url)
    queue_url = sqs.create_queue(QueueName=f"race-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "600"})[
        "QueueUrl"
    ]
    received: set[str] = set()
    lock = threading.Lock()
    sending_done = threading.Event()

    def send_batches(start: int, stop: int) -> None:
        sender = client("sqs", moto_server.url)
        for first in range(start, stop, 10):
            entries = [{"Id": str(i), "MessageBody": str(first + i)} for i in range(10)]
            sender.send_message_batch(QueueUrl=queue_url, Entries=entries)

    send_batches(0, BACKLOG)

    def send() -> None:
        send_batches(BACKLOG, MESSAGES)
        sending_done.set()

    def drain() -> None:
        consumer = client("sqs", moto_server.url)
        empty_after_sending = 0
        while empty_after_sending < 3:
            messages = consumer.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages") or []
            if not messages:
                empty_after_sending += sending_done.is_set()
                continue
            with lock:
                received.update(message["Body"] for message in messages)
            consumer.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    threads = [threading.Thread(target=send), *(threading.Thread(target=drain) for _ in range(3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert len(received) == MESSAGES, f"{MESSAGES - len(received)} sent messages never delivered"
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == (
        "0",
        "0",
    ), "deleted messages came back"


# --- what SQS refuses and moto alone accepts -----------------------------------------------------

# Characters SQS refuses in a body or attribute value; moto's own server takes every one of them.
REFUSED = ["\uffff", "\ufffe", "\u0001", "\u0000", "\u000b", "\ud800"]
SMALL_QUEUE_BYTES = 1024  # the smallest MaximumMessageSize SQS allows


@pytest.fixture
def sqs(moto_server: MotoServer) -> Any:
    return client("sqs", moto_server.url)


def _queue(sqs: Any, **attributes: str) -> str:
    url: str = sqs.create_queue(QueueName=f"contents-{uuid.uuid4().hex[:8]}", Attributes=attributes)["QueueUrl"]
    return url


def _bodies(sqs: Any, queue_url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return [message["Body"] for message in messages]


def _refused(call: Any, **parameters: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as refused:
        call(**parameters)
    error: dict[str, Any] = refused.value.response["Error"]
    return error


@pytest.mark.parametrize("character", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
def test_a_body_with_a_character_outside_sqs_s_set_is_refused(sqs: Any, character: str) -> None:
    queue_url = _queue(sqs)
    error = _refused(sqs.send_message, QueueUrl=queue_url, MessageBody=f"viewer{character}id")
    assert error["Code"] == "InvalidMessageContents"
    assert f"#x{ord(character):X}" in error["Message"]
    assert _bodies(sqs, queue_url) == []


def test_a_string_attribute_value_with_a_character_outside_sqs_s_set_is_refused(sqs: Any) -> None:
    queue_url = _queue(sqs)
    attributes = {"ErrorMessage": {"DataType": "String", "StringValue": "viewer \uffff denied"}}
    error = _refused(sqs.send_message, QueueUrl=queue_url, MessageBody="{}", MessageAttributes=attributes)
    assert error["Code"] == "InvalidMessageContents"
    assert "ErrorMessage" in error["Message"]


def test_tabs_line_breaks_and_characters_beyond_the_bmp_are_taken(sqs: Any) -> None:
    queue_url = _queue(sqs)
    body = "tab\there\r\nline \ud7ff \ue000 \ufffd \U0001f600 \U0010ffff"
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    assert _bodies(sqs, queue_url) == [body]


def test_in_a_batch_only_the_entry_sqs_refuses_fails(sqs: Any) -> None:
    queue_url = _queue(sqs)
    answer = sqs.send_message_batch(
        QueueUrl=queue_url,
        Entries=[{"Id": "good", "MessageBody": "fine"}, {"Id": "bad", "MessageBody": "not\u0000fine"}],
    )
    assert [entry["Id"] for entry in answer["Successful"]] == ["good"]
    (failed,) = answer["Failed"]
    assert (failed["Id"], failed["Code"], failed["SenderFault"]) == ("bad", "InvalidMessageContents", True)
    assert _bodies(sqs, queue_url) == ["fine"]


def test_the_size_limit_counts_utf8_bytes_not_characters(sqs: Any) -> None:
    queue_url = _queue(sqs, MaximumMessageSize=str(SMALL_QUEUE_BYTES))
    two_byte_characters = "é" * (SMALL_QUEUE_BYTES // 2 + 1)
    # Under the limit in characters, which is all moto counts; over it in bytes.
    assert len(two_byte_characters) <= SMALL_QUEUE_BYTES < sqs_message_bytes(two_byte_characters, {})
    error = _refused(sqs.send_message, QueueUrl=queue_url, MessageBody=two_byte_characters)
    assert error["Code"] == "InvalidParameterValue"
    assert error["Message"] == (
        f"One or more parameters are invalid. Reason: Message must be shorter than {SMALL_QUEUE_BYTES} bytes."
    )
    exactly_at_the_limit = "é" * (SMALL_QUEUE_BYTES // 2)
    sqs.send_message(QueueUrl=queue_url, MessageBody=exactly_at_the_limit)
    assert _bodies(sqs, queue_url) == [exactly_at_the_limit]


def test_the_size_limit_counts_message_attributes(sqs: Any) -> None:
    queue_url = _queue(sqs, MaximumMessageSize=str(SMALL_QUEUE_BYTES))
    body = "x" * (SMALL_QUEUE_BYTES - 20)
    attributes = {"ErrorCode": {"DataType": "String", "StringValue": "InvalidMessage"}}
    assert sqs_message_bytes(body, {"ErrorCode": "InvalidMessage"}) > SMALL_QUEUE_BYTES
    error = _refused(sqs.send_message, QueueUrl=queue_url, MessageBody=body, MessageAttributes=attributes)
    assert error["Code"] == "InvalidParameterValue"
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)  # the body alone fits


def test_in_a_batch_an_entry_over_the_queue_s_limit_fails_alone(sqs: Any) -> None:
    queue_url = _queue(sqs, MaximumMessageSize=str(SMALL_QUEUE_BYTES))
    answer = sqs.send_message_batch(
        QueueUrl=queue_url,
        Entries=[{"Id": "small", "MessageBody": "fine"}, {"Id": "large", "MessageBody": "é" * SMALL_QUEUE_BYTES}],
    )
    assert [entry["Id"] for entry in answer["Successful"]] == ["small"]
    (failed,) = answer["Failed"]
    assert (failed["Id"], failed["Code"], failed["SenderFault"]) == ("large", "InvalidParameterValue", True)


def test_a_batch_request_over_sqs_s_maximum_in_bytes_is_refused_whole(sqs: Any) -> None:
    queue_url = _queue(sqs)
    entries = [{"Id": str(i), "MessageBody": "é" * (SQS_MAX_MESSAGE_BYTES // 4 + 1)} for i in range(2)]
    # Half of SQS's maximum in characters, just over it in bytes.
    assert sum(len(e["MessageBody"]) for e in entries) < SQS_MAX_MESSAGE_BYTES
    total = sum(sqs_message_bytes(e["MessageBody"], {}) for e in entries)
    assert total > SQS_MAX_MESSAGE_BYTES
    error = _refused(sqs.send_message_batch, QueueUrl=queue_url, Entries=entries)
    assert error["Code"] == "AWS.SimpleQueueService.BatchRequestTooLong"
    assert error["Message"] == (
        f"Batch requests cannot be longer than {SQS_MAX_MESSAGE_BYTES} bytes. You have sent {total} bytes."
    )
    assert _bodies(sqs, queue_url) == []


# Unicode letters and a trailing line feed, which a `\w` / `$` pattern takes; and one character too many.
BAD_ENTRY_IDS = ["é", "abc\n", "a" * 81]


@pytest.mark.parametrize("entry_id", BAD_ENTRY_IDS, ids=["non-ascii-letter", "trailing-newline", "81-characters"])
def test_a_batch_entry_id_outside_ascii_letters_digits_hyphens_and_underscores_refuses_the_batch(
    sqs: Any, entry_id: str
) -> None:
    queue_url = _queue(sqs)
    entries = [{"Id": "good_one-1", "MessageBody": "fine"}, {"Id": entry_id, "MessageBody": "fine too"}]
    error = _refused(sqs.send_message_batch, QueueUrl=queue_url, Entries=entries)
    assert error["Code"] == "AWS.SimpleQueueService.InvalidBatchEntryId"
    assert _bodies(sqs, queue_url) == []


def test_repeated_batch_entry_ids_refuse_the_batch(sqs: Any) -> None:
    queue_url = _queue(sqs)
    entries = [{"Id": id_, "MessageBody": "fine"} for id_ in ("a", "b", "a", "b")]
    error = _refused(sqs.send_message_batch, QueueUrl=queue_url, Entries=entries)
    assert (error["Code"], error["Message"]) == ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id a repeated.")
