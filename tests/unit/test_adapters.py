"""The adapters: the IVS gateway (with the Revoker) over botocore's real parser, and the dead-letter writer.

The IVS client is real; only its HTTP exchange is replaced by raw answers (tests/unit/raw_ivs.py), so
the bytes go through botocore's parser as they would on Lambda.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber

from ivs_revocation.adapters.ivs import (
    CODE_MALFORMED_RESPONSE,
    Boto3IvsGateway,
    Boto3IvsSingleGateway,
    CallDeadlineExceeded,
    MalformedAnswer,
    answer_problem,
    call_within,
    confirmed_errors,
    single_answer_problem,
)
from ivs_revocation.adapters.queue_writer import SqsMessageWriter
from ivs_revocation.models import (
    CODE_CONNECTION_ERROR,
    SQS_MAX_MESSAGE_BYTES,
    CallErrorKind,
    CallFailed,
    viewer_reference,
)
from ivs_revocation.plan import plan_calls
from ivs_revocation.revoke import Revoker
from ivs_revocation.settle import OutboundMessage
from tests.unit.fakes import FakeClock, channel, session
from tests.unit.raw_ivs import SINGLE_ACCEPTED, Raw, RawIvs, answer, call_error, echo_errors

pytestmark = pytest.mark.unit

A = channel("abcdABCDefgh")
B = channel("efghEFGHijkl")
DOC_EXAMPLE = [session("abcdefg", 1234567890, A), session("0f0f0f0f", 1234567890, B)]


def gateway(ivs: RawIvs, call_timeout: float = 5.0) -> Boto3IvsGateway:
    return Boto3IvsGateway(call_timeout, clients={"us-west-2": ivs.client})


def request(sessions: list[Any]) -> dict[str, Any]:
    return {"viewerSessions": [s.to_api() for s in sessions]}


def test_gateway_returns_per_pair_403_of_the_documented_example() -> None:
    errors = [
        {"channelArn": A, "viewerId": "abcdefg", "code": "403", "message": "not authorized"},
        {"channelArn": B, "viewerId": "0f0f0f0f", "code": "403", "message": "not authorized"},
    ]
    ivs = RawIvs(answer({"errors": errors}))

    result = gateway(ivs).revoke("us-west-2", DOC_EXAMPLE)

    assert [error.to_api() for error in result] == errors
    assert ivs.requests == [request(DOC_EXAMPLE)]


@pytest.mark.parametrize(
    "raw",
    [
        answer({"errors": []}),
        answer({}),
        answer({"errors": None}),
        Raw(b'{"errors": []}', content_type="application/json; charset=utf-8"),
        Raw(b'{"errors": []}', content_type="application/x-amz-json-1.1"),
        # No content type at all: the body says what the answer is.
        Raw(b'{"errors": []}', content_type=None),
    ],
)
def test_gateway_counts_an_answer_that_is_the_operations_json(raw: Raw) -> None:
    assert gateway(RawIvs(raw)).revoke("us-west-2", DOC_EXAMPLE) == []


HTML = b"<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (Raw(HTML, content_type="text/html; charset=utf-8"), "200 with a text/html body"),
        (Raw(b"OK", content_type="text/plain"), "200 with a text/plain body"),
        (Raw(b"", content_type="application/json"), "200 with an empty body"),
        (Raw(b"", content_type=None), "200 with an empty body"),
        (Raw(b"  \n", content_type="application/json"), "200 with an empty body"),
        (Raw(HTML, content_type="application/json"), "200 with a body that is not JSON: '<!DOCTYPE html>"),
        (Raw(b'{"errors": [', content_type="application/json"), "200 with a body that is not JSON"),
        (Raw(b"\xff\xfe\x00", content_type=None), "200 with a body that is not JSON"),
        # botocore decodes UTF-8 and cannot parse these, so it reads no errors: every pair counted.
        (Raw(b'\xef\xbb\xbf{"errors": []}'), "200 with a body that is not JSON"),
        (Raw('{"errors": []}'.encode("utf-16-le")), "200 with a body that is not JSON"),
        (Raw(b"[]"), "200 with a JSON list body, not an object"),
        (Raw(b'"revoked"'), "200 with a JSON string body, not an object"),
        (Raw(b'{"errors": "junk"}'), "200 whose errors is not a list (got string)"),
        (Raw(b'{"errors": {}}'), "200 whose errors is not a list (got object)"),
        (Raw(b'{"errors": [1, 2]}'), "200 whose errors[0] is not an object (got integer)"),
        (answer({"errors": [{"channelArn": A}]}), "200 whose errors[0].viewerId is not a string (got null)"),
        (
            answer({"errors": [{"channelArn": A, "viewerId": "abcdefg"}, {"channelArn": 7, "viewerId": "x"}]}),
            "200 whose errors[1].channelArn is not a string (got integer)",
        ),
        (
            answer({"errors": [{"channelArn": A, "viewerId": "abcdefg", "code": 403}]}),
            "200 whose errors[0].code is not a string (got integer)",
        ),
        (
            Raw(b'{"errors": [], "errors": [{"channelArn": "x", "viewerId": "y"}]}'),
            "200 with an ambiguous JSON body (body: repeated key 'errors')",
        ),
        (Raw(b'{"errors": []}', status=202, content_type="text/html"), "202 with a text/html body"),
        # Found by the fault matrix in both lanes: a proxy's object, and a 2xx other than the documented 200.
        (answer({"message": "Forbidden"}), "200 with a JSON object without errors (keys: 'message')"),
        (answer({"errors": None, "message": "x"}), "200 with a JSON object without errors (keys: 'errors', 'message')"),
        (Raw(b'{"errors": []}', status=202), "202 with the operation's JSON (the operation answers 200)"),
        (Raw(b"{}", status=204), "204 with the operation's JSON (the operation answers 200)"),
    ],
)
def test_gateway_refuses_an_answer_that_is_not_the_operations_json(raw: Raw, problem: str) -> None:
    """Without the check, botocore reads most of these as "no errors", i.e. every pair revoked, and
    crashes (AttributeError) on the non-list and non-object ones."""
    with pytest.raises(CallFailed) as raised:
        gateway(RawIvs(raw)).revoke("us-west-2", DOC_EXAMPLE)

    assert raised.value.kind is CallErrorKind.MALFORMED
    assert raised.value.code == CODE_MALFORMED_RESPONSE
    assert raised.value.message.startswith(problem)


def test_gateway_refuses_an_answer_naming_a_pair_that_was_not_sent() -> None:
    """ " Alice " sent and "alice" answered: the error was about the pair sent, which must not count."""
    sent = [session(" Alice ", 1, A), session("bob", 1, A)]
    ivs = RawIvs(answer({"errors": [{"channelArn": A, "viewerId": "alice", "code": "500", "message": "m"}]}))

    with pytest.raises(CallFailed) as raised:
        gateway(ivs).revoke("us-west-2", sent)

    assert raised.value.kind is CallErrorKind.MALFORMED
    assert raised.value.message == (
        f"errors[0] names a pair that was not sent: channelArn {A!r}, viewerId {viewer_reference('alice')}"
    )
    assert "alice" not in raised.value.message.lower(), "the reason reaches INFO logs: no viewer ID"


def test_gateway_refuses_an_answer_naming_a_sent_viewer_on_another_channel() -> None:
    ivs = RawIvs(answer({"errors": [{"channelArn": B, "viewerId": "abcdefg", "code": "403"}]}))

    with pytest.raises(CallFailed, match="errors\\[0\\] names a pair that was not sent"):
        gateway(ivs).revoke("us-west-2", DOC_EXAMPLE[:1])


def test_gateway_counts_nothing_from_a_client_whose_answers_were_not_checked() -> None:
    """A stubbed client skips the HTTP layer and the parser, as a botocore without `before-parse`
    would skip the check: fail closed rather than count an answer nobody looked at."""
    client = boto3.client("ivs", region_name="us-west-2")
    with Stubber(client) as stubber:
        stubber.add_response("batch_start_viewer_session_revocation", {"errors": []}, request(DOC_EXAMPLE))
        with pytest.raises(CallFailed) as raised:
            Boto3IvsGateway(5.0, clients={"us-west-2": client}).revoke("us-west-2", DOC_EXAMPLE)

    assert raised.value.kind is CallErrorKind.MALFORMED
    assert "not checked" in raised.value.message


def test_confirmed_errors_needs_the_mark_of_the_check() -> None:
    with pytest.raises(MalformedAnswer, match="not checked"):
        confirmed_errors({"errors": []}, [])


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [(200, "application/json", b"{}"), (200, None, b'{"errors": [{"channelArn": "a", "viewerId": "b"}]}')],
)
def test_answer_problem_passes_the_operations_json(status: int, content_type: str | None, body: bytes) -> None:
    assert answer_problem(status, content_type, body) is None


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
def test_gateway_maps_call_errors_to_kinds(code: str, status: int, kind: CallErrorKind) -> None:
    with pytest.raises(CallFailed) as raised:
        gateway(RawIvs(call_error(status, code, "why"))).revoke("us-west-2", DOC_EXAMPLE)

    assert (raised.value.kind, raised.value.code, raised.value.message) == (kind, code, "why")


def test_gateway_maps_an_html_error_page_to_a_server_error() -> None:
    """A 502 page from a proxy is an error answer: botocore raises it, and it is retried as a 5xx."""
    with pytest.raises(CallFailed) as raised:
        gateway(RawIvs(Raw(HTML, status=502, content_type="text/html"))).revoke("us-west-2", DOC_EXAMPLE)

    assert raised.value.kind is CallErrorKind.SERVER


def test_gateway_maps_connection_errors() -> None:
    ivs = RawIvs(EndpointConnectionError(endpoint_url="https://ivs.us-west-2.amazonaws.com"))

    with pytest.raises(CallFailed) as raised:
        gateway(ivs).revoke("us-west-2", DOC_EXAMPLE)

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
    with pytest.raises(CallFailed) as raised:
        ivs = RawIvs(call_error(status, error_type, text, members=("exceptionMessage",)))
        gateway(ivs).revoke("us-west-2", DOC_EXAMPLE)

    assert (raised.value.code, raised.value.message) == (error_type, text)


# --- The deadline of a whole call (the real-time behaviour is tested over HTTP, in integration) ----


class _Stalled:
    """An HTTP layer that does not answer until released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, request: Any) -> Raw:
        self.release.wait(30)
        return answer({"errors": []})


