"""`ivs-revoke dlq list | stats | redrive` against an in-memory queue behind the fake AWS."""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ivs_revocation.models import (
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
from ivs_revoke import redrive
from ivs_revoke.errors import ConfigurationError
from ivs_revoke.sqs import queue_url_of
from ivs_revoke.targets import ENV_DLQ_URL, OUTPUT_DLQ_URL, OUTPUT_QUEUE_ARN, OUTPUT_QUEUE_URL
from tests.unit.cli_support import (
    FakeAws,
    Reply,
    Sent,
    channel,
    describe_stacks_reply,
    ivs_revoke,
    json_error,
    queue_arn_of,
    queue_attributes,
)

pytestmark = pytest.mark.unit

DLQ_URL = "https://sqs.us-west-2.amazonaws.com/123456789012/revocations-dlq"
DLQ_ARN = "arn:aws:sqs:us-west-2:123456789012:revocations-dlq"
SOURCE_URL = "https://sqs.us-west-2.amazonaws.com/123456789012/revocations"
SOURCE_ARN = "arn:aws:sqs:us-west-2:123456789012:revocations"
OTHER_URL = "https://sqs.us-west-2.amazonaws.com/123456789012/elsewhere"
OTHER_ARN = "arn:aws:sqs:us-west-2:123456789012:elsewhere"
REGION_ARGS = ["--region", "us-west-2"]
MAX_RECEIVES = 1_000


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
        self.receives = 0

    def add(self, message: dict[str, Any], *, message_id: str, sent_ms: int = 1_000) -> None:
        self.messages[message_id] = {**message, "MessageId": message_id, "SentTimestamp": str(sent_ms)}

    def receive(self, sent: Sent) -> Reply:
        # A receive loop that never ends fails here instead of hanging the test run.
        self.receives += 1
        assert self.receives <= MAX_RECEIVES, f"received {MAX_RECEIVES} times: a loop that does not end"
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
                    # A String attribute given by its value; any other as SQS answers it (Binary in base64).
                    "MessageAttributes": {
                        name: value if isinstance(value, dict) else {"StringValue": value, "DataType": "String"}
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

    def attributes(self, sent: Sent) -> Reply:
        if sent.json()["QueueUrl"] != DLQ_URL:
            return self.other_queues(sent)
        return Reply(
            {
                "Attributes": {
                    "QueueArn": DLQ_ARN,
                    "ApproximateNumberOfMessages": str(len(self.messages) - len(self.hidden)),
                    "ApproximateNumberOfMessagesNotVisible": str(len(self.hidden)),
                }
            }
        )

    def served(self) -> FakeAws:
        """A fake AWS serving this DLQ."""
        fake = FakeAws()
        self.attach(fake)
        return fake

    def attach(self, fake: FakeAws, *, other_queues: Any = None) -> None:
        """Serves the DLQ; any other queue answers GetQueueAttributes as `other_queues` (a new queue's)."""
        self.other_queues = other_queues or queue_attributes()
        fake.on("ReceiveMessage", self.receive)
        fake.on("ChangeMessageVisibilityBatch", self.change_visibility)
        fake.on("DeleteMessageBatch", self.delete)
        fake.on("GetQueueAttributes", self.attributes)


INVALID_LETTER: dict[str, Any] = {
    "Body": "this is not JSON",
    "MessageAttributes": {
        ATTR_ERROR_CODE: CODE_INVALID_MESSAGE,
        ATTR_ERROR_MESSAGE: "body is not JSON: Expecting value at line 1 column 1",
        ATTR_SOURCE_MESSAGE_ID: "src-c",
        ATTR_ATTEMPTS: "1",
    },
}


def _queue_with_every_kind(*, invalid: bool = True) -> FakeQueue:
    """Two letters of failed pairs, an InvalidMessage letter (`invalid`: which a redrive leaves unless
    asked, and so moves from here rather than by the task), and a body SQS's redrive policy moved."""
    return FakeQueue(
        [
            dead_letter(["denied-1", "denied-2"], "403", "not authorized", attempts=1, source="src-a"),
            dead_letter(["flaky-1"], "503", "unavailable", attempts=5, source="src-b"),
            *([INVALID_LETTER] if invalid else []),
            # Moved by SQS's own redrive policy (the function crashed): the original body, no attributes.
            {"Body": json.dumps({"channelArn": channel(), "viewerId": "crashed-1"})},
        ]
    )


def _dlq(args: list[str], fake: FakeAws, **kwargs: Any) -> Any:
    return ivs_revoke(["dlq", *args, "--dlq-url", DLQ_URL, *REGION_ARGS], fake, **kwargs)


# --- list --------------------------------------------------------------------------------------


def test_list_shows_each_failed_pair_with_code_message_source_and_attempts_and_consumes_nothing() -> None:
    queue = _queue_with_every_kind()
    fake = queue.served()
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
    fake = queue.served()
    result = _dlq(["list"], fake)
    assert result.code == 0, result.stderr
    assert [row["viewerId"] for row in result.json()["failedPairs"]] == [f"v{index}" for index in range(25)]
    assert queue.hidden == set()


def test_list_with_visibility_timeout_0_still_ends_and_shows_each_message_once() -> None:
    queue = FakeQueue([dead_letter([f"v{index}"], "403", "no") for index in range(15)])
    fake = queue.served()
    result = _dlq(["list", "--visibility-timeout", "0"], fake)
    assert result.code == 0, result.stderr
    viewers = [row["viewerId"] for row in result.json()["failedPairs"]]
    assert viewers == [f"v{index}" for index in range(10)]  # the same ten come back each time
    assert len(fake.of("ReceiveMessage")) == 4  # one with news, then three without


def test_list_max_items() -> None:
    queue = FakeQueue([dead_letter([f"v{index}"], "403", "no") for index in range(25)])
    fake = queue.served()
    result = _dlq(["list", "--max-items", "12"], fake)
    assert result.json()["messages"] == 12
    assert queue.hidden == set()


def test_list_reads_as_a_table() -> None:
    queue = _queue_with_every_kind()
    fake = queue.served()
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
    fake = queue.served()
    result = _dlq(["list", "--query", "failedPairs[?code=='403'].viewerId", "--output", "text"], fake)
    assert result.stdout.split() == ["denied-1", "denied-2"]


def test_the_dlq_url_comes_from_the_environment_or_the_stack() -> None:
    queue = _queue_with_every_kind()
    fake = queue.served()
    result = ivs_revoke(["dlq", "list", *REGION_ARGS], fake, environ={ENV_DLQ_URL: DLQ_URL})
    assert result.code == 0, result.stderr
    assert fake.of("ReceiveMessage")[0].json()["QueueUrl"] == DLQ_URL

    fake = queue.served()
    fake.on("DescribeStacks", [describe_stacks_reply("S", {OUTPUT_DLQ_URL: DLQ_URL})])
    result = ivs_revoke(["dlq", "list", "--stack-name", "S", *REGION_ARGS], fake)
    assert result.code == 0, result.stderr
    assert fake.of("ReceiveMessage")[0].json()["QueueUrl"] == DLQ_URL


def test_a_letter_with_a_repeated_key_is_listed_as_invalid_not_as_the_pair_a_parser_would_keep() -> None:
    body = f'{{"viewerSessions": [{{"channelArn": "{channel()}", "viewerId": "first", "viewerId": "second"}}]}}'
    attributes = {ATTR_ERROR_CODE: CODE_INVALID_MESSAGE, ATTR_ERROR_MESSAGE: "repeated key", ATTR_ATTEMPTS: "1"}
    queue = FakeQueue([{"Body": body, "MessageAttributes": attributes}])
    fake = queue.served()
    result = _dlq(["list"], fake)
    assert result.code == 0, result.stderr
    output = result.json()
    assert output["failedPairs"] == []
    [invalid] = output["invalidMessages"]
    assert (invalid["code"], invalid["body"]) == (CODE_INVALID_MESSAGE, body)


# --- stats -------------------------------------------------------------------------------------


def test_stats_counts_pairs_and_invalid_messages_by_code() -> None:
    queue = _queue_with_every_kind()
    fake = queue.served()
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


def test_stats_by_account_counts_failed_pairs_by_the_account_their_channel_names() -> None:
    member = "arn:aws:ivs:us-west-2:111111111111:channel/abcdABCDefgh"
    sessions = [ViewerSession(channel_arn=member, viewer_id=viewer) for viewer in ("m-1", "m-2")]
    errors = [
        RevocationError(channel_arn=member, viewer_id=viewer, code="AccessDenied", message="sts:AssumeRole failed")
        for viewer in ("m-1", "m-2")
    ]
    refused = {
        "Body": DeadLetterMessage(viewer_sessions=sessions, errors=errors).to_json(),
        "MessageAttributes": {ATTR_ERROR_CODE: "AccessDenied", ATTR_ATTEMPTS: "5"},
    }
    queue = FakeQueue([*_queue_with_every_kind().messages.values(), refused])
    fake = queue.served()

    plain = _dlq(["stats"], fake).json()
    output = _dlq(["stats", "--by-account"], fake).json()

    assert "byAccount" not in plain
    assert output["byAccount"] == [
        {"account": "123456789012", "pairs": 4, "byCode": {"(none)": 1, "403": 2, "503": 1}},
        {"account": "111111111111", "pairs": 2, "byCode": {"AccessDenied": 2}},
    ]
    assert {key: value for key, value in output.items() if key != "byAccount"} == plain


# --- redrive: the destination is always named ------------------------------------------------------
#
# A dead letter the function wrote was sent to the DLQ with SendMessage: a StartMessageMoveTask without
# DestinationArn fails for it on AWS with CouldNotDetermineMessageSource.


def _with_source_queues(fake: FakeAws, *urls: str) -> None:
    fake.on("ListDeadLetterSourceQueues", [Reply({"queueUrls": list(urls)})])


def _started_task(fake: FakeAws) -> dict[str, Any]:
    """The StartMessageMoveTask request (botocore may have sent it more than once, retrying a 500)."""
    requests = [sent.json() for sent in fake.of("StartMessageMoveTask")]
    assert requests and all(request == requests[0] for request in requests)
    first: dict[str, Any] = requests[0]
    return first


def test_redrive_moves_to_the_dlq_s_source_queue_named_by_list_dead_letter_source_queues() -> None:
    fake = FakeAws()
    _queue_with_every_kind(invalid=False).attach(fake)
    _with_source_queues(fake, SOURCE_URL)
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-1"})])
    result = _dlq(["redrive", "--max-number-of-messages-per-second", "5"], fake)
    assert result.code == 0, result.stderr
    assert fake.of("ListDeadLetterSourceQueues")[0].json() == {"QueueUrl": DLQ_URL}
    assert _started_task(fake) == {
        "SourceArn": DLQ_ARN,
        "DestinationArn": SOURCE_ARN,
        "MaxNumberOfMessagesPerSecond": 5,
    }
    # The DLQ was read first (consuming nothing): no InvalidMessage letter, so the task moves them all.
    assert result.json() == {
        "taskHandle": "task-1",
        "sourceArn": DLQ_ARN,
        "destinationArn": SOURCE_ARN,
        "invalidMessagesLeft": 0,
    }


def test_redrive_moves_to_the_destination_url_when_given() -> None:
    fake = FakeAws()
    _queue_with_every_kind(invalid=False).attach(fake)
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-1"})])
    result = _dlq(["redrive", "--destination-url", OTHER_URL], fake)
    assert result.code == 0, result.stderr
    assert fake.of("ListDeadLetterSourceQueues") == []
    assert _started_task(fake) == {"SourceArn": DLQ_ARN, "DestinationArn": OTHER_ARN}


def test_redrive_of_the_stack_s_dlq_moves_to_the_stack_s_queue() -> None:
    fake = FakeAws()
    _queue_with_every_kind(invalid=False).attach(fake)
    outputs = {OUTPUT_DLQ_URL: DLQ_URL, OUTPUT_QUEUE_URL: SOURCE_URL, OUTPUT_QUEUE_ARN: SOURCE_ARN}
    fake.on("DescribeStacks", [describe_stacks_reply("S", outputs)])
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-1"})])
    result = ivs_revoke(["dlq", "redrive", "--stack-name", "S", *REGION_ARGS], fake)
    assert result.code == 0, result.stderr
    assert _started_task(fake)["DestinationArn"] == SOURCE_ARN
    assert fake.of("ListDeadLetterSourceQueues") == []
    assert len(fake.of("DescribeStacks")) == 1  # the DLQ and the destination from one read of the outputs


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        ([Reply({"queueUrls": []})], [f"no queue names {DLQ_URL} as its dead-letter queue", "--destination-url"]),
        (
            [Reply({"queueUrls": [SOURCE_URL, OTHER_URL]})],
            ["2 queues name", SOURCE_URL, OTHER_URL, "--destination-url"],
        ),
        # Several sources over two pages are several too.
        (
            [Reply({"queueUrls": [SOURCE_URL], "NextToken": "t"}), Reply({"queueUrls": [OTHER_URL]})],
            ["2 queues name", SOURCE_URL, OTHER_URL],
        ),
    ],
    ids=["no-source", "two-sources", "two-pages"],
)
def test_redrive_without_exactly_one_source_queue_is_refused_and_nothing_moves(
    pages: list[Reply], expected: list[str]
) -> None:
    queue = _queue_with_every_kind()
    fake = queue.served()
    fake.on("ListDeadLetterSourceQueues", pages)
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-1"})])
    result = _dlq(["redrive", "--wait"], fake)
    assert result.code == 253, result.stderr
    for text in expected:
        assert text in result.stderr
    assert fake.of("StartMessageMoveTask") == [] and fake.of("SendMessageBatch") == []
    assert len(queue.messages) == 4


