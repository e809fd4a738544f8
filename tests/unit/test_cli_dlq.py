"""`ivs-revoke dlq list | stats | redrive` against an in-memory queue behind the fake AWS."""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

import pytest

from ivs_revoke.targets import ENV_DLQ_URL, OUTPUT_DLQ_URL
from revocation.models import (
    ATTR_ATTEMPTS,
    ATTR_ERROR_CODE,
    ATTR_ERROR_MESSAGE,
    ATTR_REQUEST_ID,
    ATTR_SOURCE_MESSAGE_ID,
    CODE_INVALID_MESSAGE,
    DeadLetterMessage,
    RevocationError,
    ViewerSession,
)
from tests.unit.test_cli_support import FakeAws, Reply, Sent, channel, describe_stacks_reply, ivs_revoke

pytestmark = pytest.mark.unit

DLQ_URL = "https://sqs.us-west-2.amazonaws.com/123456789012/revocations-dlq"
DLQ_ARN = "arn:aws:sqs:us-west-2:123456789012:revocations-dlq"
SOURCE_URL = "https://sqs.us-west-2.amazonaws.com/123456789012/revocations"
REGION_ARGS = ["--region", "us-west-2"]


def dead_letter(
    viewers: list[str], code: str, message: str, *, attempts: int = 1, source: str = "src-1"
) -> dict[str, Any]:
    """A message as the function's dead-letter writer sends it."""
    sessions = [ViewerSession(channel_arn=channel(), viewer_id=viewer, version=3) for viewer in viewers]
    errors = [
        RevocationError(channel_arn=channel(), viewer_id=viewer, code=code, message=message) for viewer in viewers
    ]
    body = DeadLetterMessage(viewer_sessions=sessions, errors=errors, request_id="req-9").to_json()
    attributes = {
        ATTR_ERROR_CODE: code,
        ATTR_ERROR_MESSAGE: message,
        ATTR_SOURCE_MESSAGE_ID: source,
        ATTR_ATTEMPTS: str(attempts),
        ATTR_REQUEST_ID: "req-9",
    }
    return {"Body": body, "MessageAttributes": attributes}


class FakeQueue:
    """SQS semantics that matter here: visibility, receipt handles, at most 10 per receive."""

    def __init__(self, messages: list[dict[str, Any]], *, sent_ms: int = 1_000) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        for number, message in enumerate(messages):
            self.add(message, message_id=f"msg-{number:03d}", sent_ms=sent_ms)
        self.hidden: set[str] = set()
        self.receipts: dict[str, str] = {}
        self._serial = itertools.count()

    def add(self, message: dict[str, Any], *, message_id: str, sent_ms: int = 1_000) -> None:
        self.messages[message_id] = {**message, "MessageId": message_id, "SentTimestamp": str(sent_ms)}

    def receive(self, sent: Sent) -> Reply:
        request = sent.json()
        visible = [m for key, m in self.messages.items() if key not in self.hidden][: request["MaxNumberOfMessages"]]
        answer = []
        for message in visible:
            receipt = f"{message['MessageId']}#{next(self._serial)}"
            self.receipts[message["MessageId"]] = receipt
            if request.get("VisibilityTimeout", 30) > 0:
                self.hidden.add(message["MessageId"])
            answer.append(
                {
                    "MessageId": message["MessageId"],
                    "ReceiptHandle": receipt,
                    "Body": message["Body"],
                    "MD5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),
                    "Attributes": {"SentTimestamp": message["SentTimestamp"], "ApproximateReceiveCount": "1"},
                    "MessageAttributes": {
                        name: {"StringValue": value, "DataType": "String"}
                        for name, value in message.get("MessageAttributes", {}).items()
                    },
                }
            )
        return Reply({"Messages": answer} if answer else {})

    def _message_of(self, receipt: str) -> str:
        message_id = receipt.split("#")[0]
        assert self.receipts.get(message_id) == receipt, "a stale receipt handle"
        return message_id

    def change_visibility(self, sent: Sent) -> Reply:
        entries = sent.json()["Entries"]
        for entry in entries:
            if entry["VisibilityTimeout"] == 0:
                self.hidden.discard(self._message_of(entry["ReceiptHandle"]))
        return Reply({"Successful": [{"Id": entry["Id"]} for entry in entries], "Failed": []})

    def delete(self, sent: Sent) -> Reply:
        entries = sent.json()["Entries"]
        for entry in entries:
            message_id = self._message_of(entry["ReceiptHandle"])
            self.messages.pop(message_id)
            self.hidden.discard(message_id)
        return Reply({"Successful": [{"Id": entry["Id"]} for entry in entries], "Failed": []})

    def attach(self, fake: FakeAws) -> None:
        fake.on("ReceiveMessage", self.receive)
        fake.on("ChangeMessageVisibilityBatch", self.change_visibility)
        fake.on("DeleteMessageBatch", self.delete)
        fake.on(
            "GetQueueAttributes",
            lambda sent: Reply(
                {
                    "Attributes": {
                        "QueueArn": DLQ_ARN,
                        "ApproximateNumberOfMessages": str(len(self.messages) - len(self.hidden)),
                        "ApproximateNumberOfMessagesNotVisible": str(len(self.hidden)),
                    }
                }
            ),
        )


