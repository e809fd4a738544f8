"""Plan: merging across records, grouping by region, cutting calls of at most 20."""

from __future__ import annotations

import pytest

from ivs_revocation.plan import Admission, Scope, admit, bound_pairs, deployment_scope, plan_calls
from tests.unit.fakes import ACCOUNT, channel, session

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


# --- Scope: which pairs this deployment revokes, before any call ----------------------------------

SCOPE = Scope(accounts=(ACCOUNT,), regions=("us-west-2", "eu-west-1"))


def test_scope_passes_a_pair_of_an_allowed_account_and_region() -> None:
    assert SCOPE.problem(session("v")) is None
    assert SCOPE.problem(session("v", chan=channel(region="eu-west-1"))) is None


def test_scope_names_the_region_a_pair_is_refused_for() -> None:
    problem = SCOPE.problem(session("viewer-7", chan=channel(region="eu-west-3")))

    assert problem == "region eu-west-3 is not one this deployment revokes in (IVS_REGIONS: us-west-2,eu-west-1)"


def test_scope_names_the_account_a_pair_is_refused_for() -> None:
    problem = SCOPE.problem(session("viewer-7", chan=channel().replace(ACCOUNT, "999999999999")))

    assert problem == f"account 999999999999 is not one this deployment revokes in (accounts: {ACCOUNT})"


def test_deployment_scope_is_the_functions_account_and_the_regions_or_its_own() -> None:
    arn = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:revocation"

    assert deployment_scope(arn, ("us-west-2",)) == Scope((ACCOUNT,), ("us-west-2",))
    assert deployment_scope(arn, ()) == Scope((ACCOUNT,), ("eu-west-1",))
    with pytest.raises(ValueError, match="not a Lambda function ARN"):
        deployment_scope("revocation", ())


def test_admit_refuses_pairs_out_of_scope_before_bounding_the_others() -> None:
    far = [session(f"far{i}", chan=channel(region="ap-south-1")) for i in range(3)]
    near = [session(f"v{i}") for i in range(4)]

    admission = admit([far[0], *near[:2], far[1], session("v0", 5), *near[2:], far[2]], SCOPE, max_pairs=3)

    assert admission.to_call == (session("v0", 5), near[1], near[2])
    assert admission.beyond == (near[3],)
    assert [(s.viewer_id, problem.split(" is ")[0]) for s, problem in admission.refused] == [
        ("far0", "region ap-south-1"),
        ("far1", "region ap-south-1"),
        ("far2", "region ap-south-1"),
    ]


def test_admit_without_a_bound_calls_every_pair_in_scope_once() -> None:
    admission = admit([session("a", 1), session("b"), session("a", 3)], SCOPE)

    assert admission == Admission((session("a", 3), session("b")))
