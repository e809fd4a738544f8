"""`ivs-revoke` end to end on the local stack: submit through the queue and the bus, watch the pairs
revoked by the function, find a denied pair in `dlq list`, and `dlq redrive` it back.

The CLI runs as an operator runs it: the installed console script, in a process of its own, pointed at
the local stack with --endpoint-url (moto's server serves SQS and EventBridge).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ivs_revocation.intake import ValidRequest, read_request
from ivs_revocation.models import (
    ATTR_ATTEMPTS,
    ATTR_ERROR_CODE,
    ATTR_ERROR_MESSAGE,
    CODE_INVALID_MESSAGE,
    DeadLetterMessage,
    RevocationError,
    ViewerSession,
)
from local.stack import LocalStack
from tests.integration.conftest import cli_environment, one_invocation_settings

pytestmark = pytest.mark.integration

IVS_REVOKE = str(Path(sys.executable).parent / "ivs-revoke")
REGION = "us-west-2"
ACCOUNT = "123456789012"
DENIED = f"arn:aws:ivs:{REGION}:{ACCOUNT}:channel/deniedChannel"
DRAIN_SECONDS = 60.0


def channel(name: str) -> str:
    return f"arn:aws:ivs:{REGION}:{ACCOUNT}:channel/{name}"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    settings = one_invocation_settings()
    with LocalStack(settings, region=REGION, ivs_options={"unauthorized_channels": [DENIED]}) as stack:
        yield stack


@pytest.fixture
def clean(stack: LocalStack) -> LocalStack:
    # Drained first: what the last test left (a redriven pair) may be held by the function, invisible
    # to the purge, and come back visible in the middle of this test.
    stack.drain(DRAIN_SECONDS)
    stack.purge()
    return stack


def ivs_revoke(stack: LocalStack, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IVS_REVOKE, *argv, "--endpoint-url", stack.endpoint_url],
        capture_output=True,
        text=True,
        env=cli_environment(stack),
        timeout=120,
        check=False,
    )


def _shorthand(chan: str, viewers: list[str], version: int = 5) -> list[str]:
    return [
        f"channelArn={chan},viewerId={viewer},viewerSessionVersionsLessThanOrEqualTo={version}" for viewer in viewers
    ]


def _revoked(stack: LocalStack) -> dict[tuple[str, str], int]:
    return dict(stack.ivs.ledger().revoked)


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_pairs_submitted_through_the_queue_are_revoked_and_a_denied_one_is_in_dlq_list(clean: LocalStack) -> None:
    allowed = [f"q-{index}" for index in range(44)]
    submitted = _json(
        ivs_revoke(
            clean,
            "submit",
            "--viewer-sessions",
            *_shorthand(channel("chanQ"), allowed),
            *_shorthand(DENIED, ["banned"]),
        )
    )
    assert (submitted["pairsSent"], submitted["messagesSent"]) == (45, 3)

    clean.drain(DRAIN_SECONDS)

    assert _revoked(clean) == {(channel("chanQ"), viewer): 5 for viewer in allowed}
    listing = _json(ivs_revoke(clean, "dlq", "list"))
    assert listing["invalidMessages"] == []
    [row] = listing["failedPairs"]
    assert (row["channelArn"], row["viewerId"], row["code"], row["message"]) == (
        DENIED,
        "banned",
        "403",
        "not authorized",
    )
    assert row["sourceMessageId"] in submitted["messageIds"]
    assert isinstance(row["attempts"], int) and row["attempts"] >= 1
    # Listing consumed nothing: the message is still there, visible.
    assert clean.queue_counts(clean.resources.dead_letter_queue_url)["Messages"] == 1

    stats = _json(ivs_revoke(clean, "dlq", "stats"))
    assert stats["byCode"] == [{"code": "403", "pairs": 1, "invalidMessages": 0}]

    table = ivs_revoke(clean, "dlq", "list", "--output", "table", "--color", "off")
    assert table.returncode == 0
    assert table.stdout.startswith("---") and "failedPairs" in table.stdout
    assert all(value in table.stdout for value in ("banned", "403", "not authorized", row["sourceMessageId"]))


def test_pairs_put_on_the_bus_reach_the_queue_through_the_rule_and_are_revoked(clean: LocalStack) -> None:
    viewers = [f"b-{index}" for index in range(25)]
    put = _json(
        ivs_revoke(
            clean,
            "submit",
            "--event-bus",
            clean.resources.event_bus_name,
            "--viewer-sessions",
            *_shorthand(channel("chanB"), viewers, version=9),
        )
    )
    assert (put["pairsSent"], put["eventsSent"]) == (25, 2)

    clean.drain(DRAIN_SECONDS)

    assert _revoked(clean) == {(channel("chanB"), viewer): 9 for viewer in viewers}
    assert _json(ivs_revoke(clean, "dlq", "list"))["failedPairs"] == []


def _single_calls(stack: LocalStack) -> dict[str, str]:
    """Viewer ID -> operation of the accepted call that named it (single calls name their pair)."""
    return {call.viewer_id: call.operation for call in stack.ivs.ledger().accepted_calls if call.viewer_id is not None}


@pytest.mark.parametrize("through_bus", [False, True], ids=["urgent-queue", "urgent-rule"])
def test_urgent_pairs_reach_the_urgent_lane_and_are_revoked_one_call_each(clean: LocalStack, through_bus: bool) -> None:
    viewers = [f"u-{index}" for index in range(3)]
    where = ["--event-bus", clean.resources.event_bus_name] if through_bus else []
    sent = _json(
        ivs_revoke(clean, "submit", "--urgent", *where, "--viewer-sessions", *_shorthand(channel("chanU"), viewers, 4))
    )
    assert (sent["priority"], sent["pairsSent"]) == ("urgent", 3)

    clean.drain(DRAIN_SECONDS)

    assert _revoked(clean) == {(channel("chanU"), viewer): 4 for viewer in viewers}
    # Each by the single-pair operation: the urgent lane took them, not the bulk lane.
    assert _single_calls(clean) == dict.fromkeys(viewers, "StartViewerSessionRevocation")
    # No batch call took any of them (a retried single call, e.g. after a deadline under load, may add one).
    assert [call.operation for call in clean.ivs.ledger().accepted_calls if call.viewer_id is None] == []


def test_dlq_redrive_moves_the_denied_pair_back_to_the_queue_where_it_is_tried_again(clean: LocalStack) -> None:
    # The dead letter was written by the function with SendMessage: SQS does not know its source, so
    # the move task must name it (without DestinationArn it fails with CouldNotDetermineMessageSource).
    _json(ivs_revoke(clean, "submit", "--viewer-sessions", *_shorthand(DENIED, ["banned"])))
    clean.drain(DRAIN_SECONDS)
    [first] = _json(ivs_revoke(clean, "dlq", "list"))["failedPairs"]

    clean.stop_function()
    try:
        redriven = ivs_revoke(clean, "dlq", "redrive", "--dlq-url", clean.resources.dead_letter_queue_url, "--wait")
        assert redriven.returncode == 0, redriven.stderr
        # StartMessageMoveTask itself, not the client-side move kept for endpoints that lack it.
        assert "does not implement StartMessageMoveTask" not in redriven.stderr
        output = json.loads(redriven.stdout)
        assert output["destinationArn"] == clean.resources.queue_arn
        assert (output["task"]["Status"], output["task"]["DestinationArn"]) == ("COMPLETED", clean.resources.queue_arn)
        assert output["messagesMoved"] == 1
        # Back in the source queue, as a request the function reads; gone from the DLQ.
        assert clean.queue_counts(clean.resources.dead_letter_queue_url)["Messages"] == 0
        messages = clean.sqs.receive_message(
            QueueUrl=clean.resources.queue_url, VisibilityTimeout=0, WaitTimeSeconds=1
        ).get("Messages", [])
        assert len(messages) == 1
        intake = read_request(messages[0]["Body"])
        assert isinstance(intake, ValidRequest)
        assert [(s.channel_arn, s.viewer_id) for s in intake.sessions] == [(DENIED, "banned")]
    finally:
        clean.start_function()

    clean.drain(DRAIN_SECONDS)
    # Tried again: still denied (nothing fixed the cause), so it is back in the DLQ with its reason.
    assert clean.ivs.ledger().pair_errors.get("403") == 2
    [again] = _json(ivs_revoke(clean, "dlq", "list"))["failedPairs"]
    assert (again["viewerId"], again["code"]) == ("banned", "403")
    assert again["messageId"] != first["messageId"]


def test_dlq_redrive_client_side_moves_the_denied_pair_back_too(clean: LocalStack) -> None:
    _json(ivs_revoke(clean, "submit", "--viewer-sessions", *_shorthand(DENIED, ["banned"])))
    clean.drain(DRAIN_SECONDS)
    clean.stop_function()
    try:
        output = _json(ivs_revoke(clean, "dlq", "redrive", "--client-side", "--wait"))
        assert (output["destinationUrl"], output["messagesMoved"]) == (clean.resources.queue_url, 1)
        assert clean.queue_counts(clean.resources.dead_letter_queue_url)["Messages"] == 0
        assert clean.queue_counts(clean.resources.queue_url)["Messages"] == 1
    finally:
        clean.start_function()


def test_dlq_commands_read_a_letter_no_parser_takes_and_redrive_leaves_invalid_letters(clean: LocalStack) -> None:
    # Letters as the function writes them, and one SQS's redrive policy moved bare after the function
    # failed on its batch (a producer's own attributes travel with it), written straight to the DLQ.
    dlq_url, queue_url = clean.resources.dead_letter_queue_url, clean.resources.queue_url
    denied = DeadLetterMessage(
        viewer_sessions=[ViewerSession(channel_arn=DENIED, viewer_id="banned")],
        errors=[RevocationError(channel_arn=DENIED, viewer_id="banned", code="403", message="not authorized")],
    )
    poison = (
        f'{{"channelArn": "{DENIED}", "viewerId": "poison", "viewerSessionVersionsLessThanOrEqualTo": {"9" * 4301}}}'
    )
    letters = [
        (denied.to_json(), {ATTR_ERROR_CODE: "403", ATTR_ERROR_MESSAGE: "not authorized"}),
        ("not JSON", {ATTR_ERROR_CODE: CODE_INVALID_MESSAGE, ATTR_ERROR_MESSAGE: "body is not JSON"}),
        (poison, {ATTR_ATTEMPTS: "²"}),
    ]
    clean.stop_function()  # nothing takes what is redriven to the queue while it is counted
    try:
        for body, attributes in letters:
            clean.sqs.send_message(
                QueueUrl=dlq_url,
                MessageBody=body,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
                },
            )

        listed = _json(ivs_revoke(clean, "dlq", "list"))
        assert [row["viewerId"] for row in listed["failedPairs"]] == ["banned"]
        invalid = {row["body"]: row for row in listed["invalidMessages"]}
        assert invalid["not JSON"]["code"] == CODE_INVALID_MESSAGE
        assert "4300" in invalid[poison]["message"] and invalid[poison]["attempts"] == "²"
        stats = _json(ivs_revoke(clean, "dlq", "stats"))
        assert (stats["messagesScanned"], stats["failedPairs"], stats["invalidMessages"]) == (3, 1, 2)

        # The InvalidMessage letter stays; the task cannot leave it, so the others move from here.
        redriven = ivs_revoke(clean, "dlq", "redrive", "--wait")
        output = _json(redriven)
        assert (output["messagesMoved"], output["invalidMessagesLeft"]) == (2, 1)
        assert "1 InvalidMessage dead letters left" in redriven.stderr
        assert (clean.queue_counts(dlq_url)["Messages"], clean.queue_counts(queue_url)["Messages"]) == (1, 2)

        # Asked for, it goes too, by the move task.
        everything = _json(ivs_revoke(clean, "dlq", "redrive", "--include-invalid", "--wait"))
        assert (everything["task"]["Status"], everything["messagesMoved"]) == ("COMPLETED", 1)
        assert (clean.queue_counts(dlq_url)["Messages"], clean.queue_counts(queue_url)["Messages"]) == (0, 3)
    finally:
        clean.purge()
        clean.start_function()
