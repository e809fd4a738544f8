"""Results: the table of figures with targets and ratios to the peer, as JSON, markdown and charts.

Every figure is computed from `results.json`, which each run updates section by section (a run with
`--only cpu` keeps the other sections of the previous run), so the markdown and the charts always say
what the JSON holds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import RESULTS

# The targets, checked here and never asserted by a test.
TARGET_DRAIN_RATIO = 0.95
TARGET_THROTTLED_SHARE = 0.01
TARGET_CPU_US_PER_RECORD = 100.0
TARGET_CPU_AT_RECORDS = "10000"
TARGET_COLD_START_RATIO = 1.3
TARGET_MEMORY_SHARE = 0.70


@dataclass
class Row:
    section: str
    figure: str
    value: str
    target: str
    verdict: str  # "pass", "miss" or "" (a figure without a target)
    peer: str
    ratio: str  # function / peer
    note: str = ""
    miss_by: str = ""


def load(path: Path = RESULTS / "results.json") -> dict[str, Any]:
    if path.exists():
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    return {}


def save(results: Mapping[str, Any], path: Path = RESULTS / "results.json") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")


def _ratio(product: float | None, peer: float | None, digits: int = 2) -> str:
    if product is None or peer is None or peer == 0:
        return "n/a"
    value = product / peer
    if value >= 100:
        return f"{value:.0f} x"
    return f"{value:.{digits}g} x" if value < 1 else f"{value:.{digits + 1}g} x"


def _drain_miss(ratio: float, bound: float) -> str:
    if ratio >= TARGET_DRAIN_RATIO:
        return ""
    return f"{TARGET_DRAIN_RATIO - ratio:.3f} of the bound ({(TARGET_DRAIN_RATIO - ratio) * bound:.1f} pairs/s)"


def _verdict(ok: bool) -> str:
    return "pass" if ok else "miss"


def rows(results: Mapping[str, Any]) -> list[Row]:
    table: list[Row] = []
    drain = results.get("drain")
    if drain:
        bound = drain["bound_pairs_per_second"]
        for mix, entry in drain["mixes"].items():
            product, peer = entry.get("product"), entry.get("peer")
            if not product:
                continue
            rate = product.get("sustained_pairs_per_second", 0.0)
            ratio = product.get("ratio_to_bound", 0.0)
            peer_rate = peer.get("sustained_pairs_per_second") if peer else None
            capped = f" (capped at {peer['cap_seconds']:g} s)" if peer and peer.get("cap_seconds") else ""
            table.append(
                Row(
                    "drain",
                    f"drain rate, {mix} (pairs/s; ratio to the {bound:g} pairs/s bound)",
                    f"{rate:.1f} ({ratio:.3f})",
                    f">= {TARGET_DRAIN_RATIO:g} of the bound",
                    _verdict(ratio >= TARGET_DRAIN_RATIO),
                    f"{peer_rate:.1f} ({peer['ratio_to_bound']:.3f}){capped}" if peer_rate is not None else "n/a",
                    _ratio(rate, peer_rate),
                    note=f"steady 10-90%: {product['steady_ratio_to_bound']:.3f}"
                    if "steady_ratio_to_bound" in product
                    else "",
                    miss_by=_drain_miss(ratio, bound),
                )
            )
            share = product["throttled_share"]
            table.append(
                Row(
                    "drain",
                    f"throttled calls, {mix}",
                    f"{product['calls_throttled']} of {product['calls_accepted'] + product['calls_throttled']} "
                    f"({share:.2%})",
                    f"< {TARGET_THROTTLED_SHARE:.0%} of calls",
                    _verdict(share < TARGET_THROTTLED_SHARE),
                    f"{peer['calls_throttled']} of {peer['calls_accepted'] + peer['calls_throttled']} "
                    f"({peer['throttled_share']:.2%})"
                    if peer
                    else "n/a",
                    _ratio(share, peer["throttled_share"]) if peer else "n/a",
                    miss_by=f"{share - TARGET_THROTTLED_SHARE:.2%} of calls" if share >= TARGET_THROTTLED_SHARE else "",
                )
            )
            lost = product.get("pairs_lost")
            peer_lost = "n/a"
            if peer:
                peer_lost = (
                    str(peer["pairs_lost"])
                    if peer.get("pairs_lost") is not None
                    else f"{peer.get('pairs_unsettled_at_cap')} unsettled at the cap"
                )
            table.append(
                Row(
                    "drain",
                    f"pairs lost, {mix} (of {entry['unique_pairs']} distinct)",
                    "not drained" if lost is None else str(lost),
                    "0",
                    _verdict(lost == 0),
                    peer_lost,
                    "n/a",
                    miss_by="" if lost == 0 else "queue not drained" if lost is None else f"{lost} pairs",
                )
            )
    calls = results.get("calls")
    if calls:
        for mix, entry in calls["mixes"].items():
            table.append(
                Row(
                    "calls",
                    f"calls per pair, {mix} ({entry['calls']} calls, {entry['unique_pairs']} distinct pairs)",
                    f"{entry['calls_per_pair']:.4f}",
                    f"floor {entry['floor_calls_per_pair']:.4f}",
                    _verdict(entry["at_floor"]),
                    f"{entry['peer_calls_per_pair']:.4f}",
                    _ratio(entry["calls_per_pair"], entry["peer_calls_per_pair"]),
                    note=f"backlog-wide floor {entry['floor_calls_per_pair_backlog']:.4f}",
                    miss_by=""
                    if entry["at_floor"]
                    else f"{entry['calls_per_pair'] - entry['floor_calls_per_pair']:.4f} calls per pair",
                )
            )
    cpu = results.get("cpu")
    if cpu:
        for size, figures in cpu["product"].items():
            value = figures["cpu_us_per_record_median"]
            peer_value = cpu["peer"].get(size, {}).get("cpu_us_per_record_median")
            targeted = size == TARGET_CPU_AT_RECORDS
            table.append(
                Row(
                    "cpu",
                    f"handler CPU per record at {int(size):,} records (us)",
                    f"{value:.1f}",
                    f"<= {TARGET_CPU_US_PER_RECORD:g}" if targeted else "",
                    _verdict(value <= TARGET_CPU_US_PER_RECORD) if targeted else "",
                    f"{peer_value:.1f}" if peer_value is not None else "n/a",
                    _ratio(value, peer_value),
                    miss_by=f"{value - TARGET_CPU_US_PER_RECORD:.1f} us"
                    if targeted and value > TARGET_CPU_US_PER_RECORD
                    else "",
                )
            )
    cold = results.get("cold")
    if cold:
        targets = cold["targets"]
        product = targets["product"]["import_ms_median"]
        minimal = targets["minimal"]["import_ms_median"]
        peer_ms = targets["peer"]["import_ms_median"]
        ratio = product / minimal
        table.append(
            Row(
                "cold",
                f"cold start: import + init (ms; x the minimal Powertools handler, {minimal:.0f} ms)",
                f"{product:.0f} ({ratio:.2f} x)",
                f"<= {TARGET_COLD_START_RATIO:g} x minimal",
                _verdict(ratio <= TARGET_COLD_START_RATIO),
                f"{peer_ms:.0f}",
                _ratio(product, peer_ms),
                note="with its IVS client made, as the peer makes it: "
                f"{targets['product+client']['import_ms_median']:.0f} ms",
                miss_by=f"{ratio - TARGET_COLD_START_RATIO:.2f} x "
                f"({product - TARGET_COLD_START_RATIO * minimal:.0f} ms)"
                if ratio > TARGET_COLD_START_RATIO
                else "",
            )
        )
    memory = results.get("memory")
    if memory:
        product = memory["product"]
        peer = memory["peer"]
        share = product["peak_share_of_configured"]
        table.append(
            Row(
                "memory",
                f"peak RSS at {memory['records']:,} records (MB; share of {memory['function_memory_mb']} MB)",
                f"{product['peak_rss_mb']:.0f} ({share:.0%})",
                f"<= {TARGET_MEMORY_SHARE:.0%}",
                _verdict(share <= TARGET_MEMORY_SHARE),
                f"{peer['peak_rss_mb']:.0f} ({peer['peak_share_of_configured']:.0%})",
                _ratio(product["peak_rss_mb"], peer["peak_rss_mb"]),
                note=f"after import {product['rss_after_import_mb']:.0f} MB; event "
                f"{product['event_payload_mb']:.1f} MB of JSON",
                miss_by=f"{(share - TARGET_MEMORY_SHARE) * memory['function_memory_mb']:.0f} MB"
                if share > TARGET_MEMORY_SHARE
                else "",
            )
        )
    return table


def markdown(results: Mapping[str, Any], table: list[Row]) -> str:
    meta = results.get("meta", {})
    lines = [
        "# Benchmark results",
        "",
        f"Made by `{meta.get('command', 'python -m benchmarks')}` on {meta.get('machine', 'an unknown machine')}, "
        f"commit {meta.get('commit', '?')}. Sections were measured at: "
        + ", ".join(f"{name} {results[name].get('measured_at', '?')}" for name in SECTIONS if name in results)
        + ".",
        "",
        "The machine is shared and noisy: figures are medians of repeated runs (counts below), and a rerun moves "
        "them by a few percent. \"x peer\" is the function's figure divided by the peer's: the peer is Powertools' "
        "documented SQS pattern with one IVS call per record (`benchmarks/peer/handler.py`), on the same harness.",
        "",
        "| figure | function | target | verdict | peer | x peer |",
        "|---|---|---|---|---|---|",
    ]
    for row in table:
        note = f" <br><sub>{row.note}</sub>" if row.note else ""
        lines.append(
            f"| {row.figure} | {row.value}{note} | {row.target} | {row.verdict} | {row.peer} | {row.ratio} |"
        )
    misses = [row for row in table if row.verdict == "miss"]
    lines += ["", "## Targets missed", ""]
    lines += [f"- {row.figure}: {row.value}, target {row.target}; short by {row.miss_by}." for row in misses] or [
        "None."
    ]
    lines += _details(results)
    return "\n".join(lines) + "\n"


SECTIONS = ("drain", "calls", "cpu", "cold", "memory")


def _details(results: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    drain = results.get("drain")
    if drain:
        lines += [
            "",
            "## Drain rate",
            "",
            f"Mode: {drain['mode']} (time scale {drain['time_scale']}x; quota {drain['quota_calls_per_second']} "
            f"calls/s, bound {drain['bound_pairs_per_second']} pairs/s); IVS: {drain['ivs']}; "
            f"{drain['pairs']:,} pairs per backlog; batch size {drain['batch_size']}, batching window "
            f"{drain['batching_window_seconds']} s, maximum concurrency {drain['max_concurrency']}, "
            f"{drain['per_instance_calls_per_second']:g} calls/s per instance. Rate = pairs in accepted calls after "
            "the first second's (as many calls as the quota admits at once) / sustained seconds (last accepted "
            "call - first accepted call). It is the product of the two shares: "
            "calls per second over the quota, and pairs per call over 20.",
            "",
            "| mix | target | drained | sustained s | pairs/s | x bound | steady 10-90% | calls/s / quota "
            "| pairs/call / 20 | calls (throttled) | per-batch floor calls | DLQ msgs | lost |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for mix, entry in drain["mixes"].items():
            for target in ("product", "peer"):
                figures = entry.get(target)
                if not figures:
                    continue
                lost = figures.get("pairs_lost")
                lost_text = str(lost) if lost is not None else f"({figures.get('pairs_unsettled_at_cap')} unsettled)"
                drained = "yes" if figures["drained"] else f"capped at {figures['cap_seconds']:g} s"
                lines.append(
                    f"| {mix} | {'function' if target == 'product' else 'peer'} | "
                    f"{drained} | {figures.get('sustained_seconds', 0):.1f} | "
                    f"{figures.get('sustained_pairs_per_second', 0):.1f} | {figures.get('ratio_to_bound', 0):.3f} | "
                    f"{figures.get('steady_ratio_to_bound', math.nan):.3f} | "
                    f"{figures.get('calls_share_of_quota', 0):.3f} | {figures.get('pairs_per_call', 0) / 20:.3f} | "
                    f"{figures['calls_accepted']} ({figures['calls_throttled']}) | {entry['floor_calls_per_batch']} | "
                    f"{figures['dead_letter_messages']} | {lost_text} |"
                )
        lines += ["", "![drain](drain.png)"]
    calls = results.get("calls")
    if calls:
        lines += [
            "",
            "## Calls per pair",
            "",
            f"{calls['pairs']:,} pairs per mix, handed to the handler in batches of {calls['batch_size']} records in "
            "queue order. Floor: the sum over batches of ceil(distinct pairs in the batch / 20), what a function "
            "that sees one batch at a time can reach; the backlog-wide floor ceil(n/20)/n is beside it.",
            "",
            "| mix | messages | pairs sent | distinct | calls | per pair | floor | backlog floor | peer calls "
            "| peer per pair |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for mix, entry in calls["mixes"].items():
            lines.append(
                f"| {mix} | {entry['messages']} | {entry['pair_entries']} | {entry['unique_pairs']} | {entry['calls']} "
                f"| {entry['calls_per_pair']:.4f} | {entry['floor_calls_per_pair']:.4f} | "
                f"{entry['floor_calls_per_pair_backlog']:.4f} | {entry['peer_calls']} | "
                f"{entry['peer_calls_per_pair']:.4f} |"
            )
    cpu = results.get("cpu")
    if cpu:
        lines += [
            "",
            "## Handler CPU per record",
            "",
            f"Mix {cpu['mix']}; IVS answered at once by a botocore hook (serialization, signing and parsing "
            "still run). Process time around the handler call; median of repeats.",
            "",
            "| records | function us/record (min-max) | repeats | calls | peer us/record | x peer |",
            "|---|---|---|---|---|---|",
        ]
        for size, figures in cpu["product"].items():
            peer = cpu["peer"].get(size, {})
            lines.append(
                f"| {int(size):,} | {figures['cpu_us_per_record_median']:.1f} ({figures['cpu_us_per_record_min']:.1f}-"
                f"{figures['cpu_us_per_record_max']:.1f}) | {figures['repeats']} | "
                f"{figures['calls_per_invocation']:g} | {peer.get('cpu_us_per_record_median', math.nan):.1f} | "
                f"{_ratio(figures['cpu_us_per_record_median'], peer.get('cpu_us_per_record_median'))} |"
            )
        profile = cpu.get("profile", {}).get("product")
        if profile:
            lines += [
                "",
                f"Where the function's time goes at {cpu['profile_records']:,} records (own time by package, under "
                f"cProfile; full table in [{profile['file']}]({profile['file']})):",
                "",
                "| package | share |",
                "|---|---|",
            ]
            lines += [f"| {name} | {share:.1%} |" for name, share in list(profile["own_time_share"].items())[:12]]
        lines += ["", "![cpu](cpu.png)"]
    cold = results.get("cold")
    if cold:
        lines += [
            "",
            "## Cold start",
            "",
            f"Import and initialisation of the handler module in a fresh interpreter, timed inside it; "
            f"{cold['runs']} interleaved rounds after one discarded round (bytecode caches written), medians.",
            "",
            "| module | median ms | min-max | whole process ms |",
            "|---|---|---|---|",
        ]
        for name, figures in cold["targets"].items():
            lines.append(
                f"| {name} | {figures['import_ms_median']:.0f} | {figures['import_ms_min']:.0f}-"
                f"{figures['import_ms_max']:.0f} | {figures['process_ms_median']:.0f} |"
            )
        profile = cold.get("import_profile_ms", {})
        if profile:
            lines += ["", "Own import time by top-level package (`-X importtime`, medians, ms):", ""]
            lines += ["| package | function | minimal |", "|---|---|---|"]
            names = list(dict.fromkeys([*profile.get("product", {}), *profile.get("minimal", {})]))
            for name in names:
                product_ms = profile.get("product", {}).get(name)
                minimal_ms = profile.get("minimal", {}).get(name)
                lines.append(
                    f"| {name} | {'' if product_ms is None else f'{product_ms:.1f}'} | "
                    f"{'' if minimal_ms is None else f'{minimal_ms:.1f}'} |"
                )
        lines += ["", "![cold start](cold_start.png)"]
    memory = results.get("memory")
    if memory:
        lines += [
            "",
            "## Peak memory",
            "",
            f"One invocation of {memory['records']:,} records ({memory['mix']}) in a fresh process; ru_maxrss; "
            f"median of {memory['runs']} runs. Configured: {memory['function_memory_mb']} MB.",
            "",
            "| | after import MB | with the event MB | peak MB | share of configured |",
            "|---|---|---|---|---|",
        ]
        for target in ("product", "peer"):
            figures = memory[target]
            lines.append(
                f"| {'function' if target == 'product' else 'peer'} | {figures['rss_after_import_mb']:.0f} | "
                f"{figures['rss_with_event_mb']:.0f} | {figures['peak_rss_mb']:.0f} | "
                f"{figures['peak_share_of_configured']:.0%} |"
            )
    return lines


def charts(results: Mapping[str, Any], folder: Path = RESULTS) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[str] = []
    drain = results.get("drain")
    if drain and drain.get("mixes"):
        mixes = list(drain["mixes"].items())
        figure, axes = plt.subplots(1, len(mixes), figsize=(5.2 * len(mixes), 4.2), squeeze=False)
        bound = drain["bound_pairs_per_second"]
        for axis, (mix, entry) in zip(axes[0], mixes, strict=True):
            longest = 0.0
            start = None
            for target, label, colour in (("product", "function", "tab:blue"), ("peer", "peer", "tab:red")):
                timeline = (entry.get(target) or {}).get("timeline") or []
                if not timeline:
                    continue
                times = [0.0] + [point[0] for point in timeline]
                pairs = [0] + [point[1] for point in timeline]
                axis.step(times, pairs, where="post", label=label, color=colour)
                longest = max(longest, times[-1])
                if target == "product":
                    start = timeline[0][0]
            if start is not None:
                axis.plot(
                    [start, longest], [0, bound * (longest - start)], "k--", linewidth=1, label=f"bound, {bound:g}/s"
                )
            axis.set_title(f"{mix} ({entry['unique_pairs']} distinct pairs)")
            axis.set_xlabel("seconds since the mapping started")
            axis.set_ylabel("pairs revoked (in accepted calls)")
            axis.set_xlim(0, longest * 1.02 if longest else 1)
            axis.grid(alpha=0.3)
            axis.legend(loc="upper left", fontsize=8)
        figure.suptitle(
            f"Drain at {drain['quota_calls_per_second']} calls/s ({drain['mode']} run; peer capped at "
            f"{drain['peer_cap_seconds']:g} s)"
        )
        figure.tight_layout()
        figure.savefig(folder / "drain.png", dpi=110)
        plt.close(figure)
        written.append("drain.png")
    cpu = results.get("cpu")
    if cpu:
        figure, axis = plt.subplots(figsize=(6, 4))
        for target, label, colour in (("product", "function", "tab:blue"), ("peer", "peer", "tab:red")):
            sizes = [int(size) for size in cpu[target]]
            values = [figures["cpu_us_per_record_median"] for figures in cpu[target].values()]
            axis.plot(sizes, values, "o-", label=label, color=colour)
        axis.axhline(TARGET_CPU_US_PER_RECORD, color="k", linestyle="--", linewidth=1, label="target")
        axis.set_xscale("log")
        axis.set_xlabel("records per invocation")
        axis.set_ylabel("handler CPU per record (us)")
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        axis.legend()
        figure.tight_layout()
        figure.savefig(folder / "cpu.png", dpi=110)
        plt.close(figure)
        written.append("cpu.png")
    cold = results.get("cold")
    if cold:
        figure, axis = plt.subplots(figsize=(6.5, 3.6))
        names = list(cold["targets"])
        values = [cold["targets"][name]["import_ms_median"] for name in names]
        axis.barh(names, values, color=["tab:blue" if name.startswith("product") else "tab:gray" for name in names])
        minimal = cold["targets"]["minimal"]["import_ms_median"]
        axis.axvline(minimal * TARGET_COLD_START_RATIO, color="k", linestyle="--", linewidth=1, label="target")
        axis.set_xlabel("import + init, median ms")
        axis.invert_yaxis()
        axis.legend()
        figure.tight_layout()
        figure.savefig(folder / "cold_start.png", dpi=110)
        plt.close(figure)
        written.append("cold_start.png")
    return written


def write(results: dict[str, Any], folder: Path = RESULTS) -> dict[str, Any]:
    table = rows(results)
    results["summary"] = [asdict(row) for row in table]
    save(results, folder / "results.json")
    (folder / "results.md").write_text(markdown(results, table))
    charts(results, folder)
    return results
