"""`ivs-revoke submit` through the queue (SendMessageBatch) and the bus (PutEvents).

What is sent must be what the function accepts: each body is read back here with the function's own
intake (`ivs_revocation.intake.read_request`), never with a second parser of the format.
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import SSLError

from ivs_revocation.intake import ValidRequest, read_request
from ivs_revocation.models import (
    EVENT_DETAIL_TYPE,
    EVENT_SOURCE,
    EVENTBRIDGE_MAX_ENTRY_BYTES,
    SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    SQS_DISALLOWED_CHARACTER,
    SQS_MAX_MESSAGE_BYTES,
    ViewerSession,
    sqs_message_bytes,
)
from ivs_revoke.senders import event_entry_size, pack, request_body
from ivs_revoke.sqs import rule_may_send
from ivs_revoke.targets import ENV_EVENT_BUS, ENV_QUEUE_URL, ENV_STACK_NAME, OUTPUT_EVENT_BUS_NAME, OUTPUT_QUEUE_URL
from tests.unit.cli_support import (
    FakeAws,
    Reply,
    Sent,
    channel,
    describe_stacks_reply,
    ivs_revoke,
    json_error,
    queue_attributes,
    shorthand,
    xml_error,
)

pytestmark = pytest.mark.unit

QUEUE_URL = "https://sqs.us-west-2.amazonaws.com/123456789012/revocations"
REGION_ARGS = ["--region", "us-west-2"]


def _pairs(count: int) -> list[str]:
    return [shorthand(channel(), f"viewer-{index}", index) for index in range(count)]


def _expected(count: int) -> list[ViewerSession]:
    return [ViewerSession(channel_arn=channel(), viewer_id=f"viewer-{index}", version=index) for index in range(count)]


def _sessions_in(bodies: list[str]) -> list[ViewerSession]:
    sessions: list[ViewerSession] = []
    for body in bodies:
        intake = read_request(body)
        assert isinstance(intake, ValidRequest), intake
        sessions.extend(intake.sessions)
    return sessions


def _message_bodies(fake: FakeAws) -> list[str]:
    return [entry["MessageBody"] for sent in fake.of("SendMessageBatch") for entry in sent.json()["Entries"]]


# --- Queue -------------------------------------------------------------------------------------


def test_pairs_go_to_the_queue_as_request_messages_the_function_reads_back() -> None:
    fake = FakeAws()
    result = ivs_revoke(["submit", "--queue-url", QUEUE_URL, *REGION_ARGS, "--viewer-sessions", *_pairs(45)], fake)
    assert result.code == 0, result.stderr
    [batch] = fake.of("SendMessageBatch")
    assert batch.json()["QueueUrl"] == QUEUE_URL
    bodies = _message_bodies(fake)
    assert [len(json.loads(body)["viewerSessions"]) for body in bodies] == [20, 20, 5]
    assert _sessions_in(bodies) == _expected(45)
    output = result.json()
    assert output["queueUrl"] == QUEUE_URL
    assert (output["pairs"], output["pairsSent"], output["messages"], output["messagesSent"]) == (45, 45, 3, 3)
    assert len(output["messageIds"]) == 3
    assert "failed" not in output


def test_more_than_ten_messages_take_several_batches() -> None:
    fake = FakeAws()
    result = ivs_revoke(["submit", "--queue-url", QUEUE_URL, *REGION_ARGS, "--viewer-sessions", *_pairs(230)], fake)
    assert result.code == 0, result.stderr
    assert [len(sent.json()["Entries"]) for sent in fake.of("SendMessageBatch")] == [10, 2]
    assert _sessions_in(_message_bodies(fake)) == _expected(230)


def _long_pairs(count: int) -> list[str]:
    return [shorthand(channel("c" * 80), f"{uuid.uuid4().hex}-{index:07d}") for index in range(count)]


def _submit_packed(fake: FakeAws, pairs: list[str]) -> None:
    result = ivs_revoke(
        ["submit", "--queue-url", QUEUE_URL, *REGION_ARGS, "--pairs-per-message", "0", "--viewer-sessions", *pairs],
        fake,
    )
    assert result.code == 0, result.stderr
    assert len(_sessions_in(_message_bodies(fake))) == len(pairs)


def _body_bytes(fake: FakeAws) -> list[int]:
    return [sqs_message_bytes(body, {}) for body in _message_bodies(fake)]


def test_pairs_per_message_0_packs_up_to_the_queue_s_maximum_message_size_of_1_mib() -> None:
    fake = FakeAws()  # the queue answers MaximumMessageSize 1,048,576, a new queue's default since 2025
    _submit_packed(fake, _long_pairs(6000))
    [attributes] = fake.of("GetQueueAttributes")
    assert attributes.json() == {"QueueUrl": QUEUE_URL, "AttributeNames": ["MaximumMessageSize"]}
    sizes = _body_bytes(fake)
    assert len(sizes) == 2
    assert max(sizes) <= SQS_MAX_MESSAGE_BYTES
    assert max(sizes) > SQS_MAX_MESSAGE_BYTES * 0.99
    # A SendMessageBatch request holds at most 1 MiB in all: a full message travels alone.
    for sent in fake.of("SendMessageBatch"):
        assert sum(sqs_message_bytes(entry["MessageBody"], {}) for entry in sent.json()["Entries"]) <= (
            SQS_MAX_MESSAGE_BYTES
        )
    assert len(fake.of("SendMessageBatch")) == 2


def test_messages_stay_within_a_smaller_maximum_message_size_set_on_the_queue() -> None:
    fake = FakeAws()
    fake.on("GetQueueAttributes", queue_attributes(maximum_message_size=2_048))
    _submit_packed(fake, _long_pairs(100))
    sizes = _body_bytes(fake)
    assert max(sizes) <= 2_048 and max(sizes) > 2_048 * 0.8

    # Also at 20 pairs per message: twenty long pairs do not fit 2 KiB, so the messages hold fewer.
    fake = FakeAws()
    fake.on("GetQueueAttributes", queue_attributes(maximum_message_size=2_048))
    result = ivs_revoke(["submit", "--queue-url", QUEUE_URL, *REGION_ARGS, "--viewer-sessions", *_long_pairs(40)], fake)
    assert result.code == 0, result.stderr
    assert max(_body_bytes(fake)) <= 2_048
    assert len(_sessions_in(_message_bodies(fake))) == 40


def test_a_queue_whose_size_cannot_be_read_is_packed_to_the_stack_s_source_queue_limit() -> None:
    # A producer role may SendMessage without GetQueueAttributes.
    fake = FakeAws()
    fake.on("GetQueueAttributes", [json_error("AccessDenied", "not authorized to GetQueueAttributes", 403)])
    _submit_packed(fake, _long_pairs(6000))
    sizes = _body_bytes(fake)
    assert max(sizes) <= SOURCE_QUEUE_MAX_MESSAGE_BYTES
    assert max(sizes) > SOURCE_QUEUE_MAX_MESSAGE_BYTES * 0.99


def test_size_is_counted_in_utf8_bytes_not_characters() -> None:
    # 38 four-byte characters: a 40-character viewer ID of 154 bytes.
    items = [{"channelArn": channel(), "viewerId": f"{index:02d}" + "\U0001f600" * 38} for index in range(40)]
    fake = FakeAws()
    fake.on("GetQueueAttributes", queue_attributes(maximum_message_size=1_024))
    value = json.dumps(items, ensure_ascii=False)
    result = ivs_revoke(
        ["submit", "--queue-url", QUEUE_URL, *REGION_ARGS, "--pairs-per-message", "0", "--viewer-sessions", value],
        fake,
    )
    assert result.code == 0, result.stderr
    bodies = _message_bodies(fake)
    assert len(_sessions_in(bodies)) == 40
    assert max(sqs_message_bytes(body, {}) for body in bodies) <= 1_024
    assert max(len(body) for body in bodies) < 600  # well under 1,024 characters


def test_a_viewer_id_holding_characters_sqs_refuses_is_sent_escaped_and_read_back_unchanged() -> None:
    viewers = ["tab\there", "\u0001ctl", "\uffffend", "\ufffe", "nul\u0000"]
    # As JSON on the command line, these arrive escaped (json.dumps writes \\uXXXX), as a producer sends them.
    items = [{"channelArn": channel(), "viewerId": viewer} for viewer in viewers]
    fake = FakeAws()
    result = ivs_revoke(
        ["submit", "--queue-url", QUEUE_URL, *REGION_ARGS, "--viewer-sessions", json.dumps(items)], fake
    )
    assert result.code == 0, result.stderr
    [body] = _message_bodies(fake)
    assert SQS_DISALLOWED_CHARACTER.search(body) is None
    assert [session.viewer_id for session in _sessions_in([body])] == [item["viewerId"] for item in items]


def test_a_message_the_queue_failed_to_take_is_retried() -> None:
    fake = FakeAws()
    first = {"Successful": [], "Failed": [{"Id": "0", "SenderFault": False, "Code": "InternalError", "Message": "x"}]}
    answers = [Reply(first)]

    def flaky(sent: Sent) -> Reply:
        if answers:
            return answers.pop()
        entries = sent.json()["Entries"]
        return Reply({"Successful": [{"Id": e["Id"], "MessageId": "m", "MD5OfMessageBody": "0"} for e in entries]})

    fake.on("SendMessageBatch", flaky)
    result = ivs_revoke(["submit", "--queue-url", QUEUE_URL, *REGION_ARGS, "--viewer-sessions", *_pairs(3)], fake)
    assert result.code == 0, result.stderr
    assert len(fake.of("SendMessageBatch")) == 2


def test_a_message_refused_as_the_sender_s_fault_is_reported_and_exits_254() -> None:
    def refuse_second(sent: Sent) -> Reply:
        entries = sent.json()["Entries"]
        return Reply(
            {
                "Successful": [
                    {"Id": e["Id"], "MessageId": "m", "MD5OfMessageBody": "0"} for e in entries if e["Id"] != "1"
                ],
                "Failed": [{"Id": "1", "SenderFault": True, "Code": "InvalidMessageContents", "Message": "bad"}],
            }
        )

    fake = FakeAws()
    fake.on("SendMessageBatch", refuse_second)
    result = ivs_revoke(["submit", "--queue-url", QUEUE_URL, *REGION_ARGS, "--viewer-sessions", *_pairs(45)], fake)
    assert result.code == 254
    assert len(fake.of("SendMessageBatch")) == 1
    output = result.json()
    assert output["failed"] == [{"pairs": "viewerSessions[20:40]", "code": "InvalidMessageContents", "reason": "bad"}]
    assert output["pairsSent"] == 25
    assert "pairs not sent: viewerSessions[20:40]" in result.stderr


def test_a_tls_failure_on_a_later_batch_exits_255_reporting_what_was_sent_and_what_was_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # botocore retries the batch itself (its standard mode); its backoff is not waited for here.
    botocore_sleeps: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", botocore_sleeps.append)
    batches: list[Sent] = []

    def fail_second(sent: Sent) -> Reply:
        batches.append(sent)
        if len(batches) == 1:
            entries = sent.json()["Entries"]
            return Reply(
                {"Successful": [{"Id": e["Id"], "MessageId": f"m-{e['Id']}", "MD5OfMessageBody": "0"} for e in entries]}
            )
        raise SSLError(endpoint_url=sent.url, error="certificate verify failed")

    fake = FakeAws()
    fake.on("SendMessageBatch", fail_second)
    result = ivs_revoke(
        [
            "submit",
            "--queue-url",
            QUEUE_URL,
            *REGION_ARGS,
            "--pairs-per-message",
            "1",
            "--viewer-sessions",
            *_pairs(45),
        ],
        fake,
    )
    assert result.code == 255
    assert len(fake.of("SendMessageBatch")) > 2 and botocore_sleeps  # the second batch was tried again
    output = result.json()
    assert (output["pairs"], output["pairsSent"], output["messages"], output["messagesSent"]) == (45, 10, 45, 10)
    assert output["messageIds"] == [f"m-{index}" for index in range(10)]
    assert "certificate verify failed" in result.stderr
    assert "pairs not sent: viewerSessions[10:45]" in result.stderr


def test_a_queue_that_does_not_exist_is_a_service_error() -> None:
    fake = FakeAws()
    fake.on("SendMessageBatch", [json_error("AWS.SimpleQueueService.NonExistentQueue", "no queue")])
    result = ivs_revoke(["submit", "--queue-url", QUEUE_URL, *REGION_ARGS, "--viewer-sessions", *_pairs(2)], fake)
    assert result.code == 254
    assert "NonExistentQueue" in result.stderr


def test_the_queue_url_comes_from_the_environment() -> None:
    fake = FakeAws()
    result = ivs_revoke(
        ["submit", *REGION_ARGS, "--viewer-sessions", *_pairs(2)], fake, environ={ENV_QUEUE_URL: QUEUE_URL}
    )
    assert result.code == 0, result.stderr
    assert fake.of("SendMessageBatch")[0].json()["QueueUrl"] == QUEUE_URL


def test_the_queue_url_comes_from_the_stack_outputs() -> None:
    fake = FakeAws()
    fake.on("DescribeStacks", [describe_stacks_reply("IvsRevocation", {OUTPUT_QUEUE_URL: QUEUE_URL})])
    result = ivs_revoke(
        ["submit", *REGION_ARGS, "--stack-name", "IvsRevocation", "--viewer-sessions", *_pairs(2)], fake
    )
    assert result.code == 0, result.stderr
    assert "StackName=IvsRevocation" in fake.of("DescribeStacks")[0].body.decode()
    assert fake.of("SendMessageBatch")[0].json()["QueueUrl"] == QUEUE_URL
    # The stack name may also come from the environment.
    fake = FakeAws()
    fake.on("DescribeStacks", [describe_stacks_reply("Other", {OUTPUT_QUEUE_URL: QUEUE_URL})])
    result = ivs_revoke(
        ["submit", *REGION_ARGS, "--viewer-sessions", *_pairs(2)], fake, environ={ENV_STACK_NAME: "Other"}
    )
    assert result.code == 0, result.stderr


def test_a_missing_stack_or_output_is_a_configuration_error_and_nothing_is_sent() -> None:
    fake = FakeAws()
    fake.on("DescribeStacks", [xml_error("ValidationError", "Stack with id Nope does not exist")])
    result = ivs_revoke(["submit", *REGION_ARGS, "--stack-name", "Nope", "--viewer-sessions", *_pairs(2)], fake)
    assert result.code == 253
    assert "Stack with id Nope does not exist" in result.stderr
    assert fake.of("SendMessageBatch") == []

    fake = FakeAws()
    fake.on("DescribeStacks", [describe_stacks_reply("S", {})])
    result = ivs_revoke(["submit", *REGION_ARGS, "--stack-name", "S", "--viewer-sessions", *_pairs(2)], fake)
    assert result.code == 253
    assert f"stack S has no output {OUTPUT_QUEUE_URL}" in result.stderr


def test_no_queue_named_anywhere_is_a_configuration_error() -> None:
    result = ivs_revoke(["submit", *REGION_ARGS, "--viewer-sessions", *_pairs(2)], FakeAws())
    assert result.code == 253
    assert "--queue-url" in result.stderr and ENV_QUEUE_URL in result.stderr and "--stack-name" in result.stderr


def test_no_region_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    fake = FakeAws()
    result = ivs_revoke(["submit", "--queue-url", QUEUE_URL, "--viewer-sessions", *_pairs(2)], fake)
    assert result.code == 253
    assert "You must specify a region" in result.stderr
    assert "AWS_DEFAULT_REGION" in result.stderr  # the variables named are ones that are read
    assert fake.sent == []


def test_aws_region_names_the_region_as_with_the_aws_cli_v2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    fake = FakeAws()
    result = ivs_revoke(
        ["submit", "--queue-url", QUEUE_URL, "--viewer-sessions", *_pairs(2)], fake, environ={"AWS_REGION": "eu-west-1"}
    )
    assert result.code == 0, result.stderr
    [sent] = fake.of("SendMessageBatch")
    assert sent.region == "eu-west-1"


def test_aws_region_wins_over_aws_default_region_and_region_wins_over_both() -> None:
    # conftest sets AWS_DEFAULT_REGION; AWS_REGION overrides it, --region overrides AWS_REGION.
    fake = FakeAws()
    args = ["submit", "--queue-url", QUEUE_URL, "--viewer-sessions", *_pairs(2)]
    assert ivs_revoke(args, fake, environ={"AWS_REGION": "eu-west-1"}).code == 0
    assert ivs_revoke([*args, "--region", "ap-south-1"], fake, environ={"AWS_REGION": "eu-west-1"}).code == 0
    assert [sent.region for sent in fake.of("SendMessageBatch")] == ["eu-west-1", "ap-south-1"]


# --- Event bus ---------------------------------------------------------------------------------


def _details(fake: FakeAws) -> list[dict[str, str]]:
    return [entry for sent in fake.of("PutEvents") for entry in sent.json()["Entries"]]


def test_pairs_go_to_the_bus_as_events_the_stack_s_rule_matches_and_the_function_reads_back() -> None:
    fake = FakeAws()
    result = ivs_revoke(["submit", "--event-bus", "revocations", *REGION_ARGS, "--viewer-sessions", *_pairs(45)], fake)
    assert result.code == 0, result.stderr
    entries = _details(fake)
    assert len(entries) == 3
    assert {(e["Source"], e["DetailType"], e["EventBusName"]) for e in entries} == {
        (EVENT_SOURCE, EVENT_DETAIL_TYPE, "revocations")
    }
    # What a rule delivers to the queue: the whole event, its detail as a JSON object.
    delivered = [
        json.dumps(
            {
                "version": "0",
                "id": f"id-{index}",
                "detail-type": e["DetailType"],
                "source": e["Source"],
                "account": "123456789012",
                "time": "2024-01-01T00:00:00Z",
                "region": "us-west-2",
                "resources": [],
                "detail": json.loads(e["Detail"]),
            }
        )
        for index, e in enumerate(entries)
    ]
    assert _sessions_in(delivered) == _expected(45)
    output = result.json()
    assert (output["eventBusName"], output["pairsSent"], output["eventsSent"]) == ("revocations", 45, 3)


def test_many_events_go_ten_per_put_events_call() -> None:
    fake = FakeAws()
    result = ivs_revoke(["submit", "--event-bus", "b", *REGION_ARGS, "--viewer-sessions", *_pairs(410)], fake)
    assert result.code == 0, result.stderr
    assert [len(sent.json()["Entries"]) for sent in fake.of("PutEvents")] == [10, 10, 1]


def test_large_events_stay_within_put_events_limit() -> None:
    long_ids = [shorthand(channel("c" * 80), f"{uuid.uuid4().hex}-{index:07d}") for index in range(5000)]
    fake = FakeAws()
    result = ivs_revoke(
        ["submit", "--event-bus", "b", *REGION_ARGS, "--pairs-per-message", "0", "--viewer-sessions", *long_ids], fake
    )
    assert result.code == 0, result.stderr
    for sent in fake.of("PutEvents"):
        # AWS: "The total entry size must be less than 256KB".
        assert sum(event_entry_size(entry) for entry in sent.json()["Entries"]) < EVENTBRIDGE_MAX_ENTRY_BYTES


_LONG_CHANNEL = channel("c" * 80)


def _viewer_ids(lengths: list[int]) -> list[str]:
    """Distinct viewer IDs of the lengths given (6 to 40 characters)."""
    return [f"{index:06d}".ljust(length, "x") for index, length in enumerate(lengths)]


def _event_size(viewer_ids: list[str]) -> int:
    sessions = [ViewerSession(channel_arn=_LONG_CHANNEL, viewer_id=viewer) for viewer in viewer_ids]
    body = request_body(sessions)
    return event_entry_size({"Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Detail": body})


def _viewer_lengths_filling(target: int) -> list[int]:
    """Viewer-ID lengths (6 to 40) whose pairs make one event entry of exactly `target` bytes."""
    one, per_pair = _event_size(_viewer_ids([40])), _event_size(_viewer_ids([40, 40])) - _event_size(_viewer_ids([40]))
    lengths = [40] * ((target - one) // per_pair + 1)  # as many full pairs as fit
    # Five full pairs fewer, then six whose IDs are shortened by what is over: less than one full pair,
    # which six IDs of 6 to 40 characters can give up.
    del lengths[-5:]
    over = _event_size(_viewer_ids([*lengths, *[40] * 6])) - target
    for _ in range(6):
        cut = min(over, 40 - 6)
        lengths.append(40 - cut)
        over -= cut
    assert over == 0 and _event_size(_viewer_ids(lengths)) == target
    return lengths


@pytest.mark.parametrize(
    ("events", "pairs_per_message"),
    [
        # One event of exactly the limit, were it allowed (and one pair more).
        ([EVENTBRIDGE_MAX_ENTRY_BYTES], "0"),
        # Two events of half the limit each: together exactly the limit, were one request allowed it.
        ([EVENTBRIDGE_MAX_ENTRY_BYTES // 2] * 2, None),
    ],
    ids=["entry", "request"],
)
def test_put_events_stays_under_the_limit_at_the_boundary(events: list[int], pairs_per_message: str | None) -> None:
    lengths = [length for target in events for length in _viewer_lengths_filling(target)]
    if pairs_per_message is None:
        pairs_per_message = str(len(lengths) // len(events))
    else:
        lengths.append(6)
    pairs = [shorthand(_LONG_CHANNEL, viewer) for viewer in _viewer_ids(lengths)]
    fake = FakeAws()
    result = ivs_revoke(
        [
            "submit",
            "--event-bus",
            "b",
            *REGION_ARGS,
            "--pairs-per-message",
            pairs_per_message,
            "--viewer-sessions",
            *pairs,
        ],
        fake,
    )
    assert result.code == 0, result.stderr
    totals = [sum(event_entry_size(entry) for entry in sent.json()["Entries"]) for sent in fake.of("PutEvents")]
    assert max(totals) < EVENTBRIDGE_MAX_ENTRY_BYTES
    assert len(totals) == 2  # the pair (or event) that would have reached the limit went on in a second request
    details = [entry["Detail"] for sent in fake.of("PutEvents") for entry in sent.json()["Entries"]]
    assert len(_sessions_in(details)) == len(pairs)


def test_a_throttled_event_is_retried_and_a_refused_one_reported() -> None:
    answers = [
        Reply(
            {
                "FailedEntryCount": 2,
                "Entries": [
                    {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"},
                    {"EventId": "e-1"},
                    {"ErrorCode": "AccessDeniedException", "ErrorMessage": "no"},
                ],
            }
        ),
        Reply({"FailedEntryCount": 0, "Entries": [{"EventId": "e-0"}]}),
    ]
    fake = FakeAws()
    fake.on("PutEvents", answers)
    result = ivs_revoke(["submit", "--event-bus", "b", *REGION_ARGS, "--viewer-sessions", *_pairs(45)], fake)
    assert result.code == 254
    calls = fake.of("PutEvents")
    assert [len(sent.json()["Entries"]) for sent in calls] == [3, 1]
    assert calls[1].json()["Entries"][0] == calls[0].json()["Entries"][0]
    output = result.json()
    assert output["eventIds"] == ["e-0", "e-1"]
    assert output["failed"] == [{"pairs": "viewerSessions[40:45]", "code": "AccessDeniedException", "reason": "no"}]


def test_the_bus_name_comes_from_the_environment_or_the_stack() -> None:
    fake = FakeAws()
    result = ivs_revoke(
        ["submit", "--event-bus", *REGION_ARGS, "--viewer-sessions", *_pairs(1)],
        fake,
        environ={ENV_EVENT_BUS: "env-bus"},
    )
    assert result.code == 0, result.stderr
    assert _details(fake)[0]["EventBusName"] == "env-bus"

    fake = FakeAws()
    fake.on("DescribeStacks", [describe_stacks_reply("S", {OUTPUT_EVENT_BUS_NAME: "stack-bus"})])
    result = ivs_revoke(
        ["submit", "--event-bus", "--stack-name", "S", *REGION_ARGS, "--viewer-sessions", *_pairs(1)], fake
    )
    assert result.code == 0, result.stderr
    assert _details(fake)[0]["EventBusName"] == "stack-bus"


def test_destinations_are_mutually_exclusive() -> None:
    result = ivs_revoke(["submit", "--direct", "--queue-url", QUEUE_URL, "--viewer-sessions", *_pairs(1)], FakeAws())
    assert result.code == 252
    assert "not allowed with argument" in result.stderr


# --- Packing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "max_items", "max_bytes", "expected"),
    [
        ([10] * 5, 2, 1000, [range(0, 2), range(2, 4), range(4, 5)]),
        ([10] * 5, None, 35, [range(0, 3), range(3, 5)]),  # 2 + 10 + 1 + 10 + 1 + 10 = 34
        ([30, 1, 30], None, 35, [range(0, 2), range(2, 3)]),
        ([], None, 10, []),
    ],
)
def test_pack_cuts_consecutive_groups_within_both_limits(
    sizes: list[int], max_items: int | None, max_bytes: int, expected: list[range]
) -> None:
    assert pack(sizes, max_items=max_items, max_bytes=max_bytes, overhead=2) == expected


def test_pack_refuses_an_item_that_cannot_fit_alone() -> None:
    with pytest.raises(ValueError, match="item 1"):
        pack([1, 100], max_items=None, max_bytes=50, overhead=2)


def test_a_rules_queue_policy_lets_eventbridge_send_that_rules_events_only() -> None:
    """What `submit --wait` and the local stack put on a queue that a rule delivers to (EventBridge
    needs it at AWS; moto does not check it)."""
    queue_arn = "arn:aws:sqs:us-west-2:123456789012:q"
    rule_arn = "arn:aws:events:us-west-2:123456789012:rule/r"
    [statement] = json.loads(rule_may_send(queue_arn, rule_arn, "Sid1"))["Statement"]
    assert statement == {
        "Sid": "Sid1",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    }
