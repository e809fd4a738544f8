"""The local SQS (moto's server with local/moto_server.py's patches) under concurrent sends and deletes."""

from __future__ import annotations

import threading
import uuid

import pytest

from local.stack import MotoServer, client

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
