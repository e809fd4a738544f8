"""Settle: the outcome table, record by record, as a pure function."""

from __future__ import annotations

import itertools
import json

import pytest

from ivs_revocation.intake import InvalidRequest, ValidRequest, read_request
from ivs_revocation.models import (
    ATTRIBUTE_VALUE_MAX_BYTES,
    CODE_NOT_STARTED,
    DEAD_LETTER_ATTRIBUTES_MAX_BYTES,
    DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES,
    SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    SQS_DISALLOWED_CHARACTER,
    DeadLetterMessage,
    Failure,
    RevocationRequest,
    sqs_message_bytes,
    sqs_safe,
)
from ivs_revocation.outcomes import out_of_scope
from ivs_revocation.settle import OutboundMessage, SourceRecord, settle
from tests.unit.fakes import session

pytestmark = pytest.mark.unit

DENIED = Failure("403", "not authorized", retryable=False)
THROTTLED = Failure("ThrottlingException", "Rate exceeded (after 4 attempts)", retryable=True)
SERVER_PAIR = Failure("500", "internal", retryable=True)
OUT_OF_SCOPE = out_of_scope("region eu-west-3 is not one this deployment revokes in (IVS_REGIONS: us-west-2)")


def record(*viewers: str, receive_count: int = 1, message_id: str = "m1") -> SourceRecord:
    sessions = tuple(session(viewer) for viewer in viewers)
    body = json.dumps({"viewerSessions": [s.to_api() for s in sessions]})
    return SourceRecord(message_id, receive_count, body, ValidRequest(sessions))


def key(viewer: str) -> tuple[str, str]:
    return session(viewer).key


@pytest.mark.parametrize(
    ("failure", "receive_count", "retry", "dead_lettered"),
    [
        pytest.param(None, 1, False, 0, id="revoked: done"),
        pytest.param(DENIED, 1, False, 1, id="403: dead-lettered at once"),
        pytest.param(THROTTLED, 1, True, 0, id="throttled, early attempt: retried"),
        pytest.param(THROTTLED, 2, True, 0, id="throttled, attempt before the last: retried"),
        pytest.param(THROTTLED, 3, False, 1, id="throttled, last attempt: dead-lettered"),
        pytest.param(THROTTLED, 7, False, 1, id="throttled, past the last attempt: dead-lettered"),
        pytest.param(SERVER_PAIR, 1, True, 0, id="per-pair 500: retried"),
        pytest.param(SERVER_PAIR, 3, False, 1, id="per-pair 500, last attempt: dead-lettered"),
        pytest.param(OUT_OF_SCOPE, 1, False, 1, id="out of scope: dead-lettered at once, never retried"),
    ],
)
def test_settle_follows_the_outcome_table(
    failure: Failure | None, receive_count: int, retry: bool, dead_lettered: int
) -> None:
    source = record("v", receive_count=receive_count)
    failures = {key("v"): failure} if failure else {}
    revoked = set() if failure else {key("v")}

    settlement = settle([source], revoked, failures, max_receive_count=3)

    verdict = settlement.verdicts["m1"]
    assert (verdict.retry, verdict.dead_lettered) == (retry, dead_lettered)
    assert len(settlement.dead_letters) == dead_lettered


def test_settle_dead_letters_invalid_record_with_its_original_body_and_reason() -> None:
    source = SourceRecord("bad", 1, "{oops", InvalidRequest("body is not JSON: ...", request_id="r9"))

    settlement = settle([source], set(), {}, max_receive_count=3)

    [letter] = settlement.dead_letters
    assert letter.body == "{oops"
    assert letter.attributes == {
        "ErrorCode": "InvalidMessage",
        "ErrorMessage": "body is not JSON: ...",
        "SourceMessageId": "bad",
        "Attempts": "1",
        "RequestId": "r9",
    }
    assert settlement.verdicts["bad"].retry is False


def test_settle_mixed_record_is_retried_and_its_permanent_failures_go_at_once() -> None:
    source = record("ok", "denied", "throttled")

    settlement = settle(
        [source], {key("ok")}, {key("denied"): DENIED, key("throttled"): THROTTLED}, max_receive_count=3
    )

    assert settlement.verdicts["m1"].retry is True
    assert settlement.verdicts["m1"].revoked == 1
    [letter] = settlement.dead_letters
    assert json.loads(letter.body)["errors"][0]["viewerId"] == "denied"


