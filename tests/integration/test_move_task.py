"""StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask on the local SQS (moto's server
with local/moto_server.py), with SQS's documented rules, through boto3, the AWS CLI and the query
protocol.

The rule that matters most to this project: without a DestinationArn, SQS moves a message back only
to the queue whose redrive policy moved it to the DLQ. A dead letter the function wrote with
SendMessage has no such queue, and the task fails with CouldNotDetermineMessageSource.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.clients import CREDENTIALS, DEFAULT_REGION, client
from local.moto_process import MotoServer

pytestmark = pytest.mark.integration

AWS = str(Path(sys.executable).parent / "aws")
TERMINAL = ("COMPLETED", "CANCELLED", "FAILED")
TASK_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Pair:
    """A source queue whose redrive policy names a DLQ after one receive."""

    sqs: Any
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str

    def dead_letter_by_redrive_policy(self, body: str, **attributes: str) -> None:
        """Sent to the source queue and received once: the next receive moves it to the DLQ."""
        self.sqs.send_message(QueueUrl=self.url, MessageBody=body, MessageAttributes=_attributes(attributes))
        self.sqs.receive_message(QueueUrl=self.url, VisibilityTimeout=0)
        assert self.sqs.receive_message(QueueUrl=self.url, VisibilityTimeout=0).get("Messages") is None

    def dead_letter_by_send_message(self, body: str, **attributes: str) -> None:
        """Written to the DLQ directly, as the function writes a dead letter with its reason."""
        self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=body, MessageAttributes=_attributes(attributes))

    def latest_task(self) -> dict[str, Any]:
        (task,) = self.sqs.list_message_move_tasks(SourceArn=self.dlq_arn)["Results"]
        return dict(task)

    def wait(self) -> dict[str, Any]:
        deadline = time.monotonic() + TASK_TIMEOUT_SECONDS
        while (task := self.latest_task())["Status"] not in TERMINAL:
            assert time.monotonic() < deadline, f"task still {task['Status']}"
            time.sleep(0.05)
        return task


def _attributes(values: dict[str, str]) -> dict[str, Any]:
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def _arn(sqs: Any, url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return arn


def _messages(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message of the queue, consumed."""
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
        VisibilityTimeout=60,
    ).get("Messages"):
        found += batch
    return found


def _refused(call: Any, **parameters: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as refused:
        call(**parameters)
    error: dict[str, Any] = refused.value.response["Error"]
    error["HTTPStatusCode"] = refused.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error


@pytest.fixture
def pair(moto_server: MotoServer) -> Pair:
    sqs = client("sqs", moto_server.url)
    name = f"move-{uuid.uuid4().hex[:8]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = _arn(sqs, dlq_url)
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})},
    )["QueueUrl"]
    return Pair(sqs, url, _arn(sqs, url), dlq_url, dlq_arn)