def test_gateway_gives_up_on_a_call_at_its_deadline_as_a_connection_failure() -> None:
    stalled = _Stalled()
    try:
        with pytest.raises(CallFailed) as raised:
            gateway(RawIvs(stalled), call_timeout=0.05).revoke("us-west-2", DOC_EXAMPLE)
    finally:
        stalled.release.set()

    assert (raised.value.kind, raised.value.code) == (CallErrorKind.CONNECTION, CODE_CONNECTION_ERROR)
    assert raised.value.message == "no complete answer within the call's deadline of 0.05 s"


def test_call_within_returns_the_answer_and_raises_what_the_call_raised() -> None:
    assert call_within(5.0, lambda: 42) == 42
    assert call_within(None, lambda: 7) == 7

    def refuse() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        call_within(5.0, refuse)


def test_call_within_stops_waiting_for_a_call_that_does_not_end() -> None:
    release = threading.Event()
    try:
        with pytest.raises(CallDeadlineExceeded):
            call_within(0.01, lambda: release.wait(30))
    finally:
        release.set()


# --- The Revoker over the gateway -------------------------------------------------------------


def revoker(ivs: RawIvs, clock: FakeClock, rate: float = 1.0, attempts: int = 4) -> Revoker:
    return Revoker(
        gateway(ivs), calls_per_second=rate, max_attempts=attempts, call_timeout=5, clock=clock, sleep=clock.sleep
    )


