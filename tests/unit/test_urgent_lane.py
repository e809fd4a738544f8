"""The urgent lane: the single-pair gateway over botocore's real parser, each call-level outcome through
the handler, the bounded work per message (the rest sent to the bulk queue), and the lane's metrics."""

from __future__ import annotations

import json
import logging
import threading
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import EndpointConnectionError

from ivs_revocation import names
from ivs_revocation.adapters.ivs import (
    CODE_MALFORMED_RESPONSE,
    Boto3IvsGateway,
    Boto3IvsSingleGateway,
    single_answer_problem,
)
from ivs_revocation.adapters.queue_writer import SqsMessageWriter
from ivs_revocation.intake import ValidRequest, read_request
from ivs_revocation.models import (
    ATTR_REQUEST_ID,
    ATTR_SOURCE_MESSAGE_ID,
    CODE_CONNECTION_ERROR,
    CODE_OUT_OF_SCOPE,
    MAX_SESSIONS_PER_CALL,
    CallErrorKind,
    CallFailed,
    RevocationError,
)
from ivs_revocation.service import RevocationService
from tests.unit.fakes import (
    HUGE_INTEGER_PLACES,
    FakeClock,
    FakeContext,
    FakeGateway,
    FakeQueueWriter,
    channel,
    denied_pairs,
    huge_integer_body,
    session,
    settings,
    sqs_event,
    sqs_record,
)
from tests.unit.raw_ivs import SINGLE_ACCEPTED, Raw, RawIvs, answer, call_error

pytestmark = pytest.mark.unit

A = channel("abcdABCDefgh")
BULK_QUEUE_URL = "https://sqs.us-west-2.amazonaws.com/123456789012/revocations"
URGENT = {"REVOCATION_LANE": "urgent", "BULK_QUEUE_URL": BULK_QUEUE_URL, "IVS_CALLS_PER_SECOND": 5}
MAX_RECEIVE_COUNT = 3
# local/sqs_event.py's SentTimestamp (epoch milliseconds) of every record, as epoch seconds.
SENT = 1_767_225_600.0


def single(ivs: RawIvs, call_timeout: float = 5.0) -> Boto3IvsSingleGateway:
    return Boto3IvsSingleGateway(call_timeout, clients={"us-west-2": ivs.client})


# --- The single-pair gateway over raw answers -------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(SINGLE_ACCEPTED, id="documented: 200, empty body"),
        pytest.param(Raw(b"", content_type="application/json"), id="empty JSON body"),
        pytest.param(answer({}), id="empty object"),
        pytest.param(Raw(b"{}", content_type=None), id="object, no content type"),
    ],
)
def test_single_gateway_counts_the_operations_answer(raw: Raw) -> None:
    ivs = RawIvs(raw)

    assert single(ivs).revoke("us-west-2", [session("v", 7)]) == []
    assert ivs.requests == [{"channelArn": A, "viewerId": "v", "viewerSessionVersionsLessThanOrEqualTo": 7}]


HTML = b"<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (Raw(HTML, content_type="text/html"), "200 with a text/html body"),
        (Raw(b"OK", content_type="text/plain"), "200 with a text/plain body"),
        (Raw(b"", content_type="text/html"), "200 with an empty text/html body"),
        (Raw(b"", status=204, content_type=None), "204 with an empty body (the operation answers 200)"),
        (Raw(HTML, content_type="application/json"), "200 with a body that is not JSON"),
        (Raw(b"[]"), "200 with a JSON list body, not an object"),
        (Raw(b'"revoked"'), "200 with a JSON string body, not an object"),
        (Raw(b'{"a": 1, "a": 2}'), "200 with an ambiguous JSON body"),
    ],
)
def test_single_gateway_refuses_an_answer_that_is_not_the_operations(raw: Raw, problem: str) -> None:
    with pytest.raises(CallFailed) as raised:
        single(RawIvs(raw)).revoke("us-west-2", [session("v")])

    assert (raised.value.kind, raised.value.code) == (CallErrorKind.MALFORMED, CODE_MALFORMED_RESPONSE)
    assert raised.value.message.startswith(problem)


