"""The handler end to end with in-memory ports: exact batchItemFailures and dead-letter contents."""

from __future__ import annotations

import json
import logging
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError, UnexpectedBatchTypeError

from ivs_revocation import names
from ivs_revocation.intake import ValidRequest, read_request
from ivs_revocation.models import (
    ATTRIBUTE_VALUE_MAX_BYTES,
    CODE_INVALID_MESSAGE,
    CODE_OUT_OF_SCOPE,
    REQUEST_ID_MAX_LENGTH,
    CallErrorKind,
    CallFailed,
)
from ivs_revocation.service import RevocationService
from tests.unit.fakes import (
    ACCOUNT,
    HUGE_INTEGER_PLACES,
    FakeClock,
    FakeContext,
    FakeGateway,
    FakeQueueWriter,
    channel,
    denied_pairs,
    huge_integer_body,
    settings,
    sqs_event,
    sqs_record,
)

pytestmark = pytest.mark.unit

A = channel("abcdABCDefgh")
B = channel("efghEFGHijkl")
DOC_EXAMPLE = [
    {"channelArn": A, "viewerId": "abcdefg", "viewerSessionVersionsLessThanOrEqualTo": 1234567890},
    {"channelArn": B, "viewerId": "0f0f0f0f", "viewerSessionVersionsLessThanOrEqualTo": 1234567890},
]
THROTTLED = CallFailed(CallErrorKind.THROTTLED, "ThrottlingException", "Rate exceeded")
# The regions this deployment revokes in (IVS_REGIONS): the tests' channels are in these two.
REGIONS = "us-west-2,eu-west-1"


class Harness:
    """The entry point built around a service with in-memory ports, as the handler module builds its own."""

    def __init__(self, handler: ModuleType, clock: FakeClock, gateway: FakeGateway) -> None:
        self.clock = clock
        self.gateway = gateway
        self.dead_letters = FakeQueueWriter()
        self.requeued = FakeQueueWriter()
        self.make_handler = handler.make_handler
        self.lambda_handler = self.serve(requeue=False)

    def serve(self, *, requeue: bool, **overrides: Any) -> Any:
        service = RevocationService(
            settings(**{"MAX_RECEIVE_COUNT": 3, "IVS_REGIONS": REGIONS, **overrides}),
            self.gateway,
            self.dead_letters,
            self.requeued if requeue else None,
            clock=self.clock,
            sleep=self.clock.sleep,
        )
        return self.make_handler(service)

    def invoke(self, *records: dict[str, Any], timeout: float = 60.0) -> Any:
        return self.lambda_handler(sqs_event(*records), FakeContext(self.clock, timeout))


@pytest.fixture
def harness(handler_module: ModuleType, clock: FakeClock) -> Harness:
    return Harness(handler_module, clock, FakeGateway(clock=clock, call_seconds=0.05))


def failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def test_handler_revokes_a_batch_and_reports_no_failure(harness: Harness) -> None:
    records = [sqs_record({"channelArn": A, "viewerId": f"v{i}"}) for i in range(45)]

    response = harness.invoke(*records)

    assert response == {"batchItemFailures": []}
    assert [len(sessions) for _, sessions, _ in harness.gateway.calls] == [20, 20, 5]
    assert harness.dead_letters.written == []


def test_handler_dead_letters_the_documented_403_pairs_without_retrying(harness: Harness) -> None:
    harness.gateway.default = denied_pairs("abcdefg", "0f0f0f0f")
    record = sqs_record(DOC_EXAMPLE)

    response = harness.invoke(record)

    assert failures(response) == []
    [letter] = harness.dead_letters.written
    body = json.loads(letter.body)
    assert body["viewerSessions"] == DOC_EXAMPLE
    assert body["errors"] == [
        {"channelArn": A, "viewerId": "abcdefg", "code": "403", "message": "not authorized"},
        {"channelArn": B, "viewerId": "0f0f0f0f", "code": "403", "message": "not authorized"},
    ]
    assert letter.attributes["ErrorCode"] == "403"
    assert letter.attributes["SourceMessageId"] == record["messageId"]
    assert letter.attributes["Attempts"] == "1"


