"""Outcome events: the details built from a settlement (every row of the outcome table), their split,
and the publisher's PutEvents calls through botocore's real parser (split, retry, time budget)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from hypothesis import given
from hypothesis import strategies as st

from ivs_revocation import names, outcome_events
from ivs_revocation.adapters.events import EVENTBRIDGE_MAX_BATCH_ENTRIES, EventBridgePublisher, batches
from ivs_revocation.intake import read_request
from ivs_revocation.models import (
    EVENT_SOURCE,
    EVENTBRIDGE_MAX_ENTRY_BYTES,
    OUTCOME_EVENT_DETAIL_TYPE,
    OUTCOME_EVENT_MAX_ENTRY_BYTES,
    Failure,
    Lane,
    RevocationRequest,
)
from ivs_revocation.settle import SourceRecord, settle
from tests.unit.fakes import FakeClock, channel, session
from tests.unit.raw_ivs import Raw, _Stream

BUS = "revocations"


def record(message_id: str, *viewers: str, request_id: str | None = "req-1", receive_count: int = 1) -> SourceRecord:
    body = RevocationRequest(viewer_sessions=[session(v) for v in viewers], request_id=request_id).to_json()
    return SourceRecord(message_id, receive_count, body, read_request(body))


def details(
    records: list[SourceRecord],
    revoked: set[str],
    failures: dict[str, Failure],
    *,
    unwritten: set[int] = frozenset(),  # type: ignore[assignment]
    requeue: bool = False,
    beyond: dict[str, Any] | None = None,
    max_receive_count: int = 3,
) -> list[dict[str, Any]]:
    settlement = settle(
        records,
        {session(v).key for v in revoked},
        {session(v).key: failure for v, failure in failures.items()},
        max_receive_count,
        requeue_not_started=requeue,
        beyond_bound=beyond,
    )
    events = outcome_events.outcome_events(records, settlement, unwritten, "bulk")
    return [json.loads(event.detail_json) for event in events]


FOR_GOOD = Failure("403", "not authorized", retryable=False)
RETRYABLE = Failure("500", "internal", retryable=True)
NOT_STARTED = Failure("NotStarted", "not started", retryable=True)


def test_all_revoked_is_one_revoked_event_with_the_request_id() -> None:
    [detail] = details([record("m1", "a", "b")], {"a", "b"}, {})
    assert detail == {
        "version": "1",
        "requestId": "req-1",
        "sourceMessageId": "m1",
        "lane": "bulk",
        "status": "REVOKED",
        "revoked": [
            {"channelArn": channel(), "viewerId": v, "viewerSessionVersionsLessThanOrEqualTo": 0} for v in ("a", "b")
        ],
        "failed": [],
    }


def test_a_pair_that_cannot_pass_is_failed_with_its_dead_letters_code_and_message() -> None:
    [detail] = details([record("m1", "a", "b")], {"a"}, {"b": FOR_GOOD})
    assert detail["status"] == "PARTIALLY_REVOKED"
    assert [p["viewerId"] for p in detail["revoked"]] == ["a"]
    assert detail["failed"] == [
        {
            "channelArn": channel(),
            "viewerId": "b",
            "viewerSessionVersionsLessThanOrEqualTo": 0,
            "code": "403",
            "message": "not authorized",
        }
    ]


def test_none_revoked_is_failed() -> None:
    [detail] = details([record("m1", "a")], set(), {"a": FOR_GOOD})
    assert detail["status"] == "FAILED" and detail["revoked"] == [] and len(detail["failed"]) == 1


def test_a_pair_to_retry_is_in_no_event_but_its_revoked_neighbours_are() -> None:
    [detail] = details([record("m1", "a", "b")], {"a"}, {"b": RETRYABLE})
    assert detail["status"] == "REVOKED" and [p["viewerId"] for p in detail["revoked"]] == ["a"]
    assert details([record("m2", "b")], set(), {"b": RETRYABLE}) == []


def test_a_retryable_failure_on_the_last_attempt_is_failed() -> None:
    [detail] = details([record("m1", "b", receive_count=3)], set(), {"b": RETRYABLE})
    assert detail["status"] == "FAILED" and detail["failed"][0]["code"] == "500"


def test_pairs_requeued_or_sent_to_bulk_are_in_no_event() -> None:
    assert details([record("m1", "a")], set(), {"a": NOT_STARTED}, requeue=True) == []
    [detail] = details([record("m1", "a")], {"a"}, {}, beyond={"m1": [session("z")]})
    assert [p["viewerId"] for p in detail["revoked"]] == ["a"]


def test_an_unwritten_dead_letter_reports_none_of_its_pairs() -> None:
    [detail] = details([record("m1", "a", "b")], {"a"}, {"b": FOR_GOOD}, unwritten={0})
    assert detail["status"] == "REVOKED" and detail["failed"] == []
    assert details([record("m1", "b")], set(), {"b": FOR_GOOD}, unwritten={0}) == []


def test_an_invalid_message_is_failed_with_its_reason_and_source_message_id() -> None:
    # An event's id is its request id, whatever its detail.
    body = json.dumps(
        {"id": "bad-1", "source": EVENT_SOURCE, "detail-type": "Viewer Session Revocation Requested", "detail": {}}
    )
    bad = SourceRecord("m-bad", 1, body, read_request(body))
    [detail] = details([bad], set(), {})
    assert detail["status"] == "FAILED" and detail["sourceMessageId"] == "m-bad"
    assert detail["requestId"] == "bad-1" and detail["revoked"] == [] and detail["failed"] == []
    assert detail["invalidMessage"]["reason"]
    assert details([bad], set(), {}, unwritten={0}) == []
    plain = SourceRecord("m-bad", 1, "not json", read_request("not json"))
    [detail] = details([plain], set(), {})
    assert detail["requestId"] is None and detail["status"] == "FAILED"


def test_a_message_without_request_id_has_null() -> None:
    [detail] = details([record("m1", "a", request_id=None)], {"a"}, {})
    assert detail["requestId"] is None and "invalidMessage" not in detail


def test_out_of_scope_pairs_are_failed() -> None:
    [detail] = details([record("m1", "a")], set(), {"a": Failure("OutOfScope", "region", retryable=False)})
    assert detail["failed"][0]["code"] == "OutOfScope"


def test_a_large_record_is_split_within_the_entry_limit_each_part_with_its_status() -> None:
    viewers = [f"viewer-{i:04d}-" + "x" * 20 for i in range(4000)]
    records = [record("m1", *viewers)]
    failed = {v: FOR_GOOD for v in viewers[3000:]}
    events = outcome_events.outcome_events(
        records,
        settle(records, {session(v).key for v in viewers[:3000]}, {session(v).key: f for v, f in failed.items()}, 3),
        set(),
        "urgent",
    )
    assert len(events) > 1
    assert all(event.entry_bytes <= OUTCOME_EVENT_MAX_ENTRY_BYTES for event in events)
    parsed = [json.loads(event.detail_json) for event in events]
    assert [p["viewerId"] for d in parsed for p in d["revoked"]] == viewers[:3000]
    assert [p["viewerId"] for d in parsed for p in d["failed"]] == viewers[3000:]
    assert {d["sourceMessageId"] for d in parsed} == {"m1"} and {d["lane"] for d in parsed} == {"urgent"}
    for d in parsed:
        assert d["status"] == outcome_events.status_of(len(d["revoked"]), len(d["failed"]))
    # Packed tight: no two neighbouring parts would have fit together.
    sizes = [event.entry_bytes for event in events]
    assert all(a + b > OUTCOME_EVENT_MAX_ENTRY_BYTES for a, b in itertools.pairwise(sizes))


# --- The publisher, through botocore's real parser -------------------------------------------------

Reply = Callable[[list[dict[str, Any]]], Raw] | BaseException


class RawEvents:
    """A real events client whose HTTP exchange answers each PutEvents with the next scripted reply."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[list[dict[str, Any]]] = []
        self.client = boto3.client(
            "events",
            region_name="us-west-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        self.client.meta.events.register("before-send.events.PutEvents", self._send)

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        body = request.body
        entries = json.loads(body if isinstance(body, bytes | str) else body.read())["Entries"]
        self.requests.append(entries)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, BaseException):
            raise reply
        return reply(entries).response(request.url)