def test_single_answer_problem_is_none_only_for_the_operations_answer() -> None:
    assert single_answer_problem(200, None, b"") is None
    assert single_answer_problem(200, "application/json", b"{}") is None
    assert single_answer_problem(200, "application/json", b"null") == "200 with a JSON null body, not an object"


@pytest.mark.parametrize(
    ("error_type", "status", "code"),
    [("AccessDeniedException", 403, "403"), ("ResourceNotFoundException", 404, "404")],
)
def test_single_gateway_makes_an_error_about_the_channel_that_pairs_error(
    error_type: str, status: int, code: str
) -> None:
    ivs = RawIvs(call_error(status, error_type, "about this channel", members=("exceptionMessage",)))

    errors = single(ivs).revoke("us-west-2", [session("v")])

    assert errors == [RevocationError(channel_arn=A, viewer_id="v", code=code, message="about this channel")]


@pytest.mark.parametrize(
    ("error_type", "status", "kind"),
    [
        ("ThrottlingException", 429, CallErrorKind.THROTTLED),
        ("ValidationException", 400, CallErrorKind.INVALID),
        ("PendingVerification", 403, CallErrorKind.DENIED),
        ("InternalServerException", 500, CallErrorKind.SERVER),
        ("SomethingNew", 503, CallErrorKind.SERVER),
    ],
)
def test_single_gateway_classifies_call_errors_by_the_call_policy(
    error_type: str, status: int, kind: CallErrorKind
) -> None:
    with pytest.raises(CallFailed) as raised:
        single(RawIvs(call_error(status, error_type, "why"))).revoke("us-west-2", [session("v")])

    assert (raised.value.kind, raised.value.code, raised.value.message) == (kind, error_type, "why")


def test_single_gateway_maps_connection_errors_and_its_deadline() -> None:
    refused = RawIvs(EndpointConnectionError(endpoint_url="https://ivs.us-west-2.amazonaws.com"))
    with pytest.raises(CallFailed) as raised:
        single(refused).revoke("us-west-2", [session("v")])
    assert raised.value.kind is CallErrorKind.CONNECTION

    release = threading.Event()

    def stalled(request: Any) -> Raw:
        release.wait(30)
        return SINGLE_ACCEPTED

    try:
        with pytest.raises(CallFailed) as raised:
            single(RawIvs(stalled), call_timeout=0.05).revoke("us-west-2", [session("v")])
    finally:
        release.set()
    assert (raised.value.kind, raised.value.code) == (CallErrorKind.CONNECTION, CODE_CONNECTION_ERROR)


def test_single_gateway_counts_nothing_from_a_client_whose_answers_were_not_checked() -> None:
    ivs = RawIvs(SINGLE_ACCEPTED)
    gateway = Boto3IvsSingleGateway(5.0)
    gateway._clients["us-west-2"] = ivs.client  # added after construction: no answer check registered

    with pytest.raises(CallFailed) as raised:
        gateway.revoke("us-west-2", [session("v")])

    assert raised.value.kind is CallErrorKind.MALFORMED


def test_single_gateway_takes_one_pair_per_call() -> None:
    with pytest.raises(ValueError, match="one pair per call"):
        single(RawIvs()).revoke("us-west-2", [session("v"), session("w")])


def test_the_batch_gateway_splits_on_a_channel_not_found_to_find_its_pair() -> None:
    ivs = RawIvs(call_error(404, "ResourceNotFoundException", "no"))
    with pytest.raises(CallFailed) as raised:
        Boto3IvsGateway(5.0, clients={"us-west-2": ivs.client}).revoke("us-west-2", [session("v"), session("w")])

    assert raised.value.kind is CallErrorKind.INVALID


# --- Each call-level outcome through the handler, over the real parser --------------------------