def test_handler_dead_letters_invalid_message_while_valid_records_are_revoked(harness: Harness) -> None:
    good = sqs_record({"channelArn": A, "viewerId": "good"})
    bad = sqs_record({"channelArn": A, "viewerId": "x" * 41})

    response = harness.invoke(good, bad)

    assert failures(response) == []
    [letter] = harness.dead_letters.written
    assert letter.attributes["ErrorCode"] == CODE_INVALID_MESSAGE
    assert "viewerId" in letter.attributes["ErrorMessage"] and "40" in letter.attributes["ErrorMessage"]
    assert letter.body == bad["body"]
    assert [s.viewer_id for _, sessions, _ in harness.gateway.calls for s in sessions] == ["good"]


def test_handler_retries_throttled_records_on_early_attempts(harness: Harness) -> None:
    throttled = sqs_record({"channelArn": A, "viewerId": "v"}, receive_count=1)
    denied = sqs_record({"channelArn": channel(region="eu-west-1"), "viewerId": "w"}, receive_count=1)
    harness.gateway.default = lambda region, sessions: (
        THROTTLED if region == "us-west-2" else denied_pairs("w")(region, sessions)
    )

    response = harness.invoke(throttled, denied)

    assert failures(response) == [throttled["messageId"]]
    assert [letter.attributes["ErrorCode"] for letter in harness.dead_letters.written] == ["403"]


def test_handler_logs_each_settled_record_with_its_reason_and_no_stack_trace(
    harness: Harness, service_logs: list[logging.LogRecord]
) -> None:
    throttled = sqs_record({"channelArn": A, "viewerId": "v"})
    denied = sqs_record({"channelArn": channel(region="eu-west-1"), "viewerId": "w"})
    invalid = sqs_record("{oops")
    harness.gateway.default = lambda region, sessions: (
        THROTTLED if region == "us-west-2" else denied_pairs("w")(region, sessions)
    )

    harness.invoke(throttled, denied, invalid)

    settled = {r.message_id: r.reason for r in service_logs if r.getMessage() == "record settled"}  # type: ignore[attr-defined]
    assert settled[throttled["messageId"]].startswith("1 pairs to retry, first: ThrottlingException")
    assert settled[denied["messageId"]] == "1 pairs dead-lettered, first: 403: not authorized"
    assert settled[invalid["messageId"]].startswith("InvalidMessage: body is not JSON")
    assert not [r for r in service_logs if r.exc_info], "the reason is in the line; no stack trace beside it"


def test_handler_dead_letters_throttled_pairs_with_reason_on_the_last_attempt(harness: Harness) -> None:
    harness.gateway.default = THROTTLED
    record = sqs_record({"channelArn": A, "viewerId": "v"}, receive_count=3)

    response = harness.invoke(record)

    assert failures(response) == []
    [letter] = harness.dead_letters.written
    assert letter.attributes["ErrorCode"] == "ThrottlingException"
    assert letter.attributes["Attempts"] == "3"
    assert json.loads(letter.body)["errors"][0]["code"] == "ThrottlingException"


def test_handler_raises_when_every_record_must_be_retried(harness: Harness) -> None:
    harness.gateway.default = THROTTLED

    with pytest.raises(BatchProcessingError):
        harness.invoke(sqs_record({"channelArn": A, "viewerId": "v"}), sqs_record({"channelArn": A, "viewerId": "w"}))

    assert harness.dead_letters.written == []


def test_handler_reports_record_whose_dead_letter_could_not_be_written(harness: Harness) -> None:
    harness.gateway.default = denied_pairs("denied")
    harness.dead_letters.fail = {0}
    denied = sqs_record({"channelArn": A, "viewerId": "denied"})
    fine = sqs_record({"channelArn": A, "viewerId": "fine"})

    response = harness.invoke(denied, fine)

    assert failures(response) == [denied["messageId"]]


def test_handler_leaves_records_it_had_no_time_for_to_sqs(harness: Harness) -> None:
    records = [sqs_record([{"channelArn": A, "viewerId": f"r{r}-{i}"} for i in range(20)]) for r in range(6)]

    # 6 calls ~1 s apart; 11 s minus the 3 s margin and the 5 s call budget lets calls start until 3 s: 3 of them.
    response = harness.invoke(*records, timeout=11.0)

    assert failures(response) == [record["messageId"] for record in records[3:]]
    assert len(harness.gateway.calls) == 3


@pytest.fixture
def requeuing(harness: Harness) -> Harness:
    """The harness with a source queue to put back what an invocation had no time to start."""
    harness.lambda_handler = harness.serve(requeue=True)
    return harness


def requeued_pairs(writer: FakeQueueWriter) -> list[tuple[str, str]]:
    return [(s["channelArn"], s["viewerId"]) for body in writer.bodies() for s in body["viewerSessions"]]


