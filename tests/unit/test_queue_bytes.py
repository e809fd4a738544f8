"""What reaches SQS, byte for byte: the real writer and botocore's serializer, the request caught before it leaves.

SQS decodes the request's JSON and refuses a body or attribute value holding a character outside its
set (InvalidMessageContents); moto does not check. So the check is made here, on what SQS would decode.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from ivs_revocation.adapters.queue_writer import SqsMessageWriter
from ivs_revocation.intake import InvalidRequest, ValidRequest, read_request
from ivs_revocation.models import (
    SQS_DISALLOWED_CHARACTER,
    SQS_MAX_BATCH_ENTRIES,
    SQS_MAX_MESSAGE_BYTES,
    RevocationError,
    ViewerSession,
    sqs_message_bytes,
)
from ivs_revocation.service import RevocationService
from ivs_revocation.settle import OutboundMessage
from tests.unit.fakes import (
    ACCOUNT,
    DEAD_LETTER_QUEUE_URL,
    FakeClock,
    FakeContext,
    FakeGateway,
    channel,
    settings,
    sqs_event,
    sqs_record,
)

pytestmark = pytest.mark.unit

A = channel("abcdABCDefgh")
SOURCE_QUEUE_URL = f"https://sqs.us-west-2.amazonaws.com/{ACCOUNT}/revocations"
# Characters SQS takes only escaped, and a tab, which it takes as is.
ODD = ["\uffff", "\ufffe", "\u0001", "\u0000", "\t"]
ODD_VIEWERS = [f"v{odd}{i}" for i, odd in enumerate(ODD)] + ["".join(ODD)]


class SqsWire:
    """A real SQS client whose SendMessageBatch requests are caught at `before-send` and answered."""

    def __init__(self) -> None:
        self.client = boto3.client("sqs", region_name="us-west-2")
        self.requests: list[dict[str, Any]] = []
        self.client.meta.events.register("before-send.sqs.SendMessageBatch", self._answer)

    def _answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        # Decoded as SQS decodes it: the JSON protocol's body, escapes and all.
        sent = json.loads(request.body)
        self.requests.append(sent)
        answer = {
            "Successful": [{"Id": e["Id"], "MessageId": e["Id"], "MD5OfMessageBody": ""} for e in sent["Entries"]]
        }
        return AWSResponse(request.url, 200, {}, _Raw(json.dumps(answer).encode()))

    def messages(self, queue_url: str) -> list[tuple[str, dict[str, str]]]:
        return [
            (entry["MessageBody"], {name: a["StringValue"] for name, a in entry.get("MessageAttributes", {}).items()})
            for sent in self.requests
            if sent["QueueUrl"] == queue_url
            for entry in sent["Entries"]
        ]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def refused_by_sqs(messages: list[tuple[str, dict[str, str]]]) -> list[str]:
    return [
        f"{where}: {match.group()!r}"
        for body, attributes in messages
        for where, text in [("body", body), *attributes.items()]
        for match in [SQS_DISALLOWED_CHARACTER.search(text)]
        if match
    ]


def producer_body(value: Any) -> str:
    """As a producer sends it: JSON with every odd character escaped (`json.dumps`' default)."""
    text = json.dumps(value)
    assert not SQS_DISALLOWED_CHARACTER.search(text)
    return text


def odd_answer(region: str, sessions: Sequence[ViewerSession]) -> list[RevocationError]:
    """IVS refusing every pair, with an opaque code and a message that quotes the viewer ID."""
    return [
        RevocationError(
            channel_arn=s.channel_arn,
            viewer_id=s.viewer_id,
            code="4\u0000\uffff" if s.viewer_id.endswith("w") else "403",
            message=f"viewer {s.viewer_id} is not authorized\u0001",
        )
        for s in sessions
    ]


def run(handler: ModuleType, service: RevocationService, clock: FakeClock, records: list[Any], timeout: float) -> Any:
    return handler.make_handler(service)(sqs_event(*records), FakeContext(clock, timeout))


def test_dead_letters_on_the_wire_hold_only_characters_sqs_takes_and_read_back_the_same(
    handler_module: ModuleType, clock: FakeClock
) -> None:
    wire = SqsWire()
    gateway = FakeGateway(default=odd_answer, clock=clock, call_seconds=0.05)
    service = RevocationService(
        settings(MAX_RECEIVE_COUNT=3),
        gateway,
        SqsMessageWriter(DEAD_LETTER_QUEUE_URL, wire.client),
        clock=clock,
        sleep=clock.sleep,
    )
    odd_request_id = "req" + "".join(ODD)
    denied = sqs_record(
        producer_body(
            {"viewerSessions": [{"channelArn": A, "viewerId": v} for v in ODD_VIEWERS], "requestId": odd_request_id}
        )
    )
    opaque = sqs_record(producer_body({"channelArn": A, "viewerId": "".join(ODD) + "w"}), receive_count=3)
    too_long = sqs_record(producer_body({"channelArn": A, "viewerId": "".join(ODD) * 9}))
    odd_event = sqs_record(
        producer_body({"id": "evt" + "".join(ODD), "source": "s", "detail-type": "d", "detail": {"viewerSessions": []}})
    )
    repeated = sqs_record(producer_body({"channelArn": A})[:-1] + ', "viewerId": "a", "viewerId": "\\uffff"}')

    run(handler_module, service, clock, [denied, opaque, too_long, odd_event, repeated], timeout=60.0)

    messages = wire.messages(DEAD_LETTER_QUEUE_URL)
    assert refused_by_sqs(messages) == []
    by_code = {attributes["ErrorCode"]: body for body, attributes in messages if "ErrorCode" in attributes}
    again = read_request(by_code["403"])
    assert isinstance(again, ValidRequest)
    assert [s.viewer_id for s in again.sessions] == ODD_VIEWERS
    assert again.request_id == odd_request_id
    [opaque_code] = [code for code in by_code if code not in ("403", "InvalidMessage")]
    assert opaque_code == "4\\u0000\\uffff", "the opaque code, escaped as in JSON"
    again = read_request(by_code[opaque_code])
    assert isinstance(again, ValidRequest) and [s.viewer_id for s in again.sessions] == ["".join(ODD) + "w"]
    invalid = [body for body, attributes in messages if attributes["ErrorCode"] == "InvalidMessage"]
    assert invalid == [too_long["body"], odd_event["body"], repeated["body"]]
    assert all(isinstance(read_request(body), InvalidRequest) for body in invalid)


def test_requeued_requests_on_the_wire_hold_only_characters_sqs_takes_and_read_back_the_same(
    handler_module: ModuleType, clock: FakeClock
) -> None:
    wire = SqsWire()
    gateway = FakeGateway(clock=clock, call_seconds=0.05)
    service = RevocationService(
        settings(MAX_RECEIVE_COUNT=3),
        gateway,
        SqsMessageWriter(DEAD_LETTER_QUEUE_URL, wire.client),
        SqsMessageWriter(SOURCE_QUEUE_URL, wire.client),
        clock=clock,
        sleep=clock.sleep,
    )
    viewers = [f"{ODD[i % len(ODD)]}{i}" for i in range(120)]
    big = sqs_record(
        producer_body({"viewerSessions": [{"channelArn": A, "viewerId": v} for v in viewers], "requestId": "r\uffff"})
    )

    # Time for 3 calls of 20 (see the handler's tests): the other 60 pairs go back on the queue.
    run(handler_module, service, clock, [big], timeout=11.0)

    messages = wire.messages(SOURCE_QUEUE_URL)
    assert messages, "the tail was put back on the queue"
    assert refused_by_sqs(messages) == []
    requeued = [read_request(body) for body, _ in messages]
    assert all(isinstance(r, ValidRequest) and r.request_id == "r\uffff" for r in requeued)
    assert [s.viewer_id for r in requeued if isinstance(r, ValidRequest) for s in r.sessions] == viewers[60:]


def letter(index: int, body: str) -> OutboundMessage:
    return OutboundMessage(f"m{index}", body, {"ErrorCode": "403", "SourceMessageId": f"m{index}"}, "403", 1)


def sized(index: int, size: int) -> OutboundMessage:
    """A letter of exactly `size` bytes as SQS counts them, its body of 2-byte characters (and one ASCII)."""
    attributes = sqs_message_bytes("", letter(index, "").attributes)
    body_bytes = size - attributes
    return letter(index, "é" * (body_bytes // 2) + "x" * (body_bytes % 2))


@pytest.mark.parametrize(
    ("sizes", "requests"),
    [
        pytest.param([SQS_MAX_MESSAGE_BYTES // 2] * 2, [2], id="two halves: one request"),
        pytest.param([SQS_MAX_MESSAGE_BYTES // 2, SQS_MAX_MESSAGE_BYTES // 2 + 1], [1, 1], id="a byte more: two"),
        pytest.param([100] * (SQS_MAX_BATCH_ENTRIES + 2), [SQS_MAX_BATCH_ENTRIES, 2], id="entries"),
        pytest.param([SQS_MAX_MESSAGE_BYTES] * 2, [1, 1], id="a full message each"),
    ],
)
def test_writer_packs_batches_by_bytes_up_to_the_request_limit(sizes: list[int], requests: list[int]) -> None:
    wire = SqsWire()
    letters = [sized(index, size) for index, size in enumerate(sizes)]
    assert [sqs_message_bytes(m.body, m.attributes) for m in letters] == sizes

    assert SqsMessageWriter(DEAD_LETTER_QUEUE_URL, wire.client).send(letters) == set()

    assert [len(sent["Entries"]) for sent in wire.requests] == requests
    assert [body for body, _ in wire.messages(DEAD_LETTER_QUEUE_URL)] == [m.body for m in letters]
