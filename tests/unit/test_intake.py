"""Intake: every accepted body shape, and every way a body can be wrong, with the reason it gets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ivs_revocation import intake
from ivs_revocation.intake import InvalidRequest, ValidRequest, read_request
from ivs_revocation.models import PRIORITIES, PRIORITY_BULK, PRIORITY_URGENT, RevocationRequest, ViewerSession
from tests.unit.fakes import HUGE_INTEGER_PLACES, channel, huge_integer_body

pytestmark = pytest.mark.unit

A = channel("abcdABCDefgh")
B = channel("efghEFGHijkl")
PAIR_A = {"channelArn": A, "viewerId": "abcdefg", "viewerSessionVersionsLessThanOrEqualTo": 1234567890}
PAIR_B = {"channelArn": B, "viewerId": "0f0f0f0f", "viewerSessionVersionsLessThanOrEqualTo": 1234567890}


def event(detail: Any, event_id: str = "evt-1") -> dict[str, Any]:
    """An EventBridge event as a rule with an SQS target delivers it."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Viewer Session Revocation Requested",
        "source": "ivs-revocation",
        "account": "123456789012",
        "time": "2026-11-25T12:00:00Z",
        "region": "us-west-2",
        "resources": [],
        "detail": detail,
    }


@pytest.mark.parametrize(
    ("body", "expected_pairs", "request_id"),
    [
        pytest.param(PAIR_A, [(A, "abcdefg", 1234567890)], None, id="one pair"),
        pytest.param({"channelArn": A, "viewerId": "v"}, [(A, "v", 0)], None, id="version defaults to 0"),
        pytest.param([PAIR_A, PAIR_B], [(A, "abcdefg", 1234567890), (B, "0f0f0f0f", 1234567890)], None, id="list"),
        pytest.param({"viewerSessions": [PAIR_A]}, [(A, "abcdefg", 1234567890)], None, id="API request"),
        pytest.param(
            {"viewerSessions": [PAIR_A], "requestId": "req-7"}, [(A, "abcdefg", 1234567890)], "req-7", id="request id"
        ),
        pytest.param(
            {"viewerSessions": [PAIR_A], "errors": [{"channelArn": A, "viewerId": "abcdefg", "code": "403"}]},
            [(A, "abcdefg", 1234567890)],
            None,
            id="dead-letter body: errors ignored",
        ),
        pytest.param(event(PAIR_A), [(A, "abcdefg", 1234567890)], "evt-1", id="event with one pair"),
        pytest.param(
            event([PAIR_A, PAIR_B]),
            [(A, "abcdefg", 1234567890), (B, "0f0f0f0f", 1234567890)],
            "evt-1",
            id="event with a list",
        ),
        pytest.param(
            event({"viewerSessions": [PAIR_B]}), [(B, "0f0f0f0f", 1234567890)], "evt-1", id="event with a request"
        ),
        pytest.param(
            [{"channelArn": A, "viewerId": f"v{i}"} for i in range(45)],
            [(A, f"v{i}", 0) for i in range(45)],
            None,
            id="more than 20 pairs",
        ),
        pytest.param(
            {"channelArn": A, "viewerId": "x" * 40, "viewerSessionVersionsLessThanOrEqualTo": 2147483647},
            [(A, "x" * 40, 2147483647)],
            None,
            id="at the limits",
        ),
    ],
)
def test_intake_accepts_every_documented_shape(body: Any, expected_pairs: list[Any], request_id: str | None) -> None:
    result = read_request(json.dumps(body))

    assert isinstance(result, ValidRequest), result
    assert [(s.channel_arn, s.viewer_id, s.version) for s in result.sessions] == expected_pairs
    assert result.request_id == request_id


