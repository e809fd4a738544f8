"""Plan: the pairs of every record of an invocation become as few API calls as the API allows.

First each message's pairs are admitted (`admit`): those outside the deployment's scope (`Scope`) are
refused before any call, and the urgent lane keeps only the first pairs of each message for itself
(`bound_pairs`). Then the bulk lane cuts calls of MAX_SESSIONS_PER_CALL
(BatchStartViewerSessionRevocation), the urgent lane calls of 1 (StartViewerSessionRevocation).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ivs_revocation import names
from ivs_revocation.models import MAX_SESSIONS_PER_CALL, PairKey, ViewerSession

_Item = TypeVar("_Item")
_Key = TypeVar("_Key", bound=Hashable)


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One call: its pairs share one account and one region (the quota it counts against, the
    credentials and the endpoint it is sent with)."""

    region: str
    sessions: tuple[ViewerSession, ...]

    @property
    def account(self) -> str:
        return self.sessions[0].account

    @property
    def quota(self) -> tuple[str, str]:
        """(account, region): IVS's quotas are per account and region."""
        return self.account, self.region


def merge_sessions(sessions: Iterable[ViewerSession]) -> dict[PairKey, ViewerSession]:
    """One session per (channel, viewer), the highest version: revoking "<= v" covers every lower v."""
    highest: dict[PairKey, ViewerSession] = {}
    for session in sessions:
        current = highest.get(session.key)
        if current is None or session.version > current.version:
            highest[session.key] = session
    return highest


@dataclass(frozen=True, slots=True)
class Scope:
    """Where this deployment revokes: the accounts and the regions a pair's channel ARN may name.

    A pair outside it is refused before any call (outcomes.out_of_scope). IAM would refuse its call
    anyway, and a client and a rate limiter kept for every region a producer names would cost memory
    without bound. The accounts are the function's own and its member accounts (IVS_ACCOUNTS).
    """

    accounts: tuple[str, ...]
    regions: tuple[str, ...]

    def problem(self, session: ViewerSession) -> str | None:
        """Why `session` is outside the scope, naming the region or account (never the viewer), or None."""
        region = session.region
        if region not in self.regions:
            allowed = ",".join(self.regions)
            return f"region {region} is not one this deployment revokes in ({names.ENV_IVS_REGIONS}: {allowed})"
        account = session.account
        if account not in self.accounts:
            return f"account {account} is not one this deployment revokes in (accounts: {', '.join(self.accounts)})"
        return None


def deployment_scope(function_arn: str, regions: Sequence[str], member_accounts: Sequence[str] = ()) -> Scope:
    """The scope of the function invoked as `function_arn` (arn:aws:lambda:REGION:ACCOUNT:function:NAME):
    its own account and `member_accounts` (IVS_ACCOUNTS), and `regions` (IVS_REGIONS), else its own region."""
    parts = function_arn.split(":")
    if len(parts) < 7 or parts[:3] != ["arn", "aws", "lambda"] or not parts[3] or not parts[4].isdigit():
        raise ValueError(f"not a Lambda function ARN: {function_arn!r}")
    accounts = tuple(dict.fromkeys((parts[4], *member_accounts)))
    return Scope(accounts=accounts, regions=tuple(regions) or (parts[3],))


@dataclass(frozen=True, slots=True)
class Admission:
    """One valid message's pairs, each once (merged as `merge_sessions` does): those its lane calls,
    those refused before any call with the reason, and those beyond the lane's bound."""

    to_call: tuple[ViewerSession, ...]
    refused: tuple[tuple[ViewerSession, str], ...] = ()
    beyond: tuple[ViewerSession, ...] = ()


def admit(sessions: Iterable[ViewerSession], scope: Scope, max_pairs: int | None = None) -> Admission:
    """What becomes of one message's pairs before any call. `max_pairs`: the most its lane sends
    itself (None: all); a refused pair costs no call, so only the pairs in scope count against it."""
    in_scope: list[ViewerSession] = []
    refused: list[tuple[ViewerSession, str]] = []
    # A scope depends on the channel alone, and a message's pairs share a few channels.
    by_channel: dict[str, str | None] = {}
    for session in merge_sessions(sessions).values():
        channel = session.channel_arn
        if channel not in by_channel:
            by_channel[channel] = scope.problem(session)
        problem = by_channel[channel]
        if problem is None:
            in_scope.append(session)
        else:
            refused.append((session, problem))
    if max_pairs is None:
        return Admission(tuple(in_scope), tuple(refused))
    kept, rest = bound_pairs(in_scope, max_pairs)
    return Admission(kept, tuple(refused), rest)


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
    items: Iterable[_Item], region_of: Callable[[_Item], _Key], size: int = MAX_SESSIONS_PER_CALL
) -> dict[_Key, list[tuple[_Item, ...]]]:
    """The cutting rule: items grouped by where their call must go (`region_of`: a channel ARN names the
    region whose endpoint is called, and the account whose credentials call it), in the order they
    came, each group cut into calls of at most `size` (the operation's pairs per call). Groups are in
    the order they first appear."""
    if not 1 <= size <= MAX_SESSIONS_PER_CALL:
        raise ValueError(f"a call holds 1 to {MAX_SESSIONS_PER_CALL} pairs (got {size})")
    by_region: dict[_Key, list[_Item]] = {}
    for item in items:
        by_region.setdefault(region_of(item), []).append(item)
    return {
        region: [tuple(queued[start : start + size]) for start in range(0, len(queued), size)]
        for region, queued in by_region.items()
    }


def plan_calls(
    requests: Iterable[Iterable[ViewerSession]], pairs_per_call: int = MAX_SESSIONS_PER_CALL
) -> list[PlannedCall]:
    """Merges all requests, groups by the channel's account and region (a call never mixes accounts:
    each is sent with its account's credentials), and cuts calls of at most `pairs_per_call`.

    Sessions keep the order they arrived in, so that when time runs out it is the newest records
    that are left for SQS to deliver again.
    """
    merged = merge_sessions(session for sessions in requests for session in sessions)
    return [
        PlannedCall(region, sessions)
        for (_, region), calls in cut_calls(
            merged.values(), lambda session: (session.account, session.region), pairs_per_call
        ).items()
        for sessions in calls
    ]
