"""Drain rate: a backlog through the local stack at the IVS quota, for the function and the peers;
its rows (rate against the bound, throttled calls, lost pairs, per mix), details and chart.

Targets: `product` (the function), `peer` (Powertools' one-call-per-record example, with the
function's mapping settings) and `strong` (the stronger peer, benchmarks/peer/strong.py, with the
mapping of `strong_peer_settings`). Only the bulk lane runs: this section measures the batch
operation's quota.

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
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.harness import ROOT, deploy_settings
from benchmarks.sections.section import (
    COMPARED,
    Compared,
    Figures,
    Row,
    Section,
    chart_file,
    markdown_table,
    ratio,
    verdict,
)
from benchmarks.workload import PAIRS_PER_CALL, REGION, Backlog, make_backlog
from infra.settings import DeploySettings
from ivs_revocation.call_policy import BATCH_CALLS_PER_SECOND
from ivs_revocation.names import LANE_BULK
from ivs_revoke.dlq import DeadLetter

if TYPE_CHECKING:
    from local.runner import RunnerStats
    from local.stack import LocalStack

HANDLERS = {
    "product": "ivs_revocation.handler.lambda_handler",
    "peer": "benchmarks.peer.handler.lambda_handler",
    "strong": "benchmarks.peer.strong.lambda_handler",
}
# The peers never end on their own at this quota (throttled records come back only after the
# visibility timeout): their runs stop at a cap.
PEERS = ("peer", "strong")
# The batch operation's real quota, in whole calls per second for the emulator.
FULL_QUOTA = int(BATCH_CALLS_PER_SECOND)
PROGRESS_SECONDS = 5.0
# The steady-state window: from the time 10% of the pairs were revoked to the time 90% were.
STEADY_FROM, STEADY_TO = 0.10, 0.90
TARGET_DRAIN_RATIO = 0.95
TARGET_THROTTLED_SHARE = 0.01
CHART = "drain.png"
HEADER = (
    "mix | target | drained | sustained s | pairs/s | x bound | function / this | steady 10-90% | "
    "calls/s / quota | pairs/call / 20 | calls (throttled) | per-batch floor calls | DLQ msgs | lost"
)
# The drain also runs the stronger peer.
DRAIN_COMPARED = {**COMPARED, "strong": Compared("stronger peer", "tab:orange")}
# What a run keeps of the mapping's RunnerStats.
MAPPING_COUNTS = (
    "invocations",
    "records_received",
    "records_deleted",
    "records_failed",
    "batches_failed",
    "cold_starts",
)


def run(
    *,
    pairs: int,
    mixes: Iterable[str],
    quick: bool,
    peer_cap_seconds: float,
    progress: Callable[[str], None],
    targets: Iterable[str] = ("product", "peer"),
    ivs_url: str | None = None,
    outcome_events: bool = True,
) -> dict[str, Any]:
    """Drains a backlog of each mix with each target; `ivs_url` runs against another IVS endpoint;
    `outcome_events` False drains with the outcome events off (outcomeEvents: false), for comparison."""
    settings = deploy_settings().model_copy(update={"outcome_events": outcome_events})
    strong = strong_peer_settings(settings)
    scale = 2 if quick and ivs_url is None else 1
    quota = FULL_QUOTA * scale
    result: dict[str, Any] = {
        "mode": "quick" if scale > 1 else "full",
        "outcome_events": outcome_events,
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
        "strong_peer_batch_size": strong.batch_size,
        "strong_peer_max_concurrency": strong.max_concurrency,
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
            # The function's: four times its expected time (the backlog's floor of calls at the quota), and more.
            cap = peer_cap_seconds if target in PEERS else backlog.floor_calls() / quota * 4 + 120
            mapped = strong if target == "strong" else settings
            summary = _drain(
                mapped, backlog, HANDLERS[target], quota, scale, cap, progress, f"{target}, {mix}", ivs_url
            )
            entry[target] = summary
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

    log_dir = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    environment = {"IVS_CALLS_PER_SECOND": repr(settings.ivs_calls_per_second * scale)}
    if ivs_url is not None:
        # botocore's standard endpoint variable, as the stack sets it for its own emulator.
        environment["AWS_ENDPOINT_URL_IVS"] = ivs_url
    with (
        IvsEmulator(tps=quota) as emulator,
        backlogged_stack(
            settings,
            backlog,
            emulator,
            f"drain {label}",
            progress,
            ivs=emulator,
            handler=handler,
            lanes=(LANE_BULK,),
            environment=environment,
            log_dir=log_dir,
        ) as stack,
    ):
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
            service: dict[str, Any] = _ledger_figures(emulator.ledger())
        else:
            calls, service = _log_figures(log_dir)
    figures = _figures(backlog, calls, service, dead_letters, counts, quota, polling, drained, elapsed, cap_seconds)
    figures["cold_start_seconds"] = polling - started
    figures["log_dir"] = str(log_dir)
    publishing = publishing_figures(log_dir)
    if publishing:
        figures["outcome_events"] = publishing
    if runner is not None:
        figures["mapping"] = mapping_counts(runner)
    return figures


def publishing_figures(log_dir: Path) -> dict[str, Any]:
    """What putting the outcome events cost per invocation, from the functions' `outcome events put`
    lines: PutEvents calls and milliseconds (mean, median, max), events put and unpublished."""
    lines: list[dict[str, Any]] = []
    for path in sorted(log_dir.glob("instance-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if '"outcome events put"' in line:
                with contextlib.suppress(ValueError):
                    lines.append(json.loads(line))
    if not lines:
        return {}
    calls = [int(entry["put_calls"]) for entry in lines]
    millis = sorted(float(entry["put_seconds"]) * 1000 for entry in lines)
    return {
        "invocations": len(lines),
        "events": sum(int(entry["events"]) for entry in lines),
        "unpublished": sum(int(entry["unpublished"]) for entry in lines),
        "put_calls_per_invocation_mean": sum(calls) / len(calls),
        "put_calls_per_invocation_max": max(calls),
        "put_ms_per_invocation_mean": sum(millis) / len(millis),
        "put_ms_per_invocation_median": millis[len(millis) // 2],
        "put_ms_per_invocation_max": millis[-1],
    }


def mapping_counts(stats: RunnerStats, names: Iterable[str] = MAPPING_COUNTS) -> dict[str, int]:
    return {name: getattr(stats, name) for name in names}


@contextlib.contextmanager
def backlogged_stack(
    settings: DeploySettings,
    backlog: Backlog,
    emulator: Any,
    label: str,
    progress: Callable[[str], None],
    **options: Any,
) -> Iterator[LocalStack]:
    """A local stack whose bulk queue holds the backlog, the emulator's ledger cleared; the mapping not started."""
    from local.stack import LocalStack

    with LocalStack(settings, region=REGION, start_function=False, python_path=[str(ROOT)], **options) as stack:
        progress(f"{label}: sending {len(backlog.bodies)} messages ({backlog.entries} pairs)")
        stack.send(*backlog.bodies)
        emulator.reset()
        yield stack


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