def accept(entries: list[dict[str, Any]]) -> Raw:
    return Raw(
        json.dumps({"FailedEntryCount": 0, "Entries": [{"EventId": f"e-{i}"} for i in range(len(entries))]}).encode(),
        content_type="application/x-amz-json-1.1",
    )


def refuse(code: str, *positions: int) -> Reply:
    def reply(entries: list[dict[str, Any]]) -> Raw:
        results = [
            {"ErrorCode": code, "ErrorMessage": "no"} if i in positions else {"EventId": f"e-{i}"}
            for i in range(len(entries))
        ]
        return Raw(
            json.dumps({"FailedEntryCount": len(positions), "Entries": results}).encode(),
            content_type="application/x-amz-json-1.1",
        )

    return reply


def call_error(status: int, code: str) -> Reply:
    return lambda entries: Raw(
        json.dumps({"__type": code, "message": "no"}).encode(), status, "application/x-amz-json-1.1"
    )


def entries(count: int, detail_bytes: int = 100) -> tuple[list[dict[str, str]], list[int]]:
    made = [
        {
            "Source": EVENT_SOURCE,
            "DetailType": OUTCOME_EVENT_DETAIL_TYPE,
            "Detail": json.dumps({"n": i, "pad": "x" * detail_bytes}),
            "EventBusName": BUS,
        }
        for i in range(count)
    ]
    sizes = [len(e["Source"]) + len(e["DetailType"]) + len(e["Detail"]) for e in made]
    return made, sizes