def test_redrive_wait_shows_progress_until_the_task_is_done_and_reports_the_messages_moved() -> None:
    fake = FakeAws()
    _queue_with_every_kind(invalid=False).attach(fake)
    _with_source_queues(fake, SOURCE_URL)
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-1"})])
    running = {
        "TaskHandle": "task-1",
        "Status": "RUNNING",
        "SourceArn": DLQ_ARN,
        "DestinationArn": SOURCE_ARN,
        "ApproximateNumberOfMessagesMoved": 1,
        "ApproximateNumberOfMessagesToMove": 4,
    }
    done = {
        "Status": "COMPLETED",
        "SourceArn": DLQ_ARN,
        "DestinationArn": SOURCE_ARN,
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
    output = result.json()
    assert (output["messagesMoved"], output["destinationArn"]) == (4, SOURCE_ARN)
    assert output["task"]["Status"] == "COMPLETED"
    assert len(fake.of("ListMessageMoveTasks")) == 3


def test_redrive_wait_on_a_failed_task_reports_its_reason_and_exits_254() -> None:
    fake = FakeAws()
    _queue_with_every_kind(invalid=False).attach(fake)
    _with_source_queues(fake, SOURCE_URL)
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-1"})])
    failed = {
        "Status": "FAILED",
        "SourceArn": DLQ_ARN,
        "FailureReason": "CouldNotDetermineMessageSource",
        "ApproximateNumberOfMessagesMoved": 1,
        "ApproximateNumberOfMessagesToMove": 4,
    }
    fake.on("ListMessageMoveTasks", [Reply({"Results": [failed]})])
    result = _dlq(["redrive", "--wait"], fake)
    assert result.code == 254
    assert "the move task ended FAILED: CouldNotDetermineMessageSource" in result.stderr
    assert "1 messages moved" in result.stderr
    assert result.json()["task"]["FailureReason"] == "CouldNotDetermineMessageSource"


def test_redrive_wait_gives_up_on_a_task_that_is_never_listed() -> None:
    fake = FakeAws()
    _queue_with_every_kind(invalid=False).attach(fake)
    _with_source_queues(fake, SOURCE_URL)
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-1"})])
    fake.on("ListMessageMoveTasks", [Reply({"Results": []})])
    result = _dlq(["redrive", "--wait"], fake)
    assert result.code == 254
    assert "does not list the move task task-1" in result.stderr
    assert len(fake.of("ListMessageMoveTasks")) == redrive.MAX_POLLS_UNLISTED


def test_redrive_does_not_take_an_earlier_running_task_for_its_own() -> None:
    fake = FakeAws()
    _queue_with_every_kind(invalid=False).attach(fake)
    _with_source_queues(fake, SOURCE_URL)
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-2"})])
    other = {"TaskHandle": "task-1", "Status": "RUNNING", "SourceArn": DLQ_ARN}
    fake.on("ListMessageMoveTasks", [Reply({"Results": [other]})])
    assert _dlq(["redrive", "--wait"], fake).code == 254


def _unimplemented(sent: Sent) -> Reply:
    # What moto's server answers for an action it does not implement.
    return Reply("<!doctype html><title>500 Internal Server Error</title>", 500, {"Content-Type": "text/html"})


def _moved(fake: FakeAws) -> list[dict[str, Any]]:
    return [entry for sent in fake.of("SendMessageBatch") for entry in sent.json()["Entries"]]


@pytest.mark.parametrize(
    "answer",
    [_unimplemented, lambda sent: json_error("UnknownOperationException", "unknown", 400)],
    ids=["html-500", "unknown-operation"],
)
def test_redrive_moves_the_messages_itself_where_a_local_endpoint_lacks_the_move_task(answer: Any) -> None:
    queue = _queue_with_every_kind()
    fake = queue.served()
    fake.on("StartMessageMoveTask", answer)
    _with_source_queues(fake, SOURCE_URL)
    result = _dlq(["redrive", "--include-invalid", "--endpoint-url", "http://127.0.0.1:5000"], fake)
    assert result.code == 0, result.stderr
    assert "does not implement StartMessageMoveTask" in result.stderr
    assert _started_task(fake)["DestinationArn"] == SOURCE_ARN  # the task was asked for, with its destination
    moved = _moved(fake)
    assert {sent.json()["QueueUrl"] for sent in fake.of("SendMessageBatch")} == {SOURCE_URL}
    assert len(moved) == 4
    first = moved[0]
    assert DeadLetterMessage.model_validate_json(first["MessageBody"]).viewer_sessions[0].viewer_id == "denied-1"
    assert first["MessageAttributes"][ATTR_ERROR_CODE] == {"DataType": "String", "StringValue": "403"}
    assert queue.messages == {}
    assert result.json() == {"deadLetterQueueUrl": DLQ_URL, "destinationUrl": SOURCE_URL, "messagesMoved": 4}


def test_an_endpoint_set_by_aws_endpoint_url_sqs_is_a_local_one_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:5000")
    queue = _queue_with_every_kind()
    fake = queue.served()
    fake.on("StartMessageMoveTask", _unimplemented)
    _with_source_queues(fake, SOURCE_URL)
    result = _dlq(["redrive", "--include-invalid"], fake)
    assert result.code == 0, result.stderr
    assert queue.messages == {}


@pytest.mark.parametrize("endpoint", [[], ["--endpoint-url", "https://sqs.us-west-2.amazonaws.com"]])
def test_redrive_does_not_fall_back_against_aws_itself(endpoint: list[str]) -> None:
    fake = FakeAws()
    _queue_with_every_kind(invalid=False).attach(fake)
    _with_source_queues(fake, SOURCE_URL)
    fake.on("StartMessageMoveTask", _unimplemented)
    result = _dlq(["redrive", *endpoint], fake)
    assert result.code == 254
    assert fake.of("SendMessageBatch") == []


def test_a_refused_move_task_is_not_taken_for_a_missing_one() -> None:
    fake = FakeAws()
    _queue_with_every_kind(invalid=False).attach(fake)
    _with_source_queues(fake, SOURCE_URL)
    fake.on("StartMessageMoveTask", [json_error("InvalidParameterValue", "source is not a dead-letter queue", 400)])
    result = _dlq(["redrive", "--endpoint-url", "http://127.0.0.1:5000"], fake)
    assert result.code == 254
    assert "InvalidParameterValue" in result.stderr
    assert fake.of("SendMessageBatch") == []


@pytest.mark.parametrize(
    "answer",
    [
        json_error("UnsupportedOperation", "FIFO queues are not supported", 400),
        Reply(
            {"__type": "com.amazonaws.sqs#UnsupportedOperation", "message": "FIFO queues are not supported"},
            400,
            {"x-amzn-query-error": "AWS.SimpleQueueService.UnsupportedOperation;Sender"},
        ),
    ],
    ids=["json", "query-compatible"],
)
def test_sqs_refusing_the_move_task_as_an_unsupported_operation_is_not_taken_for_a_missing_action(
    answer: Reply,
) -> None:
    # UnsupportedOperation is one of StartMessageMoveTask's own errors: SQS refusing this call.
    fake = FakeAws()
    _queue_with_every_kind().attach(fake)
    _with_source_queues(fake, SOURCE_URL)
    fake.on("StartMessageMoveTask", [answer])
    result = _dlq(["redrive", "--include-invalid", "--endpoint-url", "http://127.0.0.1:5000"], fake)
    assert result.code == 254
    assert "UnsupportedOperation" in result.stderr
    assert "FIFO queues are not supported" in result.stderr
    assert "does not implement StartMessageMoveTask" not in result.stderr
    assert fake.of("SendMessageBatch") == []
    assert fake.of("ReceiveMessage") == []


# --- redrive from here: nothing consumed that was not resent -------------------------------------


def test_client_side_redrive_to_a_named_queue_leaves_messages_newer_than_its_start() -> None:
    queue = _queue_with_every_kind()
    newer = dead_letter(["again-1"], "403", "not authorized")
    queue.add(newer, message_id="msg-new", sent_ms=4_102_444_800_000)  # written after the move began
    fake = queue.served()
    result = _dlq(
        ["redrive", "--client-side", "--include-invalid", "--destination-url", OTHER_URL, "--rate", "2", "--wait"], fake
    )
    assert result.code == 0, result.stderr
    assert fake.of("StartMessageMoveTask") == []
    assert {sent.json()["QueueUrl"] for sent in fake.of("SendMessageBatch")} == {OTHER_URL}
    assert list(queue.messages) == ["msg-new"] and queue.hidden == set()
    assert result.json()["messagesMoved"] == 4
    assert "RUNNING: 4 messages moved" in result.stderr


def test_client_side_redrive_keeps_what_the_destination_refused_and_tries_it_once() -> None:
    queue = _queue_with_every_kind()
    fake = queue.served()

    def refuse_first(sent: Sent) -> Reply:
        entries = sent.json()["Entries"]
        return Reply(
            {
                "Successful": [
                    {"Id": e["Id"], "MessageId": f"m{e['Id']}", "MD5OfMessageBody": "0"} for e in entries[1:]
                ],
                "Failed": [
                    {"Id": entries[0]["Id"], "SenderFault": True, "Code": "InvalidMessageContents", "Message": "no"}
                ],
            }
        )

    fake.on("SendMessageBatch", refuse_first)
    result = _dlq(["redrive", "--client-side", "--include-invalid", "--destination-url", OTHER_URL], fake)
    assert result.code == 254
    assert list(queue.messages) == ["msg-000"] and queue.hidden == set()  # still there, visible again
    assert len(_moved(fake)) == 4  # tried once, not again and again
    output = result.json()
    assert output["messagesMoved"] == 3
    assert output["failed"] == [{"messageId": "msg-000", "code": "InvalidMessageContents", "reason": "no"}]


def test_client_side_redrive_consumes_nothing_when_the_send_fails() -> None:
    queue = _queue_with_every_kind()
    fake = queue.served()
    fake.on("SendMessageBatch", [json_error("AccessDenied", "not authorized to SendMessage", 403)])
    result = _dlq(["redrive", "--client-side", "--include-invalid", "--destination-url", OTHER_URL], fake)
    assert result.code == 254
    assert "AccessDenied" in result.stderr
    assert len(queue.messages) == 4 and queue.hidden == set()  # none deleted, none left hidden
    assert fake.of("DeleteMessageBatch") == []


def test_client_side_redrive_keeps_a_message_too_large_for_the_destination() -> None:
    big = {"Body": json.dumps({"channelArn": channel(), "viewerId": "big", "pad": "x" * 3_000})}
    queue = FakeQueue([dead_letter(["small"], "403", "no"), big])
    fake = FakeAws()
    queue.attach(fake, other_queues=queue_attributes(maximum_message_size=2_048))
    result = _dlq(["redrive", "--client-side", "--destination-url", OTHER_URL], fake)
    assert result.code == 254
    assert [
        json.loads(entry["MessageBody"]).get("viewerSessions", [{}])[0].get("viewerId") for entry in _moved(fake)
    ] == ["small"]
    assert list(queue.messages) == ["msg-001"] and queue.hidden == set()
    [failed] = result.json()["failed"]
    assert failed["code"] == redrive.CODE_TOO_LARGE and "MaximumMessageSize of 2048" in failed["reason"]


def test_client_side_redrive_keeps_each_batch_within_1_mib() -> None:
    # Three dead letters of 400 KB: two fit one SendMessageBatch request, the third goes in another.
    letters = [dead_letter([f"v{index}"], "503", "x" * 400_000) for index in range(3)]
    for letter in letters:
        letter["MessageAttributes"][ATTR_ERROR_MESSAGE] = "unavailable"
    queue = FakeQueue(letters)
    fake = queue.served()
    result = _dlq(["redrive", "--client-side", "--destination-url", OTHER_URL], fake)
    assert result.code == 0, result.stderr
    assert [len(sent.json()["Entries"]) for sent in fake.of("SendMessageBatch")] == [2, 1]
    assert queue.messages == {}


def test_client_side_redrive_reports_a_message_sent_but_not_deleted() -> None:
    queue = _queue_with_every_kind()
    fake = queue.served()

    def fail_first_delete(sent: Sent) -> Reply:
        entries = sent.json()["Entries"]
        queue.delete(Sent(sent.operation, sent.url, sent.headers, json.dumps({"Entries": entries[1:]}).encode(), 0))
        return Reply(
            {
                "Successful": [{"Id": e["Id"]} for e in entries[1:]],
                "Failed": [{"Id": entries[0]["Id"], "SenderFault": False, "Code": "InternalError", "Message": "x"}],
            }
        )

    fake.on("DeleteMessageBatch", fail_first_delete)
    result = _dlq(["redrive", "--client-side", "--include-invalid", "--destination-url", OTHER_URL], fake)
    assert result.code == 254
    assert result.json()["messagesMoved"] == 3
    [failed] = result.json()["failed"]
    assert failed["messageId"] == "msg-000" and "not deleted" in failed["reason"]
    assert list(queue.messages) == ["msg-000"] and queue.hidden == set()


# --- The destination, at the module's level (botocore's Stubber) ----------------------------------


def test_only_source_queue_reads_every_page_of_list_dead_letter_source_queues() -> None:
    sqs = boto3.client("sqs", region_name="us-west-2")
    with Stubber(sqs) as stub:
        stub.add_response("list_dead_letter_source_queues", {"queueUrls": [SOURCE_URL]}, {"QueueUrl": DLQ_URL})
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": SOURCE_ARN}},
            {"QueueUrl": SOURCE_URL, "AttributeNames": ["QueueArn"]},
        )
        assert redrive.only_source_queue(sqs, DLQ_URL) == redrive.Destination(arn=SOURCE_ARN, url=SOURCE_URL)
        stub.add_response(
            "list_dead_letter_source_queues", {"queueUrls": [SOURCE_URL], "NextToken": "t"}, {"QueueUrl": DLQ_URL}
        )
        stub.add_response(
            "list_dead_letter_source_queues", {"queueUrls": [OTHER_URL]}, {"QueueUrl": DLQ_URL, "NextToken": "t"}
        )
        with pytest.raises(ConfigurationError, match="2 queues name"):
            redrive.only_source_queue(sqs, DLQ_URL)
        stub.assert_no_pending_responses()