@pytest.mark.parametrize(
    ("body", "reason_parts"),
    [
        pytest.param("not json", ["body is not JSON"], id="not JSON"),
        pytest.param("42", ["body: expected"], id="a number"),
        pytest.param("{}", ["body: expected"], id="an empty object"),
        pytest.param("[]", ["at least 1"], id="an empty list"),
        pytest.param(json.dumps({"viewerSessions": []}), ["viewerSessions: at least 1 item (got 0)"], id="no sessions"),
        pytest.param(json.dumps({"channelArn": A}), ["viewerId: required"], id="viewer ID missing"),
        pytest.param(json.dumps({"viewerId": "v"}), ["channelArn: required"], id="channel missing"),
        pytest.param(
            json.dumps([PAIR_A, {**PAIR_B, "viewerId": "x" * 41}]),
            ["viewerSessions[1].viewerId: at most 40 characters (got 41)"],
            id="viewer ID of 41 characters names index, field and limit",
        ),
        pytest.param(
            json.dumps({**PAIR_A, "viewerId": ""}), ["viewerId: at least 1 character (got 0)"], id="empty viewer ID"
        ),
        pytest.param(
            json.dumps({"viewerSessions": [{**PAIR_A, "channelArn": "arn:aws:ivs:us-west-2:1:stream/x"}]}),
            ["viewerSessions[0].channelArn: must match ^arn:aws:ivs:[a-z0-9-]+:[0-9]+:channel/"],
            id="not a channel ARN",
        ),
        pytest.param(
            json.dumps({**PAIR_A, "channelArn": "arn:aws:ivs:us-west-2:123456789012:channel/" + "a" * 90}),
            ["channelArn", "128"],
            id="ARN over 128 characters",
        ),
        pytest.param(
            json.dumps({**PAIR_A, "viewerSessionVersionsLessThanOrEqualTo": -1}),
            ["viewerSessionVersionsLessThanOrEqualTo: at least 0 (got -1)"],
            id="negative version",
        ),
        pytest.param(
            json.dumps({**PAIR_A, "viewerSessionVersionsLessThanOrEqualTo": 2**31}),
            ["viewerSessionVersionsLessThanOrEqualTo: at most 2147483647 (got 2147483648)"],
            id="version over 32 bits",
        ),
        pytest.param(
            json.dumps({**PAIR_A, "viewerSessionVersionsLessThanOrEqualTo": True}), ["boolean"], id="boolean version"
        ),
        pytest.param(
            json.dumps({**PAIR_A, "viewerSessionVersionsLessThanOrEqualTo": 7.5}), ["number"], id="fractional version"
        ),
        pytest.param(
            json.dumps({**PAIR_A, "viewerSessionVersionsLessThanOrEqualTo": "7"}), ["string"], id="version as a string"
        ),
        pytest.param(json.dumps({**PAIR_A, "viewerID": "typo"}), ["viewerID", "unknown field"], id="misspelt field"),
        pytest.param(json.dumps({**PAIR_A, "viewerId": 7}), ["viewerId", "integer"], id="viewer ID not a string"),
        pytest.param(
            json.dumps(event({"viewerSessions": [{**PAIR_A, "viewerId": "x" * 41}]})),
            ["detail.viewerSessions[0].viewerId"],
            id="event detail names the path",
        ),
        pytest.param(json.dumps(event("revoke them")), ["detail", "expected"], id="event detail not a request"),
        pytest.param(
            json.dumps({"viewerSessions": [PAIR_A], "other": 1}),
            ["other", "unknown field"],
            id="unknown top-level field",
        ),
    ],
)
def test_intake_rejects_bad_bodies_with_a_reason_naming_the_field(body: str, reason_parts: list[str]) -> None:
    result = read_request(body)

    assert isinstance(result, InvalidRequest)
    for part in reason_parts:
        assert part in result.reason, (part, result.reason)


def test_intake_reason_for_many_bad_items_stays_short() -> None:
    body = json.dumps([{**PAIR_A, "viewerId": "x" * 41}] * 1000)

    result = read_request(body)

    assert isinstance(result, InvalidRequest)
    assert "more problems" in result.reason
    assert len(result.reason) < 1000


def test_intake_keeps_the_event_id_as_request_id_for_invalid_events() -> None:
    result = read_request(json.dumps(event({"viewerSessions": []}, event_id="evt-9")))

    assert isinstance(result, InvalidRequest)
    assert result.request_id == "evt-9"


def test_intake_refuses_an_event_id_too_long_for_a_request_id_naming_id_and_its_limit() -> None:
    # Every message written on the event's behalf carries its id as `requestId`: a longer one could not.
    result = read_request(json.dumps(event(PAIR_A, event_id="e" * 300)))

    assert isinstance(result, InvalidRequest)
    assert result.reason == "id: at most 256 characters (got 300)"
    assert result.request_id is None


def test_intake_accepts_an_event_id_as_long_as_a_request_id_may_be() -> None:
    result = read_request(json.dumps(event(PAIR_A, event_id="e" * 256)))

    assert isinstance(result, ValidRequest)
    assert result.request_id == "e" * 256


# Repeated keys, written as text: a dict cannot hold them. `{A}` is a channel ARN.
ONE_VIEWER_TWICE = '{{"channelArn": "{A}", "viewerId": "first", "viewerId": "second"}}'
VERSION_TWICE = (
    '{{"channelArn": "{A}", "viewerId": "v", '
    '"viewerSessionVersionsLessThanOrEqualTo": 9, "viewerSessionVersionsLessThanOrEqualTo": 1}}'
)
FINE = '{{"channelArn": "{A}", "viewerId": "fine"}}'