def _queue_with_every_kind() -> FakeQueue:
    return FakeQueue(
        [
            dead_letter(["denied-1", "denied-2"], "403", "not authorized", attempts=1, source="src-a"),
            dead_letter(["flaky-1"], "503", "unavailable", attempts=5, source="src-b"),
            {
                "Body": "this is not JSON",
                "MessageAttributes": {
                    ATTR_ERROR_CODE: CODE_INVALID_MESSAGE,
                    ATTR_ERROR_MESSAGE: "body is not JSON: Expecting value at line 1 column 1",
                    ATTR_SOURCE_MESSAGE_ID: "src-c",
                    ATTR_ATTEMPTS: "1",
                },
            },
            # Moved by SQS's own redrive policy (the function crashed): the original body, no attributes.
            {"Body": json.dumps({"channelArn": channel(), "viewerId": "crashed-1"})},
        ]
    )


def _dlq(args: list[str], fake: FakeAws, **kwargs: Any) -> Any:
    return ivs_revoke(["dlq", *args, "--dlq-url", DLQ_URL, *REGION_ARGS], fake, **kwargs)


# --- list --------------------------------------------------------------------------------------


def test_list_shows_each_failed_pair_with_code_message_source_and_attempts_and_consumes_nothing() -> None:
    queue = _queue_with_every_kind()
    fake = FakeAws()
    queue.attach(fake)
    result = _dlq(["list"], fake)
    assert result.code == 0, result.stderr
    output = result.json()
    assert output["deadLetterQueueUrl"] == DLQ_URL
    assert output["messages"] == 4
    assert output["failedPairs"] == [
        {
            "channelArn": channel(),
            "viewerId": "denied-1",
            "viewerSessionVersionsLessThanOrEqualTo": 3,
            "code": "403",
            "message": "not authorized",
            "sourceMessageId": "src-a",
            "attempts": 1,
            "requestId": "req-9",
            "messageId": "msg-000",
        },
        {
            "channelArn": channel(),
            "viewerId": "denied-2",
            "viewerSessionVersionsLessThanOrEqualTo": 3,
            "code": "403",
            "message": "not authorized",
            "sourceMessageId": "src-a",
            "attempts": 1,
            "requestId": "req-9",
            "messageId": "msg-000",
        },
        {
            "channelArn": channel(),
            "viewerId": "flaky-1",
            "viewerSessionVersionsLessThanOrEqualTo": 3,
            "code": "503",
            "message": "unavailable",
            "sourceMessageId": "src-b",
            "attempts": 5,
            "requestId": "req-9",
            "messageId": "msg-001",
        },
        {
            "channelArn": channel(),
            "viewerId": "crashed-1",
            "viewerSessionVersionsLessThanOrEqualTo": 0,
            "messageId": "msg-003",
        },
    ]
    assert output["invalidMessages"] == [
        {
            "code": CODE_INVALID_MESSAGE,
            "message": "body is not JSON: Expecting value at line 1 column 1",
            "sourceMessageId": "src-c",
            "attempts": 1,
            "messageId": "msg-002",
            "body": "this is not JSON",
        }
    ]
    assert fake.of("DeleteMessageBatch") == [] and fake.of("DeleteMessage") == []
    assert len(queue.messages) == 4 and queue.hidden == set()


def test_list_pages_through_more_than_ten_messages_each_once() -> None:
    queue = FakeQueue([dead_letter([f"v{index}"], "403", "no") for index in range(25)])
    fake = FakeAws()
    queue.attach(fake)
    result = _dlq(["list"], fake)
    assert result.code == 0, result.stderr
    assert [row["viewerId"] for row in result.json()["failedPairs"]] == [f"v{index}" for index in range(25)]
    assert queue.hidden == set()


