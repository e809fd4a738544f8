"""Settle: the outcome table, record by record, as a pure function."""

from __future__ import annotations

import json

import pytest

from revocation.intake import InvalidRequest, ValidRequest, read_request
from revocation.revoke import Failure
from revocation.settle import MAX_DEAD_LETTER_BODY_BYTES, SourceRecord, settle
from tests.unit.fakes import session

pytestmark = pytest.mark.unit

DENIED = Failure("403", "not authorized", retryable=False)
THROTTLED = Failure("ThrottlingException", "Rate exceeded (after 4 attempts)", retryable=True)
SERVER_PAIR = Failure("500", "internal", retryable=True)


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


def test_settle_splits_a_huge_dead_letter_within_the_message_size() -> None:
    viewers = [f"viewer-{i:05d}-" + "x" * 26 for i in range(2000)]
    source = record(*viewers, receive_count=1)
    long_message = Failure("403", "not authorized " * 10, retryable=False)

    settlement = settle([source], set(), {key(v): long_message for v in viewers}, max_receive_count=3)

    assert len(settlement.dead_letters) > 1
    assert sum(letter.pairs for letter in settlement.dead_letters) == 2000
    assert all(len(letter.body.encode()) <= MAX_DEAD_LETTER_BODY_BYTES for letter in settlement.dead_letters)


def test_settle_retries_a_pair_that_somehow_has_no_outcome() -> None:
    settlement = settle([record("lost")], set(), {}, max_receive_count=3)

    assert settlement.verdicts["m1"].retry is True