def dead_lettered(letters: Iterable[DeadLetter]) -> dict[tuple[str, str], int]:
    """The pairs the dead-letter queue holds, by highest version, as `ivs-revoke dlq list` reads them."""
    held: dict[tuple[str, str], int] = {}
    for letter in letters:
        for session, _, _ in letter.failed_sessions():
            held[session.key] = max(session.version, held.get(session.key, -1))
    return held


def _ledger_figures(ledger: Any) -> dict[str, Any]:
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
    held = dead_lettered(dead_letters)
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
    totals = accumulate(pairs for _, pairs in calls)
    return [[round(at - origin, 3), total] for (at, _), total in zip(calls, totals, strict=True)]


def rows(drain: Figures) -> list[Row]:
    table: list[Row] = []
    bound = drain["bound_pairs_per_second"]
    for mix, entry in drain["mixes"].items():
        product, peer = entry.get("product"), entry.get("peer")
        if not product:
            continue
        table += [_rate(mix, bound, product, peer), _throttled(mix, product, peer), _lost(mix, entry, product, peer)]
        if entry.get("strong"):
            table.append(_against_strong(mix, entry, product, entry["strong"]))
    return table


def _against_strong(mix: str, entry: Figures, product: Figures, strong: Figures) -> Row:
    """The function's rate beside the stronger peer's: what pacing and merging across 200 records add."""
    rate, strong_rate = product.get("sustained_pairs_per_second", 0.0), strong.get("sustained_pairs_per_second")
    capped = f" (capped at {strong['cap_seconds']:g} s)" if strong.get("cap_seconds") else ""
    return Row(
        f"drain rate, {mix}, against the stronger peer (pairs/s; ratio to the bound)",
        f"{rate:.1f} ({product.get('ratio_to_bound', 0.0):.3f})",
        peer=f"{strong_rate:.1f} ({strong['ratio_to_bound']:.3f}){capped}" if strong_rate is not None else "n/a",
        ratio=ratio(rate, strong_rate),
        note=f"stronger peer: {_throttled_text(strong)} calls throttled; {_settled_text(entry, strong)}",
    )


