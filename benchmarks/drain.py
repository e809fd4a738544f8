"""Drain rate: a backlog through the local stack at the IVS quota, for the function and the peers.

Targets: `product` (the function), `peer` (Powertools' one-call-per-record example, with the
function's mapping settings) and `strong` (the stronger peer, benchmarks/peer/strong.py, with the
mapping a capable engineer would give it: batch size 20, the same batching window, maximum
concurrency 2). Only the bulk lane runs: this section measures the batch operation's quota.

The local stack (local/stack.py) runs moto's SQS, the IVS emulator enforcing the quota (a sliding
one-second window per account and region), and the event source mapping runner with the deploy
settings' batch size, batching window and maximum concurrency, each instance a process of its own
running the handler. The queue is filled first (SendMessageBatch), then the mapping starts.

Figures come from the emulator's ledger, the service's side of the story:
- sustained rate: pairs in accepted calls after the first second's (the first `quota` calls), over
  the time from the first accepted call to the last (the mapping's cold starts come before the first
  call, so they are excluded; the tail, when one instance has run out of batches, is included), and
  its ratio to the bound (quota x 20 pairs per call). A one-second window admits `quota` calls at
  once, so counting all but the first call could put a short run above the bound; this cannot. It is
  the product of two shares: calls per second over the quota, and pairs per call over 20. The
  steady-state rate, between 10% and 90% of the pairs, is reported beside it;
- distinct pairs revoked per second over the same time (repeats merged by the function cost nothing);
- throttled calls, and their share of all calls that reached the emulator;
- lost pairs: distinct pairs neither revoked at their highest version nor in the dead-letter queue
  with it. Only meaningful once the queue is drained; a run cut at its time cap (the peer's) reports
  how many were still unsettled instead.

`--quick` compresses time: the emulator's quota and the function's per-instance rate are both doubled,
the most the function's settings allow (IVS_CALLS_PER_SECOND is refused above 2, the API's own quota).

`--ivs-url` sends the function's calls to another IVS endpoint (e.g. one written apart from this
project); with no ledger to read there, the figures come from the function's own logs.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, deploy_settings
from benchmarks.workload import PAIRS_PER_CALL, REGION, Backlog, make_backlog
from infra.settings import DeploySettings
from ivs_revoke.dlq import DeadLetter
from revocation.names import LANE_BULK

PRODUCT_HANDLER = "revocation.handler.lambda_handler"
PEER_HANDLER = "benchmarks.peer.handler.lambda_handler"
STRONG_PEER_HANDLER = "benchmarks.peer.strong.lambda_handler"
HANDLERS = {"product": PRODUCT_HANDLER, "peer": PEER_HANDLER, "strong": STRONG_PEER_HANDLER}
# The peers never end on their own at this quota (throttled records come back only after the
# visibility timeout): their runs stop at a cap.
PEERS = ("peer", "strong")
FULL_QUOTA = 2
PROGRESS_SECONDS = 5.0
# The steady-state window: from the time 10% of the pairs were revoked to the time 90% were.
STEADY_FROM, STEADY_TO = 0.10, 0.90


def run(
    *,
    pairs: int,
    mixes: Iterable[str],
    quick: bool,
    peer_cap_seconds: float,
    progress: Callable[[str], None],
    targets: Iterable[str] = ("product", "peer"),
    ivs_url: str | None = None,
) -> dict[str, Any]:
    """Drains a backlog of each mix with each target; `ivs_url` runs against another IVS endpoint."""
    settings = deploy_settings()
    scale = 2 if quick and ivs_url is None else 1
    quota = FULL_QUOTA * scale
    result: dict[str, Any] = {
        "mode": "quick" if scale > 1 else "full",
        "time_scale": scale,
        "ivs": ivs_url or "local emulator (local/ivs_emulator)",
        "quota_calls_per_second": quota,
        "bound_pairs_per_second": quota * PAIRS_PER_CALL,
        "pairs": pairs,
        "batch_size": settings.batch_size,
        "batching_window_seconds": settings.max_batching_window_seconds,
        "max_concurrency": settings.max_concurrency,
        "per_instance_calls_per_second": settings.ivs_calls_per_second * scale,
        "peer_cap_seconds": peer_cap_seconds,
        "strong_peer_batch_size": strong_peer_settings(settings).batch_size,
        "strong_peer_max_concurrency": strong_peer_settings(settings).max_concurrency,
        "mixes": {},
    }
    for mix in mixes:
        backlog = make_backlog(mix, pairs)
        entry: dict[str, Any] = {
            "messages": len(backlog.bodies),
            "pair_entries": backlog.entries,
            "unique_pairs": backlog.unique_pairs,
            "floor_calls_backlog": backlog.floor_calls(),
            "floor_calls_per_batch": backlog.floor_calls(settings.batch_size),
        }
        for target in targets:
            handler = HANDLERS[target]
            cap = peer_cap_seconds if target in PEERS else _expected_seconds(backlog, quota) * 4 + 120
            mapped = strong_peer_settings(settings) if target == "strong" else settings
            entry[target] = _drain(mapped, backlog, handler, quota, scale, cap, progress, f"{target}, {mix}", ivs_url)
            summary = entry[target]
            progress(
                f"drain {target}, {mix}: {summary.get('sustained_pairs_per_second', 0):.1f} pairs/s "
                f"({summary.get('ratio_to_bound', 0):.3f} of the bound), {summary['calls_throttled']} throttled, "
                f"lost {summary['pairs_lost']}"
            )
        result["mixes"][mix] = entry
    return result


def strong_peer_settings(settings: DeploySettings) -> DeploySettings:
    """The stronger peer's mapping: batch size 20 (one call's worth of one-pair records), the function's
    batching window, maximum concurrency 2. Its timeout and visibility stay the deployment's."""
    return settings.model_copy(update={"batch_size": PAIRS_PER_CALL, "max_concurrency": 2})


