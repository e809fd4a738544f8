"""The fast lane on the local stack: urgent pairs overtake a bulk backlog at the real quotas.

Latency is measured as a producer sees it: from SendMessage to the urgent queue returning to the
StartViewerSessionRevocation call of the pair accepted, both wall-clock times, the latter from the
IVS emulator's ledger. The quotas are the real ones (batch 2 calls/s, single 10 calls/s, separate
windows) unless a test says otherwise, and the settings are cdk.json's.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.settings import DeploySettings
from ivs_revocation.models import EVENT_DETAIL_TYPE, EVENT_SOURCE, MAX_SESSIONS_PER_CALL
from ivs_revoke.dlq import DeadLetter
from local.clients import ACCOUNT_ID
from local.ivs_emulator import Ledger
from local.ivs_emulator.service import BATCH_OPERATION, SINGLE_OPERATION
from local.moto_process import MotoServer
from local.stack import LocalStack
from tests.integration.conftest import assert_processes_gone, fast_settings

pytestmark = pytest.mark.integration

REGION = "us-west-2"
FORBIDDEN = f"arn:aws:ivs:{REGION}:{ACCOUNT_ID}:channel/Forbidden"
# The acceptance's bound, measured here over fewer pairs than the benchmark's 30+.
URGENT_BOUND_SECONDS = 1.0
BACKLOG_PAIRS = 1000
URGENT_PAIRS = 10
# An urgent message twenty times the lane's default bound of 10 pairs.
MESSAGE_PAIRS = 200
URGENT_EVERY_SECONDS = 1.0
BULK_PAIRS_PER_SECOND = 2 * MAX_SESSIONS_PER_CALL


def channel(name: str = "Channel1") -> str:
    return f"arn:aws:ivs:{REGION}:{ACCOUNT_ID}:channel/{name}"


def pair(viewer: str, chan: str | None = None) -> dict[str, Any]:
    return {"channelArn": chan or channel(), "viewerId": viewer}


def real_settings(**overrides: Any) -> DeploySettings:
    return DeploySettings.from_cdk_json(overrides={"stackName": f"Fl{uuid.uuid4().hex[:10]}", **overrides})


@pytest.fixture
def started(moto_server: MotoServer, tmp_path: Path) -> Iterator[Any]:
    """Starts stacks on the session's moto server, and checks that each leaves no process behind."""
    stacks: list[tuple[LocalStack, list[int]]] = []

    def start(settings: DeploySettings, **options: Any) -> LocalStack:
        stack = LocalStack(settings, region=REGION, moto=moto_server, log_dir=tmp_path / "logs", **options).start()
        stacks.append((stack, stack.pids))
        return stack

    yield start
    for stack, pids in stacks:
        stack.stop()
        assert_processes_gone(pids)


def send_urgent_timed(stack: LocalStack, body: Any) -> float:
    """Sends to the urgent queue; the wall-clock time SendMessage returned."""
    stack.send_urgent(body)
    return time.time()


def waits(ledger: Ledger, sent: dict[tuple[str, str], float]) -> dict[tuple[str, str], float | None]:
    """Each pair's time from its send returning to its single call accepted (None: no single call)."""
    waited = {}
    for key, sent_at in sent.items():
        called_at = ledger.single_call_at(*key)
        waited[key] = None if called_at is None else called_at - sent_at
    return waited


def unaccounted(expected: set[tuple[str, str]], ledger: Ledger, dead_letters: list[DeadLetter]) -> set[tuple[str, str]]:
    """The pairs neither revoked nor dead-lettered with a reason."""
    with_reason = {(arn, viewer) for letter in dead_letters for arn, viewer, code, _ in letter.failed_pairs() if code}
    return expected - set(ledger.revoked) - with_reason


def bulk_rate(ledger: Ledger, start: float, end: float) -> float:
    """Pairs per second of the batch calls accepted from `start` to `end` (wall clock, as the ledger's).

    Measured while the urgent pairs were sent, when the backlog kept both bulk instances busy: over the
    whole backlog, its last batches run on one instance (a backlog of five batches is three for one
    instance and two for the other), which halves the rate of the tail whatever the fast lane does."""
    calls = [call for call in ledger.accepted_calls if call.operation == BATCH_OPERATION and start <= call.at <= end]
    return sum(call.pairs for call in calls) / (end - start)


