"""Outcome events on the local stack, end to end: every pair sent with a request id comes back in a
"Viewer Session Revocation Settled" event on the outcome bus, with its outcome; an invalid message as
FAILED with its sourceMessageId; and no outcome event reaches a source queue, the DLQ or the delivery
DLQ, on the stack's bus or on a bus of its own."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ivs_revocation.models import EVENT_SOURCE, OUTCOME_EVENT_DETAIL_TYPE
from local.clients import ACCOUNT_ID
from local.moto_process import MotoServer
from local.stack import LocalStack
from tests.integration.conftest import assert_processes_gone, fast_settings

pytestmark = pytest.mark.integration

REGION = "us-west-2"
FORBIDDEN = f"arn:aws:ivs:{REGION}:{ACCOUNT_ID}:channel/Forbidden"
CHANNEL = f"arn:aws:ivs:{REGION}:{ACCOUNT_ID}:channel/Channel1"


@pytest.fixture
def started(moto_server: MotoServer, tmp_path: Path) -> Iterator[Any]:
    stacks: list[tuple[LocalStack, list[int]]] = []

    def start(settings: Any) -> LocalStack:
        stack = LocalStack(
            settings,
            region=REGION,
            moto=moto_server,
            log_dir=tmp_path / "logs",
            ivs_options={"unauthorized_channels": [FORBIDDEN]},
        ).start()
        stacks.append((stack, stack.pids))
        return stack

    yield start
    for stack, pids in stacks:
        stack.stop()
        assert_processes_gone(pids)


def receive_all(stack: LocalStack, url: str, until: float, want: int | None = None) -> list[dict[str, Any]]:
    """Every message of the queue until `want` were read or `until` (monotonic) passed (then once more)."""
    bodies: list[dict[str, Any]] = []
    while True:
        answer = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if (want is not None and len(bodies) >= want) or time.monotonic() > until:
            return bodies


def peek(stack: LocalStack, url: str) -> list[str]:
    """The bodies in a queue, read without consuming them (visibility 0)."""
    answer = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [message["Body"] for message in answer.get("Messages", [])]


@pytest.mark.parametrize("own_bus", [False, True], ids=["stack-bus", "bus-of-its-own"])
def test_every_pair_comes_back_in_a_settled_event_and_nowhere_else(started: Any, own_bus: bool) -> None:
    name = f"It{uuid.uuid4().hex[:10]}"
    # A margin that leaves publishing its window (a call's timeouts, 1.5 s, and 0.25 s) after the last
    # IVS call, as cdk.json's 3 s does: fast_settings' 0.5 s would leave it what the calls did not use.
    overrides: dict[str, Any] = {
        "stackName": name,
        "eventBusName": f"{name}-bus",
        "functionTimeoutSeconds": 6,
        "visibilityTimeoutSeconds": 36,
        "timeSafetyMarginSeconds": 2,
        "outcomeEvents": True,
    }
    if own_bus:
        overrides["outcomeEventBusName"] = f"{name}-outcomes"
    stack = started(fast_settings(**overrides))
    resources = stack.resources
    assert resources.outcome_queue_url is not None
    assert resources.outcome_event_bus_name == (f"{name}-outcomes" if own_bus else f"{name}-bus")

    def pairs(prefix: str, count: int, chan: str = CHANNEL) -> list[dict[str, Any]]:
        return [{"channelArn": chan, "viewerId": f"{prefix}{i}"} for i in range(count)]

    sent: dict[str, list[dict[str, Any]]] = {
        "revocable": pairs("ok", 25),
        "mixed": pairs("mix", 3) + pairs("mixf", 2, FORBIDDEN),
        "forbidden": pairs("f", 2, FORBIDDEN),
    }
    for request_id, sessions in sent.items():
        stack.send({"viewerSessions": sessions, "requestId": request_id})
    stack.send_urgent({"viewerSessions": pairs("urgent", 1), "requestId": "urgent", "priority": "urgent"})
    sent["urgent"] = pairs("urgent", 1)
    # Through the bus: the event's id is the request id.
    event_id = stack.put_event({"viewerSessions": pairs("bus", 2)})
    sent[event_id] = pairs("bus", 2)
    [invalid_id] = stack.send({"viewerSessions": [{"channelArn": "not an arn", "viewerId": "x"}]})

    stack.drain(timeout=60)
    total_pairs = sum(len(p) for p in sent.values())
    events = receive_all(stack, resources.outcome_queue_url, time.monotonic() + 20)
    assert {(e["source"], e["detail-type"], e["version"]) for e in events} == {
        (EVENT_SOURCE, OUTCOME_EVENT_DETAIL_TYPE, "0")
    }
    details = [e["detail"] for e in events]

    outcome: dict[tuple[str | None, str, str], str] = {}
    for detail in details:
        assert detail["version"] == "1"
        for p in detail["revoked"]:
            outcome[(detail["requestId"], p["channelArn"], p["viewerId"])] = "revoked"
        for p in detail["failed"]:
            assert p["code"] == "403" and p["message"]
            outcome[(detail["requestId"], p["channelArn"], p["viewerId"])] = "failed"
    expected = {
        (request_id, p["channelArn"], p["viewerId"]): "failed" if p["channelArn"] == FORBIDDEN else "revoked"
        for request_id, sessions in sent.items()
        for p in sessions
    }
    assert outcome == expected and len(expected) == total_pairs

    by_request = {d["requestId"]: d for d in details if d["requestId"] is not None}
    assert by_request["forbidden"]["status"] == "FAILED"
    assert by_request["urgent"]["lane"] == "urgent"
    assert {d["status"] for d in details if d["requestId"] == "mixed"} == {"PARTIALLY_REVOKED"}
    assert {d["status"] for d in details if d["requestId"] == "revocable"} == {"REVOKED"}
    [invalid] = [d for d in details if d.get("invalidMessage")]
    assert invalid["sourceMessageId"] == invalid_id and invalid["status"] == "FAILED"
    assert invalid["requestId"] is None and invalid["revoked"] == invalid["failed"] == []

    # No outcome event anywhere else.
    for url in (
        resources.queue_url,
        resources.urgent_queue_url,
        resources.dead_letter_queue_url,
        resources.delivery_dead_letter_queue_url,
    ):
        assert not [body for body in peek(stack, url) if OUTCOME_EVENT_DETAIL_TYPE in body], url
