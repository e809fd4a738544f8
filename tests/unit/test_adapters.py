"""The adapters against botocore's Stubber: the IVS gateway (with the Revoker) and the dead-letter writer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber

from revocation.adapters.ivs import Boto3IvsGateway
from revocation.adapters.queue_writer import SqsMessageWriter
from revocation.plan import plan_calls
from revocation.revoke import CallErrorKind, CallFailed, Revoker
from revocation.settle import OutboundMessage
from tests.unit.fakes import FakeClock, channel, session

pytestmark = pytest.mark.unit

A = channel("abcdABCDefgh")
B = channel("efghEFGHijkl")
DOC_EXAMPLE = [session("abcdefg", 1234567890, A), session("0f0f0f0f", 1234567890, B)]


@pytest.fixture
def ivs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("ivs", region_name="us-west-2")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def gateway(client: Any) -> Boto3IvsGateway:
    return Boto3IvsGateway(5.0, clients={"us-west-2": client})


def request(sessions: list[Any]) -> dict[str, Any]:
    return {"viewerSessions": [s.to_api() for s in sessions]}


def test_gateway_returns_per_pair_403_of_the_documented_example(ivs: tuple[Any, Stubber]) -> None:
    client, stubber = ivs
    errors = [
        {"channelArn": A, "viewerId": "abcdefg", "code": "403", "message": "not authorized"},
        {"channelArn": B, "viewerId": "0f0f0f0f", "code": "403", "message": "not authorized"},
    ]
    stubber.add_response("batch_start_viewer_session_revocation", {"errors": errors}, request(DOC_EXAMPLE))

    result = gateway(client).revoke("us-west-2", DOC_EXAMPLE)

    assert [error.to_api() for error in result] == errors


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ThrottlingException", 429, CallErrorKind.THROTTLED),
        ("ValidationException", 400, CallErrorKind.INVALID),
        ("AccessDeniedException", 403, CallErrorKind.DENIED),
        ("PendingVerification", 403, CallErrorKind.DENIED),
        ("InternalServerException", 500, CallErrorKind.SERVER),
        ("SomethingNew", 429, CallErrorKind.THROTTLED),
        ("SomethingNew", 503, CallErrorKind.SERVER),
    ],
)
def test_gateway_maps_call_errors_to_kinds(
    ivs: tuple[Any, Stubber], code: str, status: int, kind: CallErrorKind
) -> None:
    client, stubber = ivs
    stubber.add_client_error(
        "batch_start_viewer_session_revocation", service_error_code=code, service_message="why", http_status_code=status
    )

    with pytest.raises(CallFailed) as raised:
        gateway(client).revoke("us-west-2", DOC_EXAMPLE)

    assert (raised.value.kind, raised.value.code, raised.value.message) == (kind, code, "why")


def test_gateway_maps_connection_errors() -> None:
    client = boto3.client("ivs", region_name="us-west-2")

    def refuse(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://ivs.us-west-2.amazonaws.com")

    client.meta.events.register("before-send.ivs.BatchStartViewerSessionRevocation", refuse)

    with pytest.raises(CallFailed) as raised:
        gateway(client).revoke("us-west-2", DOC_EXAMPLE)

    assert raised.value.kind is CallErrorKind.CONNECTION


def test_gateway_does_not_let_botocore_retry() -> None:
    config = Boto3IvsGateway(5.0)._config

    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert config.connect_timeout + config.read_timeout == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("status", "error_type", "text"),
    [
        (429, "ThrottlingException", "Rate exceeded"),
        (400, "ValidationException", "viewerSessions: at most 20 items"),
    ],
)
def test_gateway_reads_the_service_text_from_the_exception_message_body(
    status: int, error_type: str, text: str
) -> None:
    """IVS's rest-json error body carries `exceptionMessage`, not `message`: botocore's parser, unstubbed."""
    client = boto3.client(
        "ivs",
        region_name="us-west-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        endpoint_url="https://ivs.test",
    )

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        body = json.dumps({"exceptionMessage": text}).encode()
        return AWSResponse(request.url, status, {"x-amzn-ErrorType": f"{error_type}:http://internal"}, _Raw(body))

    client.meta.events.register("before-send.ivs.BatchStartViewerSessionRevocation", answer)

    with pytest.raises(CallFailed) as raised:
        gateway(client).revoke("us-west-2", DOC_EXAMPLE)

    assert (raised.value.code, raised.value.message) == (error_type, text)


class _Raw:
    """The raw stream an AWSResponse reads its body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def test_revoker_over_stubbed_client_retries_throttle_then_accepts(ivs: tuple[Any, Stubber]) -> None:
    client, stubber = ivs
    clock = FakeClock()
    sessions = [session(f"v{i}") for i in range(20)]
    stubber.add_client_error("batch_start_viewer_session_revocation", "ThrottlingException", "slow down", 429)
    stubber.add_response("batch_start_viewer_session_revocation", {"errors": []}, request(sessions))

    report = Revoker(
        gateway(client), calls_per_second=1, max_attempts=4, call_timeout=5, clock=clock, sleep=clock.sleep
    ).run(plan_calls([sessions]), deadline=clock.now + 60)

    assert len(report.revoked) == 20 and report.throttled_calls == 1 and report.calls == 2