# -------------------------------------------------------------------------------------------- routing


def test_an_urgent_event_reaches_the_urgent_queue_only_and_every_other_the_bulk_queue(started: Any) -> None:
    """moto matches `anything-but` and `exists` as EventBridge does: the two rules never both take an event."""
    stack = started(fast_settings(), handler=None)
    details = {
        "urgent": {**pair("u1"), "priority": "urgent"},
        "urgent request": {"viewerSessions": [pair("u2")], "priority": "urgent"},
        "bulk": {**pair("b1"), "priority": "bulk"},
        "no priority": pair("b2"),
        "unknown priority": {**pair("b3"), "priority": "high"},
    }
    for detail in details.values():
        stack.put_event(detail)

    def delivered(url: str) -> list[str]:
        """The details of the events in the queue, as JSON text (the bodies are whole events)."""
        found: list[str] = []
        while messages := stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages"
        ):
            for message in messages:
                event = json.loads(message["Body"])
                assert (event["source"], event["detail-type"]) == (EVENT_SOURCE, EVENT_DETAIL_TYPE)
                found.append(json.dumps(event["detail"]))
        return sorted(found)

    def sent(*which: str) -> list[str]:
        return sorted(json.dumps(details[name]) for name in which)

    assert delivered(stack.urgent_queue_url) == sent("urgent", "urgent request")
    assert delivered(stack.resources.queue_url) == sent("bulk", "no priority", "unknown priority")


# ------------------------------------------------------------------------------------------- latency


@pytest.mark.timed
def test_urgent_pairs_are_revoked_within_a_second_while_a_bulk_backlog_waits(started: Any) -> None:
    # The lanes' quotas, as issue 11 measured them: what outcome events cost the drain is the drain
    # benchmark's comparison (--outcome-events on|off), not this timed test's.
    stack = started(real_settings(outcomeEvents=False), start_function=False)
    # The backlog waits before the function starts, so that the bulk lane takes it in full batches.
    backlog = [pair(f"backlog-{i:05d}", channel(f"Load{i % 20:02d}")) for i in range(BACKLOG_PAIRS)]
    stack.send(*backlog)
    stack.start_function()
    # A warm urgent lane is this test's premise; the latency benchmark's cold round measures the cold path.
    # Its queue is empty until the first urgent pair, so no poller starts an instance meanwhile.
    assert stack.urgent_runner is not None
    stack.urgent_runner.start_instances()

    sent: dict[tuple[str, str], float] = {}
    waiting_at_send = []
    for i in range(URGENT_PAIRS):
        time.sleep(URGENT_EVERY_SECONDS)
        urgent = pair(f"urgent-{i:02d}", channel("Moderated"))
        waiting_at_send.append(stack.queue_counts()["Messages"])
        sent[(urgent["channelArn"], urgent["viewerId"])] = send_urgent_timed(stack, urgent)
    stack.drain(timeout=2 * BACKLOG_PAIRS / BULK_PAIRS_PER_SECOND + 60)

    ledger, dead_letters = stack.ivs.ledger(), stack.dead_letters()
    waited = waits(ledger, sent)
    rate = bulk_rate(ledger, min(sent.values()), max(sent.values()))
    report = (
        f"urgent waits (s): {sorted(round(w, 3) for w in waited.values() if w is not None)}; "
        f"bulk messages waiting at each urgent send: {waiting_at_send}; bulk rate {rate:.1f} pairs/s; "
        f"throttled {dict(ledger.throttled_by_operation)}"
    )
    print(report)
    # The premise: every urgent pair was sent while the backlog still waited.
    assert min(waiting_at_send) > 0, report
    assert all(w is not None and w <= URGENT_BOUND_SECONDS for w in waited.values()), report
    assert ledger.calls_throttled == 0, report
    assert unaccounted({(p["channelArn"], p["viewerId"]) for p in backlog} | set(sent), ledger, dead_letters) == set()
    assert dead_letters == []
    # The fast lane took nothing from the bulk lane's quota while the urgent pairs came.
    assert rate >= 0.9 * BULK_PAIRS_PER_SECOND, report


