"""Many accounts: a backlog spread evenly over four accounts in one region drains at four quotas.

The local stack (bulk lane, cdk.json's mapping) runs with three member accounts (memberAccounts): the
function assumes each member's role on moto's STS, and the IVS emulator keeps a quota per (account,
region, operation), attributing each call to the account of its credentials (local/accounts.py). The
backlog's messages each hold one pair of each of the four accounts (a wave spread evenly): a batch of
200 records (cdk.json) is 200 pairs of each account, ten full calls each, which an instance makes at its
share of each account's quota (1 call/s) in about 10 s.

Two runs:
- `four`: the four accounts. Bound: 4 x 2 calls/s x 20 pairs = 160 pairs/s.
- `roleless`: the same four, plus a fifth account listed in IVS_ACCOUNTS whose role does not exist
  (its AssumeRole is refused), with as many pairs, in messages of its own (a tenant's producer) after
  each message of the four. Its records are retried by SQS; the run ends when
  the four accounts' pairs are all revoked. Its figure is the four accounts' rate, against `four`'s.

Rates follow the drain section's method (`drain.rate_figures`), per account and together: pairs in
accepted calls, less each account's first second's calls, over the time from the first accepted call
to the last. `--quick` compresses time as the drain does: quota and per-instance rate doubled.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT
from benchmarks.sections.drain import FULL_QUOTA, dead_lettered, rate_figures
from benchmarks.sections.section import Figures, Row, Section, markdown_table, verdict
from benchmarks.workload import ACCOUNT, PAIRS_PER_CALL, REGION
from ivs_revocation import names

MEMBERS = ("111111111111", "222222222222", "333333333333")
ACCOUNTS = (ACCOUNT, *MEMBERS)
# Listed in IVS_ACCOUNTS in the `roleless` run, with no role in it.
ROLELESS = "555555555555"
DEFAULT_PAIRS = 6400
QUICK_PAIRS = 6400
TARGET_RATIO = 0.95
PROGRESS_SECONDS = 5.0


def run(*, pairs: int | None, quick: bool, progress: Callable[[str], None]) -> dict[str, Any]:
    """Both runs; `pairs` is the four accounts' total (split evenly)."""
    scale = 2 if quick else 1
    quota = FULL_QUOTA * scale
    total = pairs or (QUICK_PAIRS if quick else DEFAULT_PAIRS)
    result: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "time_scale": scale,
        "accounts": list(ACCOUNTS),
        "quota_calls_per_second_per_account": quota,
        "bound_pairs_per_second": len(ACCOUNTS) * quota * PAIRS_PER_CALL,
        "pairs": total,
        "runs": {},
    }
    for name, extra in (("four", ()), ("roleless", (ROLELESS,))):
        figures = _run(name, total, extra, quota, scale, progress)
        result["runs"][name] = figures
        progress(
            f"accounts {name}: {figures['sustained_pairs_per_second']:.1f} pairs/s over {len(ACCOUNTS)} accounts "
            f"({figures['ratio_to_bound']:.3f} of the bound), {figures['calls_throttled']} throttled, "
            f"lost {figures['pairs_lost']}"
        )
    four, roleless = result["runs"]["four"], result["runs"]["roleless"]
    result["roleless_over_four"] = roleless["sustained_pairs_per_second"] / four["sustained_pairs_per_second"]
    return result