def publisher(wire: RawEvents, clock: FakeClock) -> EventBridgePublisher:
    return EventBridgePublisher(wire.client, clock=clock, sleep=clock.sleep)


def test_entries_are_put_ten_a_call_in_order() -> None:
    wire, clock = RawEvents(accept), FakeClock()
    made, sizes = entries(25)
    report = publisher(wire, clock).put(made, sizes, clock() + 60)
    assert report.unpublished == [] and report.calls == 3
    # The first call alone, the others at once (in any order): each call's entries in order.
    assert len(wire.requests[0]) == 10 and sorted(len(r) for r in wire.requests[1:]) == [5, 10]
    assert sorted(json.loads(e["Detail"])["n"] for r in wire.requests for e in r) == list(range(25))
    assert all(
        [json.loads(e["Detail"])["n"] for e in r] == sorted(json.loads(e["Detail"])["n"] for e in r)
        for r in wire.requests
    )


def test_each_call_stays_within_256_kb() -> None:
    wire, clock = RawEvents(accept), FakeClock()
    made, sizes = entries(6, detail_bytes=100_000)
    report = publisher(wire, clock).put(made, sizes, clock() + 60)
    assert report.unpublished == []
    assert all(sum(sizes[0] for _ in r) <= EVENTBRIDGE_MAX_ENTRY_BYTES for r in wire.requests)
    assert sorted(len(r) for r in wire.requests) == [2, 2, 2]
    assert batches(range(30), [1] * 30) == [list(range(i, i + EVENTBRIDGE_MAX_BATCH_ENTRIES)) for i in (0, 10, 20)]


@pytest.mark.parametrize("code", ["InternalFailure", "ThrottlingException"])
def test_retryable_entry_failures_are_put_again_alone(code: str) -> None:
    wire, clock = RawEvents(refuse(code, 1, 3), accept), FakeClock()
    made, sizes = entries(5)
    report = publisher(wire, clock).put(made, sizes, clock() + 60)
    assert report.unpublished == [] and report.calls == 2
    assert [json.loads(e["Detail"])["n"] for e in wire.requests[1]] == [1, 3]


def test_an_entry_refused_for_good_is_unpublished_with_its_code_and_not_put_again() -> None:
    wire, clock = RawEvents(refuse("MalformedDetail", 2), accept), FakeClock()
    made, sizes = entries(4)
    report = publisher(wire, clock).put(made, sizes, clock() + 60)
    assert [(u.index, u.code) for u in report.unpublished] == [(2, "MalformedDetail")] and report.calls == 1