def test_an_urgent_message_of_many_pairs_sends_its_bound_and_the_rest_through_the_bulk_queue(started: Any) -> None:
    settings = real_settings()
    stack = started(settings, ivs_options={"unauthorized_channels": [FORBIDDEN]})
    bound = settings.urgent_max_pairs_per_message
    # One pair not authorized at each end of the message, so that both lanes dead-letter one, whichever
    # pairs the urgent lane keeps.
    sessions = [pair(f"big-{i:03d}", FORBIDDEN if i in (0, MESSAGE_PAIRS - 1) else None) for i in range(MESSAGE_PAIRS)]
    send_urgent_timed(stack, {"viewerSessions": sessions})
    stack.drain(timeout=MESSAGE_PAIRS / BULK_PAIRS_PER_SECOND + 60)

    ledger, dead_letters = stack.ivs.ledger(), stack.dead_letters()
    expected = {(p["channelArn"], p["viewerId"]) for p in sessions}
    single = [call for call in ledger.accepted_calls if call.operation == SINGLE_OPERATION]
    in_batches = sum(call.pairs for call in ledger.accepted_calls if call.operation == BATCH_OPERATION)
    failed = sorted((arn, viewer, code) for letter in dead_letters for arn, viewer, code, _ in letter.failed_pairs())

    assert unaccounted(expected, ledger, dead_letters) == set()
    assert len(ledger.revoked) == MESSAGE_PAIRS - 2
    assert failed == [(FORBIDDEN, "big-000", "403"), (FORBIDDEN, f"big-{MESSAGE_PAIRS - 1:03d}", "403")]
    assert all(letter.reason for letter in dead_letters)
    # The lane sent its bound (one of them denied), the bulk lane the rest.
    assert len(single) == bound - 1
    assert in_batches == MESSAGE_PAIRS - bound
    assert ledger.calls_throttled == 0


# ------------------------------------------------------------------------------------- shared bucket


def test_with_one_bucket_for_both_operations_no_pair_is_lost(started: Any) -> None:
    """What would happen if AWS counted both operations in one bucket (2 calls/s): each lane paces at
    its own quota, so together they overrun the bucket and get throttled; retries and the DLQ still
    account for every pair."""
    settings = fast_settings(
        urgentFunctionTimeoutSeconds=5,
        urgentVisibilityTimeoutSeconds=30,
        urgentMaxPairsPerMessage=1,
    )
    stack = started(settings, ivs_options={"shared_quota": True}, start_function=False)
    backlog = [pair(f"shared-backlog-{i:03d}", channel(f"Load{i % 5}")) for i in range(100)]
    stack.send(*backlog)
    stack.start_function()
    sent = {}
    for i in range(5):
        time.sleep(URGENT_EVERY_SECONDS)
        urgent = pair(f"shared-urgent-{i}", channel("Moderated"))
        sent[(urgent["channelArn"], urgent["viewerId"])] = send_urgent_timed(stack, urgent)
    stack.drain(timeout=3 * settings.urgent_visibility_timeout_seconds + 60)

    ledger, dead_letters = stack.ivs.ledger(), stack.dead_letters()
    expected = {(p["channelArn"], p["viewerId"]) for p in backlog} | set(sent)
    waited = waits(ledger, sent)
    dead_lettered = sum(len(letter.failed_pairs()) for letter in dead_letters)
    print(
        f"shared bucket: throttled {dict(ledger.throttled_by_operation)} of "
        f"{ledger.calls_accepted + ledger.calls_throttled} calls; urgent waits (s) "
        f"{[None if w is None else round(w, 2) for w in waited.values()]}; "
        f"revoked {len(set(ledger.revoked) & expected)} of {len(expected)}, dead-lettered {dead_lettered} "
        f"({sorted({letter.code or '' for letter in dead_letters})})"
    )
    assert unaccounted(expected, ledger, dead_letters) == set()
    assert all(letter.code for letter in dead_letters), "a DLQ message without a reason"
    # The one bucket is what throttled them: each lane alone stays within its own quota.
    assert ledger.throttled_by_operation.get(SINGLE_OPERATION, 0) > 0