class Lane:
    """The entry point of the urgent lane around in-memory queues, over a given IVS gateway."""

    def __init__(self, handler: ModuleType, clock: FakeClock, gateway: Any, **overrides: Any) -> None:
        self.clock = clock
        self.gateway = gateway
        self.dead_letters = FakeQueueWriter()
        self.bulk = FakeQueueWriter()
        self.settings = settings(**{**URGENT, "MAX_RECEIVE_COUNT": MAX_RECEIVE_COUNT, **overrides})
        service = RevocationService(
            self.settings,
            gateway,
            self.dead_letters,
            overflow=self.bulk,
            pairs_per_call=1,
            operation=names.OPERATION_SINGLE,
            clock=clock,
            wall_clock=lambda: SENT + 2.0,
            sleep=clock.sleep,
        )
        self.lambda_handler = handler.make_handler(service)

    def invoke(self, *records: dict[str, Any]) -> Any:
        return self.lambda_handler(sqs_event(*records), FakeContext(self.clock, 30.0))


def failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def by_viewer(replies: dict[str, list[Raw]], default: Raw = SINGLE_ACCEPTED) -> Any:
    """A reply function: each viewer's scripted answers in turn (the last repeats), others accepted."""

    def reply(request: dict[str, Any]) -> Raw:
        script = replies.get(request["viewerId"])
        if not script:
            return default
        return script.pop(0) if len(script) > 1 else script[0]

    return reply


@pytest.fixture
def raw_lane(handler_module: ModuleType, clock: FakeClock) -> tuple[Lane, RawIvs]:
    ivs = RawIvs()
    return Lane(handler_module, clock, single(ivs), IVS_MAX_ATTEMPTS=2), ivs


@pytest.mark.parametrize(
    ("error_type", "status", "code"),
    [("AccessDeniedException", 403, "403"), ("ResourceNotFoundException", 404, "404")],
)
def test_urgent_lane_dead_letters_a_pair_its_channel_refuses_at_once_with_the_code(
    raw_lane: tuple[Lane, RawIvs], error_type: str, status: int, code: str
) -> None:
    lane, ivs = raw_lane
    ivs.script(by_viewer({"banned": [call_error(status, error_type, "refused")]}))
    record = sqs_record(
        {"viewerSessions": [{"channelArn": A, "viewerId": "banned"}, {"channelArn": A, "viewerId": "ok"}]}
    )

    response = lane.invoke(record)

    assert failures(response) == []
    assert len(ivs.requests) == 2, "not retried within the invocation"
    [letter] = lane.dead_letters.written
    assert letter.attributes["ErrorCode"] == code and letter.attributes["Attempts"] == "1"
    assert json.loads(letter.body)["errors"] == [
        {"channelArn": A, "viewerId": "banned", "code": code, "message": "refused"}
    ]


def test_urgent_lane_retries_a_throttled_pair_then_leaves_its_record_to_sqs(raw_lane: tuple[Lane, RawIvs]) -> None:
    lane, ivs = raw_lane
    ivs.script(by_viewer({"slow": [call_error(429, "ThrottlingException", "Rate exceeded")]}))
    throttled = sqs_record({"channelArn": A, "viewerId": "slow"})
    fine = sqs_record({"channelArn": A, "viewerId": "fine"})

    response = lane.invoke(throttled, fine)

    assert failures(response) == [throttled["messageId"]]
    assert [request["viewerId"] for request in ivs.requests] == ["slow", "fine", "slow"]
    assert lane.dead_letters.written == []


def test_urgent_lane_dead_letters_a_throttled_pair_with_its_reason_on_the_last_attempt(
    raw_lane: tuple[Lane, RawIvs],
) -> None:
    lane, ivs = raw_lane
    ivs.script(call_error(429, "ThrottlingException", "Rate exceeded"))

    response = lane.invoke(sqs_record({"channelArn": A, "viewerId": "slow"}, receive_count=MAX_RECEIVE_COUNT))

    assert failures(response) == []
    [letter] = lane.dead_letters.written
    assert (letter.attributes["ErrorCode"], letter.attributes["Attempts"]) == ("ThrottlingException", "3")
    assert "Rate exceeded (after 2 attempts)" in letter.attributes["ErrorMessage"]


def test_urgent_lane_retries_a_malformed_answer_and_counts_the_real_one(raw_lane: tuple[Lane, RawIvs]) -> None:
    lane, ivs = raw_lane
    ivs.script(Raw(HTML, content_type="text/html"), SINGLE_ACCEPTED)

    response = lane.invoke(sqs_record({"channelArn": A, "viewerId": "v"}))

    assert failures(response) == [] and lane.dead_letters.written == []
    assert len(ivs.requests) == 2


