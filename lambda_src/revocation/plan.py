"""Plan: the pairs of every record of an invocation become as few API calls as the API allows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from revocation.models import MAX_SESSIONS_PER_CALL, ViewerSession


@dataclass(frozen=True, slots=True)
class PlannedCall:
    region: str
    sessions: tuple[ViewerSession, ...]


def merge_sessions(sessions: Iterable[ViewerSession]) -> dict[tuple[str, str], ViewerSession]:
    """One session per (channel, viewer), the highest version: revoking "<= v" covers every lower v."""
    highest: dict[tuple[str, str], ViewerSession] = {}
    for session in sessions:
        current = highest.get(session.key)
        if current is None or session.version > current.version:
            highest[session.key] = session
    return highest


def plan_calls(requests: Iterable[Iterable[ViewerSession]]) -> list[PlannedCall]:
    """Merges all requests, groups by the channel's region, and cuts calls of at most 20 sessions.

    Sessions keep the order they arrived in, so that when time runs out it is the newest records
    that are left for SQS to deliver again.
    """
    merged = merge_sessions(session for sessions in requests for session in sessions)
    by_region: dict[str, list[ViewerSession]] = {}
    for session in merged.values():
        by_region.setdefault(session.region, []).append(session)
    return [
        PlannedCall(region, tuple(sessions[start : start + MAX_SESSIONS_PER_CALL]))
        for region, sessions in by_region.items()
        for start in range(0, len(sessions), MAX_SESSIONS_PER_CALL)
    ]