def test_list_with_visibility_timeout_0_still_ends_and_shows_each_message_once() -> None:
    queue = FakeQueue([dead_letter([f"v{index}"], "403", "no") for index in range(15)])
    fake = FakeAws()
    queue.attach(fake)
    result = _dlq(["list", "--visibility-timeout", "0"], fake)
    assert result.code == 0, result.stderr
    viewers = [row["viewerId"] for row in result.json()["failedPairs"]]
    assert viewers == [f"v{index}" for index in range(10)]  # the same ten come back each time
    assert len(fake.of("ReceiveMessage")) == 4  # one with news, then three without


def test_list_max_items() -> None:
    queue = FakeQueue([dead_letter([f"v{index}"], "403", "no") for index in range(25)])
    fake = FakeAws()
    queue.attach(fake)
    result = _dlq(["list", "--max-items", "12"], fake)
    assert result.json()["messages"] == 12
    assert queue.hidden == set()


def test_list_reads_as_a_table() -> None:
    queue = _queue_with_every_kind()
    fake = FakeAws()
    queue.attach(fake)
    result = _dlq(["list", "--output", "table", "--color", "off"], fake)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "DeadLetterQueue" in lines[1]
    assert any("failedPairs" in line for line in lines) and any("invalidMessages" in line for line in lines)
    # The AWS CLI's table lays a wide row out as key | value lines when the terminal is narrow.
    for text in ("viewerId", "code", "attempts", "sourceMessageId", "denied-1", "403", "not authorized", "src-a"):
        assert text in result.stdout


def test_list_with_a_query() -> None:
    queue = _queue_with_every_kind()
    fake = FakeAws()
    queue.attach(fake)
    result = _dlq(["list", "--query", "failedPairs[?code=='403'].viewerId", "--output", "text"], fake)
    assert result.stdout.split() == ["denied-1", "denied-2"]


def test_the_dlq_url_comes_from_the_environment_or_the_stack() -> None:
    queue = _queue_with_every_kind()
    fake = FakeAws()
    queue.attach(fake)
    result = ivs_revoke(["dlq", "list", *REGION_ARGS], fake, environ={ENV_DLQ_URL: DLQ_URL})
    assert result.code == 0, result.stderr
    assert fake.of("ReceiveMessage")[0].json()["QueueUrl"] == DLQ_URL

    fake = FakeAws()
    queue.attach(fake)
    fake.on("DescribeStacks", [describe_stacks_reply("S", {OUTPUT_DLQ_URL: DLQ_URL})])
    result = ivs_revoke(["dlq", "list", "--stack-name", "S", *REGION_ARGS], fake)
    assert result.code == 0, result.stderr
    assert fake.of("ReceiveMessage")[0].json()["QueueUrl"] == DLQ_URL


# --- stats -------------------------------------------------------------------------------------


def test_stats_counts_pairs_and_invalid_messages_by_code() -> None:
    queue = _queue_with_every_kind()
    fake = FakeAws()
    queue.attach(fake)
    result = _dlq(["stats"], fake)
    assert result.code == 0, result.stderr
    output = result.json()
    assert output["approximateNumberOfMessages"] == 4
    assert (output["messagesScanned"], output["failedPairs"], output["invalidMessages"]) == (4, 4, 1)
    assert output["byCode"] == [
        {"code": "403", "pairs": 2, "invalidMessages": 0},
        {"code": "(none)", "pairs": 1, "invalidMessages": 0},
        {"code": "503", "pairs": 1, "invalidMessages": 0},
        {"code": CODE_INVALID_MESSAGE, "pairs": 0, "invalidMessages": 1},
    ]
    assert queue.hidden == set()


# --- redrive -----------------------------------------------------------------------------------


def test_redrive_starts_a_message_move_task_back_to_the_source_queue() -> None:
    fake = FakeAws()
    _queue_with_every_kind().attach(fake)
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-1"})])
    result = _dlq(["redrive", "--max-number-of-messages-per-second", "5"], fake)
    assert result.code == 0, result.stderr
    [start] = fake.of("StartMessageMoveTask")
    assert start.json() == {"SourceArn": DLQ_ARN, "MaxNumberOfMessagesPerSecond": 5}
    assert result.json() == {"taskHandle": "task-1", "sourceArn": DLQ_ARN}