def test_retries_stop_after_the_attempts_and_report_the_last_code() -> None:
    wire, clock = RawEvents(refuse("ThrottlingException", 0)), FakeClock()
    made, sizes = entries(1)
    report = publisher(wire, clock).put(made, sizes, clock() + 60)
    assert [(u.index, u.code) for u in report.unpublished] == [(0, "ThrottlingException")]
    assert report.calls == 4


def test_a_call_throttled_or_failing_whole_is_retried_a_denied_one_is_not() -> None:
    wire, clock = (
        RawEvents(call_error(400, "ThrottlingException"), call_error(500, "InternalException"), accept),
        FakeClock(),
    )
    made, sizes = entries(3)
    assert publisher(wire, clock).put(made, sizes, clock() + 60).unpublished == []
    wire, clock = RawEvents(call_error(400, "AccessDeniedException"), accept), FakeClock()
    report = publisher(wire, clock).put(made, sizes, clock() + 60)
    assert [u.code for u in report.unpublished] == ["AccessDeniedException"] * 3 and report.calls == 1


def test_an_outage_stays_within_the_time_budget() -> None:
    """No answer at all: each round makes one call, and none starts without a call's time left."""
    wire, clock = RawEvents(EndpointConnectionError(endpoint_url="https://events")), FakeClock()
    made, sizes = entries(35)
    report = publisher(wire, clock).put(made, sizes, clock() + 1.0)
    assert len(report.unpublished) == 35 and report.calls == 0
    report = publisher(wire, clock).put(made, sizes, clock() + 60)
    assert len(report.unpublished) == 35 and report.calls == 4  # one call a round, not 4 batches x 4
    assert {u.code for u in report.unpublished} <= {"EndpointConnectionError", "NoTimeLeft"}


def test_a_missing_result_is_not_taken_as_put() -> None:
    short: Reply = lambda entries: Raw(  # noqa: E731
        json.dumps({"FailedEntryCount": 0, "Entries": []}).encode(), content_type="application/x-amz-json-1.1"
    )
    wire, clock = RawEvents(short, accept), FakeClock()
    made, sizes = entries(2)
    report = publisher(wire, clock).put(made, sizes, clock() + 60)
    assert report.unpublished == [] and report.calls == 2


_ = _Stream


# --- Early events: the same events, sooner ------------------------------------------------------------

VIEWERS = [f"v{i}" for i in range(6)]


@st.composite
def early_case(draw: st.DrawFn) -> tuple[list[SourceRecord], list[list[str]], dict[str, Failure], set[str]]:
    """Records over a few viewers (shared between records, repeated within one, at several versions),
    the order in which calls revoke pairs, the failures of the pairs never revoked, and the records
    left to the end (as the service leaves those with refused or beyond-bound pairs)."""
    records = []
    for index in range(draw(st.integers(1, 6))):
        message_id = f"m{index}"
        if draw(st.booleans()) and index:
            body = "not JSON"
            records.append(SourceRecord(message_id, 1, body, read_request(body)))
            continue
        viewers = draw(st.lists(st.sampled_from(VIEWERS), min_size=1, max_size=4))
        versions = [draw(st.integers(0, 2)) for _ in viewers]
        body = RevocationRequest(
            viewer_sessions=[session(v, version) for v, version in zip(viewers, versions, strict=True)],
            request_id=f"req-{index}",
        ).to_json()
        records.append(SourceRecord(message_id, draw(st.integers(1, 3)), body, read_request(body)))
    revoked = draw(st.lists(st.sampled_from(VIEWERS), unique=True))
    chunks: list[list[str]] = []
    while revoked:
        size = draw(st.integers(1, len(revoked)))
        chunks.append(revoked[:size])
        revoked = revoked[size:]
    failed = {v: draw(st.sampled_from([FOR_GOOD, RETRYABLE, NOT_STARTED])) for v in VIEWERS if v not in revoked}
    excluded = draw(st.sets(st.sampled_from([record.message_id for record in records])))
    return records, chunks, failed, excluded