def event_text(detail: str, top: str = "") -> str:
    return (
        '{{"version": "0", "id": "evt-3", "detail-type": "Viewer Session Revocation Requested", '
        f'"source": "ivs-revocation", {top}"detail": {detail}}}}}'
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(ONE_VIEWER_TWICE, "body: repeated key 'viewerId'", id="one pair"),
        pytest.param(
            VERSION_TWICE, "body: repeated key 'viewerSessionVersionsLessThanOrEqualTo'", id="one pair, version"
        ),
        pytest.param(f"[{FINE}, {ONE_VIEWER_TWICE}]", "viewerSessions[1]: repeated key 'viewerId'", id="list"),
        pytest.param(
            f'{{{{"viewerSessions": [{FINE}, {FINE}, {VERSION_TWICE}]}}}}',
            "viewerSessions[2]: repeated key 'viewerSessionVersionsLessThanOrEqualTo'",
            id="API request",
        ),
        pytest.param(
            f'{{{{"viewerSessions": [{FINE}], "requestId": "a", "requestId": "b"}}}}',
            "body: repeated key 'requestId'",
            id="API request, request id",
        ),
        pytest.param(
            f'{{{{"viewerSessions": [{FINE}], "viewerSessions": [{FINE}]}}}}',
            "body: repeated key 'viewerSessions'",
            id="API request, sessions twice",
        ),
        pytest.param(event_text(ONE_VIEWER_TWICE), "detail: repeated key 'viewerId'", id="event with one pair"),
        pytest.param(
            event_text(f"[{FINE}, {ONE_VIEWER_TWICE}]"),
            "detail.viewerSessions[1]: repeated key 'viewerId'",
            id="event with a list",
        ),
        pytest.param(
            event_text(f'{{{{"viewerSessions": [{ONE_VIEWER_TWICE}, {FINE}]}}}}'),
            "detail.viewerSessions[0]: repeated key 'viewerId'",
            id="event with a request",
        ),
        pytest.param(event_text(FINE, top='"source": "other", '), "body: repeated key 'source'", id="event, top level"),
    ],
)
def test_intake_refuses_a_repeated_key_naming_the_key_and_the_item(body: str, reason: str) -> None:
    text = body.format(A=A)
    assert json.loads(text), "the body is JSON that json.loads would silently resolve"

    result = read_request(text)

    assert isinstance(result, InvalidRequest)
    assert result.reason == reason


def test_intake_keeps_the_event_id_for_a_repeated_key_inside_its_detail() -> None:
    result = read_request(event_text(ONE_VIEWER_TWICE).format(A=A))

    assert isinstance(result, InvalidRequest)
    assert result.request_id == "evt-3"


@pytest.mark.parametrize(
    ("body", "priority"),
    [
        pytest.param(PAIR_A, "bulk", id="default"),
        pytest.param({**PAIR_A, "priority": "urgent"}, "urgent", id="one pair"),
        pytest.param({"viewerSessions": [PAIR_A], "priority": "urgent"}, "urgent", id="API request"),
        pytest.param({"viewerSessions": [PAIR_A], "priority": "bulk"}, "bulk", id="API request, bulk"),
        pytest.param(event({**PAIR_A, "priority": "urgent"}), "urgent", id="event with one pair"),
        pytest.param(event({"viewerSessions": [PAIR_A], "priority": "urgent"}), "urgent", id="event with a request"),
    ],
)
def test_intake_accepts_a_priority_beside_the_pairs(body: Any, priority: str) -> None:
    result = read_request(json.dumps(body))

    assert isinstance(result, ValidRequest), result
    assert result.priority == priority
    assert [(s.channel_arn, s.viewer_id) for s in result.sessions] == [(A, "abcdefg")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**PAIR_A, "priority": "high"}, "priority: must be 'bulk' or 'urgent' (got 'high')"),
        ({**PAIR_A, "priority": None}, "priority: must be 'bulk' or 'urgent' (got null)"),
        ({"viewerSessions": [PAIR_A], "priority": "URGENT"}, "priority: must be 'bulk' or 'urgent' (got 'URGENT')"),
        ({"viewerSessions": [PAIR_A], "priority": 1}, "priority: must be 'bulk' or 'urgent' (got integer)"),
        (event({**PAIR_A, "priority": "now"}), "detail.priority: must be 'bulk' or 'urgent' (got 'now')"),
        (event({"viewerSessions": [PAIR_A], "priority": ""}), "detail.priority: must be 'bulk' or 'urgent' (got '')"),
        # A priority is the message's, not an item's.
        ({"viewerSessions": [{**PAIR_A, "priority": "urgent"}]}, "viewerSessions[0].priority: unknown field"),
        ([{**PAIR_A, "priority": "urgent"}], "viewerSessions[0].priority: unknown field"),
    ],
)
def test_intake_refuses_any_other_priority_naming_the_field(body: Any, reason: str) -> None:
    result = read_request(json.dumps(body))

    assert isinstance(result, InvalidRequest)
    assert reason in result.reason