def test_urgent_lane_never_counts_answers_that_stay_malformed(raw_lane: tuple[Lane, RawIvs]) -> None:
    lane, ivs = raw_lane
    ivs.script(Raw(b"[]"))

    with pytest.raises(BatchProcessingError):
        lane.invoke(sqs_record({"channelArn": A, "viewerId": "v"}))
    lane.invoke(sqs_record({"channelArn": A, "viewerId": "v"}, receive_count=MAX_RECEIVE_COUNT))

    [letter] = lane.dead_letters.written
    assert letter.attributes["ErrorCode"] == CODE_MALFORMED_RESPONSE


def test_urgent_lane_dead_letters_a_pair_the_service_rejects_at_once(raw_lane: tuple[Lane, RawIvs]) -> None:
    lane, ivs = raw_lane
    ivs.script(call_error(400, "ValidationException", "viewerId: bad"))

    response = lane.invoke(sqs_record({"channelArn": A, "viewerId": "v"}))

    assert failures(response) == [] and len(ivs.requests) == 1
    [letter] = lane.dead_letters.written
    assert (letter.attributes["ErrorCode"], letter.attributes["ErrorMessage"]) == (
        "ValidationException",
        "viewerId: bad",
    )


def test_urgent_lane_retries_an_unverified_account_by_sqs_then_dead_letters_it(raw_lane: tuple[Lane, RawIvs]) -> None:
    lane, ivs = raw_lane
    ivs.script(by_viewer({"v": [call_error(403, "PendingVerification", "verify the account")]}))
    denied = sqs_record({"channelArn": A, "viewerId": "v"})

    response = lane.invoke(denied, sqs_record({"channelArn": A, "viewerId": "fine"}))
    assert failures(response) == [denied["messageId"]]
    assert [request["viewerId"] for request in ivs.requests] == ["v", "fine"], "not retried within the invocation"

    lane.invoke(sqs_record({"channelArn": A, "viewerId": "v"}, receive_count=MAX_RECEIVE_COUNT))
    [letter] = lane.dead_letters.written
    assert letter.attributes["ErrorCode"] == "PendingVerification"


# --- Bounded work: what the lane sends of a message, and what goes on to the bulk queue -----------


@pytest.fixture
def lane(handler_module: ModuleType, clock: FakeClock) -> Lane:
    return Lane(handler_module, clock, FakeGateway(clock=clock, call_seconds=0.05))


def pairs(count: int, prefix: str = "v") -> list[dict[str, Any]]:
    return [{"channelArn": A, "viewerId": f"{prefix}{i}"} for i in range(count)]


def sent_on(writer: FakeQueueWriter) -> list[str]:
    return [item["viewerId"] for body in writer.bodies() for item in body["viewerSessions"]]


def test_urgent_lane_sends_the_first_pairs_of_a_big_message_and_the_rest_to_the_bulk_queue(
    lane: Lane, service_logs: list[logging.LogRecord]
) -> None:
    lane.gateway.default = denied_pairs("v3")
    big = sqs_record({"viewerSessions": pairs(500), "requestId": "ban-wave-1", "priority": "urgent"})

    response = lane.invoke(big)

    assert failures(response) == []
    calls = lane.gateway.calls
    assert [[s.viewer_id for s in sessions] for _, sessions, _ in calls] == [[f"v{i}"] for i in range(10)]
    assert sent_on(lane.bulk) == [f"v{i}" for i in range(10, 500)]
    for message in lane.bulk.written:
        request = read_request(message.body)
        assert isinstance(request, ValidRequest) and request.request_id == "ban-wave-1"
        assert "priority" not in json.loads(message.body), "what reaches the bulk queue asks for no lane"
        assert message.attributes[ATTR_SOURCE_MESSAGE_ID] == big["messageId"]
        assert message.attributes[ATTR_REQUEST_ID] == "ban-wave-1"
    # Conservation: each of the 500 pairs revoked, dead-lettered or sent on, exactly once.
    revoked = {s.viewer_id for _, sessions, _ in calls for s in sessions} - {"v3"}
    dead = [item["viewerId"] for body in lane.dead_letters.bodies() for item in body["viewerSessions"]]
    assert dead == ["v3"]
    assert sorted([*revoked, *dead, *sent_on(lane.bulk)]) == sorted(f"v{i}" for i in range(500))
    [line] = [r for r in service_logs if r.getMessage() == "record settled"]
    assert (line.pairs_sent_to_bulk, line.request_id, line.pairs_revoked) == (490, "ban-wave-1", 9)  # type: ignore[attr-defined]


