"""Handler CPU per record, by batch size, against the instant IVS; and a profile at the largest size.

CPU is the process time spent inside the handler call (time.process_time), so no sleep counts and
another process's load counts only as far as it slows this one's caches. Each size repeats until about
`record_budget` records were handled (at least `min_repeats` times); medians are reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import worker
from benchmarks.sections.section import COMPARED, Figures, Row, Section, chart_file, markdown_table, ratio, verdict

SIZES = (10, 100, 1_000, 10_000)
MIX = "one-pair"
TARGET_CPU_US_PER_RECORD = 100.0
TARGET_CPU_AT_RECORDS = "10000"
PROFILE_ROWS = 12
CHART = "cpu.png"


def run(record_budget: int, folder: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    """`folder`: where the profiles go, beside results.md, which links to them."""
    args = {"mix": MIX, "sizes": list(SIZES), "min_repeats": 5, "max_repeats": 200, "record_budget": record_budget}
    result: dict[str, Any] = {"mix": MIX, "record_budget": record_budget}
    for target in COMPARED:
        progress(f"cpu: {target}, batches of {', '.join(map(str, SIZES))} records")
        result[target] = worker.run("cpu", {**args, "target": target})["sizes"]
    largest = max(SIZES)
    profiles = {}
    for target in COMPARED:
        progress(f"cpu: profiling {target} at {largest} records")
        path = folder / f"profile_{target}.txt"
        profile = worker.run(
            "profile", {"target": target, "mix": MIX, "records": largest, "top": 25, "text_path": str(path)}
        )
        profiles[target] = {"file": path.name, "own_time_share": profile["own_time_share"]}
    result["profile"] = profiles
    result["profile_records"] = largest
    return result


def rows(cpu: Figures) -> list[Row]:
    table: list[Row] = []
    for size, figures in cpu["product"].items():
        value = figures["cpu_us_per_record_median"]
        peer_value = cpu["peer"].get(size, {}).get("cpu_us_per_record_median")
        targeted = size == TARGET_CPU_AT_RECORDS
        table.append(
            Row(
                f"handler CPU per record at {int(size):,} records (us)",
                f"{value:.1f}",
                f"<= {TARGET_CPU_US_PER_RECORD:g}" if targeted else "",
                verdict(value <= TARGET_CPU_US_PER_RECORD) if targeted else "",
                f"{peer_value:.1f}" if peer_value is not None else "n/a",
                ratio(value, peer_value),
                miss_by=f"{value - TARGET_CPU_US_PER_RECORD:.1f} us"
                if targeted and value > TARGET_CPU_US_PER_RECORD
                else "",
            )
        )
    return table


def details(cpu: Figures) -> list[str]:
    body = []
    for size, figures in cpu["product"].items():
        median = figures["cpu_us_per_record_median"]
        peer = cpu["peer"].get(size, {}).get("cpu_us_per_record_median")
        body.append(
            [
                f"{int(size):,}",
                f"{median:.1f} ({figures['cpu_us_per_record_min']:.1f}-{figures['cpu_us_per_record_max']:.1f})",
                str(figures["repeats"]),
                f"{figures['calls_per_invocation']:g}",
                f"{math.nan if peer is None else peer:.1f}",
                ratio(median, peer),
            ]
        )
    lines = [
        f"Mix {cpu['mix']}; IVS answered at once by a botocore hook (serialization, signing and parsing "
        "still run). Process time around the handler call; median of repeats.",
        "",
        *markdown_table("records | function us/record (min-max) | repeats | calls | peer us/record | x peer", body),
    ]
    profile = cpu.get("profile", {}).get("product")
    if profile:
        shares = list(profile["own_time_share"].items())[:PROFILE_ROWS]
        lines += [
            "",
            f"Where the function's time goes at {cpu['profile_records']:,} records (own time by package, under "
            f"cProfile; full table in [{profile['file']}]({profile['file']})):",
            "",
            *markdown_table("package | share", [[name, f"{share:.1%}"] for name, share in shares]),
        ]
    return [*lines, "", f"![cpu]({CHART})"]


def chart(cpu: Figures, folder: Path) -> None:
    """CPU per record against batch size (log scale), the function's and the peer's, beside the target."""
    with chart_file(folder, CHART, figsize=(6, 4)) as (_, axis):
        for target in COMPARED:
            sizes = [int(size) for size in cpu[target]]
            values = [figures["cpu_us_per_record_median"] for figures in cpu[target].values()]
            axis.plot(sizes, values, "o-", label=COMPARED[target].label, color=COMPARED[target].colour)
        axis.axhline(TARGET_CPU_US_PER_RECORD, color="k", linestyle="--", linewidth=1, label="target")
        axis.set_xscale("log")
        axis.set_xlabel("records per invocation")
        axis.set_ylabel("handler CPU per record (us)")
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        axis.legend()


SECTION = Section("cpu", "Handler CPU per record", rows, details, chart)