def _settled_text(entry: Figures, figures: Figures) -> str:
    """How far a capped run got: its rate counts accepted calls only, not the time it then stood still."""
    revoked = figures.get("unique_pairs_revoked")
    if figures.get("drained") or revoked is None:
        return "drained"
    return (
        f"{revoked} of {entry['unique_pairs']} pairs revoked when capped at {figures['cap_seconds']:g} s "
        "(records failed after their retries wait out the visibility timeout)"
    )


def _rate(mix: str, bound: float, product: Figures, peer: Figures | None) -> Row:
    rate = product.get("sustained_pairs_per_second", 0.0)
    share = product.get("ratio_to_bound", 0.0)
    peer_rate = peer.get("sustained_pairs_per_second") if peer else None
    capped = f" (capped at {peer['cap_seconds']:g} s)" if peer and peer.get("cap_seconds") else ""
    short = TARGET_DRAIN_RATIO - share
    return Row(
        f"drain rate, {mix} (pairs/s; ratio to the {bound:g} pairs/s bound)",
        f"{rate:.1f} ({share:.3f})",
        f">= {TARGET_DRAIN_RATIO:g} of the bound",
        verdict(share >= TARGET_DRAIN_RATIO),
        f"{peer_rate:.1f} ({peer['ratio_to_bound']:.3f}){capped}" if peer and peer_rate is not None else "n/a",
        ratio(rate, peer_rate),
        note=f"steady 10-90%: {product['steady_ratio_to_bound']:.3f}" if "steady_ratio_to_bound" in product else "",
        miss_by=f"{short:.3f} of the bound ({short * bound:.1f} pairs/s)" if share < TARGET_DRAIN_RATIO else "",
    )


def _throttled(mix: str, product: Figures, peer: Figures | None) -> Row:
    share = product["throttled_share"]
    return Row(
        f"throttled calls, {mix}",
        _throttled_text(product),
        f"< {TARGET_THROTTLED_SHARE:.0%} of calls",
        verdict(share < TARGET_THROTTLED_SHARE),
        _throttled_text(peer) if peer else "n/a",
        ratio(share, peer["throttled_share"]) if peer else "n/a",
        miss_by=f"{share - TARGET_THROTTLED_SHARE:.2%} of calls" if share >= TARGET_THROTTLED_SHARE else "",
    )


def _throttled_text(figures: Figures) -> str:
    throttled = figures["calls_throttled"]
    return f"{throttled} of {figures['calls_accepted'] + throttled} ({figures['throttled_share']:.2%})"


def _lost(mix: str, entry: Figures, product: Figures, peer: Figures | None) -> Row:
    lost = product.get("pairs_lost")
    peer_lost = "n/a"
    if peer:
        peer_lost = (
            str(peer["pairs_lost"])
            if peer.get("pairs_lost") is not None
            else f"{peer.get('pairs_unsettled_at_cap')} unsettled at the cap"
        )
    return Row(
        f"pairs lost, {mix} (of {entry['unique_pairs']} distinct)",
        "not drained" if lost is None else str(lost),
        "0",
        verdict(lost == 0),
        peer_lost,
        miss_by="" if lost == 0 else "queue not drained" if lost is None else f"{lost} pairs",
    )