def test_settle_writes_one_dead_letter_per_error_code() -> None:
    source = record("a", "b", "c", receive_count=3)

    settlement = settle([source], set(), {key("a"): DENIED, key("b"): THROTTLED, key("c"): DENIED}, max_receive_count=3)

    by_code = {letter.code: json.loads(letter.body) for letter in settlement.dead_letters}
    assert sorted(by_code) == ["403", "ThrottlingException"]
    assert [s["viewerId"] for s in by_code["403"]["viewerSessions"]] == ["a", "c"]
    assert [e["code"] for e in by_code["403"]["errors"]] == ["403", "403"]


def test_settle_dead_letter_bodies_are_valid_requests_for_the_failed_pairs() -> None:
    source = record("a", "b", receive_count=3)

    settlement = settle([source], {key("a")}, {key("b"): THROTTLED}, max_receive_count=3)

    again = read_request(settlement.dead_letters[0].body)
    assert isinstance(again, ValidRequest)
    assert [s.viewer_id for s in again.sessions] == ["b"]


# 40 characters that SQS takes only escaped: 6 bytes each in the body, where a raw one counts 1 to 3.
ESCAPED_VIEWER = "\uffff\u0001\ufffe\u0000" * 10


def test_settle_splits_a_huge_dead_letter_by_its_real_size_into_full_messages() -> None:
    viewers = [f"{i:05d}{ESCAPED_VIEWER[5:]}" for i in range(3000)]
    source = record(*viewers, receive_count=1)
    long_message = Failure("403", "not authorized \ufffe " * 10, retryable=False)

    letters = settle([source], set(), {key(v): long_message for v in viewers}, max_receive_count=3).dead_letters

    assert len(letters) > 1
    assert sum(letter.pairs for letter in letters) == 3000
    # A redrive moves each letter, attributes and all, into the source queue: each must fit that queue.
    assert all(
        sqs_message_bytes(letter.body, letter.attributes) <= SOURCE_QUEUE_MAX_MESSAGE_BYTES for letter in letters
    )
    for letter, following in itertools.pairwise(letters):
        # Full: the next pair would not have fitted, serialized as the function writes it.
        body, after = json.loads(letter.body), json.loads(following.body)
        body["viewerSessions"].append(after["viewerSessions"][0])
        body["errors"].append(after["errors"][0])
        grown = DeadLetterMessage.model_validate(body).to_json()
        assert sqs_message_bytes(grown, letter.attributes) > SOURCE_QUEUE_MAX_MESSAGE_BYTES
    assert [s["viewerId"] for letter in letters for s in json.loads(letter.body)["viewerSessions"]] == viewers


def test_settle_splits_requeued_pairs_by_their_real_size_into_full_messages() -> None:
    viewers = [f"{i:05d}{ESCAPED_VIEWER[5:]}" for i in range(6000)]
    source = record(*viewers, receive_count=1)
    not_started = Failure(CODE_NOT_STARTED, "not started", retryable=True)

    settlement = settle(
        [source], set(), {key(v): not_started for v in viewers}, max_receive_count=3, requeue_not_started=True
    )

    requeued = settlement.requeued
    assert len(requeued) > 1 and settlement.dead_letters == []
    assert all(sqs_message_bytes(m.body, m.attributes) <= SOURCE_QUEUE_MAX_MESSAGE_BYTES for m in requeued)
    for message, following in itertools.pairwise(requeued):
        body = json.loads(message.body)
        body["viewerSessions"].append(json.loads(following.body)["viewerSessions"][0])
        grown = RevocationRequest.model_validate(body).to_json()
        assert sqs_message_bytes(grown, message.attributes) > SOURCE_QUEUE_MAX_MESSAGE_BYTES
    assert [s["viewerId"] for m in requeued for s in json.loads(m.body)["viewerSessions"]] == viewers


def assert_attributes_as_sqs_takes_them(letter: OutboundMessage) -> None:
    for name, value in letter.attributes.items():
        assert value, f"{name}: SQS refuses an empty String value"
        assert not SQS_DISALLOWED_CHARACTER.search(value), name
        assert len(value.encode()) <= ATTRIBUTE_VALUE_MAX_BYTES, name
    assert sqs_message_bytes("", letter.attributes) <= DEAD_LETTER_ATTRIBUTES_MAX_BYTES


# What a value can hold at worst: characters of 4 bytes, and characters SQS takes only escaped (6 bytes).
WIDE = "\U0001f600" * 600
ESCAPED = "\u0001\uffff" * 600