def test_queue_url_of_an_arn() -> None:
    sqs = boto3.client("sqs", region_name="us-west-2")
    with Stubber(sqs) as stub:
        stub.add_response(
            "get_queue_url",
            {"QueueUrl": SOURCE_URL},
            {"QueueName": "revocations", "QueueOwnerAWSAccountId": "123456789012"},
        )
        assert queue_url_of(sqs, SOURCE_ARN) == SOURCE_URL
    assert queue_arn_of(SOURCE_URL) == SOURCE_ARN
    with pytest.raises(ConfigurationError):
        queue_url_of(sqs, "arn:aws:sns:us-west-2:123456789012:topic")


@pytest.mark.parametrize(
    ("url", "aws"),
    [
        ("https://sqs.us-west-2.amazonaws.com", True),
        ("https://sqs-fips.us-east-1.amazonaws.com", True),
        ("https://sqs.cn-north-1.amazonaws.com.cn", True),
        ("https://vpce-1a2b.sqs.us-east-1.vpce.amazonaws.com", True),
        ("http://127.0.0.1:5000", False),
        ("http://localhost:4566", False),
        ("https://amazonaws.com.example.org", False),
    ],
)
def test_is_aws_endpoint(url: str, aws: bool) -> None:
    assert redrive.is_aws_endpoint(url) is aws


def test_only_source_queue_of_several_is_the_configured_bulk_queue_when_it_is_one_of_them() -> None:
    sqs = boto3.client("sqs", region_name="us-west-2")
    with Stubber(sqs) as stub:
        stub.add_response(
            "list_dead_letter_source_queues", {"queueUrls": [OTHER_URL, SOURCE_URL]}, {"QueueUrl": DLQ_URL}
        )
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": SOURCE_ARN}},
            {"QueueUrl": SOURCE_URL, "AttributeNames": ["QueueArn"]},
        )
        chosen = redrive.only_source_queue(sqs, DLQ_URL, preferred_url=SOURCE_URL)
        assert chosen == redrive.Destination(arn=SOURCE_ARN, url=SOURCE_URL)
        # A configured queue that is not among the sources settles nothing.
        stub.add_response(
            "list_dead_letter_source_queues", {"queueUrls": [OTHER_URL, SOURCE_URL]}, {"QueueUrl": DLQ_URL}
        )
        with pytest.raises(ConfigurationError, match="2 queues name"):
            redrive.only_source_queue(sqs, DLQ_URL, preferred_url="https://sqs.us-west-2.amazonaws.com/1/elsewhere")
        stub.assert_no_pending_responses()