def _expected_seconds(backlog: Backlog, quota: int) -> float:
    return backlog.floor_calls() / quota


def _drain(
    settings: DeploySettings,
    backlog: Backlog,
    handler: str,
    quota: int,
    scale: int,
    cap_seconds: float,
    progress: Callable[[str], None],
    label: str,
    ivs_url: str | None,
) -> dict[str, Any]:
    from local.ivs_emulator import IvsEmulator
    from local.stack import LocalStack

    log_dir = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    environment = {"IVS_CALLS_PER_SECOND": repr(settings.ivs_calls_per_second * scale)}
    if ivs_url is not None:
        # botocore's standard endpoint variable, as the stack sets it for its own emulator.
        environment["AWS_ENDPOINT_URL_IVS"] = ivs_url
    with contextlib.ExitStack() as stack_of:
        emulator = stack_of.enter_context(IvsEmulator(tps=quota))
        stack = stack_of.enter_context(
            LocalStack(
                settings,
                region=REGION,
                ivs=emulator,
                handler=handler,
                start_function=False,
                lanes=(LANE_BULK,),
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
        watched = None if ivs_url else emulator
        drained, elapsed = _watch(stack, watched, backlog, cap_seconds, started, progress, label)
        stack.stop_function()
        runner = stack.runner.stats if stack.runner else None
        dead_letters = stack.dead_letters()
        counts = stack.queue_counts()
        if ivs_url is None:
            calls = [(call.at, call.pairs) for call in emulator.ledger().accepted_calls]
            service: dict[str, Any] = _ledger_figures(backlog, emulator.ledger())
        else:
            calls, service = _log_figures(log_dir)
    figures = _figures(backlog, calls, service, dead_letters, counts, quota, polling, drained, elapsed, cap_seconds)
    figures["cold_start_seconds"] = polling - started
    figures["log_dir"] = str(log_dir)
    if runner is not None:
        figures["mapping"] = {
            "invocations": runner.invocations,
            "records_received": runner.records_received,
            "records_deleted": runner.records_deleted,
            "records_failed": runner.records_failed,
            "batches_failed": runner.batches_failed,
            "cold_starts": runner.cold_starts,
        }
    return figures


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
            revoked = ""
            if emulator is not None:
                ledger = emulator.ledger()
                revoked = (
                    f"{len(ledger.revoked)}/{backlog.unique_pairs} pairs revoked, "
                    f"{ledger.calls_accepted} calls (+{ledger.calls_throttled} throttled), "
                )
            progress(
                f"drain {label}: {elapsed:5.0f} s, {revoked}"
                f"queue {counts.get('Messages', 0)} waiting / {counts.get('MessagesNotVisible', 0)} in flight"
            )
            next_report += PROGRESS_SECONDS
        time.sleep(0.2)


def _dead_lettered(letters: Iterable[DeadLetter]) -> dict[tuple[str, str], int]:
    """The pairs the dead-letter queue holds, by highest version, as `ivs-revoke dlq list` reads them."""
    held: dict[tuple[str, str], int] = {}
    for letter in letters:
        for session, _, _ in letter.failed_sessions():
            held[session.key] = max(session.version, held.get(session.key, -1))
    return held


def _ledger_figures(backlog: Backlog, ledger: Any) -> dict[str, Any]:
    """What the emulator saw: calls accepted and throttled, and which version of each pair it revoked."""
    return {
        "source": "emulator ledger",
        "calls_accepted": ledger.calls_accepted,
        "calls_throttled": ledger.calls_throttled,
        "calls_rejected": ledger.calls_rejected,
        "revoked": dict(ledger.revoked),
        "pairs_per_call_histogram": {str(size): count for size, count in ledger.pairs_per_call.items()},
    }


def _log_figures(log_dir: Path) -> tuple[list[tuple[float, int]], dict[str, Any]]:
    """What the function's own logs say, for an IVS endpoint without a ledger to read.

    Each invocation's `batch settled` line gives its calls, throttled calls and pairs revoked; its
    REPORT line gives its duration. Calls are placed evenly over the invocation, which is what the
    rate limiter does, the first at its start and the last at its end: the logs do not say when within
    it they came, and this is the widest span they allow, so the rate is never overstated. Pairs
    revoked are per invocation: a pair repeated in two batches counts twice.
    """
    durations: dict[str, float] = {}
    settled: list[dict[str, Any]] = []
    for path in sorted(log_dir.glob("instance-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("REPORT RequestId:"):
                fields = dict(part.split(": ", 1) for part in line.split("\t") if ": " in part)
                durations[fields["REPORT RequestId"]] = float(fields["Duration"].split()[0]) / 1000
            elif '"batch settled"' in line:
                with contextlib.suppress(ValueError):
                    settled.append(json.loads(line))
    calls: list[tuple[float, int]] = []
    throttled = accepted = 0
    for record in settled:
        ended = datetime.strptime(record["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
        began = ended - durations.get(record.get("function_request_id", ""), 0.0)
        made = max(0, record["ivs_calls"] - record["throttled_calls"])
        accepted += made
        throttled += record["throttled_calls"]
        for index in range(made):
            share = record["pairs_revoked"] // made + (1 if index < record["pairs_revoked"] % made else 0)
            # A lone call goes at the end: the rate limiter's wait comes before it.
            at = ended if made == 1 else began + (ended - began) * index / (made - 1)
            calls.append((at, share))
    return calls, {
        "source": "function logs (batch settled lines)",
        "calls_accepted": accepted,
        "calls_throttled": throttled,
        "calls_rejected": None,
        "revoked": None,
        "pairs_per_call_histogram": None,
    }


def _figures(
    backlog: Backlog,
    calls: list[tuple[float, int]],
    service: dict[str, Any],
    dead_letters: list[DeadLetter],
    counts: dict[str, int],
    quota: int,
    polling: float,
    drained: bool,
    elapsed: float,
    cap_seconds: float,
) -> dict[str, Any]:
    calls = sorted(calls)
    held = _dead_lettered(dead_letters)
    revoked = service.pop("revoked")
    accepted, throttled = service["calls_accepted"], service["calls_throttled"]
    figures: dict[str, Any] = {
        **service,
        "drained": drained,
        "cap_seconds": None if drained else cap_seconds,
        "elapsed_seconds": elapsed,
        "throttled_share": throttled / max(1, accepted + throttled),
        "pairs_in_accepted_calls": sum(pairs for _, pairs in calls),
        "dead_letter_messages": len(dead_letters),
        "unique_pairs_dead_lettered": sum(1 for key in backlog.expected if key in held),
        "queue_left": counts,
    }
    if revoked is not None:
        unsettled = sum(
            1
            for key, version in backlog.expected.items()
            if revoked.get(key, -1) < version and held.get(key, -1) < version
        )
        figures["unique_pairs_revoked"] = sum(1 for key in backlog.expected if key in revoked)
        figures["unique_pairs_revoked_at_highest_version"] = sum(
            1 for key, version in backlog.expected.items() if revoked.get(key, -1) >= version
        )
        figures["pairs_revoked_not_in_backlog"] = sum(1 for key in revoked if key not in backlog.expected)
    else:
        # Without the service's ledger, a pair is accounted for when its message left the queue
        # (deleted after success, or moved to the dead-letter queue).
        unsettled = sum(counts.values()) if drained else 0
        figures["unique_pairs_revoked"] = None
    if drained:
        figures["pairs_lost"] = unsettled
    else:
        # Cut at the cap: what is neither revoked nor dead-lettered may still be in the queue.
        figures["pairs_lost"] = None
        figures["pairs_unsettled_at_cap"] = unsettled
    figures.update(rate_figures(calls, quota))
    if "sustained_seconds" in figures and figures["unique_pairs_revoked"] is not None:
        figures["unique_pairs_per_second"] = figures["unique_pairs_revoked"] / figures["sustained_seconds"]
    if len(calls) > quota:
        figures["end_to_end_seconds"] = calls[-1][0] - polling
        figures["end_to_end_pairs_per_second"] = figures["pairs_in_accepted_calls"] / (calls[-1][0] - polling)
    figures["timeline"] = _timeline(calls, polling)
    return figures


def rate_figures(calls: list[tuple[float, int]], quota: int) -> dict[str, Any]:
    """The sustained rate of accepted calls (time, pairs), in time order, against quota x 20 pairs/s.

    The first second's calls are left out of the pairs counted (as many as the quota admits at once),
    so that a short run cannot come out above the bound.
    """
    bound = quota * PAIRS_PER_CALL
    figures: dict[str, Any] = {}
    if len(calls) <= quota:
        return figures
    span = calls[-1][0] - calls[0][0]
    if span > 0:
        figures["sustained_seconds"] = span
        figures["sustained_pairs_per_second"] = sum(pairs for _, pairs in calls[quota:]) / span
        figures["ratio_to_bound"] = figures["sustained_pairs_per_second"] / bound
        figures["calls_per_second"] = (len(calls) - quota) / span
        figures["calls_share_of_quota"] = figures["calls_per_second"] / quota
        figures["pairs_per_call"] = sum(pairs for _, pairs in calls) / len(calls)
    steady = _steady(calls)
    if steady is not None:
        figures["steady_pairs_per_second"] = steady
        figures["steady_ratio_to_bound"] = steady / bound
    return figures


def _steady(calls: list[tuple[float, int]]) -> float | None:
    """Pairs per second between the calls that took the total past 10% and past 90% of the pairs."""
    total = sum(pairs for _, pairs in calls)
    running = 0
    begin: tuple[float, int] | None = None
    for at, pairs in calls:
        running += pairs
        if begin is None and running >= STEADY_FROM * total:
            begin = (at, running)
        if begin is not None and running >= STEADY_TO * total:
            return (running - begin[1]) / (at - begin[0]) if at > begin[0] else None
    return None


def _timeline(calls: list[tuple[float, int]], origin: float) -> list[list[float]]:
    """(seconds since the mapping started polling, pairs revoked so far) after each accepted call."""
    points: list[list[float]] = []
    total = 0
    for at, pairs in calls:
        total += pairs
        points.append([round(at - origin, 3), total])
    return points