def test_what_the_urgent_lane_sends_on_is_revoked_by_the_bulk_lane(
    handler_module: ModuleType, clock: FakeClock, lane: Lane
) -> None:
    lane.invoke(sqs_record({"viewerSessions": pairs(500), "requestId": "ban-wave-1"}))
    bulk_gateway = FakeGateway(clock=clock, call_seconds=0.05)
    bulk = RevocationService(settings(), bulk_gateway, FakeQueueWriter(), clock=clock, sleep=clock.sleep)

    handler_module.make_handler(bulk)(
        sqs_event(*[sqs_record(message.body) for message in lane.bulk.written]), FakeContext(clock, 60.0)
    )

    revoked = [s.viewer_id for _, sessions, _ in [*lane.gateway.calls, *bulk_gateway.calls] for s in sessions]
    assert sorted(revoked) == sorted(f"v{i}" for i in range(500))
    assert all(len(sessions) == MAX_SESSIONS_PER_CALL for _, sessions, _ in bulk_gateway.calls[:-1])


def test_urgent_lane_bounds_each_message_after_merging_its_own_pairs(lane: Lane) -> None:
    # 12 entries, 11 distinct pairs (v0 twice, its higher version kept): 10 sent, 1 sent on.
    body = [{"channelArn": A, "viewerId": "v0", "viewerSessionVersionsLessThanOrEqualTo": 1}, *pairs(11)]
    body[1]["viewerSessionVersionsLessThanOrEqualTo"] = 5

    lane.invoke(sqs_record(body), sqs_record(pairs(3, "w")))

    sent = [(s.viewer_id, s.version) for _, sessions, _ in lane.gateway.calls for s in sessions]
    assert sent == [("v0", 5), *[(f"v{i}", 0) for i in range(1, 10)], ("w0", 0), ("w1", 0), ("w2", 0)]
    assert sent_on(lane.bulk) == ["v10"]


def test_urgent_lane_sends_nothing_on_for_a_record_it_retries(lane: Lane) -> None:
    lane.gateway.default = denied_pairs("v0", code="500", message="internal")
    big = sqs_record(pairs(30))

    response = lane.invoke(big, sqs_record({"channelArn": A, "viewerId": "fine"}))

    assert failures(response) == [big["messageId"]]
    assert lane.bulk.written == [], "they come back with the record, and go on from its next delivery"


def test_urgent_lane_retries_a_record_whose_request_to_the_bulk_queue_could_not_be_written(lane: Lane) -> None:
    lane.bulk.fail = {0}
    big = sqs_record(pairs(30))
    fine = sqs_record({"channelArn": A, "viewerId": "fine"})

    response = lane.invoke(big, fine)

    assert failures(response) == [big["messageId"]]


def test_urgent_lane_sends_a_small_message_whole(lane: Lane) -> None:
    lane.invoke(sqs_record(pairs(10)))

    assert len(lane.gateway.calls) == 10 and lane.bulk.written == []


# --- Metrics ---------------------------------------------------------------------------------------


