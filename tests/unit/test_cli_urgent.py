"""`ivs-revoke submit --urgent`: the urgent lane's queue, or events the urgent rule matches.

Bodies are read back with the function's own intake (`ivs_revocation.intake.read_request`), and the
events matched with the stack's own rule patterns, so that what the command sends is what the
pipeline routes and accepts.
"""

from __future__ import annotations

import json

import pytest

from ivs_revocation.intake import ValidRequest, read_request
from ivs_revocation.models import EVENT_DETAIL_TYPE, EVENT_SOURCE, PRIORITY_URGENT, ViewerSession, sqs_message_bytes
from ivs_revoke.senders import request_body
from ivs_revoke.targets import (
    ENV_QUEUE_URL,
    ENV_URGENT_QUEUE_URL,
    OUTPUT_QUEUE_URL,
    OUTPUT_URGENT_QUEUE_URL,
)
from tests.unit.cli_support import FakeAws, channel, describe_stacks_reply, ivs_revoke, queue_attributes, shorthand

pytestmark = pytest.mark.unit

QUEUE_URL = "https://sqs.us-west-2.amazonaws.com/123456789012/revocations"
URGENT_URL = "https://sqs.us-west-2.amazonaws.com/123456789012/IvsRevocation-urgent"
REGION_ARGS = ["--region", "us-west-2"]


def _pairs(count: int) -> list[str]:
    return [shorthand(channel(), f"viewer-{index}", index) for index in range(count)]


def _expected(count: int) -> list[ViewerSession]:
    return [ViewerSession(channel_arn=channel(), viewer_id=f"viewer-{index}", version=index) for index in range(count)]


def _message_bodies(fake: FakeAws) -> list[str]:
    return [entry["MessageBody"] for sent in fake.of("SendMessageBatch") for entry in sent.json()["Entries"]]


def _read(bodies: list[str]) -> list[ValidRequest]:
    requests = [read_request(body) for body in bodies]
    assert all(isinstance(request, ValidRequest) for request in requests), requests
    return requests  # type: ignore[return-value]


def test_urgent_pairs_go_to_the_urgent_queue_one_pair_a_message_each_saying_urgent() -> None:
    fake = FakeAws()
    result = ivs_revoke(
        ["submit", "--urgent", "--urgent-queue-url", URGENT_URL, *REGION_ARGS, "--viewer-sessions", *_pairs(12)], fake
    )
    assert result.code == 0, result.stderr
    assert {sent.json()["QueueUrl"] for sent in fake.of("SendMessageBatch")} == {URGENT_URL}
    bodies = _message_bodies(fake)
    # One pair a message: the lane spreads messages over its instances and keeps a bounded number of
    # pairs of each; nothing of a 12-pair submit waits in the bulk queue.
    assert len(bodies) == 12
    assert all(json.loads(body)["priority"] == PRIORITY_URGENT for body in bodies)
    requests = _read(bodies)
    assert [session for request in requests for session in request.sessions] == _expected(12)
    output = result.json()
    assert (output["queueUrl"], output["priority"], output["pairsSent"]) == (URGENT_URL, PRIORITY_URGENT, 12)


def test_pairs_per_message_still_packs_urgent_messages_and_each_says_urgent() -> None:
    fake = FakeAws()
    args = ["submit", "--urgent", "--urgent-queue-url", URGENT_URL, "--pairs-per-message", "5", *REGION_ARGS]
    result = ivs_revoke([*args, "--viewer-sessions", *_pairs(12)], fake)
    assert result.code == 0, result.stderr
    bodies = _message_bodies(fake)
    assert [len(json.loads(body)["viewerSessions"]) for body in bodies] == [5, 5, 2]
    assert {json.loads(body)["priority"] for body in bodies} == {PRIORITY_URGENT}


def test_urgent_messages_packed_to_the_queue_s_size_count_the_priority_member() -> None:
    # A limit that five pairs fit without the member and not with it.
    five = sqs_message_bytes(request_body(_expected(5)), {})
    limit = five + len(f', "priority": "{PRIORITY_URGENT}"') // 2
    fake = FakeAws()
    fake.on("GetQueueAttributes", queue_attributes(maximum_message_size=limit))
    args = ["submit", "--urgent", "--urgent-queue-url", URGENT_URL, "--pairs-per-message", "0", *REGION_ARGS]
    result = ivs_revoke([*args, "--viewer-sessions", *_pairs(10)], fake)
    assert result.code == 0, result.stderr
    sizes = [sqs_message_bytes(body, {}) for body in _message_bodies(fake)]
    assert max(sizes) <= limit


def test_bulk_bodies_carry_no_priority() -> None:
    fake = FakeAws()
    result = ivs_revoke(["submit", "--queue-url", QUEUE_URL, *REGION_ARGS, "--viewer-sessions", *_pairs(3)], fake)
    assert result.code == 0, result.stderr
    assert all("priority" not in json.loads(body) for body in _message_bodies(fake))
    assert "priority" not in result.json()


