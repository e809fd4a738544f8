"""The IVS emulator's quota: a call counts when it arrives, whatever order its handling reaches the quota in."""

from __future__ import annotations

import json
import time

from hypothesis import given
from hypothesis import strategies as st

from local.ivs_emulator.service import BATCH_OPERATION, IvsService, SlidingWindowQuota

KEY = ("111111111111", "us-west-2")
CHANNEL = "arn:aws:ivs:us-west-2:111111111111:channel/abcdEFGH1234"


def _windows_hold(arrivals: list[float], limit: int) -> bool:
    ordered = sorted(arrivals)
    return all(ordered[i + limit] - ordered[i] >= 1.0 for i in range(len(ordered) - limit))


@given(
    limit=st.integers(1, 4),
    arrivals=st.lists(st.floats(0, 5, allow_nan=False).map(lambda t: round(t, 2)), max_size=30),
)
def test_no_window_of_a_second_ever_holds_more_than_the_limit_whatever_the_order(
    limit: int, arrivals: list[float]
) -> None:
    quota = SlidingWindowQuota(limit)
    admitted = [arrival for arrival in arrivals if quota.admit(KEY, arrival)]
    assert _windows_hold(admitted, limit)
    # Each refusal was needed: admitting that call beside those admitted by then would break a window.
    so_far: list[float] = []
    for arrival in arrivals:
        if arrival in admitted and so_far.count(arrival) < admitted.count(arrival):
            so_far.append(arrival)
        else:
            assert not _windows_hold([*so_far, arrival], limit)


@given(limit=st.integers(1, 4), gaps=st.lists(st.floats(0, 1.5, allow_nan=False), max_size=30))
def test_in_arrival_order_it_is_the_plain_sliding_window(limit: int, gaps: list[float]) -> None:
    quota = SlidingWindowQuota(limit)
    now = 0.0
    admitted: list[float] = []
    expected: list[float] = []
    for gap in gaps:
        now += gap
        if quota.admit(KEY, now):
            admitted.append(now)
        if len([t for t in expected if now - t < 1.0]) < limit:
            expected.append(now)
    assert admitted == expected


def _signed(access_key: str) -> dict[str, str]:
    return {
        "authorization": (
            f"AWS4-HMAC-SHA256 Credential={access_key}/20261207/us-west-2/ivs/aws4_request, "
            "SignedHeaders=host, Signature=0"
        )
    }


def test_a_call_whose_account_takes_long_to_resolve_counts_from_its_arrival() -> None:
    """Regression: the quota was taken after the account was resolved (by STS, which under load took
    longer than the caller waited), so the caller's next call, a second after the first was sent,
    found the first still in its window and was throttled."""
    service = IvsService(tps=1)
    # When the slow key's resolution began: after the first call arrived, so its arrival is earlier.
    resolving_since: list[float] = []

    def resolve(access_key: str) -> str:
        if access_key == "ASIASLOW":
            resolving_since.append(time.monotonic())
            time.sleep(0.6)
        return KEY[0]

    service.resolve_accounts(resolve)
    body = json.dumps({"viewerSessions": [{"channelArn": CHANNEL, "viewerId": "v"}]}).encode()
    first = service.handle("POST", f"/{BATCH_OPERATION}", _signed("ASIASLOW"), body)
    [since] = resolving_since
    # Over a second after the first arrived, within a second of when its account was known.
    time.sleep(max(0.0, since + 1.05 - time.monotonic()))
    second = service.handle("POST", f"/{BATCH_OPERATION}", _signed("ASIAFAST"), body)
    assert (first.status, second.status) == (200, 200)
    assert service.ledger().calls_throttled == 0
