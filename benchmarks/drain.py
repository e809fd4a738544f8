"""Drain rate: a backlog through the local stack at the IVS quota, for the function and the peer.

The local stack (local/stack.py) runs moto's SQS, the IVS emulator enforcing the quota (a sliding
one-second window per account and region), and the event source mapping runner with the deploy
settings' batch size, batching window and maximum concurrency, each instance a process of its own
running the handler. The queue is filled first (SendMessageBatch), then the mapping starts.

Figures come from the emulator's ledger, the service's side of the story:
- sustained rate: pairs in accepted calls after the first one, over the time from the first accepted
  call to the last (the mapping's cold starts come before the first call, so they are excluded), and
  its ratio to the bound (quota x 20 pairs per call);
- distinct pairs revoked per second over the same time (repeats merged by the function cost nothing);
- throttled calls, and their share of all calls that reached the emulator;
- lost pairs: distinct pairs neither revoked at their highest version nor in the dead-letter queue
  with it. Only meaningful once the queue is drained; a run cut at its time cap reports what was still
  unsettled instead.

`--quick` compresses time: the emulator's quota and the function's per-instance rate are both doubled,
the most the function's settings allow (IVS_CALLS_PER_SECOND is refused above 2, the API's own quota).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT
from benchmarks.workload import PAIRS_PER_CALL, REGION, Backlog, make_backlog

PRODUCT_HANDLER = "revocation.handler.lambda_handler"
PEER_HANDLER = "benchmarks.peer.handler.lambda_handler"
FULL_QUOTA = 2
PROGRESS_SECONDS = 5.0


def run(
    *,
    pairs: int,
    mix: str,
    quick: bool,
    peer_cap_seconds: float,
    progress: Callable[[str], None],
    targets: Iterable[str] = ("product", "peer"),
) -> dict[str, Any]:
    from infra.settings import DeploySettings

    settings = DeploySettings.from_cdk_json()
    scale = 2 if quick else 1
    quota = FULL_QUOTA * scale
    backlog = make_backlog(mix, pairs)
    result: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "time_scale": scale,
        "quota_calls_per_second": quota,
        "bound_pairs_per_second": quota * PAIRS_PER_CALL,
        "mix": mix,
        "messages": len(backlog.bodies),
        "pair_entries": backlog.entries,
        "unique_pairs": backlog.unique_pairs,
        "batch_size": settings.batch_size,
        "batching_window_seconds": settings.max_batching_window_seconds,
        "max_concurrency": settings.max_concurrency,
        "per_instance_calls_per_second": settings.ivs_calls_per_second * scale,
        "floor_calls_backlog": backlog.floor_calls(),
        "floor_calls_per_batch": backlog.floor_calls(settings.batch_size),
    }
    for target in targets:
        handler = PRODUCT_HANDLER if target == "product" else PEER_HANDLER
        # The peer never ends on its own at this quota (throttled records come back only after the
        # visibility timeout), so its run stops at a cap; the function's runs until drained.
        cap = peer_cap_seconds if target == "peer" else _expected_seconds(backlog, quota) * 4 + 120
        result[target] = _drain(settings, backlog, handler, quota, scale, cap, progress, target)
    return result


def _expected_seconds(backlog: Backlog, quota: int) -> float:
    return backlog.floor_calls() / quota


def _drain(
    settings: Any,
    backlog: Backlog,
    handler: str,
    quota: int,
    scale: int,
    cap_seconds: float,
    progress: Callable[[str], None],
    label: str,
) -> dict[str, Any]:
    from local.ivs_emulator import IvsEmulator
    from local.stack import LocalStack

    log_dir = Path(tempfile.mkdtemp(prefix=f"bench-drain-{label}-"))
    environment = {"IVS_CALLS_PER_SECOND": repr(settings.ivs_calls_per_second * scale)}
    with contextlib.ExitStack() as stack_of:
        emulator = stack_of.enter_context(IvsEmulator(tps=quota))
        stack = stack_of.enter_context(
            LocalStack(
                settings,
                region=REGION,
                ivs=emulator,
                handler=handler,
                start_function=False,
                environment=environment,
                python_path=[str(ROOT)],
                log_dir=log_dir,
            )
        )
        progress(f"drain {label}: sending {len(backlog.bodies)} messages ({backlog.entries} pairs)")
        stack.send(*backlog.bodies)
        emulator.reset()
        progress(f"drain {label}: starting the mapping ({settings.max_concurrency} instances)")
        started = time.time()
        stack.start_function()
        polling = time.time()
        drained, elapsed = _watch(stack, emulator, backlog, cap_seconds, started, progress, label)
        stack.stop_function()
        ledger = emulator.ledger()
        runner = stack.runner.stats if stack.runner else None
        dead_letters = stack.dead_letters()
        counts = stack.queue_counts()
    return _figures(
        backlog, ledger, dead_letters, counts, runner, quota, started, polling, drained, elapsed, cap_seconds, log_dir
    )


def _watch(
    stack: Any,
    emulator: Any,
    backlog: Backlog,
    cap_seconds: float,
    started: float,
    progress: Callable[[str], None],
    label: str,
) -> tuple[bool, float]:
    """Waits until the queue is empty and the function idle, or the cap; prints progress meanwhile."""
    next_report = time.time() + PROGRESS_SECONDS
    while True:
        elapsed = time.time() - started
        counts = stack.queue_counts()
        if not any(counts.values()) and stack.runner.in_flight == 0:
            return True, elapsed
        if elapsed > cap_seconds:
            return False, elapsed
        if time.time() >= next_report:
            ledger = emulator.ledger()
            progress(
                f"drain {label}: {elapsed:5.0f} s, {len(ledger.revoked)}/{backlog.unique_pairs} pairs revoked, "
                f"{ledger.calls_accepted} calls (+{ledger.calls_throttled} throttled), "
                f"queue {counts.get('Messages', 0)} waiting / {counts.get('MessagesNotVisible', 0)} in flight"
            )
            next_report += PROGRESS_SECONDS
        time.sleep(0.2)


def _dead_lettered(entries: Iterable[Any]) -> dict[tuple[str, str], int]:
    """The pairs the dead-letter queue holds, by highest version: function-written or moved bare."""
    held: dict[tuple[str, str], int] = {}
    for entry in entries:
        try:
            body = json.loads(entry.body)
        except ValueError:
            continue
        if isinstance(body, dict) and "viewerSessions" in body:
            sessions = body["viewerSessions"]
        elif isinstance(body, list):
            sessions = body
        else:
            sessions = [body]
        for session in sessions:
            if isinstance(session, dict) and "channelArn" in session and "viewerId" in session:
                key = (session["channelArn"], session["viewerId"])
                version = int(session.get("viewerSessionVersionsLessThanOrEqualTo", 0))
                held[key] = max(version, held.get(key, -1))
    return held


def _figures(
    backlog: Backlog,
    ledger: Any,
    dead_letters: list[Any],
    counts: dict[str, int],
    runner: Any,
    quota: int,
    started: float,
    polling: float,
    drained: bool,
    elapsed: float,
    cap_seconds: float,
    log_dir: Path,
) -> dict[str, Any]:
    calls = sorted(ledger.accepted_calls, key=lambda call: call.at)
    bound = quota * PAIRS_PER_CALL
    held = _dead_lettered(dead_letters)
    revoked = ledger.revoked
    unsettled = [
        key
        for key, version in backlog.expected.items()
        if revoked.get(key, -1) < version and held.get(key, -1) < version
    ]
    figures: dict[str, Any] = {
        "drained": drained,
        "cap_seconds": None if drained else cap_seconds,
        "elapsed_seconds": elapsed,
        "cold_start_seconds": polling - started,
        "calls_accepted": ledger.calls_accepted,
        "calls_throttled": ledger.calls_throttled,
        "calls_rejected": ledger.calls_rejected,
        "throttled_share": ledger.calls_throttled / max(1, ledger.calls_accepted + ledger.calls_throttled),
        "pairs_in_accepted_calls": sum(call.pairs for call in calls),
        "pairs_per_call_histogram": {str(size): count for size, count in ledger.pairs_per_call.items()},
        "unique_pairs_revoked": sum(1 for key in backlog.expected if key in revoked),
        "unique_pairs_revoked_at_highest_version": sum(
            1 for key, version in backlog.expected.items() if revoked.get(key, -1) >= version
        ),
        "pairs_revoked_not_in_backlog": sum(1 for key in revoked if key not in backlog.expected),
        "dead_letter_messages": len(dead_letters),
        "unique_pairs_dead_lettered": sum(1 for key in backlog.expected if key in held),
        "queue_left": counts,
        "log_dir": str(log_dir),
    }
    if runner is not None:
        figures["mapping"] = {
            "invocations": runner.invocations,
            "records_received": runner.records_received,
            "records_deleted": runner.records_deleted,
            "records_failed": runner.records_failed,
            "batches_failed": runner.batches_failed,
            "cold_starts": runner.cold_starts,
        }
    if drained:
        figures["pairs_lost"] = len(unsettled)
    else:
        # Cut at the cap: what is neither revoked nor dead-lettered may still be in the queue.
        figures["pairs_lost"] = None
        figures["pairs_unsettled_at_cap"] = len(unsettled)
    if len(calls) >= 2:
        span = calls[-1].at - calls[0].at
        pairs_after_first = sum(call.pairs for call in calls[1:])
        rate = pairs_after_first / span if span > 0 else 0.0
        figures["sustained_seconds"] = span
        figures["sustained_pairs_per_second"] = rate
        figures["ratio_to_bound"] = rate / bound
        figures["calls_per_second"] = (len(calls) - 1) / span if span > 0 else 0.0
        figures["unique_pairs_per_second"] = figures["unique_pairs_revoked"] / span if span > 0 else 0.0
        figures["end_to_end_seconds"] = calls[-1].at - polling
        figures["end_to_end_pairs_per_second"] = figures["pairs_in_accepted_calls"] / (calls[-1].at - polling)
    figures["timeline"] = _timeline(calls, polling)
    return figures


def _timeline(calls: list[Any], origin: float) -> list[list[float]]:
    """(seconds since the mapping started polling, pairs revoked so far) after each accepted call."""
    points: list[list[float]] = []
    total = 0
    for call in calls:
        total += call.pairs
        points.append([round(call.at - origin, 3), total])
    return points
