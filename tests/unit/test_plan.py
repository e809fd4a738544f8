"""Plan: merging across records, grouping by region, cutting calls of at most 20."""

from __future__ import annotations

import pytest

from revocation.plan import bound_pairs, plan_calls
from tests.unit.fakes import channel, session

pytestmark = pytest.mark.unit


def test_plan_turns_1000_one_pair_records_into_50_calls() -> None:
    records = [[session(f"viewer-{i}")] for i in range(1000)]

    calls = plan_calls(records)

    assert len(calls) == 50
    assert all(len(call.sessions) == 20 for call in calls)


def test_plan_drops_exact_duplicates_across_records() -> None:
    calls = plan_calls([[session("v", 3)], [session("v", 3)], [session("v", 3), session("w")]])

    assert [(s.viewer_id, s.version) for call in calls for s in call.sessions] == [("v", 3), ("w", 0)]


def test_plan_merges_repeated_pair_keeping_highest_version() -> None:
    calls = plan_calls([[session("v", 3)], [session("v", 9)], [session("v", 5)]])

    assert [(s.viewer_id, s.version) for call in calls for s in call.sessions] == [("v", 9)]


def test_plan_keeps_same_viewer_on_different_channels_apart() -> None:
    calls = plan_calls([[session("v", chan=channel("one")), session("v", chan=channel("two"))]])

    assert len(calls[0].sessions) == 2


def test_plan_groups_by_the_region_in_the_channel_arn() -> None:
    west = [session(f"w{i}", chan=channel(region="us-west-2")) for i in range(25)]
    east = [session(f"e{i}", chan=channel(region="eu-west-1")) for i in range(3)]

    calls = plan_calls([west[:10], east, west[10:]])

    assert [(call.region, len(call.sessions)) for call in calls] == [
        ("us-west-2", 20),
        ("us-west-2", 5),
        ("eu-west-1", 3),
    ]


def test_plan_of_nothing_is_no_call() -> None:
    assert plan_calls([]) == []


def test_plan_cuts_41_distinct_pairs_into_20_20_1() -> None:
    calls = plan_calls([[session(f"v{i}") for i in range(41)]])

    assert [len(call.sessions) for call in calls] == [20, 20, 1]


def test_plan_cuts_calls_of_one_pair_for_the_single_operation() -> None:
    calls = plan_calls([[session("v"), session("w")], [session("v", 4)]], pairs_per_call=1)

    assert [[(s.viewer_id, s.version) for s in call.sessions] for call in calls] == [[("v", 4)], [("w", 0)]]


def test_plan_refuses_a_call_size_the_api_does_not_take() -> None:
    with pytest.raises(ValueError, match="1 to 20"):
        plan_calls([[session("v")]], pairs_per_call=21)


def test_bound_pairs_keeps_the_first_distinct_pairs_and_returns_the_rest() -> None:
    kept, rest = bound_pairs([session("a", 1), session("b"), session("a", 3), session("c"), session("d")], 2)

    assert [(s.viewer_id, s.version) for s in kept] == [("a", 3), ("b", 0)]
    assert [s.viewer_id for s in rest] == ["c", "d"]
    assert bound_pairs([session("a")], 10) == ((session("a"),), ())