def test_the_urgent_queue_comes_from_the_environment_then_the_stack_never_from_the_bulk_queue_s() -> None:
    fake = FakeAws()
    environ = {ENV_URGENT_QUEUE_URL: URGENT_URL, ENV_QUEUE_URL: QUEUE_URL}
    result = ivs_revoke(["submit", "--urgent", *REGION_ARGS, "--viewer-sessions", *_pairs(1)], fake, environ=environ)
    assert result.code == 0, result.stderr
    assert fake.of("SendMessageBatch")[0].json()["QueueUrl"] == URGENT_URL

    fake = FakeAws()
    outputs = {OUTPUT_QUEUE_URL: QUEUE_URL, OUTPUT_URGENT_QUEUE_URL: URGENT_URL}
    fake.on("DescribeStacks", [describe_stacks_reply("IvsRevocation", outputs)])
    result = ivs_revoke(
        ["submit", "--urgent", "--stack-name", "IvsRevocation", *REGION_ARGS, "--viewer-sessions", *_pairs(1)],
        fake,
        environ={ENV_QUEUE_URL: QUEUE_URL},
    )
    assert result.code == 0, result.stderr
    assert fake.of("SendMessageBatch")[0].json()["QueueUrl"] == URGENT_URL


def test_no_urgent_queue_named_anywhere_is_a_configuration_error_naming_its_sources() -> None:
    fake = FakeAws()
    result = ivs_revoke(
        ["submit", "--urgent", *REGION_ARGS, "--viewer-sessions", *_pairs(1)], fake, environ={ENV_QUEUE_URL: QUEUE_URL}
    )
    assert result.code == 253
    assert "--urgent-queue-url" in result.stderr and ENV_URGENT_QUEUE_URL in result.stderr
    assert fake.sent == []

    fake = FakeAws()
    fake.on("DescribeStacks", [describe_stacks_reply("Old", {OUTPUT_QUEUE_URL: QUEUE_URL})])
    result = ivs_revoke(
        ["submit", "--urgent", "--stack-name", "Old", *REGION_ARGS, "--viewer-sessions", *_pairs(1)], fake
    )
    assert result.code == 253
    # A stack deployed before the urgent lane existed says so, rather than sending to its bulk queue.
    assert f"stack Old has no output {OUTPUT_URGENT_QUEUE_URL}" in result.stderr
    assert fake.of("SendMessageBatch") == []


def test_urgent_events_say_priority_urgent_in_their_detail_and_the_function_reads_them_back() -> None:
    fake = FakeAws()
    result = ivs_revoke(
        ["submit", "--urgent", "--event-bus", "revocations", *REGION_ARGS, "--viewer-sessions", *_pairs(3)], fake
    )
    assert result.code == 0, result.stderr
    entries = [entry for sent in fake.of("PutEvents") for entry in sent.json()["Entries"]]
    assert len(entries) == 3
    assert {(e["Source"], e["DetailType"], e["EventBusName"]) for e in entries} == {
        (EVENT_SOURCE, EVENT_DETAIL_TYPE, "revocations")
    }
    details = [json.loads(entry["Detail"]) for entry in entries]
    # What the urgent rule matches (`detail.priority = ["urgent"]`) and the bulk rule must not take.
    assert {detail["priority"] for detail in details} == {PRIORITY_URGENT}
    delivered = [
        json.dumps({"id": f"id-{index}", "source": e["Source"], "detail-type": e["DetailType"], "detail": detail})
        for index, (e, detail) in enumerate(zip(entries, details, strict=True))
    ]
    assert [session for request in _read(delivered) for session in request.sessions] == _expected(3)
    assert result.json()["priority"] == PRIORITY_URGENT


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--urgent", "--direct"], "--direct"),
        (["--urgent", "--queue-url", QUEUE_URL], "--queue-url"),
        (["--urgent-queue-url", URGENT_URL], "--urgent-queue-url"),
        (["--urgent", "--urgent-queue-url", URGENT_URL, "--event-bus", "b"], "not allowed with argument"),
    ],
)
def test_urgent_with_an_option_of_another_destination_is_a_usage_error_and_nothing_is_sent(
    extra: list[str], named: str
) -> None:
    fake = FakeAws()
    result = ivs_revoke(["submit", *extra, *REGION_ARGS, "--viewer-sessions", *_pairs(1)], fake)
    assert result.code == 252, result.stderr
    assert named in result.stderr
    assert fake.sent == []


def test_help_tells_when_to_use_the_urgent_lane(capsys: pytest.CaptureFixture[str]) -> None:
    assert ivs_revoke(["submit", "--help"], FakeAws()).code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--urgent" in text and "--urgent-queue-url" in text and ENV_URGENT_QUEUE_URL in text
    assert "Not with --direct" in text
