"""The promise, as a property: every pair is revoked, dead-lettered with a reason, or its record retried.

For any batch of records (valid, invalid or hostile, duplicated, across regions in and out of the
deployment's scope, at any attempt) and any outcome of each API call (accepted, per-pair errors,
throttled, server error, rejected, denied), any failure of dead-letter writes and any time budget, no
pair vanishes.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivs_revocation.intake import ValidRequest, read_request
from ivs_revocation.models import CallErrorKind, CallFailed, RevocationError
from ivs_revocation.service import RevocationService
from tests.unit import fakes
from tests.unit.fakes import FakeClock, FakeContext, FakeGateway, FakeQueueWriter, sqs_event, sqs_record

pytestmark = pytest.mark.unit

CHANNELS = [fakes.channel(f"chan{c}", region) for c in range(3) for region in ("us-west-2", "eu-west-1")]
# Channels this deployment does not revoke in (IVS_REGIONS below, the function's account): dead-lettered
# before any call.
OUT_OF_SCOPE = [fakes.channel("far", "ap-south-1"), fakes.channel("other").replace(fakes.ACCOUNT, "999999999999")]
pairs = st.fixed_dictionaries(
    {
        "channelArn": st.sampled_from([*CHANNELS, *OUT_OF_SCOPE]),
        # Two hold characters that SQS takes only escaped, as a producer's JSON escapes them.
        "viewerId": st.sampled_from([*(f"viewer{v}" for v in range(6)), "\uffff\u0000", "v\u0001\t\ufffe"]),
        "viewerSessionVersionsLessThanOrEqualTo": st.integers(0, 3),
    }
)
valid_bodies = st.one_of(
    pairs,
    st.lists(pairs, min_size=1, max_size=30),
    st.builds(lambda s: {"viewerSessions": s}, st.lists(pairs, min_size=1, max_size=30)),
    st.builds(
        lambda s: {"id": "e", "source": "s", "detail-type": "d", "detail": {"viewerSessions": s}},
        st.lists(pairs, min_size=1, max_size=5),
    ),
)
invalid_bodies = st.sampled_from(
    [
        "",
        "nope",
        "[]",
        "{}",
        json.dumps({"channelArn": CHANNELS[0], "viewerId": "x" * 41}),
        json.dumps([{"a": 1}]),
        f'[{{"channelArn": "{CHANNELS[0]}", "viewerId": "a", "viewerId": "b"}}]',
        json.dumps([{"channelArn": CHANNELS[0], "viewer_id": "a"}]),
        *(fakes.huge_integer_body(where, CHANNELS[0]) for where in fakes.HUGE_INTEGER_PLACES),
    ]
)
records = st.lists(st.tuples(st.one_of(valid_bodies, invalid_bodies), st.integers(1, 4)), min_size=1, max_size=12)
CALL_FAILURES = [
    CallFailed(CallErrorKind.THROTTLED, "ThrottlingException", "slow down"),
    CallFailed(CallErrorKind.SERVER, "InternalServerException", "boom"),
    CallFailed(CallErrorKind.DENIED, "AccessDeniedException", "denied"),
    CallFailed(CallErrorKind.INVALID, "ValidationException", "rejected"),
    CallFailed(CallErrorKind.CONNECTION, "ConnectionError", "reset"),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=records,
    data=st.data(),
    timeout=st.floats(5, 120),
    unwritten=st.sets(st.integers(0, 15), max_size=3),
    requeue=st.none() | st.sets(st.integers(0, 15), max_size=2),
)
def test_no_pair_vanishes(
    handler_module: ModuleType,
    batch: list[tuple[Any, int]],
    data: st.DataObject,
    timeout: float,
    unwritten: set[int],
    requeue: set[int] | None,
) -> None:
    """Every valid pair is revoked, dead-lettered, requeued, or in a record reported failed."""
    clock = FakeClock()
    accepted: list[tuple[str, str, int]] = []

    def service_answer(region: str, sessions: Any) -> Any:
        choice = data.draw(st.integers(0, len(CALL_FAILURES) + 1), label="call outcome")
        if choice < len(CALL_FAILURES):
            return CALL_FAILURES[choice]
        errors = []
        for s in sessions:
            code = data.draw(st.sampled_from([None, None, None, "403", "404", "429", "500", "odd"]), label="pair")
            if code is None or choice == len(CALL_FAILURES):
                accepted.append((s.channel_arn, s.viewer_id, s.version))
            else:
                errors.append(RevocationError(channel_arn=s.channel_arn, viewer_id=s.viewer_id, code=code, message="x"))
        return errors

    gateway = FakeGateway(default=service_answer, clock=clock, call_seconds=0.1)
    dead_letters = FakeQueueWriter(fail=unwritten)
    # None: no source queue configured; otherwise the indexes whose requeue write fails.
    requeued = FakeQueueWriter(fail=requeue) if requeue is not None else None
    service = RevocationService(
        fakes.settings(MAX_RECEIVE_COUNT=3, IVS_REGIONS="us-west-2,eu-west-1"),
        gateway,
        dead_letters,
        requeued,
        clock=clock,
        sleep=clock.sleep,
    )
    sqs_records = [sqs_record(body, receive_count=count) for body, count in batch]

    lambda_handler = handler_module.make_handler(service)
    try:
        response = lambda_handler(sqs_event(*sqs_records), FakeContext(clock, timeout))
        retried = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    except BatchProcessingError:
        retried = {record["messageId"] for record in sqs_records}

    assert not [s for _, sessions, _ in gateway.calls for s in sessions if s.channel_arn in OUT_OF_SCOPE]
    revoked_up_to: dict[tuple[str, str], int] = {}
    for channel_arn, viewer_id, version in accepted:
        revoked_up_to[(channel_arn, viewer_id)] = max(version, revoked_up_to.get((channel_arn, viewer_id), -1))
    letters_by_source: dict[str, list[Any]] = {}
    for letter in dead_letters.written:
        letters_by_source.setdefault(letter.source_message_id, []).append(letter)
    requeued_by_source: dict[str, set[tuple[str, str, int]]] = {}
    for message in requeued.written if requeued else []:
        assert isinstance(read_request(message.body), ValidRequest), "a requeued message is a valid request"
        requeued_by_source.setdefault(message.source_message_id, set()).update(
            (s["channelArn"], s["viewerId"], s["viewerSessionVersionsLessThanOrEqualTo"])
            for s in json.loads(message.body)["viewerSessions"]
        )

    for record in sqs_records:
        message_id = record["messageId"]
        letters = letters_by_source.get(message_id, [])
        intake = read_request(record["body"])
        if message_id in retried:
            continue
        if not isinstance(intake, ValidRequest):
            assert [(letter.body, letter.code) for letter in letters] == [(record["body"], "InvalidMessage")]
            assert letters[0].attributes["ErrorMessage"]
            continue
        dead_lettered = {
            (s["channelArn"], s["viewerId"], s["viewerSessionVersionsLessThanOrEqualTo"])
            for letter in letters
            for s in json.loads(letter.body)["viewerSessions"]
        }
        reasons = {
            (e["channelArn"], e["viewerId"]): (e["code"], e["message"])
            for letter in letters
            for e in json.loads(letter.body)["errors"]
        }
        for s in intake.sessions:
            covered = revoked_up_to.get(s.key, -1) >= s.version
            in_dlq = any(key[:2] == s.key and key[2] >= s.version for key in dead_lettered)
            back_on_queue = any(
                key[:2] == s.key and key[2] >= s.version for key in requeued_by_source.get(message_id, ())
            )
            assert covered or in_dlq or back_on_queue, f"pair {s.key} of record {message_id} vanished"
            if in_dlq:
                assert all(reasons[s.key]), "a dead-lettered pair carries its code and message"
