"""Plan: the pairs of every record of an invocation become as few API calls as the API allows."""

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


def cut_calls(items: Iterable[_Item], region_of: Callable[[_Item], str]) -> dict[str, list[tuple[_Item, ...]]]:
    """The cutting rule: items grouped by the region their call must go to (a channel ARN names the
    region whose endpoint is called), in the order they came, each region's cut into calls of at most
    MAX_SESSIONS_PER_CALL. Regions are in the order they first appear."""
    by_region: dict[str, list[_Item]] = {}
    for item in items:
        by_region.setdefault(region_of(item), []).append(item)
    return {
        region: [
            tuple(queued[start : start + MAX_SESSIONS_PER_CALL])
            for start in range(0, len(queued), MAX_SESSIONS_PER_CALL)
        ]
        for region, queued in by_region.items()
    }


def plan_calls(requests: Iterable[Iterable[ViewerSession]]) -> list[PlannedCall]:
    """Merges all requests, groups by the channel's region, and cuts calls of at most 20 sessions.

    Sessions keep the order they arrived in, so that when time runs out it is the newest records
    that are left for SQS to deliver again.
    """
    merged = merge_sessions(session for sessions in requests for session in sessions)
    return [
        PlannedCall(region, sessions)
        for region, calls in cut_calls(merged.values(), lambda session: session.region).items()
        for sessions in calls
    ]
