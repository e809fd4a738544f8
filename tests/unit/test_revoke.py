"""Revoke: rate limiting, retries (malformed answers too), splitting on ValidationException, the time budget."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import pytest

from ivs_revocation.call_policy import SPACING_HEADROOM, RateLimiter, pair_error_is_retryable
from ivs_revocation.intake import ValidRequest
from ivs_revocation.models import CODE_NOT_STARTED, CallErrorKind, CallFailed
from ivs_revocation.plan import PlannedCall, plan_calls
from ivs_revocation.revoke import Revoker
from ivs_revocation.settle import SourceRecord, settle
from tests.unit.fakes import FakeClock, FakeGateway, channel, denied_pairs, session

pytestmark = pytest.mark.unit

THROTTLED = CallFailed(CallErrorKind.THROTTLED, "ThrottlingException", "Rate exceeded")
SERVER = CallFailed(CallErrorKind.SERVER, "InternalServerException", "boom")
DENIED = CallFailed(CallErrorKind.DENIED, "AccessDeniedException", "not allowed")
INVALID = CallFailed(CallErrorKind.INVALID, "ValidationException", "bad pair")


def revoker(gateway: FakeGateway, clock: FakeClock, rate: float = 1.0, attempts: int = 4) -> Revoker:
    return Revoker(
        gateway,
        calls_per_second=rate,
        max_attempts=attempts,
        call_timeout=5.0,
        clock=clock,
        sleep=clock.sleep,
        jitter=lambda: 0.5,
    )


def calls_of(count: int, region: str = "us-west-2") -> list[PlannedCall]:
    return plan_calls([[session(f"{region}-{i}", chan=channel(region=region)) for i in range(count * 20)]])


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        ("403", False),
        ("404", False),
        ("400", False),
        ("429", True),
        ("500", True),
        ("503", True),
        (None, True),
        ("", True),
        ("Throttled", True),
        ("200", True),
    ],
)
def test_pair_error_codes_are_classified_by_status(code: str | None, retryable: bool) -> None:
    assert pair_error_is_retryable(code) is retryable


@pytest.mark.parametrize("rate", [0.5, 1.0, 2.0, 10.0])
def test_rate_limiter_keeps_every_window_of_the_service_within_any_quota(rate: float) -> None:
    """The batch quota's shares and the single-pair operation's 10 calls/s: one limiter, a rate apiece."""
    limiter = RateLimiter(rate)
    per_window = max(1, int(rate))
    # Slow calls among fast ones, and a slow one before a run of instant ones: the run must wait for its window.
    latencies = itertools.islice(itertools.cycle([0.3, 0.01, 0.8, 0.05, 0.01, 0.02, 0.5, *[0.0] * 11]), 180)
    now, starts, arrivals, fastest = 0.0, [], [], float("inf")
    for latency in latencies:
        now = max(now, limiter.ready_at())
        limiter.take(now)
        # As late as the limiter's model allows: a call slower than the fastest seen arrived late by the difference.
        fastest = min(fastest, latency)
        starts.append(now)
        arrivals.append(now + latency - fastest)
        limiter.observe(now, now + latency)
        now += latency  # one call at a time, as the Revoker and the CLI make them

    assert min(b - a for a, b in itertools.pairwise(starts)) >= SPACING_HEADROOM / rate - 1e-9
    arrivals.sort()
    assert min(later - earlier for earlier, later in zip(arrivals, arrivals[per_window:], strict=False)) > 1.0


def test_revoker_spaces_calls_at_the_instance_share_of_the_quota(clock: FakeClock) -> None:
    gateway = FakeGateway(clock=clock)

    report = revoker(gateway, clock, rate=1.0).run(calls_of(4), deadline=clock.now + 60)

    starts = [start for _, _, start in gateway.calls]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps == pytest.approx([SPACING_HEADROOM] * 3)
    assert len(report.revoked) == 80


def test_revoker_spaces_the_call_after_a_slow_one_from_its_latest_possible_arrival(clock: FakeClock) -> None:
    # A first call on a new connection is slow; it may have reached the service late.
    gateway = FakeGateway(clock=clock, durations=[0.3, 0.01, 0.01, 0.01])

    revoker(gateway, clock, rate=1.0).run(calls_of(4), deadline=clock.now + 60)

    starts = [start for _, _, start in gateway.calls]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps[0] == pytest.approx(SPACING_HEADROOM + 0.3)
    # Once the client has seen a fast call, calls as fast as that are spaced by the interval alone.
    assert gaps[1:] == pytest.approx([SPACING_HEADROOM] * 2)


def test_revoker_keeps_spacing_across_invocations(clock: FakeClock) -> None:
    gateway = FakeGateway(clock=clock)
    instance = revoker(gateway, clock, rate=1.0)

    instance.run(calls_of(1), deadline=clock.now + 60)
    instance.run(calls_of(1, "us-west-2"), deadline=clock.now + 60)

    assert gateway.calls[1][2] - gateway.calls[0][2] == pytest.approx(SPACING_HEADROOM)


def test_revoker_regions_do_not_wait_for_each_other(clock: FakeClock) -> None:
    gateway = FakeGateway(clock=clock)

    revoker(gateway, clock).run(calls_of(2, "us-west-2") + calls_of(2, "eu-west-1"), deadline=clock.now + 60)

    starts = sorted(start for _, _, start in gateway.calls)
    assert starts[-1] - starts[0] == pytest.approx(SPACING_HEADROOM)


def test_revoker_retries_a_throttled_call_then_it_is_accepted(clock: FakeClock) -> None:
    gateway = FakeGateway(script=[THROTTLED, THROTTLED], clock=clock)

    report = revoker(gateway, clock).run(calls_of(1), deadline=clock.now + 60)

    assert len(gateway.calls) == 3
    assert report.throttled_calls == 2
    assert len(report.revoked) == 20 and not report.failures


def test_revoker_leaves_pairs_retryable_after_bounded_attempts(clock: FakeClock) -> None:
    gateway = FakeGateway(default=SERVER, clock=clock)

    report = revoker(gateway, clock, attempts=3).run(calls_of(1), deadline=clock.now + 120)

    assert len(gateway.calls) == 3
    failure = next(iter(report.failures.values()))
    assert (failure.code, failure.retryable) == ("InternalServerException", True)
    assert "after 3 attempts" in failure.message
    assert len(report.failures) == 20


def test_revoker_does_not_retry_access_denied_within_the_invocation(clock: FakeClock) -> None:
    gateway = FakeGateway(default=DENIED, clock=clock)

    report = revoker(gateway, clock).run(calls_of(1), deadline=clock.now + 60)

    assert len(gateway.calls) == 1
    assert {(f.code, f.retryable) for f in report.failures.values()} == {("AccessDeniedException", True)}


def test_revoker_reports_per_pair_errors_and_revokes_the_rest(clock: FakeClock) -> None:
    gateway = FakeGateway(default=denied_pairs("us-west-2-3"), clock=clock)

    report = revoker(gateway, clock).run(calls_of(1), deadline=clock.now + 60)

    assert set(report.failures) == {(channel(), "us-west-2-3")}
    failure = report.failures[(channel(), "us-west-2-3")]
    assert (failure.code, failure.message, failure.retryable) == ("403", "not authorized", False)
    assert len(report.revoked) == 19


def test_revoker_splits_a_rejected_call_until_the_bad_pair_stands_alone(clock: FakeClock) -> None:
    bad = "us-west-2-13"

    def service(region: str, sessions: object) -> object:
        return INVALID if any(s.viewer_id == bad for s in sessions) else []

    gateway = FakeGateway(default=service, clock=clock)

    report = revoker(gateway, clock).run(calls_of(1), deadline=clock.now + 60)

    assert set(report.failures) == {(channel(), bad)}
    assert report.failures[(channel(), bad)].retryable is False
    assert len(report.revoked) == 19
    # 20 -> 10+10 -> 5+5 -> 2+3 -> 1+2 -> 1+1: one call per level on the bad side, two below the top.
    assert len(gateway.calls) <= 1 + 2 * 5


def test_revoker_does_not_start_a_call_that_cannot_finish_before_the_deadline(clock: FakeClock) -> None:
    gateway = FakeGateway(clock=clock)

    # Five calls at ~1 s apart, each needing 5 s of budget: only those starting by deadline - 5 s go.
    report = revoker(gateway, clock).run(calls_of(5), deadline=clock.now + 7.5)

    assert len(gateway.calls) == 3
    assert report.not_started_calls == 2
    not_started = [f for f in report.failures.values() if f.code == CODE_NOT_STARTED]
    assert len(not_started) == 40 and all(f.retryable for f in not_started)
    assert len(report.revoked) == 60


def test_revoker_keeps_the_last_error_when_time_runs_out_between_attempts(clock: FakeClock) -> None:
    gateway = FakeGateway(default=THROTTLED, clock=clock)

    report = revoker(gateway, clock, attempts=10).run(calls_of(1), deadline=clock.now + 9)

    failure = next(iter(report.failures.values()))
    assert failure.code == "ThrottlingException"
    assert "no time left" in failure.message
    assert all(start + 5.0 <= 1000.0 + 9 for _, _, start in gateway.calls)


def test_revoker_with_no_time_makes_no_call(clock: FakeClock) -> None:
    gateway = FakeGateway(clock=clock)

    report = revoker(gateway, clock).run(calls_of(2), deadline=clock.now + 1)

    assert gateway.calls == []
    assert len(report.failures) == 40


MALFORMED = CallFailed(CallErrorKind.MALFORMED, "MalformedResponse", "200 with a text/html body")


def test_revoker_retries_a_malformed_answer_after_a_backoff_as_a_server_error(clock: FakeClock) -> None:
    gateway = FakeGateway(script=[MALFORMED], clock=clock)

    report = revoker(gateway, clock).run(calls_of(1), deadline=clock.now + 60)

    assert len(gateway.calls) == 2
    assert gateway.calls[1][2] - gateway.calls[0][2] == pytest.approx(SPACING_HEADROOM)  # paced, backed off
    assert len(report.revoked) == 20 and not report.failures
    assert report.throttled_calls == 0


def test_revoker_leaves_the_pairs_of_a_malformed_answer_retryable_with_its_reason(clock: FakeClock) -> None:
    gateway = FakeGateway(default=MALFORMED, clock=clock)

    report = revoker(gateway, clock, attempts=3).run(calls_of(1), deadline=clock.now + 120)

    assert len(gateway.calls) == 3
    assert report.revoked == set()
    assert {(f.code, f.message, f.retryable) for f in report.failures.values()} == {
        ("MalformedResponse", "200 with a text/html body (after 3 attempts)", True)
    }
    assert len(report.failures) == 20


def test_a_malformed_answer_on_the_last_delivery_is_dead_lettered_with_its_reason(clock: FakeClock) -> None:
    """The whole path below the handler: revoke, then settle on the record's last attempt."""
    sessions = [session(f"v{i}") for i in range(3)]
    gateway = FakeGateway(default=MALFORMED, clock=clock)
    report = revoker(gateway, clock, attempts=2).run(plan_calls([sessions]), deadline=clock.now + 60)
    record = SourceRecord("m-1", receive_count=3, body="{}", intake=ValidRequest(sessions=tuple(sessions)))

    early = settle([replace(record, receive_count=1)], report.revoked, report.failures, max_receive_count=3)
    last = settle([record], report.revoked, report.failures, max_receive_count=3)

    assert early.verdicts["m-1"].retry and early.dead_letters == []
    assert not last.verdicts["m-1"].retry and last.verdicts["m-1"].revoked == 0
    (letter,) = last.dead_letters
    assert letter.code == "MalformedResponse" and letter.pairs == 3
    assert letter.attributes["ErrorMessage"] == "200 with a text/html body (after 2 attempts)"
    errors = json.loads(letter.body)["errors"]
    assert [(e["viewerId"], e["code"]) for e in errors] == [(f"v{i}", "MalformedResponse") for i in range(3)]