def test_revoker_over_the_gateway_retries_throttle_then_accepts() -> None:
    clock = FakeClock()
    sessions = [session(f"v{i}") for i in range(20)]
    ivs = RawIvs(call_error(429, "ThrottlingException", "slow down"), answer({"errors": []}))

    report = revoker(ivs, clock).run(plan_calls([sessions]), deadline=clock.now + 60)

    assert len(report.revoked) == 20 and report.throttled_calls == 1 and report.calls == 2
    assert ivs.requests == [request(sessions)] * 2


def test_revoker_over_the_gateway_splits_on_validation_exception() -> None:
    clock = FakeClock()
    sessions = [session(f"v{i}") for i in range(4)]
    # [v0..v3] rejected -> [v0, v1] accepted, [v2, v3] rejected -> [v2] accepted, [v3] rejected.
    bad = call_error(400, "ValidationException", "bad")
    ok = answer({"errors": []})
    ivs = RawIvs(bad, ok, bad, ok, call_error(400, "ValidationException", "bad v3"))

    report = revoker(ivs, clock, rate=2).run(plan_calls([sessions]), deadline=clock.now + 60)

    assert ivs.requests[1] == request(sessions[:2]) and ivs.requests[3] == request(sessions[2:3])
    assert report.revoked == {s.key for s in sessions[:3]}
    assert report.failures[sessions[3].key].code == "ValidationException"
    assert report.failures[sessions[3].key].retryable is False


def test_revoker_over_the_gateway_respects_the_time_budget() -> None:
    clock = FakeClock()
    sessions = [session(f"v{i}") for i in range(60)]
    ivs = RawIvs(answer({"errors": []}))

    report = revoker(ivs, clock).run(plan_calls([sessions]), deadline=clock.now + 5.5)

    assert report.calls == 1 and report.not_started_calls == 2
    assert len(report.revoked) == 20


def test_revoker_over_the_gateway_retries_a_malformed_answer_then_counts_the_real_one() -> None:
    clock = FakeClock()
    sessions = [session(f"v{i}") for i in range(3)]
    ivs = RawIvs(Raw(HTML, content_type="text/html"), echo_errors("403", "not authorized", "v1"))

    report = revoker(ivs, clock).run(plan_calls([sessions]), deadline=clock.now + 60)

    assert report.calls == 2 and clock.sleeps  # backed off before the second attempt
    assert report.revoked == {sessions[0].key, sessions[2].key}
    assert report.failures[sessions[1].key].code == "403"