def test_handler_requeues_the_tail_of_a_message_larger_than_one_invocation(requeuing: Harness) -> None:
    pairs = [{"channelArn": A, "viewerId": f"v{i}"} for i in range(120)]
    big = sqs_record({"viewerSessions": pairs, "requestId": "wave-7"})

    # Time for 3 calls of 20 (see the test above): 60 pairs revoked, the other 60 back on the queue.
    response = requeuing.invoke(big, timeout=11.0)

    assert failures(response) == []
    assert len(requeuing.gateway.calls) == 3
    assert requeued_pairs(requeuing.requeued) == [(A, f"v{i}") for i in range(60, 120)]
    (message,) = requeuing.requeued.written
    assert isinstance(read_request(message.body), ValidRequest)
    assert json.loads(message.body)["requestId"] == "wave-7"
    assert message.attributes["SourceMessageId"] == big["messageId"]
    assert requeuing.dead_letters.written == []


def test_handler_requeues_not_started_pairs_on_the_last_attempt_instead_of_dead_lettering(
    requeuing: Harness,
) -> None:
    records = [
        sqs_record([{"channelArn": A, "viewerId": f"r{r}-{i}"} for i in range(20)], receive_count=3) for r in range(6)
    ]

    response = requeuing.invoke(*records, timeout=11.0)

    assert failures(response) == []
    assert requeuing.dead_letters.written == []
    assert {m.source_message_id for m in requeuing.requeued.written} == {r["messageId"] for r in records[3:]}


def test_handler_retries_a_record_whose_requeue_could_not_be_written(requeuing: Harness) -> None:
    requeuing.requeued.fail = {0}
    fine = sqs_record({"channelArn": A, "viewerId": "fine"})
    big = sqs_record([{"channelArn": A, "viewerId": f"v{i}"} for i in range(120)])

    response = requeuing.invoke(fine, big, timeout=11.0)

    assert failures(response) == [big["messageId"]]


def test_handler_without_progress_leaves_the_record_to_sqs_rather_than_requeue_it(requeuing: Harness) -> None:
    record = sqs_record({"channelArn": A, "viewerId": "late"})

    # 7 s: less than the 3 s margin plus the 5 s call budget, so no call can start.
    with pytest.raises(BatchProcessingError):
        requeuing.invoke(record, timeout=7.0)

    assert requeuing.gateway.calls == []
    assert requeuing.requeued.written == []


def test_handler_retries_whole_a_record_with_a_retryable_failure_and_requeues_nothing(requeuing: Harness) -> None:
    requeuing.gateway.script = [denied_pairs("v0", code="500", message="internal")]
    fine = sqs_record({"channelArn": A, "viewerId": "fine"})
    big = sqs_record([{"channelArn": A, "viewerId": f"v{i}"} for i in range(120)])

    response = requeuing.invoke(fine, big, timeout=11.0)

    assert failures(response) == [big["messageId"]]
    assert requeuing.requeued.written == []


def test_handler_merges_duplicates_and_dead_letters_each_record_its_own_pairs(harness: Harness) -> None:
    harness.gateway.default = denied_pairs("dup")
    low = sqs_record({"channelArn": A, "viewerId": "dup", "viewerSessionVersionsLessThanOrEqualTo": 1})
    high = sqs_record({"channelArn": A, "viewerId": "dup", "viewerSessionVersionsLessThanOrEqualTo": 9})

    harness.invoke(low, high)

    assert [[(s.viewer_id, s.version) for s in sessions] for _, sessions, _ in harness.gateway.calls] == [[("dup", 9)]]
    by_source = {letter.source_message_id: json.loads(letter.body) for letter in harness.dead_letters.written}
    assert by_source[low["messageId"]]["viewerSessions"][0]["viewerSessionVersionsLessThanOrEqualTo"] == 1
    assert by_source[high["messageId"]]["viewerSessions"][0]["viewerSessionVersionsLessThanOrEqualTo"] == 9


def test_dead_letter_body_is_itself_a_valid_request(harness: Harness) -> None:
    harness.gateway.default = denied_pairs("abcdefg", "0f0f0f0f")
    harness.invoke(sqs_record({"viewerSessions": DOC_EXAMPLE, "requestId": "req-1"}))

    [letter] = harness.dead_letters.written
    again = read_request(letter.body)

    assert isinstance(again, ValidRequest)
    assert [s.to_api() for s in again.sessions] == DOC_EXAMPLE
    assert again.request_id == "req-1"
    assert letter.attributes["RequestId"] == "req-1"