def _backlog(total: int, extra: tuple[str, ...]) -> tuple[list[list[dict[str, Any]]], dict[tuple[str, str], str]]:
    """Messages of one pair of each of ACCOUNTS (a wave spread evenly: every batch holds as many pairs of
    each), and, after each, a message of as many pairs of each `extra` account; each pair's account."""
    messages: list[list[dict[str, Any]]] = []
    owner: dict[tuple[str, str], str] = {}

    def pair(account: str, index: int) -> dict[str, Any]:
        arn = f"arn:aws:ivs:{REGION}:{account}:channel/bench{index % 16:04d}"
        owner[arn, f"viewer-{index:07d}"] = account
        return {"channelArn": arn, "viewerId": f"viewer-{index:07d}"}

    for index in range(total // len(ACCOUNTS)):
        messages.append([pair(account, index) for account in ACCOUNTS])
        messages += [[pair(account, index * len(ACCOUNTS) + k) for k in range(len(ACCOUNTS))] for account in extra]
    return messages, owner


def _run(
    name: str, total: int, extra: tuple[str, ...], quota: int, scale: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    from infra.settings import DeploySettings
    from local.ivs_emulator import IvsEmulator
    from local.stack import LocalStack

    settings = DeploySettings.from_cdk_json(
        overrides={"memberAccounts": list(MEMBERS), "ivsRegions": [REGION], "stackName": f"Accounts{name.title()}"}
    )
    messages, owner = _backlog(total, extra)
    wanted = {key for key, account in owner.items() if account in ACCOUNTS}
    environment = {names.ENV_IVS_CALLS_PER_SECOND: repr(settings.ivs_calls_per_second * scale)}
    if extra:
        environment[names.ENV_IVS_ACCOUNTS] = ",".join([*MEMBERS, *extra])
    log_dir = Path(tempfile.mkdtemp(prefix=f"bench-accounts-{name}-"))
    with (
        IvsEmulator(tps=quota) as emulator,
        LocalStack(
            settings,
            region=REGION,
            ivs=emulator,
            start_function=False,
            lanes=(names.LANE_BULK,),
            environment=environment,
            python_path=[str(ROOT)],
            log_dir=log_dir,
        ) as stack,
    ):
        progress(f"accounts {name}: sending {len(messages)} messages ({len(owner)} pairs)")
        stack.send(*messages)
        emulator.reset()
        started = time.time()
        stack.start_function()
        cap = len(wanted) / (len(ACCOUNTS) * quota * PAIRS_PER_CALL) * 4 + 120
        next_report = time.time() + PROGRESS_SECONDS
        while not wanted <= set(emulator.ledger().revoked):
            if time.time() - started > cap:
                break
            if time.time() >= next_report:
                ledger = emulator.ledger()
                progress(
                    f"accounts {name}: {time.time() - started:5.0f} s, {len(wanted & set(ledger.revoked))}/"
                    f"{len(wanted)} pairs revoked, {ledger.calls_accepted} calls (+{ledger.calls_throttled} throttled)"
                )
                next_report += PROGRESS_SECONDS
            # Seldom: a ledger snapshot holds the emulator's lock, which every IVS call of the run waits on.
            time.sleep(1.0)
        elapsed = time.time() - started
        stack.stop_function(timeout=0)
        ledger = emulator.ledger()
        held = dead_lettered(stack.dead_letters())
    calls_by_account: dict[str, list[tuple[float, int]]] = {}
    for call in ledger.accepted_calls:
        calls_by_account.setdefault(call.account, []).append((call.at, call.pairs))
    healthy = sorted(
        (at, pairs)
        for account in ACCOUNTS
        for at, pairs in sorted(calls_by_account.get(account, []))[quota:]  # each account's first second out
    )
    every = sorted(call for account in ACCOUNTS for call in calls_by_account.get(account, []))
    span = every[-1][0] - every[0][0] if len(every) > 1 else 0.0
    rate = sum(pairs for _, pairs in healthy) / span if span > 0 else 0.0
    return {
        "elapsed_seconds": elapsed,
        "sustained_seconds": span,
        "sustained_pairs_per_second": rate,
        "ratio_to_bound": rate / (len(ACCOUNTS) * quota * PAIRS_PER_CALL),
        "calls_accepted": ledger.calls_accepted,
        "calls_throttled": ledger.calls_throttled,
        "calls_denied": ledger.calls_denied,
        "pairs": len(wanted),
        "pairs_revoked": len(wanted & set(ledger.revoked)),
        "pairs_lost": sum(1 for key in wanted if key not in ledger.revoked and key not in held),
        "pairs_revoked_not_listed": sum(1 for key in ledger.revoked if owner.get(key) not in ACCOUNTS),
        "calls_mixing_accounts": sum(1 for call in ledger.accepted_calls if call.channel_accounts != (call.account,)),
        "roleless_pairs_dead_lettered": sum(1 for key, account in owner.items() if account in extra and key in held),
        "by_account": {
            account: {
                "calls": len(calls_by_account.get(account, [])),
                **rate_figures(sorted(calls_by_account.get(account, [])), quota),
            }
            for account in (*ACCOUNTS, *extra)
        },
        "log_dir": str(log_dir),
    }


def rows(accounts: Figures) -> list[Row]:
    bound = accounts["bound_pairs_per_second"]
    four, roleless = accounts["runs"]["four"], accounts["runs"]["roleless"]
    ratio = accounts["roleless_over_four"]
    note = "time-compressed x2 (--quick)" if accounts["time_scale"] > 1 else ""
    return [
        Row(
            figure=f"drain over {len(accounts['accounts'])} accounts, one region (pairs/s)",
            value=f"{four['sustained_pairs_per_second']:.1f} ({four['ratio_to_bound']:.3f} x {bound:g})",
            target=f">= {TARGET_RATIO} x {bound:g}",
            verdict=verdict(four["ratio_to_bound"] >= TARGET_RATIO),
            note=note,
        ),
        Row(
            figure="throttled calls, 4 accounts (and with a roleless 5th)",
            value=f"{four['calls_throttled']} ({roleless['calls_throttled']})",
            target="0",
            verdict=verdict(four["calls_throttled"] == 0 and roleless["calls_throttled"] == 0),
        ),
        Row(
            figure="lost pairs, 4 accounts (and with a roleless 5th)",
            value=f"{four['pairs_lost']} ({roleless['pairs_lost']})",
            target="0",
            verdict=verdict(four["pairs_lost"] == 0 and roleless["pairs_lost"] == 0),
        ),
        Row(
            figure="4 accounts' rate beside a 5th whose role cannot be assumed (x without it)",
            value=f"{ratio:.3f} ({roleless['sustained_pairs_per_second']:.1f} pairs/s)",
            target=f">= {TARGET_RATIO}",
            verdict=verdict(ratio >= TARGET_RATIO),
            note=note,
        ),
    ]


def details(accounts: Figures) -> list[str]:
    lines = [
        f"Backlog: {accounts['pairs']} pairs, a message holding one pair of each of the own account and "
        f"{len(MEMBERS)} members in {REGION}; quota {accounts['quota_calls_per_second_per_account']} calls/s per "
        f"account (bound {accounts['bound_pairs_per_second']:g} pairs/s); mode {accounts['mode']}.",
        "",
    ]
    rows_: list[list[str]] = []
    for name, run_ in accounts["runs"].items():
        for account, figures in run_["by_account"].items():
            rows_.append(
                [
                    name,
                    account,
                    str(figures["calls"]),
                    f"{figures.get('sustained_pairs_per_second', 0):.1f}",
                    f"{figures.get('ratio_to_bound', 0):.3f}",
                ]
            )
        rows_.append(
            [
                name,
                "together",
                str(run_["calls_accepted"]),
                f"{run_['sustained_pairs_per_second']:.1f}",
                f"{run_['ratio_to_bound']:.3f}",
            ]
        )
    lines += markdown_table("run | account | calls | pairs/s | x its bound", rows_)
    roleless = accounts["runs"]["roleless"]
    lines += [
        "",
        f"In the roleless run, {roleless['calls_denied']} calls were denied by the emulator, "
        f"{roleless['pairs_revoked_not_listed']} pairs of the roleless account were revoked, and no call mixed "
        f"accounts ({roleless['calls_mixing_accounts']}); its records stay with SQS (retried after the visibility "
        "timeout, dead-lettered with AccessDenied on their last attempt).",
    ]
    return lines


SECTION = Section(name="accounts", title="Many accounts", rows=rows, details=details)