def emitted(capsys: pytest.CaptureFixture[str]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Each metric's total by its name and its dimensions (other than service and function_name)."""
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            dimensions = tuple(
                sorted(
                    (d, document[d])
                    for group in directive["Dimensions"]
                    for d in group
                    if d not in ("service", "function_name")
                )
            )
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                key = (metric["Name"], dimensions)
                totals[key] = totals.get(key, 0) + sum(value if isinstance(value, list) else [value])
    return totals


def test_urgent_lane_emits_its_operation_lane_wait_and_pairs_sent_on(
    lane: Lane, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    lane.gateway.script = [CallFailed(CallErrorKind.THROTTLED, "ThrottlingException", "Rate exceeded")]
    started = clock.now

    lane.invoke(sqs_record(pairs(12)))

    totals = emitted(capsys)
    single_op = ((names.DIMENSION_OPERATION, names.OPERATION_SINGLE),)
    assert totals[(names.METRIC_IVS_CALLS, single_op)] == totals[(names.METRIC_IVS_CALLS, ())] == 11
    assert totals[(names.METRIC_THROTTLED_CALLS, single_op)] == totals[(names.METRIC_THROTTLED_CALLS, ())] == 1
    assert totals[(names.METRIC_PAIRS_SENT_TO_BULK, ())] == 2
    assert totals[(names.METRIC_PAIRS_RECEIVED, ())] == 12
    # Sent 2 s before the invocation began (the wall clock), its last pair accepted when the last call ended.
    wait = totals[(names.METRIC_PAIR_WAIT_SECONDS, ((names.DIMENSION_LANE, names.LANE_URGENT),))]
    assert wait == pytest.approx(2.0 + (clock.now - started))
    assert {dimension for _, dims in totals for dimension, _ in dims} <= {
        names.DIMENSION_OPERATION,
        names.DIMENSION_LANE,
        names.DIMENSION_ERROR_CODE,
        names.DIMENSION_ACCOUNT,
        names.DIMENSION_COLD_START,
    }


def test_urgent_pair_wait_is_split_by_powertools_cold_start_flag(
    lane: Lane, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a new instance: Powertools' flag, which its Logger reads on the first invocation.
    monkeypatch.setattr("aws_lambda_powertools.logging.logger.is_cold_start", True)
    cold_key = (
        names.METRIC_PAIR_WAIT_SECONDS,
        ((names.DIMENSION_COLD_START, "true"), (names.DIMENSION_LANE, names.LANE_URGENT)),
    )
    warm_key = (
        names.METRIC_PAIR_WAIT_SECONDS,
        ((names.DIMENSION_COLD_START, "false"), (names.DIMENSION_LANE, names.LANE_URGENT)),
    )

    lane.invoke(sqs_record(pairs(1)))
    first = emitted(capsys)
    lane.invoke(sqs_record(pairs(1, prefix="w")))
    second = emitted(capsys)

    lane_only = (names.METRIC_PAIR_WAIT_SECONDS, ((names.DIMENSION_LANE, names.LANE_URGENT),))
    assert cold_key in first and warm_key not in first
    assert warm_key in second and cold_key not in second
    assert first[cold_key] == first[lane_only] and second[warm_key] == second[lane_only]


def test_bulk_lane_emits_the_batch_operation_and_its_lane(
    handler_module: ModuleType, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    service = RevocationService(
        settings(), FakeGateway(clock=clock), FakeQueueWriter(), clock=clock, wall_clock=lambda: SENT + 30.0
    )

    handler_module.make_handler(service)(sqs_event(sqs_record(pairs(3))), FakeContext(clock, 60.0))

    totals = emitted(capsys)
    assert totals[(names.METRIC_IVS_CALLS, ((names.DIMENSION_OPERATION, names.OPERATION_BATCH),))] == 1
    assert totals[(names.METRIC_PAIR_WAIT_SECONDS, ((names.DIMENSION_LANE, names.LANE_BULK),))] == 30.0
    assert totals[(names.METRIC_PAIRS_SENT_TO_BULK, ())] == 0


def test_no_wait_is_emitted_when_no_pair_was_revoked(lane: Lane, capsys: pytest.CaptureFixture[str]) -> None:
    lane.gateway.default = denied_pairs("v0")

    lane.invoke(sqs_record(pairs(1)))

    assert not [key for key in emitted(capsys) if key[0] == names.METRIC_PAIR_WAIT_SECONDS]


# --- The handler module builds each lane's service from its settings ---------------------------------


def test_build_service_picks_the_ports_of_the_lane(handler_module: ModuleType) -> None:
    urgent = handler_module.build_service(settings(**URGENT))
    bulk = handler_module.build_service(settings())

    assert isinstance(urgent._revoker._gateway, Boto3IvsSingleGateway)
    assert (urgent._pairs_per_call, urgent._operation) == (1, names.OPERATION_SINGLE)
    assert isinstance(urgent._overflow, SqsMessageWriter) and urgent._overflow._queue_url == BULK_QUEUE_URL
    assert isinstance(bulk._revoker._gateway, Boto3IvsGateway)
    assert (bulk._pairs_per_call, bulk._operation, bulk._overflow) == (
        MAX_SESSIONS_PER_CALL,
        names.OPERATION_BATCH,
        None,
    )
    assert handler_module.lambda_handler.__module__ == names.HANDLER.rsplit(".", 1)[0]


# --- Regressions: isolation, the single operation's success, scope ------------------------------


@pytest.mark.parametrize("where", HUGE_INTEGER_PLACES)
def test_a_4301_digit_integer_in_one_body_fails_only_its_own_record(lane: Lane, where: str) -> None:
    poison = sqs_record(huge_integer_body(where, A))
    innocent = [sqs_record({"channelArn": A, "viewerId": f"innocent-{i}"}) for i in range(19)]

    response = lane.invoke(*innocent[:5], poison, *innocent[5:])

    assert failures(response) == []
    revoked = sorted(s.viewer_id for _, sessions, _ in lane.gateway.calls for s in sessions)
    assert revoked == sorted(f"innocent-{i}" for i in range(19))
    [letter] = lane.dead_letters.written
    assert (letter.body, letter.code) == (poison["body"], "InvalidMessage")
    assert letter.attributes["ErrorMessage"] == "body: integer literal of more than 4300 digits"


NOT_SUCCESS = {
    "a proxy's message": answer({"message": "Forbidden"}),
    "a batch answer": answer({"errors": [{"channelArn": A, "viewerId": "a", "code": "403", "message": "no"}]}),
}


@pytest.mark.parametrize("name", NOT_SUCCESS)
def test_urgent_lane_counts_no_pair_of_a_200_json_object_other_than_empty(
    raw_lane: tuple[Lane, RawIvs], service_logs: list[logging.LogRecord], name: str
) -> None:
    lane, ivs = raw_lane
    ivs.script(NOT_SUCCESS[name])
    pair_records = [sqs_record({"channelArn": A, "viewerId": viewer}) for viewer in ("a", "b")]

    with pytest.raises(BatchProcessingError):
        lane.invoke(*pair_records)
    assert len(ivs.requests) == 4, "each pair's call, and its retry"
    assert [r.pairs_revoked for r in service_logs if r.getMessage() == "batch settled"] == [0]  # type: ignore[attr-defined]

    last = [sqs_record({"channelArn": A, "viewerId": viewer}, MAX_RECEIVE_COUNT) for viewer in ("a", "b")]
    assert failures(lane.invoke(*last)) == []
    assert sorted(letter.code for letter in lane.dead_letters.written) == [CODE_MALFORMED_RESPONSE] * 2
    for letter in lane.dead_letters.written:
        assert letter.attributes["ErrorMessage"].startswith("200 with a JSON object that is not empty (keys: ")


def test_urgent_lane_dead_letters_out_of_scope_pairs_without_a_call_and_bounds_the_others(
    handler_module: ModuleType, clock: FakeClock
) -> None:
    lane = Lane(handler_module, clock, FakeGateway(clock=clock), IVS_REGIONS="us-west-2")
    far = [{"channelArn": channel(region="eu-west-3"), "viewerId": f"far{i}"} for i in range(3)]

    response = lane.invoke(sqs_record([*far, *pairs(12)]))

    assert failures(response) == []
    assert [s.viewer_id for _, sessions, _ in lane.gateway.calls for s in sessions] == [f"v{i}" for i in range(10)]
    assert sent_on(lane.bulk) == ["v10", "v11"]
    [letter] = lane.dead_letters.written
    assert letter.code == CODE_OUT_OF_SCOPE
    assert [s["viewerId"] for s in json.loads(letter.body)["viewerSessions"]] == ["far0", "far1", "far2"]
    assert letter.attributes["ErrorMessage"] == (
        "region eu-west-3 is not one this deployment revokes in (IVS_REGIONS: us-west-2)"
    )