def details(drain: Figures) -> list[str]:
    lines = [
        f"Mode: {drain['mode']} (time scale {drain['time_scale']}x; quota {drain['quota_calls_per_second']} "
        f"calls/s, bound {drain['bound_pairs_per_second']} pairs/s); IVS: {drain['ivs']}; "
        f"{drain['pairs']:,} pairs per backlog; batch size {drain['batch_size']}, batching window "
        f"{drain['batching_window_seconds']} s, maximum concurrency {drain['max_concurrency']}, "
        f"{drain['per_instance_calls_per_second']:g} calls/s per instance. Rate = pairs in accepted calls after "
        "the first second's (as many calls as the quota admits at once) / sustained seconds (last accepted "
        "call - first accepted call). It is the product of the two shares: "
        "calls per second over the quota, and pairs per call over 20. The peer (`benchmarks/peer/handler.py`) "
        "runs with the function's mapping; the stronger peer (`benchmarks/peer/strong.py`: the pairs of a batch "
        "merged into calls of 20, botocore standard retries, no pacing) with batch size "
        f"{drain.get('strong_peer_batch_size', 20)}, the same batching window and maximum concurrency "
        f"{drain.get('strong_peer_max_concurrency', 2)}. \"function / this\": the function's rate over the row's. "
        "A capped run's rate counts the span of its accepted calls: a peer whose failed records wait out the "
        "visibility timeout stands still after its last call, which its rate does not show (its lost column does).",
        "",
    ]
    body = [
        _detail_row(mix, target, entry[target], entry["floor_calls_per_batch"], entry.get("product"))
        for mix, entry in drain["mixes"].items()
        for target in DRAIN_COMPARED
        if entry.get(target)
    ]
    return [*lines, *markdown_table(HEADER, body), "", f"![drain]({CHART})"]


def _detail_row(mix: str, target: str, figures: Figures, floor_calls: int, product: Figures | None) -> list[str]:
    lost = figures.get("pairs_lost")
    rate = figures.get("sustained_pairs_per_second")
    return [
        mix,
        DRAIN_COMPARED[target].label,
        "yes" if figures["drained"] else f"capped at {figures['cap_seconds']:g} s",
        f"{figures.get('sustained_seconds', 0):.1f}",
        f"{rate or 0:.1f}",
        f"{figures.get('ratio_to_bound', 0):.3f}",
        ratio(product.get("sustained_pairs_per_second"), rate) if product else "n/a",
        f"{figures.get('steady_ratio_to_bound', math.nan):.3f}",
        f"{figures.get('calls_share_of_quota', 0):.3f}",
        f"{figures.get('pairs_per_call', 0) / 20:.3f}",
        f"{figures['calls_accepted']} ({figures['calls_throttled']})",
        str(floor_calls),
        str(figures["dead_letter_messages"]),
        str(lost) if lost is not None else f"({figures.get('pairs_unsettled_at_cap')} unsettled)",
    ]


def chart(drain: Figures, folder: Path) -> None:
    """Pairs revoked over time per mix, the function's and the peer's, beside the bound."""
    if not drain.get("mixes"):
        return
    mixes = list(drain["mixes"].items())
    bound = drain["bound_pairs_per_second"]
    subplots = {"ncols": len(mixes), "figsize": (5.2 * len(mixes), 4.2), "squeeze": False}
    with chart_file(folder, CHART, **subplots) as (figure, axes):
        for axis, (mix, entry) in zip(axes[0], mixes, strict=True):
            _draw_mix(axis, mix, entry, bound)
        figure.suptitle(
            f"Drain at {drain['quota_calls_per_second']} calls/s ({drain['mode']} run; peers capped at "
            f"{drain['peer_cap_seconds']:g} s)"
        )


def _draw_mix(axis: Any, mix: str, entry: Figures, bound: float) -> None:
    """One mix: pairs revoked over time, the function's and the peer's, beside the bound."""
    longest = 0.0
    start = None
    for target, compared in DRAIN_COMPARED.items():
        timeline = (entry.get(target) or {}).get("timeline") or []
        if not timeline:
            continue
        times = [0.0] + [point[0] for point in timeline]
        pairs = [0] + [point[1] for point in timeline]
        axis.step(times, pairs, where="post", label=compared.label, color=compared.colour)
        longest = max(longest, times[-1])
        if target == "product":
            start = timeline[0][0]
    if start is not None:
        axis.plot([start, longest], [0, bound * (longest - start)], "k--", linewidth=1, label=f"bound, {bound:g}/s")
    axis.set_title(f"{mix} ({entry['unique_pairs']} distinct pairs)")
    axis.set_xlabel("seconds since the mapping started")
    axis.set_ylabel("pairs revoked (in accepted calls)")
    axis.set_xlim(0, longest * 1.02 if longest else 1)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", fontsize=8)


SECTION = Section("drain", "Drain rate", rows, details, chart)