@given(early_case(), st.sampled_from(names.LANES))
def test_events_given_early_and_the_rest_are_exactly_the_events_of_the_settled_batch(
    case: tuple[list[SourceRecord], list[list[str]], dict[str, Failure], set[str]], lane: Lane
) -> None:
    records, chunks, failed, excluded = case
    revoked = {v for chunk in chunks for v in chunk}
    failures = {session(v).key: failure for v, failure in failed.items() if v not in revoked}
    settlement = settle(records, {session(v).key for v in revoked}, failures, 3, requeue_not_started=True)

    early = outcome_events.EarlyEvents(records, lane, excluded)
    given = [event for chunk in chunks for event in early.revoked([session(v).key for v in chunk])]
    rest = outcome_events.outcome_events(records, settlement, set(), lane, early.given)
    whole = outcome_events.outcome_events(records, settlement, set(), lane)

    assert sorted(event.detail_json for event in given + rest) == sorted(event.detail_json for event in whole)
    assert not early.given & excluded
    # A record given early is settled revoked, whole, with nothing to retry or dead-letter.
    for message_id in early.given:
        verdict = settlement.verdicts[message_id]
        assert (verdict.retry, verdict.dead_lettered, verdict.requeued) == (False, 0, 0)


# --- The service: publishing after the revocation calls, never changing a verdict ---------------------

from ivs_revocation.outcome_events import PublishReport, Unpublished  # noqa: E402
from ivs_revocation.service import RevocationService  # noqa: E402
from tests.unit.fakes import (  # noqa: E402
    FakeContext,
    FakeGateway,
    FakeQueueWriter,
    InlineExecutor,
    denied_pairs,
    settings,
    sqs_event,
    sqs_record,
)


class FakePublisher:
    def __init__(self, clock: FakeClock, gateway: FakeGateway, refuse: bool = False) -> None:
        self.clock, self.gateway, self.refuse = clock, gateway, refuse
        self.put_calls: list[tuple[list[dict[str, str]], float, int]] = []
        self.raises = False

    def put(self, entries: Any, entry_bytes: Any, deadline: float) -> PublishReport:
        self.put_calls.append((list(entries), deadline, len(self.gateway.calls)))
        if self.raises:
            raise RuntimeError("a publisher that raises")
        if self.refuse:
            return PublishReport(1, [Unpublished(i, "InternalFailure", "down") for i in range(len(entries))])
        return PublishReport(1, [])


def serve(
    clock: FakeClock, gateway: FakeGateway, publisher: FakePublisher, *, bus: bool = True, **overrides: Any
) -> RevocationService:
    if bus:
        overrides["OUTCOME_EVENT_BUS_NAME"] = BUS
    return RevocationService(
        settings(**overrides),
        gateway,
        FakeQueueWriter(),
        events=publisher,
        clock=clock,
        sleep=clock.sleep,
        background=InlineExecutor(),
    )


def pairs_of(prefix: str) -> list[dict[str, str]]:
    return [{"channelArn": channel(), "viewerId": f"{prefix}-v{i}"} for i in range(20)]


def test_a_records_event_is_put_when_its_last_pair_is_revoked_and_the_rest_after_the_calls() -> None:
    clock = FakeClock()
    gateway = FakeGateway(clock=clock, call_seconds=0.05)
    gateway.default = denied_pairs("r1-v3")
    publisher = FakePublisher(clock, gateway)
    service = serve(clock, gateway, publisher)
    # 20 pairs each: a call each, in this order.
    records = [sqs_record({"viewerSessions": pairs_of(f"r{r}"), "requestId": f"r{r}"}) for r in range(3)]
    service.settle_batch(_records(records), FakeContext(clock, 30))
    assert len(gateway.calls) == 3
    puts = [
        (calls_before, [json.loads(entry["Detail"]) for entry in entries], deadline)
        for entries, deadline, calls_before in publisher.put_calls
    ]
    # r0 as its call was answered, while r1's and r2's calls were still to come; r2 likewise; r1, with
    # a dead-lettered pair, once the batch was settled.
    assert [(calls_before, [(d["requestId"], d["status"]) for d in put]) for calls_before, put, _ in puts] == [
        (1, [("r0", "REVOKED")]),
        (3, [("r2", "REVOKED")]),
        (3, [("r1", "PARTIALLY_REVOKED")]),
    ]
    assert all(deadline <= clock() + 30 for *_, deadline in puts)
    [(_, [r0], _), *_] = puts
    assert [pair["viewerId"] for pair in r0["revoked"]] == [f"r0-v{i}" for i in range(20)]