@pytest.mark.parametrize("text", [pytest.param(WIDE, id="4-byte characters"), pytest.param(ESCAPED, id="escaped")])
def test_settle_attribute_values_are_cut_in_bytes_after_escaping(text: str) -> None:
    source = SourceRecord(text, 7, "{oops", InvalidRequest(text, request_id=text))

    [letter] = settle([source], set(), {}, max_receive_count=3).dead_letters

    assert_attributes_as_sqs_takes_them(letter)
    for name in ("ErrorMessage", "SourceMessageId", "RequestId"):
        # A prefix of what was escaped: never a split character, never a split escape's meaning lost.
        assert sqs_safe(text).startswith(letter.attributes[name])
        assert len(letter.attributes[name].encode()) > ATTRIBUTE_VALUE_MAX_BYTES - 6


def test_settle_attribute_values_from_a_service_code_and_message_are_cut_and_escaped() -> None:
    source = record("v", receive_count=3)
    odd = Failure(ESCAPED, WIDE, retryable=True)

    [letter] = settle([source], set(), {key("v"): odd}, max_receive_count=3).dead_letters

    assert_attributes_as_sqs_takes_them(letter)
    [error] = json.loads(letter.body)["errors"]
    assert len(error["code"].encode()) <= ATTRIBUTE_VALUE_MAX_BYTES
    assert len(error["message"].encode()) <= ATTRIBUTE_VALUE_MAX_BYTES


def test_settle_leaves_out_an_attribute_that_would_be_empty() -> None:
    source = record("v")

    [letter] = settle(
        [source], set(), {key("v"): Failure("403", "", retryable=False)}, max_receive_count=3
    ).dead_letters

    assert "ErrorMessage" not in letter.attributes
    assert_attributes_as_sqs_takes_them(letter)


@pytest.mark.parametrize("text", [pytest.param(WIDE, id="4-byte characters"), pytest.param(ESCAPED, id="escaped")])
def test_settle_dead_letter_copy_of_an_invalid_message_at_the_source_queue_limit_fits_the_dlq(text: str) -> None:
    body = "x" * SOURCE_QUEUE_MAX_MESSAGE_BYTES
    # The largest attributes the function writes: every value at its limit.
    source = SourceRecord(text, 999_999_999, body, InvalidRequest(text, request_id=text))

    [letter] = settle([source], set(), {}, max_receive_count=3).dead_letters

    assert letter.body == body
    assert_attributes_as_sqs_takes_them(letter)
    assert sqs_message_bytes(letter.body, letter.attributes) <= DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES


def test_settle_retries_a_pair_that_somehow_has_no_outcome() -> None:
    settlement = settle([record("lost")], set(), {}, max_receive_count=3)

    assert settlement.verdicts["m1"].retry is True


# --- Pairs beyond the urgent lane's bound ---------------------------------------------------------


def test_settle_sends_the_pairs_beyond_the_bound_on_as_requests_with_the_request_id() -> None:
    kept = SourceRecord("m1", 1, "{}", ValidRequest((session("a"), session("b")), request_id="ban-1"))
    beyond = tuple(session(f"v{i}") for i in range(3))

    settlement = settle([kept], {key("a")}, {key("b"): DENIED}, 3, beyond_bound={"m1": beyond})

    [message] = settlement.sent_to_bulk
    assert json.loads(message.body) == {
        "viewerSessions": [s.to_api() for s in beyond],
        "requestId": "ban-1",
    }
    assert message.attributes == {"SourceMessageId": "m1", "RequestId": "ban-1"}
    assert (message.source_message_id, message.pairs) == ("m1", 3)
    verdict = settlement.verdicts["m1"]
    assert (verdict.retry, verdict.revoked, verdict.dead_lettered, verdict.sent_to_bulk) == (False, 1, 1, 3)
    assert [letter.code for letter in settlement.dead_letters] == ["403"]


def test_settle_sends_nothing_on_for_a_record_to_retry() -> None:
    settlement = settle([record("a")], set(), {key("a"): THROTTLED}, 3, beyond_bound={"m1": (session("v"),)})

    assert settlement.sent_to_bulk == []
    assert (settlement.verdicts["m1"].retry, settlement.verdicts["m1"].sent_to_bulk) == (True, 0)


def test_settle_splits_what_goes_on_by_the_source_queue_size() -> None:
    # About 130 bytes a pair: more than one message's worth.
    wide = tuple(session(f"{i:040d}") for i in range(12_000))

    settlement = settle([record("a")], {key("a")}, {}, 3, beyond_bound={"m1": wide})

    assert len(settlement.sent_to_bulk) > 1
    assert sum(message.pairs for message in settlement.sent_to_bulk) == len(wide)
    assert all(
        sqs_message_bytes(m.body, m.attributes) <= SOURCE_QUEUE_MAX_MESSAGE_BYTES for m in settlement.sent_to_bulk
    )