def test_revoker_over_the_gateway_counts_nothing_of_answers_that_stay_malformed() -> None:
    clock = FakeClock()
    sessions = [session(f"v{i}") for i in range(3)]
    ivs = RawIvs(Raw(b'{"errors": [1, 2]}'))

    report = revoker(ivs, clock, attempts=3).run(plan_calls([sessions]), deadline=clock.now + 60)

    assert report.calls == 3
    assert report.revoked == set()
    assert {key: (f.code, f.retryable) for key, f in report.failures.items()} == {
        s.key: (CODE_MALFORMED_RESPONSE, True) for s in sessions
    }
    assert report.failures[sessions[0].key].message == (
        "200 whose errors[0] is not an object (got integer) (after 3 attempts)"
    )


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
    # Two fit one SendMessageBatch request (SQS_MAX_MESSAGE_BYTES in all), three do not.
    letters = [letter(i, body_size=SQS_MAX_MESSAGE_BYTES // 3 + 1) for i in range(3)]
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


# --- StartViewerSessionRevocation's answer: its documented success, and nothing else ------------------


def single(ivs: RawIvs) -> Boto3IvsSingleGateway:
    return Boto3IvsSingleGateway(5.0, clients={"us-west-2": ivs.client})


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(SINGLE_ACCEPTED, id="documented: 200, empty body"),
        pytest.param(answer({}), id="{}"),
        pytest.param(Raw(b" { }\n", content_type="application/json; charset=utf-8"), id="{} with spaces"),
    ],
)
def test_single_answer_that_is_the_operations_success_counts(raw: Raw) -> None:
    assert single(RawIvs(raw)).revoke("us-west-2", [session("v")]) == []


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        pytest.param(
            answer({"message": "Forbidden"}),
            "200 with a JSON object that is not empty (keys: 'message'); the operation answers nothing",
            id="a proxy's message",
        ),
        pytest.param(
            answer({"errors": [{"channelArn": A, "viewerId": "v", "code": "403", "message": "no"}]}),
            "200 with a JSON object that is not empty (keys: 'errors')",
            id="a batch answer naming the pair",
        ),
        pytest.param(
            answer({"errors": []}), "200 with a JSON object that is not empty (keys: 'errors')", id="no errors"
        ),
        pytest.param(
            answer({"a": 1, "b": 2, "c": 3, "d": 4}),
            "200 with a JSON object that is not empty (keys: 'a', 'b', 'c', ...)",
        ),
        pytest.param(Raw(b"{}", status=202), "202 with an empty JSON object (the operation answers 200)", id="202 {}"),
    ],
)
def test_single_answer_with_a_json_object_other_than_empty_is_malformed(raw: Raw, problem: str) -> None:
    """Through botocore's real parser: any such object used to count as revoked."""
    with pytest.raises(CallFailed) as raised:
        single(RawIvs(raw)).revoke("us-west-2", [session("v")])

    assert (raised.value.kind, raised.value.code) == (CallErrorKind.MALFORMED, CODE_MALFORMED_RESPONSE)
    assert raised.value.message.startswith(problem)


def test_single_answer_problem_takes_only_an_empty_body_or_an_empty_object() -> None:
    assert single_answer_problem(200, None, b"") is None
    assert single_answer_problem(200, "application/json", b"{}") is None
    assert single_answer_problem(200, "application/json", b'{"message": "Forbidden"}') is not None
    assert single_answer_problem(200, "application/json", b'{"errors": []}') is not None


# --- Reasons quote no viewer ID -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        pytest.param(
            Raw(b'{"errors": [{"viewerId": "alice", "channelArn": '),
            "200 with a body that is not JSON: Expecting value at line 1 column 49",
            id="broken JSON",
        ),
        pytest.param(
            Raw(b'{"errors": [{"viewerId": "alice"}]}\xff'),
            "200 with a body that is not JSON: not UTF-8 text",
            id="not UTF-8",
        ),
        pytest.param(
            Raw(b'{"errors": [{"viewerId": "alice", "x": ' + b"7" * 4301 + b"}]}"),
            "200 with a JSON body holding an integer literal of more than 4300 digits",
            id="4301-digit integer",
        ),
    ],
)
def test_a_broken_answer_is_named_without_quoting_what_it_holds(raw: Raw, problem: str) -> None:
    """The reason reaches the `record settled` INFO line and the dead letter's ErrorMessage."""
    with pytest.raises(CallFailed) as raised:
        gateway(RawIvs(raw)).revoke("us-west-2", DOC_EXAMPLE)

    assert raised.value.message == problem
    assert "alice" not in raised.value.message