def test_an_early_put_that_raises_changes_no_verdict_and_its_events_are_counted_unpublished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ivs_revocation import service as service_module

    logged: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(service_module.logger, "warning", lambda msg, extra: logged.append((msg, extra)))
    clock = FakeClock()
    gateway = FakeGateway(clock=clock, call_seconds=0.05)
    publisher = FakePublisher(clock, gateway)
    publisher.raises = True
    service = serve(clock, gateway, publisher)
    records = [sqs_record({"channelArn": channel(), "viewerId": "v1"})]
    verdicts = service.settle_batch(_records(records), FakeContext(clock, 30))
    assert not any(v.retry for v in verdicts.values()) and len(publisher.put_calls) == 1
    assert [(message, warning["error_code"]) for message, warning in logged] == [
        ("outcome event not published", "RuntimeError")
    ]


def test_unpublished_events_change_no_verdict_and_are_counted_and_logged_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivs_revocation import service as service_module

    service_module.metrics.clear_metrics()
    logged: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(service_module.logger, "warning", lambda msg, extra: logged.append((msg, extra)))
    clock = FakeClock()
    gateway = FakeGateway(clock=clock, call_seconds=0.05)
    publisher = FakePublisher(clock, gateway, refuse=True)
    service = serve(clock, gateway, publisher)
    records = [sqs_record({"channelArn": channel(), "viewerId": "v1"})]
    verdicts = service.settle_batch(_records(records), FakeContext(clock, 30))
    assert not any(v.retry for v in verdicts.values())
    [(message, warning)] = logged
    assert message == "outcome event not published" and warning["error_code"] == "InternalFailure"
    assert warning["entry"]["DetailType"] == OUTCOME_EVENT_DETAIL_TYPE and warning["entry"]["EventBusName"] == BUS
    assert json.loads(warning["entry"]["Detail"])["revoked"][0]["viewerId"] == "v1"
    service_module.metrics.flush_metrics()
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [e["OutcomeEventsUnpublished"] for e in emitted if "OutcomeEventsUnpublished" in e] == [[1.0]]


def test_without_a_bus_no_event_is_put() -> None:
    clock = FakeClock()
    gateway = FakeGateway(clock=clock, call_seconds=0.05)
    publisher = FakePublisher(clock, gateway)
    service = serve(clock, gateway, publisher, bus=False)
    service.settle_batch(_records([sqs_record({"channelArn": channel(), "viewerId": "v1"})]), FakeContext(clock, 30))
    assert publisher.put_calls == []


def _records(records: list[dict[str, Any]]) -> list[Any]:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    return [SQSRecord(r) for r in sqs_event(*records)["Records"]]


def test_after_the_first_call_the_others_are_in_flight_together() -> None:
    import threading
    import time as real_time

    class SlowClient:
        def __init__(self) -> None:
            self.in_flight = 0
            self.most = 0
            self.lock = threading.Lock()

        def put_events(self, Entries: list[dict[str, str]]) -> dict[str, Any]:
            with self.lock:
                self.in_flight += 1
                self.most = max(self.most, self.in_flight)
            real_time.sleep(0.05)
            with self.lock:
                self.in_flight -= 1
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}

    client = SlowClient()
    made, sizes = entries(200)
    report = EventBridgePublisher(client).put(made, sizes, real_time.monotonic() + 60)
    assert report.unpublished == [] and report.calls == 20
    # One call, then the other 19 ten at a time: about 3 round trips, not 20.
    assert client.most == 10