def test_revoker_over_stubbed_client_splits_on_validation_exception(ivs: tuple[Any, Stubber]) -> None:
    client, stubber = ivs
    clock = FakeClock()
    sessions = [session(f"v{i}") for i in range(4)]
    # [v0..v3] rejected -> [v0, v1] accepted, [v2, v3] rejected -> [v2] accepted, [v3] rejected.
    stubber.add_client_error("batch_start_viewer_session_revocation", "ValidationException", "bad", 400)
    stubber.add_response("batch_start_viewer_session_revocation", {"errors": []}, request(sessions[:2]))
    stubber.add_client_error("batch_start_viewer_session_revocation", "ValidationException", "bad", 400)
    stubber.add_response("batch_start_viewer_session_revocation", {"errors": []}, request(sessions[2:3]))
    stubber.add_client_error("batch_start_viewer_session_revocation", "ValidationException", "bad v3", 400)

    report = Revoker(
        gateway(client), calls_per_second=2, max_attempts=4, call_timeout=5, clock=clock, sleep=clock.sleep
    ).run(plan_calls([sessions]), deadline=clock.now + 60)

    assert report.revoked == {s.key for s in sessions[:3]}
    assert report.failures[sessions[3].key].code == "ValidationException"
    assert report.failures[sessions[3].key].retryable is False


def test_revoker_over_stubbed_client_respects_the_time_budget(ivs: tuple[Any, Stubber]) -> None:
    client, stubber = ivs
    clock = FakeClock()
    sessions = [session(f"v{i}") for i in range(60)]
    stubber.add_response("batch_start_viewer_session_revocation", {"errors": []}, request(sessions[:20]))

    report = Revoker(
        gateway(client), calls_per_second=1, max_attempts=4, call_timeout=5, clock=clock, sleep=clock.sleep
    ).run(plan_calls([sessions]), deadline=clock.now + 5.5)

    assert report.calls == 1 and report.not_started_calls == 2
    assert len(report.revoked) == 20


def letter(index: int, body_size: int = 10) -> OutboundMessage:
    return OutboundMessage(f"m{index}", "x" * body_size, {"ErrorCode": "403", "SourceMessageId": f"m{index}"}, "403", 1)


@pytest.fixture
def sqs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sqs", region_name="us-west-2")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


QUEUE = "https://sqs.us-west-2.amazonaws.com/123456789012/dlq"


def test_dead_letter_writer_sends_batches_of_ten_with_attributes(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    letters = [letter(i) for i in range(12)]
    first = {
        "QueueUrl": QUEUE,
        "Entries": [
            {
                "Id": str(i),
                "MessageBody": "x" * 10,
                "MessageAttributes": {
                    "ErrorCode": {"DataType": "String", "StringValue": "403"},
                    "SourceMessageId": {"DataType": "String", "StringValue": f"m{i}"},
                },
            }
            for i in range(10)
        ],
    }
    stubber.add_response("send_message_batch", {"Successful": [], "Failed": []}, first)
    stubber.add_response("send_message_batch", {"Successful": [], "Failed": []}, {"QueueUrl": QUEUE, "Entries": ANY})

    assert SqsMessageWriter(QUEUE, client).send(letters) == set()


def test_dead_letter_writer_splits_batches_by_size(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    letters = [letter(i, body_size=100_000) for i in range(3)]
    for _ in range(2):
        stubber.add_response(
            "send_message_batch", {"Successful": [], "Failed": []}, {"QueueUrl": QUEUE, "Entries": ANY}
        )

    assert SqsMessageWriter(QUEUE, client).send(letters) == set()


def test_dead_letter_writer_returns_entries_sqs_refused(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    failed = [{"Id": "1", "SenderFault": False, "Code": "InternalError"}]
    stubber.add_response(
        "send_message_batch", {"Successful": [], "Failed": failed}, {"QueueUrl": QUEUE, "Entries": ANY}
    )

    assert SqsMessageWriter(QUEUE, client).send([letter(0), letter(1)]) == {1}


def test_dead_letter_writer_returns_every_entry_of_a_failed_call(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    stubber.add_client_error("send_message_batch", "AWS.SimpleQueueService.NonExistentQueue", "gone", 400)

    assert SqsMessageWriter(QUEUE, client).send([letter(0), letter(1)]) == {0, 1}
