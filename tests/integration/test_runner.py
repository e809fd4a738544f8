"""The event source mapping runner, on its own terms: SQS events, partial failures, errors, timeouts.

A stand-in function (stand_in_function.py) does what each message body tells it and keeps a journal
of its invocations. The queues here are made for the runner's semantics, not from the deploy
settings: a 2-second visibility timeout and a function timeout of 1 second keep redeliveries quick.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ivs_revoke.dlq import scan
from local.clients import ACCOUNT_ID, CREDENTIALS, DEFAULT_REGION, client
from local.instance_supervisor import IDLE_SECONDS, FunctionConfig
from local.moto_process import MotoServer
from local.runner import EventSourceMapping, MappingConfig
from tests.integration.conftest import HERE, STAND_IN_HANDLER, assert_processes_gone, read_journal

pytestmark = pytest.mark.integration

VISIBILITY_TIMEOUT = 2
MAX_RECEIVE_COUNT = 2
FUNCTION_TIMEOUT = 1.0


@dataclass
class Harness:
    sqs: Any
    queue_url: str
    queue_arn: str
    dlq_url: str
    journal: Path
    make_runner: Callable[..., EventSourceMapping]

    def send(self, *bodies: dict[str, Any], attributes: dict[str, Any] | None = None) -> list[str]:
        ids = []
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            response = self.sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": json.dumps(body), "MessageAttributes": attributes or {}}
                    for i, body in enumerate(chunk)
                ],
            )
            assert not response.get("Failed"), response
            by_id = {entry["Id"]: entry["MessageId"] for entry in response["Successful"]}
            ids.extend(by_id[str(i)] for i in range(len(chunk)))
        return ids

    def invocations(self) -> list[dict[str, Any]]:
        return read_journal(self.journal)

    def deliveries(self, message_id: str) -> list[dict[str, Any]]:
        """The records delivered for one message, in order."""
        return [
            record
            for invocation in self.invocations()
            for record in invocation["records"]
            if record["messageId"] == message_id
        ]


@pytest.fixture
def harness(moto_server: MotoServer, tmp_path: Path) -> Iterator[Harness]:
    sqs = client("sqs", moto_server.url)
    name = f"runner-{uuid.uuid4().hex[:12]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    journal = tmp_path / "journal.jsonl"
    runners: list[EventSourceMapping] = []

    def make_runner(
        batch_size: int = 10, window: float = 0, concurrency: int = 2, idle_seconds: float = IDLE_SECONDS
    ) -> EventSourceMapping:
        runner = EventSourceMapping(
            MappingConfig(queue_url, queue_arn, batch_size, window, concurrency),
            FunctionConfig(
                handler=STAND_IN_HANDLER,
                environment={"STAND_IN_JOURNAL": str(journal), **_credentials_environment()},
                timeout_seconds=FUNCTION_TIMEOUT,
                region=DEFAULT_REGION,
                account_id=ACCOUNT_ID,
                name="StandIn",
                memory_mb=256,
                python_path=[str(HERE)],
                log_dir=tmp_path / "logs",
                idle_seconds=idle_seconds,
            ),
            endpoint_url=moto_server.url,
        )
        runners.append(runner)
        return runner

    yield Harness(sqs, queue_url, queue_arn, dlq_url, journal, make_runner)
    pids: list[int] = []
    for runner in runners:
        pids.extend(runner.pids)
        runner.stop()
    assert_processes_gone(pids)


def _credentials_environment() -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"], "AWS_SECRET_ACCESS_KEY": "testing"}


def test_records_carry_every_attribute_and_the_context_counts_down_from_the_timeout(harness: Harness) -> None:
    attributes = {
        "Producer": {"DataType": "String", "StringValue": "moderation"},
        "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"},
    }
    (message_id,) = harness.send({"do": "ok"}, attributes=attributes)

    with harness.make_runner() as runner:
        runner.wait_until_drained(timeout=20)

    (invocation,) = harness.invocations()
    (record,) = invocation["records"]
    assert record["messageId"] == message_id
    assert record["body"] == json.dumps({"do": "ok"})
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == harness.queue_arn
    assert record["awsRegion"] == DEFAULT_REGION
    assert record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(record["attributes"]) >= {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
    assert record["messageAttributes"]["Producer"] == {
        "stringValue": "moderation",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert base64.b64decode(record["messageAttributes"]["Blob"]["binaryValue"]) == b"\x00\x01\x02"
    assert record["md5OfMessageAttributes"]
    assert 0 < FUNCTION_TIMEOUT * 1000 - invocation["remaining_ms"] < 200
    assert invocation["function_name"] == "StandIn"
    assert invocation["invoked_function_arn"] == f"arn:aws:lambda:{DEFAULT_REGION}:{ACCOUNT_ID}:function:StandIn"
    assert invocation["memory_limit_in_mb"] == 256
    # Lambda's environment: its own variables, not the test process's.
    assert invocation["environment"]["AWS_LAMBDA_FUNCTION_NAME"] == "StandIn"
    assert invocation["environment"]["HOME"] is None


def test_partial_failure_deletes_the_rest_and_redrive_moves_the_failed_record_after_max_receive_count(
    harness: Harness,
) -> None:
    ok_ids = harness.send({"do": "ok"}, {"do": "ok"}, {"do": "ok"})
    (failing_id,) = harness.send({"do": "fail"})

    with harness.make_runner() as runner:
        runner.wait_until_drained(timeout=30)

    for message_id in ok_ids:
        assert [r["attributes"]["ApproximateReceiveCount"] for r in harness.deliveries(message_id)] == ["1"]
    counts = [r["attributes"]["ApproximateReceiveCount"] for r in harness.deliveries(failing_id)]
    assert counts == [str(n) for n in range(1, MAX_RECEIVE_COUNT + 1)]
    (dead,) = scan(harness.sqs, harness.dlq_url)
    assert dead.message_id == failing_id
    assert dead.body == json.dumps({"do": "fail"})
    assert runner.stats.records_failed == MAX_RECEIVE_COUNT
    assert runner.stats.records_deleted == len(ok_ids)


@pytest.mark.parametrize(
    ("poison", "expected"),
    [
        ({"do": "raise"}, "function_errors"),
        ({"do": "bad-identifier"}, None),
        ({"do": "sleep", "seconds": FUNCTION_TIMEOUT + 1}, "timeouts"),
        ({"do": "exit"}, "crashes"),
    ],
    ids=["raised-error", "unknown-item-identifier", "timeout", "crash"],
)
def test_a_batch_that_fails_as_a_whole_comes_back_whole(
    harness: Harness, poison: dict[str, Any], expected: str | None
) -> None:
    """Nothing of the batch is deleted, including the records the function handled."""
    ids = harness.send({"do": "ok"}, {"do": "ok"}, poison)

    # One poller, so that the three messages make one batch.
    with harness.make_runner(batch_size=10, window=1, concurrency=1) as runner:
        runner.wait_until_drained(timeout=30)

    batches = [{record["messageId"] for record in invocation["records"]} for invocation in harness.invocations()]
    assert batches == [set(ids)] * MAX_RECEIVE_COUNT
    for message_id in ids:
        assert len(harness.deliveries(message_id)) == MAX_RECEIVE_COUNT
    assert {entry.message_id for entry in scan(harness.sqs, harness.dlq_url)} == set(ids)
    assert runner.stats.batches_failed == MAX_RECEIVE_COUNT
    assert runner.stats.records_deleted == 0
    if expected is not None:
        assert getattr(runner.stats, expected) == MAX_RECEIVE_COUNT


def test_a_timed_out_instance_is_killed_and_the_next_batch_gets_a_cold_start(harness: Harness) -> None:
    harness.send({"do": "sleep", "seconds": FUNCTION_TIMEOUT + 1})

    with harness.make_runner(concurrency=1) as runner:
        runner.wait_until_drained(timeout=30)

    invocations = harness.invocations()
    assert len(invocations) == MAX_RECEIVE_COUNT
    assert runner.stats.timeouts == MAX_RECEIVE_COUNT
    assert runner.stats.cold_starts == MAX_RECEIVE_COUNT
    # A new process each time, cut short before the end, its module state new.
    assert len({invocation["pid"] for invocation in invocations}) == MAX_RECEIVE_COUNT
    assert all("ended" not in invocation and invocation["invocation"] == 1 for invocation in invocations)
    assert_processes_gone([invocation["pid"] for invocation in invocations])


def test_the_batch_fills_up_to_batch_size_across_receives_of_ten(harness: Harness) -> None:
    harness.send(*[{"do": "ok"}] * 25)

    with harness.make_runner(batch_size=20, window=1, concurrency=1) as runner:
        runner.wait_until_drained(timeout=30)

    sizes = [len(invocation["records"]) for invocation in harness.invocations()]
    assert sizes == [20, 5]


def test_instances_are_separate_warm_processes_and_never_more_than_max_concurrency(harness: Harness) -> None:
    harness.send(*[{"do": "sleep", "seconds": 0.2}] * 30)

    with harness.make_runner(batch_size=2, window=0, concurrency=2) as runner:
        runner.wait_until_drained(timeout=30)
        pids = set(runner.pids)

    invocations = harness.invocations()
    assert {entry["pid"] for entry in invocations} == pids
    assert len(pids) == 2
    assert os.getpid() not in pids
    for pid in pids:
        numbers = sorted(entry["invocation"] for entry in invocations if entry["pid"] == pid)
        assert numbers == list(range(1, len(numbers) + 1)), "a warm instance keeps its module state"
    assert _most_at_once(invocations) <= 2
    assert runner.stats.cold_starts == 2


def test_instances_start_on_demand_with_the_batch_that_needs_them(harness: Harness) -> None:
    with harness.make_runner(concurrency=2) as runner:
        time.sleep(1.5)  # a poll or so with the queue empty: nothing is started for it
        assert runner.pids == [] and runner.stats.cold_starts == 0
        harness.send({"do": "ok"})
        runner.wait_until_drained(timeout=30)

        (invocation,) = harness.invocations()
        assert runner.pids == [invocation["pid"]]
        assert runner.stats.cold_starts == 1 and invocation["invocation"] == 1


def test_an_idle_instance_is_reaped_and_the_next_batch_waits_for_a_cold_start(harness: Harness) -> None:
    with harness.make_runner(concurrency=1, idle_seconds=1.0) as runner:
        harness.send({"do": "ok"})
        runner.wait_until_drained(timeout=30)
        first = runner.pids
        deadline = time.monotonic() + 10
        while runner.stats.reaped == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert runner.stats.reaped == 1 and runner.pids == []
        assert_processes_gone(first)

        harness.send({"do": "ok"})
        runner.wait_until_drained(timeout=30)

    invocations = harness.invocations()
    assert [entry["invocation"] for entry in invocations] == [1, 1], "each from a fresh process"
    assert invocations[0]["pid"] != invocations[1]["pid"]
    assert runner.stats.cold_starts == 2


def _most_at_once(invocations: list[dict[str, Any]]) -> int:
    edges = sorted([(entry["started"], 1) for entry in invocations] + [(entry["ended"], -1) for entry in invocations])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_stopping_ends_every_instance(harness: Harness) -> None:
    # Instances start on demand: two slow batches of one make both pollers start theirs.
    harness.send({"do": "sleep", "seconds": 0.5}, {"do": "sleep", "seconds": 0.5})
    runner = harness.make_runner(batch_size=1)
    runner.start()
    runner.wait_until_drained(timeout=30)
    pids = runner.pids
    assert len(pids) == 2
    started = time.monotonic()
    runner.stop()
    assert time.monotonic() - started < 5
    assert_processes_gone(pids)


def test_no_delete_is_lost_when_pollers_settle_at_the_same_time(harness: Harness) -> None:
    """A lost delete leaves its message in flight until the visibility timeout: the drain cannot end
    before it. moto's deletes take time in proportion to the queue's length, so a long queue and batches
    of 100 (ten deletes of ten each) on four pollers make deletes meet often."""
    harness.sqs.set_queue_attributes(QueueUrl=harness.queue_url, Attributes={"VisibilityTimeout": "90"})
    ids = harness.send(*[{"do": "ok"}] * 4000)

    with harness.make_runner(batch_size=100, window=1, concurrency=4) as runner:
        runner.wait_until_drained(timeout=60)

    delivered = {record["messageId"] for invocation in harness.invocations() for record in invocation["records"]}
    assert delivered == set(ids)
    assert runner.stats.records_deleted >= len(ids)


def test_the_next_batch_is_gathered_while_the_last_one_is_deleted_and_invoked_after(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda begins the next batching window when an invocation completes; deletes are not waited for
    then, only before the next invocation, so that a poller is never more than one batch behind."""
    # Longer than a gathered batch waits for the slow deletes before and after its invocation, so that
    # no message comes back (and is delivered again) under load.
    harness.sqs.set_queue_attributes(QueueUrl=harness.queue_url, Attributes={"VisibilityTimeout": "30"})
    harness.send(*[{"do": "ok"}] * 20)
    runner = harness.make_runner(batch_size=10, window=0, concurrency=1)
    delete_seconds = 1.0
    delete = runner._delete

    def slow_delete(sqs: Any, messages: Any) -> int:
        time.sleep(delete_seconds)
        return delete(sqs, messages)

    monkeypatch.setattr(runner, "_delete", slow_delete)
    with runner:
        runner.wait_until_drained(timeout=30)

    # A receive may return fewer than ten messages (SQS samples its servers), so there are two or more
    # invocations; each one after the first must have been gathered early and invoked late.
    invocations = harness.invocations()
    assert len(invocations) >= 2
    for previous, following in itertools.pairwise(invocations):
        gathered = min(int(record["attributes"]["ApproximateFirstReceiveTimestamp"]) for record in following["records"])
        assert gathered / 1000 < previous["ended"] + delete_seconds / 2
        assert following["started"] >= previous["ended"] + delete_seconds
    assert runner.stats.records_deleted == 20