def test_handler_refuses_a_direct_invocation(harness: Harness) -> None:
    with pytest.raises(UnexpectedBatchTypeError):
        harness.lambda_handler({"viewerSessions": DOC_EXAMPLE}, FakeContext(harness.clock))


# Dimensions a metric is also emitted with, besides ErrorCode; its totals are keyed "Dimension=value".
_OTHER_DIMENSIONS = (names.DIMENSION_OPERATION, names.DIMENSION_LANE, names.DIMENSION_ACCOUNT)


def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> tuple[dict[tuple[str, str | None], float], set[str]]:
    """The EMF documents printed so far: each metric's total by (name, ErrorCode), by (name,
    "Operation=..." / "Lane=...") for those emitted with such a dimension, and every dimension."""
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    totals: dict[tuple[str, str | None], float] = {}
    dimensions = set()
    for document in emitted:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            dimensions.update(d for group in directive["Dimensions"] for d in group)
            other = next((f"{d}={document[d]}" for d in _OTHER_DIMENSIONS if d in document), None)
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                key = (metric["Name"], document.get("ErrorCode") or other)
                totals[key] = totals.get(key, 0) + sum(value if isinstance(value, list) else [value])
    return totals, dimensions


def test_handler_emits_metrics_without_viewer_or_channel_dimensions(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.gateway.default = denied_pairs("abcdefg")
    harness.invoke(sqs_record(DOC_EXAMPLE), sqs_record("not json"))

    totals, dimensions = emitted_metrics(capsys)
    assert totals[("PairsReceived", None)] == 2
    assert totals[("PairsRevoked", None)] == 1
    assert totals[("InvalidMessages", None)] == 1
    assert totals[("IvsCalls", None)] == 1
    assert totals[("PairsDeadLettered", None)] == 2
    assert totals[("PairsDeadLettered", "403")] == 1
    assert totals[("PairsDeadLettered", "InvalidMessage")] == 1
    assert dimensions <= {"service", "ErrorCode", "function_name", *_OTHER_DIMENSIONS}


def test_handler_counts_dead_letters_it_could_not_write(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    harness.gateway.default = denied_pairs("denied")
    harness.dead_letters.fail = {0, 1}
    denied = sqs_record({"channelArn": A, "viewerId": "denied"})
    invalid = sqs_record("{oops")
    written = sqs_record(["not a pair"])

    response = harness.invoke(denied, invalid, written)

    assert failures(response) == [denied["messageId"], invalid["messageId"]]
    assert [letter.body for letter in harness.dead_letters.written] == [written["body"]]
    totals, _ = emitted_metrics(capsys)
    assert totals[(names.METRIC_DEAD_LETTERS_UNWRITTEN, None)] == 2


def test_handler_emits_unwritten_dead_letters_as_zero_when_all_were_written(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.invoke(sqs_record({"channelArn": A, "viewerId": "fine"}))

    totals, _ = emitted_metrics(capsys)
    assert totals[(names.METRIC_DEAD_LETTERS_UNWRITTEN, None)] == 0


PAIR_TWICE = f'{{"channelArn": "{A}", "viewerId": "first", "viewerId": "second"}}'


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(PAIR_TWICE, id="one pair"),
        pytest.param(f"[{PAIR_TWICE}]", id="list"),
        pytest.param(f'{{"viewerSessions": [{PAIR_TWICE}]}}', id="API request"),
        pytest.param(
            f'{{"id": "e", "source": "s", "detail-type": "d", "detail": {{"viewerSessions": [{PAIR_TWICE}]}}}}',
            id="event",
        ),
    ],
)
def test_handler_dead_letters_a_body_with_a_repeated_key_and_revokes_nothing_of_it(harness: Harness, body: str) -> None:
    ambiguous = sqs_record(body)
    fine = sqs_record({"channelArn": A, "viewerId": "fine"})

    response = harness.invoke(ambiguous, fine)

    assert failures(response) == []
    [letter] = harness.dead_letters.written
    assert (letter.body, letter.attributes["ErrorCode"]) == (body, CODE_INVALID_MESSAGE)
    assert "repeated key 'viewerId'" in letter.attributes["ErrorMessage"]
    assert [s.viewer_id for _, sessions, _ in harness.gateway.calls for s in sessions] == ["fine"]


LONG_EVENT_ID = "e" * 300


def test_handler_dead_letters_an_event_whose_id_is_too_long_for_a_request_id(harness: Harness) -> None:
    # Were it read, its denied pair's dead letter would need the id as its requestId, which cannot hold it.
    harness.gateway.default = denied_pairs("v")
    body = {"id": LONG_EVENT_ID, "source": "s", "detail-type": "d", "detail": {"channelArn": A, "viewerId": "v"}}
    too_long = sqs_record(body)
    fine = sqs_record({"channelArn": A, "viewerId": "fine"})

    response = harness.invoke(too_long, fine)

    assert failures(response) == []
    [letter] = harness.dead_letters.written
    assert (letter.body, letter.attributes["ErrorCode"]) == (too_long["body"], CODE_INVALID_MESSAGE)
    assert letter.attributes["ErrorMessage"] == f"id: at most {REQUEST_ID_MAX_LENGTH} characters (got 300)"
    assert [s.viewer_id for _, sessions, _ in harness.gateway.calls for s in sessions] == ["fine"]


def test_handler_dead_letters_a_repeated_key_event_with_a_very_long_id_cutting_the_id(harness: Harness) -> None:
    event_id = "e" * (ATTRIBUTE_VALUE_MAX_BYTES * 2)
    body = f'{{"id": "{event_id}", "source": "s", "detail-type": "d", "detail": {PAIR_TWICE}}}'
    ambiguous = sqs_record(body)

    response = harness.invoke(ambiguous)

    assert failures(response) == []
    [letter] = harness.dead_letters.written
    assert (letter.body, letter.attributes["ErrorCode"]) == (body, CODE_INVALID_MESSAGE)
    assert letter.attributes["ErrorMessage"] == "detail: repeated key 'viewerId'"
    assert letter.attributes["RequestId"] == event_id[:ATTRIBUTE_VALUE_MAX_BYTES]


# --- Isolation: nothing about one record fails the others ------------------------------------------


def innocent_records(count: int = 19) -> list[dict[str, Any]]:
    return [sqs_record({"channelArn": A, "viewerId": f"innocent-{i}"}) for i in range(count)]


@pytest.mark.parametrize("where", HUGE_INTEGER_PLACES)
def test_a_4301_digit_integer_in_one_body_fails_only_its_own_record(harness: Harness, where: str) -> None:
    poison = sqs_record(huge_integer_body(where, A))
    innocent = innocent_records()

    response = harness.invoke(*innocent[:9], poison, *innocent[9:])

    assert failures(response) == []
    revoked = sorted(s.viewer_id for _, sessions, _ in harness.gateway.calls for s in sessions)
    assert revoked == sorted(f"innocent-{i}" for i in range(19))
    [letter] = harness.dead_letters.written
    assert (letter.body, letter.code, letter.source_message_id) == (
        poison["body"],
        CODE_INVALID_MESSAGE,
        poison["messageId"],
    )
    assert letter.attributes["ErrorMessage"] == "body: integer literal of more than 4300 digits"


def test_an_exception_while_reading_one_record_fails_only_that_record(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, service_logs: list[logging.LogRecord]
) -> None:
    """Whatever goes wrong with one record (here: a reader that fails in a way nobody foresaw) is that
    record's reason, named by the exception's type, not its text, which may quote a viewer ID."""
    from ivs_revocation import service as service_module

    def read(body: str) -> Any:
        if "boom" in body:
            raise KeyError("boom-viewer")
        return read_request(body)

    monkeypatch.setattr(service_module, "read_request", read)
    poison = sqs_record({"channelArn": A, "viewerId": "boom-viewer"})

    response = harness.invoke(poison, *innocent_records(3))

    assert failures(response) == []
    assert len([s for _, sessions, _ in harness.gateway.calls for s in sessions]) == 3
    [letter] = harness.dead_letters.written
    assert (letter.body, letter.code) == (poison["body"], CODE_INVALID_MESSAGE)
    assert letter.attributes["ErrorMessage"] == "body: could not be read (KeyError)"
    assert not [r for r in service_logs if "boom" in r.getMessage() or "boom" in str(r.__dict__.get("reason"))]


def test_an_exception_while_admitting_one_records_pairs_fails_only_that_record(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivs_revocation import service as service_module

    admit = service_module.admit

    def failing(sessions: Any, *args: Any) -> Any:
        sessions = list(sessions)
        if any(s.viewer_id == "boom" for s in sessions):
            raise RuntimeError("boom")
        return admit(sessions, *args)

    monkeypatch.setattr(service_module, "admit", failing)
    poison = sqs_record({"channelArn": A, "viewerId": "boom"})

    response = harness.invoke(poison, *innocent_records(3))

    assert failures(response) == []
    [letter] = harness.dead_letters.written
    assert letter.attributes["ErrorMessage"] == "body: could not be read (RuntimeError)"
    assert len(harness.gateway.calls[0][1]) == 3


# --- Scope: pairs this deployment does not revoke are refused before any call ---------------------


def test_pair_in_an_unlisted_region_is_dead_lettered_without_a_call(harness: Harness) -> None:
    harness.lambda_handler = harness.serve(requeue=False, IVS_REGIONS="us-west-2")
    paris = channel(region="eu-west-3")
    record = sqs_record(
        {"viewerSessions": [{"channelArn": A, "viewerId": "here"}, {"channelArn": paris, "viewerId": "there"}]}
    )

    response = harness.invoke(record)

    assert failures(response) == [], "never retried"
    assert [(region, [s.viewer_id for s in sessions]) for region, sessions, _ in harness.gateway.calls] == [
        ("us-west-2", ["here"])
    ]
    [letter] = harness.dead_letters.written
    reason = "region eu-west-3 is not one this deployment revokes in (IVS_REGIONS: us-west-2)"
    assert (letter.code, letter.attributes["ErrorCode"], letter.attributes["ErrorMessage"]) == (
        CODE_OUT_OF_SCOPE,
        CODE_OUT_OF_SCOPE,
        reason,
    )
    body = json.loads(letter.body)
    assert body["viewerSessions"] == [
        {"channelArn": paris, "viewerId": "there", "viewerSessionVersionsLessThanOrEqualTo": 0}
    ]
    assert body["errors"] == [{"channelArn": paris, "viewerId": "there", "code": CODE_OUT_OF_SCOPE, "message": reason}]


def test_pair_of_another_account_is_dead_lettered_without_a_call(harness: Harness) -> None:
    elsewhere = A.replace(ACCOUNT, "999999999999")

    response = harness.invoke(sqs_record({"channelArn": elsewhere, "viewerId": "v"}))

    assert failures(response) == [] and harness.gateway.calls == []
    [letter] = harness.dead_letters.written
    assert (letter.code, letter.attributes["ErrorMessage"]) == (
        CODE_OUT_OF_SCOPE,
        f"account 999999999999 is not one this deployment revokes in (accounts: {ACCOUNT})",
    )


def test_without_ivs_regions_the_function_revokes_in_its_own_region_only(
    handler_module: ModuleType, clock: FakeClock
) -> None:
    """IVS_REGIONS unset: AWS_REGION, which Lambda sets; where neither is, the invoked function's region."""
    for environment, own in (({"AWS_REGION": "eu-west-1"}, "eu-west-1"), ({}, "us-west-2")):
        gateway = FakeGateway(clock=clock)
        service = RevocationService(settings(**environment), gateway, FakeQueueWriter(), clock=clock, sleep=clock.sleep)
        records = [
            sqs_record({"channelArn": channel(region=region), "viewerId": "v"}) for region in ("us-west-2", "eu-west-1")
        ]

        handler_module.make_handler(service)(sqs_event(*records), FakeContext(clock))

        assert [region for region, _, _ in gateway.calls] == [own]


def test_pairs_naming_many_regions_make_clients_and_limiters_for_allowed_regions_only(
    handler_module: ModuleType, clock: FakeClock
) -> None:
    """A producer's regions cost nothing kept: only the deployment's regions get a client and a limiter."""
    from ivs_revocation.adapters.ivs import Boto3IvsGateway
    from tests.unit.raw_ivs import RawIvs

    gateway = Boto3IvsGateway(5.0, clients={"us-west-2": RawIvs().client})
    service = RevocationService(
        settings(IVS_REGIONS="us-west-2"), gateway, FakeQueueWriter(), clock=clock, sleep=clock.sleep
    )
    far = [{"channelArn": channel(region=f"xx-far-{i}"), "viewerId": "v"} for i in range(40)]

    response = handler_module.make_handler(service)(
        sqs_event(sqs_record([*far, {"channelArn": A, "viewerId": "v"}])), FakeContext(clock)
    )

    assert response == {"batchItemFailures": []}
    assert set(gateway._clients) == {"us-west-2"}
    assert set(service._revoker._limiters) == {(ACCOUNT, "us-west-2")}