def test_a_request_writes_the_priority_it_was_given_and_reads_back_the_same() -> None:
    sessions = [ViewerSession.model_validate(PAIR_A)]
    urgent = RevocationRequest(viewer_sessions=sessions, priority=PRIORITY_URGENT).to_json()
    plain = RevocationRequest(viewer_sessions=sessions).to_json()

    assert json.loads(urgent)["priority"] == "urgent"
    assert "priority" not in json.loads(plain)
    again = read_request(urgent)
    assert isinstance(again, ValidRequest) and again.priority == PRIORITY_URGENT
    assert PRIORITIES == (PRIORITY_BULK, PRIORITY_URGENT)


# --- Only the documented keys, in every shape ------------------------------------------------------

SNAKE_ITEM = {"channel_arn": A, "viewer_id": "v", "version": 3}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({**PAIR_A, "version": 3}, "version: unknown field", id="one pair, version"),
        pytest.param([{"channelArn": A, "viewer_id": "v"}], "viewerSessions[0].viewer_id: unknown field", id="list"),
        pytest.param([{"channel_arn": A, "viewerId": "v"}], "viewerSessions[0].channel_arn: unknown field", id="list"),
        pytest.param([{**PAIR_A, "version": 3}], "viewerSessions[0].version: unknown field", id="list, version"),
        pytest.param(
            {"viewerSessions": [{"channelArn": A, "viewer_id": "v"}]},
            "viewerSessions[0].viewer_id: unknown field",
            id="API request item",
        ),
        pytest.param(
            {"viewerSessions": [{**PAIR_A, "version": 3}]},
            "viewerSessions[0].version: unknown field",
            id="API request item, version",
        ),
        pytest.param({"viewerSessions": [PAIR_A], "request_id": "r"}, "request_id: unknown field", id="request_id"),
        pytest.param(
            event([{"channelArn": A, "viewer_id": "v"}]),
            "detail.viewerSessions[0].viewer_id: unknown field",
            id="event with a list",
        ),
        pytest.param(
            event({"viewerSessions": [SNAKE_ITEM]}), "detail.viewerSessions[0].channel_arn: unknown field", id="event"
        ),
        pytest.param(
            event({"viewerSessions": [PAIR_A], "request_id": "r"}), "detail.request_id: unknown field", id="event, id"
        ),
        pytest.param(SNAKE_ITEM, "body: expected", id="one pair, every key snake_case"),
    ],
)
def test_snake_case_keys_are_refused_in_every_shape(body: Any, reason: str) -> None:
    """`populate_by_name` made the models' Python field names valid keys in lists and requests."""
    result = read_request(json.dumps(body))

    assert isinstance(result, InvalidRequest), result
    assert reason in result.reason, result.reason


# --- Whatever a body holds, reading it never raises -------------------------------------------------


@pytest.mark.parametrize("where", HUGE_INTEGER_PLACES)
def test_a_4301_digit_integer_anywhere_in_a_body_is_its_reason(where: str) -> None:
    result = read_request(huge_integer_body(where, A))

    assert result == InvalidRequest("body: integer literal of more than 4300 digits")


def test_an_integer_at_the_limit_is_read_as_an_integer() -> None:
    body = json.dumps({"viewerSessions": [PAIR_A], "errors": ["HUGE"]}).replace('"HUGE"', "7" * 4300)

    assert isinstance(read_request(body), ValidRequest)


def test_read_request_never_raises_and_names_only_the_type_of_what_went_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI reads dead letters with it: whatever goes wrong is the body's reason, and the exception's
    text (which may quote the body, a viewer ID) is left out."""

    def broken(*_: Any) -> Any:
        raise KeyError("a-viewer-id")

    monkeypatch.setattr(intake, "_read_sessions", broken)

    result = read_request(json.dumps(PAIR_A))

    assert result == InvalidRequest("body: could not be read (KeyError)")


def test_read_request_names_a_body_nested_too_deeply() -> None:
    result = read_request("[" * 100_000 + "]" * 100_000)

    assert result == InvalidRequest("body is not JSON: nested too deeply")