def _aws(moto_server: MotoServer, *argv: str) -> subprocess.CompletedProcess[str]:
    """The AWS CLI (v1, the awscli package) against the local SQS."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(
        AWS_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return subprocess.run(
        [AWS, "sqs", *argv, "--endpoint-url", moto_server.url, "--region", DEFAULT_REGION, "--output", "json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


# --- without a destination: back to the source, if SQS knows it --------------------------------


def test_the_readme_s_redrive_without_a_destination_fails_for_a_dead_letter_the_function_wrote(
    moto_server: MotoServer, pair: Pair
) -> None:
    """`aws sqs start-message-move-task --source-arn <DLQ>`, as an operator would run it."""
    pair.dead_letter_by_send_message('{"channelArn": "arn", "viewerId": "v"}', ErrorCode="403")

    started = _aws(moto_server, "start-message-move-task", "--source-arn", pair.dlq_arn)
    assert started.returncode == 0, started.stderr
    task = pair.wait()

    assert task["Status"] == "FAILED"
    assert task["FailureReason"] == "CouldNotDetermineMessageSource"
    assert task["ApproximateNumberOfMessagesMoved"] == 0
    assert "TaskHandle" not in task and "DestinationArn" not in task
    assert [m["Body"] for m in _messages(pair.sqs, pair.dlq_url)] == ['{"channelArn": "arn", "viewerId": "v"}']
    assert _messages(pair.sqs, pair.url) == []


def test_with_the_source_queue_as_destination_the_aws_cli_moves_it(moto_server: MotoServer, pair: Pair) -> None:
    pair.dead_letter_by_send_message("written by the function", ErrorCode="403")

    started = _aws(moto_server, "start-message-move-task", "--source-arn", pair.dlq_arn, "--destination-arn", pair.arn)
    assert started.returncode == 0, started.stderr
    handle = json.loads(started.stdout)["TaskHandle"]
    pair.wait()
    listed = _aws(moto_server, "list-message-move-tasks", "--source-arn", pair.dlq_arn)

    (task,) = json.loads(listed.stdout)["Results"]
    assert (task["Status"], task["DestinationArn"], task["ApproximateNumberOfMessagesMoved"]) == (
        "COMPLETED",
        pair.arn,
        1,
    )
    # SQS's handle: base64 of the task's id and source.
    assert set(json.loads(base64.b64decode(handle))) == {"taskId", "sourceArn"}
    assert json.loads(base64.b64decode(handle))["sourceArn"] == pair.dlq_arn
    assert [m["Body"] for m in _messages(pair.sqs, pair.url)] == ["written by the function"]


def test_without_a_destination_a_message_the_redrive_policy_moved_goes_back_to_its_source(pair: Pair) -> None:
    pair.dead_letter_by_redrive_policy("crashed the function", Kind="bare")
    (in_dlq,) = _messages(pair.sqs, pair.dlq_url)
    pair.sqs.change_message_visibility(
        QueueUrl=pair.dlq_url, ReceiptHandle=in_dlq["ReceiptHandle"], VisibilityTimeout=0
    )

    pair.sqs.start_message_move_task(SourceArn=pair.dlq_arn)
    task = pair.wait()

    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"], task["ApproximateNumberOfMessagesToMove"]) == (
        "COMPLETED",
        1,
        1,
    )
    (back,) = _messages(pair.sqs, pair.url)
    # A new message, as SQS makes it: same body and attributes, new ID, receive count from zero.
    assert back["Body"] == "crashed the function"
    assert back["MessageAttributes"] == {"Kind": {"DataType": "String", "StringValue": "bare"}}
    assert back["MessageId"] != in_dlq["MessageId"]
    assert back["Attributes"]["ApproximateReceiveCount"] == "1"
    assert _messages(pair.sqs, pair.dlq_url) == []


def test_a_failed_task_leaves_the_message_without_source_and_those_after_it_in_the_dead_letter_queue(
    pair: Pair,
) -> None:
    pair.dead_letter_by_redrive_policy("first, moved by the policy")
    pair.dead_letter_by_send_message("second, sent")
    pair.dead_letter_by_redrive_policy("third, moved by the policy")

    pair.sqs.start_message_move_task(SourceArn=pair.dlq_arn)
    task = pair.wait()

    assert (task["Status"], task["FailureReason"], task["ApproximateNumberOfMessagesMoved"]) == (
        "FAILED",
        "CouldNotDetermineMessageSource",
        1,
    )
    assert [m["Body"] for m in _messages(pair.sqs, pair.url)] == ["first, moved by the policy"]
    assert sorted(m["Body"] for m in _messages(pair.sqs, pair.dlq_url)) == [
        "second, sent",
        "third, moved by the policy",
    ]


# --- with a destination -------------------------------------------------------------------------


def test_with_a_destination_both_kinds_move_with_their_bodies_and_attributes(pair: Pair) -> None:
    pair.dead_letter_by_send_message("sent", ErrorCode="InvalidMessage", ErrorMessage="viewerId: too long")
    pair.dead_letter_by_redrive_policy("moved")

    pair.sqs.start_message_move_task(SourceArn=pair.dlq_arn, DestinationArn=pair.arn)
    task = pair.wait()

    assert (task["Status"], task["DestinationArn"], task["ApproximateNumberOfMessagesMoved"]) == (
        "COMPLETED",
        pair.arn,
        2,
    )
    moved = {m["Body"]: m.get("MessageAttributes") for m in _messages(pair.sqs, pair.url)}
    assert moved == {
        "sent": {
            "ErrorCode": {"DataType": "String", "StringValue": "InvalidMessage"},
            "ErrorMessage": {"DataType": "String", "StringValue": "viewerId: too long"},
        },
        "moved": None,
    }


def test_a_message_arriving_while_the_task_runs_waits_for_the_next_task(pair: Pair) -> None:
    for n in range(2):
        pair.dead_letter_by_send_message(f"before {n}")
    pair.sqs.start_message_move_task(SourceArn=pair.dlq_arn, DestinationArn=pair.arn, MaxNumberOfMessagesPerSecond=5)
    pair.dead_letter_by_send_message("during")
    task = pair.wait()

    assert (task["ApproximateNumberOfMessagesToMove"], task["ApproximateNumberOfMessagesMoved"]) == (2, 2)
    assert [m["Body"] for m in _messages(pair.sqs, pair.dlq_url)] == ["during"]


# --- running, cancelling, one at a time ----------------------------------------------------------


@pytest.mark.timed
def test_a_running_task_can_be_cancelled_and_what_it_did_not_move_stays(pair: Pair) -> None:
    for n in range(5):
        pair.dead_letter_by_send_message(f"letter {n}")
    started = time.monotonic()
    handle = pair.sqs.start_message_move_task(
        SourceArn=pair.dlq_arn, DestinationArn=pair.arn, MaxNumberOfMessagesPerSecond=2
    )["TaskHandle"]

    running = pair.latest_task()
    assert running["Status"] == "RUNNING"
    assert (running["TaskHandle"], running["MaxNumberOfMessagesPerSecond"]) == (handle, 2)
    assert running["ApproximateNumberOfMessagesToMove"] == 5
    assert abs(running["StartedTimestamp"] - time.time() * 1000) < 5000
    cancelled = pair.sqs.cancel_message_move_task(TaskHandle=handle)
    task = pair.wait()

    assert task["Status"] == "CANCELLED" and "TaskHandle" not in task
    assert cancelled["ApproximateNumberOfMessagesMoved"] <= task["ApproximateNumberOfMessagesMoved"] < 5
    # Two a second: five would have taken two seconds.
    assert time.monotonic() - started < 2
    moved, left = _messages(pair.sqs, pair.url), _messages(pair.sqs, pair.dlq_url)
    assert len(moved) == task["ApproximateNumberOfMessagesMoved"] and len(moved) + len(left) == 5
    error = _refused(pair.sqs.cancel_message_move_task, TaskHandle=handle)
    assert (error["Code"], error["HTTPStatusCode"]) == ("ResourceNotFoundException", 400)


def test_the_rate_is_honoured(pair: Pair) -> None:
    for n in range(3):
        pair.dead_letter_by_send_message(f"letter {n}")
    started = time.monotonic()
    pair.sqs.start_message_move_task(SourceArn=pair.dlq_arn, DestinationArn=pair.arn, MaxNumberOfMessagesPerSecond=4)
    task = pair.wait()

    assert task["ApproximateNumberOfMessagesMoved"] == 3
    assert time.monotonic() - started >= 0.5  # three moves, a quarter second apart


def test_one_active_task_per_source_queue(pair: Pair) -> None:
    for n in range(3):
        pair.dead_letter_by_send_message(f"letter {n}")
    handle = pair.sqs.start_message_move_task(
        SourceArn=pair.dlq_arn, DestinationArn=pair.arn, MaxNumberOfMessagesPerSecond=1
    )["TaskHandle"]

    error = _refused(pair.sqs.start_message_move_task, SourceArn=pair.dlq_arn, DestinationArn=pair.arn)
    assert error["Code"] == "InvalidParameterValue"
    assert error["Message"] == (
        "There is already a task running. Only one active task is allowed for a source queue arn at a given time."
    )
    pair.sqs.cancel_message_move_task(TaskHandle=handle)
    assert pair.wait()["Status"] == "CANCELLED"
    pair.sqs.start_message_move_task(SourceArn=pair.dlq_arn, DestinationArn=pair.arn)
    assert pair.wait()["Status"] == "COMPLETED"
    assert len(pair.sqs.list_message_move_tasks(SourceArn=pair.dlq_arn, MaxResults=10)["Results"]) == 2


# --- what SQS refuses ----------------------------------------------------------------------------


def test_the_source_must_be_a_dead_letter_queue(pair: Pair) -> None:
    error = _refused(pair.sqs.start_message_move_task, SourceArn=pair.arn, DestinationArn=pair.dlq_arn)
    assert (error["Code"], error["Message"], error["HTTPStatusCode"]) == (
        "InvalidParameterValue",
        "Source queue must be configured as a Dead Letter Queue.",
        400,
    )


@pytest.mark.parametrize("parameter", ["SourceArn", "DestinationArn"])
def test_queues_that_do_not_exist_are_not_found(pair: Pair, parameter: str) -> None:
    arns = {"SourceArn": pair.dlq_arn, "DestinationArn": pair.arn}
    arns[parameter] += "-gone"
    error = _refused(pair.sqs.start_message_move_task, **arns)
    # The SQS API reference lists ResourceNotFoundException of the move-task actions with HTTP status code 400.
    assert (error["Code"], error["Message"], error["HTTPStatusCode"]) == (
        "ResourceNotFoundException",
        f"The resource that you specified for the {parameter} parameter doesn't exist.",
        400,
    )


def test_a_handle_that_is_not_one_is_invalid(pair: Pair) -> None:
    error = _refused(pair.sqs.cancel_message_move_task, TaskHandle="not-a-handle")
    assert (error["Code"], error["Message"]) == ("InvalidParameterValue", "Value for parameter TaskHandle is invalid.")


# --- the query protocol --------------------------------------------------------------------------


def _query(moto_server: MotoServer, action: str, **parameters: str) -> ET.Element:
    """An SQS query-protocol request (form-encoded `Action=...`), as SDKs sent before SQS's JSON protocol."""
    data = urllib.parse.urlencode({"Action": action, "Version": "2012-11-05", **parameters}).encode()
    request = urllib.request.Request(
        moto_server.url + "/",
        data=data,
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={CREDENTIALS['aws_access_key_id']}/20250101/"
            f"{DEFAULT_REGION}/sqs/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return ET.fromstring(response.read())


def test_the_query_protocol_answers_in_sqs_s_xml(moto_server: MotoServer, pair: Pair) -> None:
    pair.dead_letter_by_send_message("sent")
    ns = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}

    started = _query(moto_server, "StartMessageMoveTask", SourceArn=pair.dlq_arn, DestinationArn=pair.arn)
    handle = started.findtext("sqs:StartMessageMoveTaskResult/sqs:TaskHandle", namespaces=ns)
    assert handle
    pair.wait()
    listed = _query(moto_server, "ListMessageMoveTasks", SourceArn=pair.dlq_arn, MaxResults="10")

    entries = listed.findall("sqs:ListMessageMoveTasksResult/sqs:ListMessageMoveTasksResultEntry", namespaces=ns)
    assert [entry.findtext("sqs:Status", namespaces=ns) for entry in entries] == ["COMPLETED"]
    assert entries[0].findtext("sqs:ApproximateNumberOfMessagesMoved", namespaces=ns) == "1"
    assert [m["Body"] for m in _messages(pair.sqs, pair.url)] == ["sent"]
