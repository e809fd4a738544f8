"""The latency section: an urgent pair's wait behind a bulk backlog, in the urgent lane and in one queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.sections.section import Figures, Row, Section, chart_file, markdown_table, ratio, verdict

CHART = "latency.png"
TARGET_P99_SECONDS = 1.0
TARGET_DRAIN_RATIO = 0.95
MIN_URGENT_PAIRS = 30
HEADER = "scenario | sent to | pairs | min s | p50 s | p99 s | max s | mean s | SendMessage max s | not revoked"
SCENARIOS = {
    "urgent_lane": ("urgent pair behind the backlog, urgent lane", "urgent queue"),
    "single_queue": ("urgent pair behind the backlog, single queue (as before the urgent lane)", "bulk queue"),
    "idle_urgent": ("idle pipeline, urgent lane", "urgent queue"),
    "idle_bulk": ("idle pipeline, bulk lane", "bulk queue"),
}
OPERATIONS = {"BatchStartViewerSessionRevocation": "batch", "StartViewerSessionRevocation": "single"}


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _spread(summary: Figures) -> str:
    if not summary.get("pairs"):
        return "no pairs"
    return (
        f"p99 {_seconds(summary['p99_seconds'])} s (p50 {_seconds(summary['p50_seconds'])}, "
        f"max {_seconds(summary['max_seconds'])}; {summary['pairs']} pairs)"
    )


def rows(latency: Figures) -> list[Row]:
    scenarios = latency["scenarios"]
    urgent, single = scenarios["urgent_lane"], scenarios["single_queue"]
    backlog = f"{latency['backlog_pairs']:,}"
    count = urgent.get("pairs", 0)
    p99 = urgent.get("p99_seconds")
    enough = count >= MIN_URGENT_PAIRS and not urgent.get("not_revoked")
    passed = enough and p99 is not None and p99 <= TARGET_P99_SECONDS
    miss = ""
    if not passed:
        if not enough:
            miss = f"{count} urgent pairs revoked of {count + urgent.get('not_revoked', 0)} (needs {MIN_URGENT_PAIRS})"
        else:
            miss = f"{p99 - TARGET_P99_SECONDS:.3f} s"
    table = [
        Row(
            "latency",
            f"urgent pair's wait behind {backlog} bulk pairs, urgent lane (s, send to accepted call)",
            _spread(urgent),
            f"p99 <= {TARGET_P99_SECONDS:g} s over >= {MIN_URGENT_PAIRS} pairs",
            verdict(passed),
            "n/a",
            "n/a",
            note=f"single queue, same run: {_spread(single)}",
            miss_by=miss,
        ),
        Row(
            "latency",
            f"urgent pair's wait behind {backlog} bulk pairs: single queue / urgent lane, same run (p50; p99)",
            f"{ratio(single.get('p50_seconds'), urgent.get('p50_seconds'))}; "
            f"{ratio(single.get('p99_seconds'), urgent.get('p99_seconds'))}",
            "",
            "",
            "n/a",
            "n/a",
        ),
    ]
    rate = latency["bulk_rate"]
    share = rate.get("ratio_to_bound", 0.0)
    table.append(
        Row(
            "latency",
            f"bulk drain in the same run (pairs/s; ratio to the {latency['bound_pairs_per_second']:g} pairs/s bound)",
            f"{rate.get('sustained_pairs_per_second', 0.0):.1f} ({share:.3f})",
            f">= {TARGET_DRAIN_RATIO:g} of the bound",
            verdict(share >= TARGET_DRAIN_RATIO),
            "n/a",
            "n/a",
            note=f"steady 10-90%: {rate['steady_ratio_to_bound']:.3f}" if "steady_ratio_to_bound" in rate else "",
            miss_by="" if share >= TARGET_DRAIN_RATIO else f"{TARGET_DRAIN_RATIO - share:.3f} of the bound",
        )
    )
    throttled = latency["calls_throttled"]
    accepted = latency["calls_accepted"]
    total = sum(throttled.values())
    table.append(
        Row(
            "latency",
            "calls throttled in the latency run, per operation",
            ", ".join(f"{OPERATIONS.get(op, op)} {n} of {accepted.get(op, 0) + n}" for op, n in throttled.items()),
            "0",
            verdict(total == 0),
            "n/a",
            "n/a",
            miss_by="" if total == 0 else f"{total} calls",
        )
    )
    lost = latency["pairs_lost"]
    table.append(
        Row(
            "latency",
            f"pairs lost in the latency run (of {latency['pairs_sent']:,} sent)",
            str(lost),
            "0",
            verdict(lost == 0),
            "n/a",
            "n/a",
            miss_by="" if lost == 0 else f"{lost} pairs",
        )
    )
    for name in ("idle_urgent", "idle_bulk"):
        table.append(
            Row(
                "latency",
                f"{SCENARIOS[name][0]} (s, send to accepted call)",
                _spread(scenarios[name]),
                "",
                "",
                "n/a",
                "n/a",
            )
        )
    return table


def details(latency: Figures) -> list[str]:
    bulk, urgent = latency["bulk"], latency["urgent"]
    lines = [
        f"IVS: {latency['ivs']}: batch {latency['batch_quota_calls_per_second']} calls/s, single "
        f"{latency['single_quota_calls_per_second']} calls/s. Bulk lane: batch size {bulk['batch_size']}, window "
        f"{bulk['batching_window_seconds']} s, maximum concurrency {bulk['max_concurrency']}, "
        f"{bulk['calls_per_second_per_instance']:g} calls/s per instance. Urgent lane: batch size "
        f"{urgent['batch_size']}, no window, maximum concurrency {urgent['max_concurrency']}, "
        f"{urgent['calls_per_second_per_instance']:g} calls/s per instance.",
        "",
        f"A backlog of {latency['backlog_pairs']:,} one-pair messages in the bulk queue, then both mappings start. "
        f"Every {latency['every_seconds']:g} s while the bulk queue holds messages (waiting or in flight), "
        "one pair is sent to the urgent "
        "queue and one to the bulk queue (the single queue as it was before the urgent lane), each with "
        f"SendMessage; the backlog drained in {latency['drain_seconds']:.0f} s. Then {latency['idle_pairs']} rounds "
        "of one pair to each lane, idle. Latency: from the producer's SendMessage returning to the accepted IVS "
        "call, from the emulator's ledger (a single call names its pair; a bulk pair is given the last batch call "
        f"between two ledger reads {latency['ledger_poll_seconds']:g} s apart). p50 and p99 are nearest-rank. "
        "The emulator runs in its own process, so that it does not hold up the producer's thread.",
        "",
    ]
    body = [
        [
            SCENARIOS[name][0],
            SCENARIOS[name][1],
            str(summary.get("pairs", 0)),
            _seconds(summary.get("min_seconds")),
            _seconds(summary.get("p50_seconds")),
            _seconds(summary.get("p99_seconds")),
            _seconds(summary.get("max_seconds")),
            _seconds(summary.get("mean_seconds")),
            _seconds(summary.get("send_seconds_max")),
            str(summary.get("not_revoked", 0)),
        ]
        for name, summary in latency["scenarios"].items()
    ]
    accepted, throttled = latency["calls_accepted"], latency["calls_throttled"]
    calls = ", ".join(
        f"{OPERATIONS.get(op, op)}: {accepted.get(op, 0)} accepted, {throttled.get(op, 0)} throttled" for op in accepted
    )
    rate = latency["bulk_rate"]
    return [
        *lines,
        *markdown_table(HEADER, body),
        "",
        f"Bulk lane in the same run: {rate.get('sustained_pairs_per_second', 0.0):.1f} pairs/s "
        f"({rate.get('ratio_to_bound', 0.0):.3f} of the bound) over {rate.get('sustained_seconds', 0.0):.0f} s. "
        f"Calls: {calls}. Pairs sent {latency['pairs_sent']:,}, lost {latency['pairs_lost']}, dead-letter "
        f"messages {latency['dead_letter_messages']}.",
        "",
        f"![latency]({CHART})",
    ]


def chart(latency: Figures, folder: Path) -> str | None:
    """Each urgent pair's wait over the drain, in both lanes (log scale), with the bulk backlog beside it."""
    timeline = latency.get("timeline") or {}
    if not timeline.get("urgent_lane") and not timeline.get("single_queue"):
        return None
    with chart_file(folder, CHART, figsize=(9, 4.8)) as (figure, axis):
        series = (
            ("urgent_lane", "tab:blue", "o", "urgent lane (sent to the urgent queue)"),
            ("single_queue", "tab:red", "s", "single queue (sent to the bulk queue)"),
        )
        for name, colour, marker, label in series:
            points = timeline.get(name) or []
            axis.plot([p[0] for p in points], [p[1] for p in points], marker, markersize=3, color=colour, label=label)
        axis.axhline(TARGET_P99_SECONDS, color="k", linestyle="--", linewidth=1, label="target, 1 s")
        axis.set_yscale("log")
        axis.set_xlabel("seconds since the mappings started (when the pair was sent)")
        axis.set_ylabel("wait: send to accepted IVS call (s, log)")
        axis.grid(alpha=0.3, which="both")
        backlog_axis: Any = axis.twinx()
        samples = timeline.get("bulk_backlog") or []
        backlog_axis.plot(
            [s[0] for s in samples],
            [s[1] + s[2] for s in samples],
            color="tab:gray",
            linewidth=1.5,
            label="bulk backlog",
        )
        backlog_axis.set_ylabel("bulk messages waiting or in flight")
        backlog_axis.set_ylim(bottom=0)
        handles, labels = axis.get_legend_handles_labels()
        more_handles, more_labels = backlog_axis.get_legend_handles_labels()
        axis.legend(handles + more_handles, labels + more_labels, loc="center right", fontsize=8)
        figure.suptitle(
            f"Urgent pairs behind {latency['backlog_pairs']:,} bulk pairs (batch "
            f"{latency['batch_quota_calls_per_second']} calls/s, single {latency['single_quota_calls_per_second']} "
            "calls/s)"
        )
    return CHART


SECTION = Section("latency", "Latency: the urgent lane", rows, details, chart)