def test_redrive_wait_shows_progress_until_the_task_is_done() -> None:
    fake = FakeAws()
    _queue_with_every_kind().attach(fake)
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-1"})])
    running = {
        "TaskHandle": "task-1",
        "Status": "RUNNING",
        "SourceArn": DLQ_ARN,
        "ApproximateNumberOfMessagesMoved": 1,
        "ApproximateNumberOfMessagesToMove": 4,
    }
    done = {
        "Status": "COMPLETED",
        "SourceArn": DLQ_ARN,
        "ApproximateNumberOfMessagesMoved": 4,
        "ApproximateNumberOfMessagesToMove": 4,
    }
    fake.on(
        "ListMessageMoveTasks",
        [Reply({"Results": [running]}), Reply({"Results": [running]}), Reply({"Results": [done]})],
    )
    result = _dlq(["redrive", "--wait"], fake)
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == ["RUNNING: 1 of 4 messages moved", "COMPLETED: 4 of 4 messages moved"]
    assert result.json()["task"]["Status"] == "COMPLETED"
    assert len(fake.of("ListMessageMoveTasks")) == 3


def test_redrive_wait_on_a_failed_task_exits_254() -> None:
    fake = FakeAws()
    _queue_with_every_kind().attach(fake)
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-1"})])
    fake.on("ListMessageMoveTasks", [Reply({"Results": [{"Status": "FAILED", "FailureReason": "AccessDenied"}]})])
    result = _dlq(["redrive", "--wait"], fake)
    assert result.code == 254
    assert "FAILED: AccessDenied" in result.stderr


def _unimplemented(sent: Sent) -> Reply:
    # What moto's server answers for an action it does not implement.
    return Reply("<!doctype html><title>500 Internal Server Error</title>", 500, {"Content-Type": "text/html"})


def _source_queue(fake: FakeAws) -> list[dict[str, Any]]:
    return [entry for sent in fake.of("SendMessageBatch") for entry in sent.json()["Entries"]]


def test_redrive_moves_the_messages_itself_where_a_local_endpoint_lacks_the_move_task() -> None:
    queue = _queue_with_every_kind()
    fake = FakeAws()
    queue.attach(fake)
    fake.on("StartMessageMoveTask", _unimplemented)
    fake.on("ListDeadLetterSourceQueues", [Reply({"queueUrls": [SOURCE_URL]})])
    result = _dlq(["redrive", "--endpoint-url", "http://127.0.0.1:5000"], fake)
    assert result.code == 0, result.stderr
    assert "does not implement StartMessageMoveTask" in result.stderr
    moved = _source_queue(fake)
    assert {sent.json()["QueueUrl"] for sent in fake.of("SendMessageBatch")} == {SOURCE_URL}
    assert len(moved) == 4
    first = moved[0]
    assert DeadLetterMessage.model_validate_json(first["MessageBody"]).viewer_sessions[0].viewer_id == "denied-1"
    assert first["MessageAttributes"][ATTR_ERROR_CODE] == {"DataType": "String", "StringValue": "403"}
    assert queue.messages == {}
    assert result.json() == {"deadLetterQueueUrl": DLQ_URL, "destinationUrl": SOURCE_URL, "messagesMoved": 4}


def test_redrive_does_not_fall_back_against_aws_itself() -> None:
    fake = FakeAws()
    _queue_with_every_kind().attach(fake)
    fake.on("StartMessageMoveTask", _unimplemented)
    result = _dlq(["redrive"], fake)
    assert result.code == 254
    assert fake.of("SendMessageBatch") == []


def test_client_side_redrive_to_a_named_queue_leaves_messages_newer_than_its_start() -> None:
    queue = _queue_with_every_kind()
    newer = dead_letter(["again-1"], "403", "not authorized")
    queue.add(newer, message_id="msg-new", sent_ms=4_102_444_800_000)  # written after the move began
    fake = FakeAws()
    queue.attach(fake)
    other = "https://sqs.us-west-2.amazonaws.com/123456789012/elsewhere"
    result = _dlq(["redrive", "--client-side", "--destination-url", other, "--rate", "2", "--wait"], fake)
    assert result.code == 0, result.stderr
    assert fake.of("StartMessageMoveTask") == []
    assert {sent.json()["QueueUrl"] for sent in fake.of("SendMessageBatch")} == {other}
    assert list(queue.messages) == ["msg-new"] and queue.hidden == set()
    assert result.json()["messagesMoved"] == 4
    assert "RUNNING: 4 messages moved" in result.stderr
