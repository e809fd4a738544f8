"""`ivs-revoke submit --direct`: validation first, calls of 20, paced to the quota, errors merged, and
nothing counted of an answer that is not the operation's."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest
from botocore.exceptions import EndpointConnectionError, SSLError

from ivs_revocation.adapters.ivs import CallDeadlineExceeded
from ivs_revocation.call_policy import SPACING_HEADROOM
from ivs_revocation.models import viewer_reference
from ivs_revoke import direct
from tests.unit.cli_support import (
    REGION,
    FakeAws,
    Reply,
    Sent,
    channel,
    ivs_error,
    ivs_revoke,
    shorthand,
)
from tests.unit.fakes import FakeClock

pytestmark = pytest.mark.unit

OPERATION = "BatchStartViewerSessionRevocation"


def _pairs(count: int, chan: str | None = None) -> list[str]:
    return [shorthand(chan or channel(), f"viewer-{index}", index) for index in range(count)]


def _direct(values: list[str], fake: FakeAws, *extra: str, clock: FakeClock | None = None) -> object:
    return ivs_revoke(["submit", "--direct", "--viewer-sessions", *values, *extra], fake, clock=clock)


# --- Validation: everything checked before anything is sent ------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"viewerId": "v" * 41}, "viewerSessions[3].viewerId: at most 40 characters (got 41)"),
        ({"viewerId": ""}, "viewerSessions[3].viewerId: at least 1 character (got 0)"),
        (
            {"channelArn": "arn:aws:ivs:us-west-2:123456789012:stream/x"},
            "viewerSessions[3].channelArn: must match ^arn:aws:ivs:[a-z0-9-]+:[0-9]+:channel/[a-zA-Z0-9-]+$",
        ),
        ({"channelArn": channel("x" * 120)}, "viewerSessions[3].channelArn: at most 128 characters (got 163)"),
        (
            {"viewerSessionVersionsLessThanOrEqualTo": -1},
            "viewerSessions[3].viewerSessionVersionsLessThanOrEqualTo: at least 0 (got -1)",
        ),
        (
            {"viewerSessionVersionsLessThanOrEqualTo": 2147483648},
            "viewerSessions[3].viewerSessionVersionsLessThanOrEqualTo: at most 2147483647 (got 2147483648)",
        ),
        (
            {"viewerSessionVersionsLessThanOrEqualTo": "7"},
            "viewerSessions[3].viewerSessionVersionsLessThanOrEqualTo: must be an integer (got string)",
        ),
        ({"viewerSessionVersionsLessThanOrEqualTo": 1.5}, "must be an integer (got number)"),
        ({"viewerSessionVersionsLessThanOrEqualTo": True}, "must be an integer (got boolean)"),
        ({"viewerId": 12}, "viewerSessions[3].viewerId: must be a string (got integer)"),
        ({"viewerID": "typo"}, "viewerSessions[3].viewerID: unknown field, expected one of: channelArn, viewerId"),
        ({"viewerId": None}, "viewerSessions[3].viewerId: must be a string (got null)"),
    ],
)
def test_an_invalid_item_is_refused_naming_index_field_and_limit(item: dict[str, object], expected: str) -> None:
    sessions = [{"channelArn": channel(), "viewerId": f"v{index}"} for index in range(5)]
    sessions[3] = {**sessions[3], **item}
    fake = FakeAws()
    result = _direct([json.dumps(sessions)], fake)
    assert result.code == 252
    assert expected in result.stderr
    assert "nothing was sent" in result.stderr
    assert fake.sent == []


def test_a_41_character_viewer_id_is_refused_before_anything_is_sent_even_among_many_good_pairs() -> None:
    values = _pairs(45)
    values[44] = shorthand(channel(), "x" * 41)
    fake = FakeAws()
    result = _direct(values, fake)
    assert result.code == 252
    assert "viewerSessions[44].viewerId: at most 40 characters (got 41)" in result.stderr
    assert fake.sent == []


def test_a_missing_field_and_a_non_object_item_are_both_named() -> None:
    fake = FakeAws()
    result = _direct([json.dumps([{"channelArn": channel()}, "not-an-object"])], fake)
    assert result.code == 252
    assert "viewerSessions[0].viewerId: required" in result.stderr
    assert "viewerSessions[1]: must be an object with channelArn, viewerId" in result.stderr
    assert fake.sent == []


def test_every_problem_is_listed_up_to_a_limit() -> None:
    values = [shorthand(channel(), "x" * 41) for _ in range(60)]
    result = _direct(values, FakeAws())
    assert result.code == 252
    assert "viewerSessions[49].viewerId" in result.stderr
    assert "viewerSessions[50].viewerId" not in result.stderr
    assert "... and 10 more problems" in result.stderr


def test_an_unknown_top_level_key_of_the_input_document_is_refused_as_botocore_would() -> None:
    document = {"viewerSessions": [{"channelArn": channel(), "viewerId": "v"}], "errors": []}
    fake = FakeAws()
    result = ivs_revoke(["submit", "--direct", "--cli-input-json", json.dumps(document)], fake)
    assert result.code == 252
    assert 'Unknown parameter in input: "errors", must be one of: viewerSessions' in result.stderr
    assert fake.sent == []


def test_no_sessions_at_all_is_a_usage_error() -> None:
    result = ivs_revoke(["submit", "--direct"], FakeAws())
    assert result.code == 252
    assert "the following arguments are required: --viewer-sessions" in result.stderr


# --- Calls -------------------------------------------------------------------------------------


def test_45_pairs_go_as_calls_of_20_20_and_5_in_order() -> None:
    fake = FakeAws()
    result = _direct(_pairs(45), fake)
    assert result.code == 0, result.stderr
    calls = [sent.json()["viewerSessions"] for sent in fake.of(OPERATION)]
    assert [len(call) for call in calls] == [20, 20, 5]
    assert [pair["viewerId"] for call in calls for pair in call] == [f"viewer-{index}" for index in range(45)]
    assert json.loads(result.stdout) == {"errors": []}


def test_repeated_pairs_are_sent_as_given_where_the_function_would_merge_them() -> None:
    values = [shorthand(channel(), "v", 1), shorthand(channel(), "w", 0), shorthand(channel(), "v", 9)]
    fake = FakeAws()
    assert _direct(values, fake).code == 0
    [sent] = fake.of(OPERATION)
    sent_pairs = [
        (pair["viewerId"], pair["viewerSessionVersionsLessThanOrEqualTo"]) for pair in sent.json()["viewerSessions"]
    ]
    assert sent_pairs == [("v", 1), ("w", 0), ("v", 9)]


def test_calls_are_spaced_evenly_at_two_a_second() -> None:
    clock = FakeClock()
    fake = FakeAws(clock=clock)
    result = _direct(_pairs(200), fake, clock=clock)
    assert result.code == 0, result.stderr
    times = [sent.time for sent in fake.of(OPERATION)]
    assert len(times) == 10
    assert [round(later - earlier, 6) for earlier, later in itertools.pairwise(times)] == [
        round(0.5 * SPACING_HEADROOM, 6)
    ] * 9


def test_a_slow_call_delays_the_call_two_places_later_by_a_full_window_after_its_end() -> None:
    clock = FakeClock()

    def slow_first(sent: Sent) -> Reply:
        if len(fake.of(OPERATION)) == 1:
            clock.now += 0.8  # the first call takes 0.8 s to answer
        return Reply({"errors": []})

    fake = FakeAws(clock=clock)
    fake.on(OPERATION, slow_first)
    assert _direct(_pairs(60), fake, clock=clock).code == 0
    times = [sent.time for sent in fake.of(OPERATION)]
    first_call_end = times[0] + 0.8
    # The second call waited for the first to end; the third waits one window after that end,
    # since the first call may have reached the service as late as its end.
    assert times[1] == pytest.approx(first_call_end)
    assert times[2] == pytest.approx(first_call_end + 1.0 * SPACING_HEADROOM)


def test_calls_per_second_sets_the_pace() -> None:
    clock = FakeClock()
    fake = FakeAws(clock=clock)
    assert _direct(_pairs(60), fake, "--calls-per-second", "0.5", clock=clock).code == 0
    times = [sent.time for sent in fake.of(OPERATION)]
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [round(2 * SPACING_HEADROOM, 6)] * 2


def test_pairs_of_two_regions_go_to_each_region_in_turns() -> None:
    west, east = channel("w", "us-west-2"), channel("e", "eu-west-1")
    values = [shorthand(west, f"w{index}") for index in range(25)] + [
        shorthand(east, f"e{index}") for index in range(3)
    ]
    fake = FakeAws()
    assert _direct(values, fake).code == 0
    calls = fake.of(OPERATION)
    assert [(sent.region, len(sent.json()["viewerSessions"])) for sent in calls] == [
        ("us-west-2", 20),
        ("eu-west-1", 3),
        ("us-west-2", 5),
    ]
    assert "ivs.eu-west-1.amazonaws.com" in calls[1].url


def test_errors_of_all_calls_are_merged_and_printed_as_the_aws_cli_prints_a_response() -> None:
    def deny_odd_viewers(sent: Sent) -> Reply:
        errors = [
            {"channelArn": pair["channelArn"], "viewerId": pair["viewerId"], "code": "403", "message": "not authorized"}
            for pair in sent.json()["viewerSessions"]
            if int(pair["viewerId"].split("-")[1]) % 20 == 1
        ]
        return Reply({"errors": errors})

    fake = FakeAws()
    fake.on(OPERATION, deny_odd_viewers)
    result = _direct(_pairs(45), fake)
    assert result.code == 1
    expected = {
        "errors": [
            {"channelArn": channel(), "viewerId": f"viewer-{index}", "code": "403", "message": "not authorized"}
            for index in (1, 21, 41)
        ]
    }
    assert result.stdout == json.dumps(expected, indent=4) + "\n"


def test_throttling_is_retried_after_a_backoff() -> None:
    clock = FakeClock()
    fake = FakeAws(clock=clock)
    fake.on(OPERATION, [ivs_error("ThrottlingException", "slow down", 429), Reply({"errors": []})])
    result = _direct(_pairs(5), fake, clock=clock)
    assert result.code == 0, result.stderr
    assert len(fake.of(OPERATION)) == 2
    assert clock.sleeps and clock.sleeps[0] > 0


def test_a_server_error_is_retried_up_to_max_attempts_then_reported_with_what_was_not_sent() -> None:
    fake = FakeAws()
    replies = [Reply({"errors": []})] + [ivs_error("InternalServerException", "boom", 500)] * 3
    fake.on(OPERATION, replies)
    result = _direct(_pairs(45), fake, "--max-attempts", "3")
    assert result.code == 254
    assert len(fake.of(OPERATION)) == 4  # the first call, then three attempts of the second
    assert "InternalServerException" in result.stderr
    assert "2 call(s) not completed, 25 pairs not sent: viewerSessions[20:45]" in result.stderr
    assert json.loads(result.stdout) == {"errors": []}  # what the completed call answered


@pytest.mark.parametrize(
    ("code", "status", "attempts"),
    [
        ("ThrottlingException", 429, 2),
        ("TooManyRequestsException", 429, 2),
        ("InternalServerException", 500, 2),
        ("ServiceUnavailableException", 503, 2),
        ("AccessDeniedException", 403, 1),
        ("PendingVerification", 403, 1),
        ("ValidationException", 400, 1),
    ],
)
def test_a_call_error_is_retried_as_the_function_retries_it(code: str, status: int, attempts: int) -> None:
    fake = FakeAws()
    fake.on(OPERATION, [ivs_error(code, "why", status)] * 2)
    result = _direct(_pairs(3), fake, "--max-attempts", "2")
    assert result.code == 254
    assert len(fake.of(OPERATION)) == attempts


def test_access_denied_is_not_retried_and_exits_254() -> None:
    fake = FakeAws()
    fake.on(OPERATION, [ivs_error("AccessDeniedException", "no", 403)])
    result = _direct(_pairs(3), fake)
    assert result.code == 254
    assert len(fake.of(OPERATION)) == 1
    assert (
        "An error occurred (AccessDeniedException) when calling the BatchStartViewerSessionRevocation operation: no"
        in (result.stderr)
    )


def test_a_connection_that_keeps_failing_exits_255() -> None:
    fake = FakeAws()

    def refuse(sent: Sent) -> Reply:
        raise EndpointConnectionError(endpoint_url=sent.url)

    fake.on(OPERATION, refuse)
    result = _direct(_pairs(3), fake, "--max-attempts", "2")
    assert result.code == 255
    assert len(fake.of(OPERATION)) == 2
    assert "Could not connect to the endpoint URL" in result.stderr


def test_a_tls_failure_on_a_later_call_is_retried_then_exits_255_keeping_what_was_done() -> None:
    # Any connection-level failure (here botocore's SSLError), not only a listed few, ends the run
    # with its report.
    fake = FakeAws()
    calls: list[Sent] = []

    def fail_second(sent: Sent) -> Reply:
        calls.append(sent)
        if len(calls) == 1:
            return Reply({"errors": [{"channelArn": channel(), "viewerId": "viewer-0", "code": "403", "message": "m"}]})
        raise SSLError(endpoint_url=sent.url, error="certificate verify failed")

    fake.on(OPERATION, fail_second)
    result = _direct(_pairs(45), fake, "--max-attempts", "3")
    assert result.code == 255
    assert len(fake.of(OPERATION)) == 4  # the first call, then three attempts of the second
    assert "certificate verify failed" in result.stderr
    assert "2 call(s) not completed, 25 pairs not sent: viewerSessions[20:45]" in result.stderr
    assert json.loads(result.stdout)["errors"][0]["viewerId"] == "viewer-0"  # what call 1 answered


def test_ctrl_c_between_calls_exits_130_after_printing_what_was_done() -> None:
    fake = FakeAws()
    calls = []

    def interrupt_second(sent: Sent) -> Reply:
        calls.append(sent)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return Reply({"errors": [{"channelArn": channel(), "viewerId": "viewer-0", "code": "403", "message": "m"}]})

    fake.on(OPERATION, interrupt_second)
    result = _direct(_pairs(45), fake)
    assert result.code == 130
    assert json.loads(result.stdout)["errors"][0]["viewerId"] == "viewer-0"
    assert "interrupted" in result.stderr


def test_endpoint_url_sends_every_call_there_signed_for_the_channel_region() -> None:
    fake = FakeAws()
    result = _direct(_pairs(3), fake, "--endpoint-url", "http://127.0.0.1:4566", "--region", "eu-central-1")
    assert result.code == 0, result.stderr
    [sent] = fake.of(OPERATION)
    assert sent.url == "http://127.0.0.1:4566/BatchStartViewerSessionRevocation"
    assert sent.region == REGION


# --- Answers that are not the operation's ------------------------------------------------------

MALFORMED = [
    (Reply("<html><body>Welcome</body></html>", 200, {"Content-Type": "text/html"}), "200 with a text/html body"),
    (Reply("OK", 200, {"Content-Type": "text/plain"}), "200 with a text/plain body"),
    (Reply(b"", 200, {"Content-Type": "application/json"}), "200 with an empty body"),
    (Reply({"errors": "junk"}), "200 whose errors is not a list (got string)"),
    (Reply({"errors": [1, 2]}), "200 whose errors[0] is not an object (got integer)"),
    (
        Reply({"errors": [{"channelArn": channel(), "viewerId": "VIEWER-0", "code": "500"}]}),
        f"errors[0] names a pair that was not sent: channelArn {channel()!r}, viewerId {viewer_reference('VIEWER-0')}",
    ),
]


@pytest.mark.parametrize(("reply", "problem"), MALFORMED)
def test_a_malformed_answer_is_retried_then_exits_254_naming_it_and_counts_nothing(reply: Reply, problem: str) -> None:
    fake = FakeAws()
    fake.on(OPERATION, [reply])
    result = _direct(_pairs(3), fake, "--max-attempts", "2")
    assert result.code == 254
    assert len(fake.of(OPERATION)) == 2  # retried as a 5xx is
    assert f"MalformedResponse: the answer to {OPERATION} is not the operation's: {problem}" in result.stderr
    assert "1 call(s) not completed, 3 pairs not sent: viewerSessions[0:3]" in result.stderr
    assert json.loads(result.stdout or "{}") == {}  # nothing of the answer is printed as if it were IVS's


def test_a_malformed_answer_after_good_calls_keeps_what_they_answered() -> None:
    fake = FakeAws()
    fake.on(OPERATION, [Reply({"errors": []}), Reply("OK", 200, {"Content-Type": "text/plain"})])
    result = _direct(_pairs(45), fake, "--max-attempts", "2")
    assert result.code == 254
    assert "2 call(s) not completed, 25 pairs not sent: viewerSessions[20:45]" in result.stderr
    assert json.loads(result.stdout) == {"errors": []}


def test_a_malformed_answer_then_a_good_one_succeeds() -> None:
    fake = FakeAws()
    fake.on(OPERATION, [Reply({"errors": "junk"}), Reply({"errors": []})])
    result = _direct(_pairs(3), fake)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"errors": []}


@pytest.mark.parametrize(
    ("options", "deadline"),
    [
        ((), 120.0),
        (("--cli-read-timeout", "3", "--cli-connect-timeout", "2"), 5.0),
        (("--cli-read-timeout", "0"), None),
    ],
)
def test_a_call_is_given_the_connect_plus_read_timeout_for_all_of_it(
    monkeypatch: pytest.MonkeyPatch, options: tuple[str, ...], deadline: float | None
) -> None:
    """The deadline itself (a trickling answer cut off) is tested over HTTP, in integration."""
    given: list[float | None] = []

    def call_within(seconds: float | None, call: Callable[[], object]) -> object:
        given.append(seconds)
        return call()

    monkeypatch.setattr(direct, "call_within", call_within)
    assert _direct(_pairs(3), FakeAws(), *options).code == 0
    assert given == [deadline]


def test_a_call_past_its_deadline_is_retried_then_exits_255_naming_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def past_deadline(seconds: float | None, call: Callable[[], object]) -> object:
        raise CallDeadlineExceeded(seconds or 0)

    monkeypatch.setattr(direct, "call_within", past_deadline)
    result = _direct(
        _pairs(3), FakeAws(), "--max-attempts", "2", "--cli-read-timeout", "3", "--cli-connect-timeout", "1"
    )
    assert result.code == 255
    assert "no complete answer within the call's deadline of 4 s" in result.stderr
