"""Plan: the pairs of every record of an invocation become as few API calls as the API allows.

The bulk lane cuts calls of MAX_SESSIONS_PER_CALL (BatchStartViewerSessionRevocation); the urgent lane
calls of 1 (StartViewerSessionRevocation), and sends only the first pairs of each message itself
(`bound_pairs`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from revocation.models import MAX_SESSIONS_PER_CALL, PairKey, ViewerSession

_Item = TypeVar("_Item")


@dataclass(frozen=True, slots=True)
class PlannedCall:
    region: str
    sessions: tuple[ViewerSession, ...]


def merge_sessions(sessions: Iterable[ViewerSession]) -> dict[PairKey, ViewerSession]:
    """One session per (channel, viewer), the highest version: revoking "<= v" covers every lower v."""
    highest: dict[PairKey, ViewerSession] = {}
    for session in sessions:
        current = highest.get(session.key)
        if current is None or session.version > current.version:
            highest[session.key] = session
    return highest


def bound_pairs(
    sessions: Iterable[ViewerSession], max_pairs: int
) -> tuple[tuple[ViewerSession, ...], tuple[ViewerSession, ...]]:
    """One message's pairs, each once (merged as `merge_sessions` does), split into the first
    `max_pairs`, which its lane sends, and the rest, which go on to another lane."""
    if max_pairs < 1:
        raise ValueError("a message's bound must be at least 1 pair")
    merged = tuple(merge_sessions(sessions).values())
    return merged[:max_pairs], merged[max_pairs:]


def cut_calls(
    items: Iterable[_Item], region_of: Callable[[_Item], str], size: int = MAX_SESSIONS_PER_CALL
) -> dict[str, list[tuple[_Item, ...]]]:
    """The cutting rule: items grouped by the region their call must go to (a channel ARN names the
    region whose endpoint is called), in the order they came, each region's cut into calls of at most
    `size` (the operation's pairs per call). Regions are in the order they first appear."""
    if not 1 <= size <= MAX_SESSIONS_PER_CALL:
        raise ValueError(f"a call holds 1 to {MAX_SESSIONS_PER_CALL} pairs (got {size})")
    by_region: dict[str, list[_Item]] = {}
    for item in items:
        by_region.setdefault(region_of(item), []).append(item)
    return {
        region: [tuple(queued[start : start + size]) for start in range(0, len(queued), size)]
        for region, queued in by_region.items()
    }


def plan_calls(
    requests: Iterable[Iterable[ViewerSession]], pairs_per_call: int = MAX_SESSIONS_PER_CALL
) -> list[PlannedCall]:
    """Merges all requests, groups by the channel's region, and cuts calls of at most `pairs_per_call`.

    Sessions keep the order they arrived in, so that when time runs out it is the newest records
    that are left for SQS to deliver again.
    """
    merged = merge_sessions(session for sessions in requests for session in sessions)
    return [
        PlannedCall(region, sessions)
        for region, calls in cut_calls(merged.values(), lambda session: session.region, pairs_per_call).items()
        for sessions in calls
    ]
