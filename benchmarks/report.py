"""Results: the table of figures with targets and ratios to the peer, as JSON, markdown and charts.

Every figure is computed from `results.json`, which each run updates section by section (a run with
`--only cpu` keeps the other sections of the previous run), so the markdown and the charts always say
what the JSON holds. What each section shows is in its own module under benchmarks/sections/.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from tabulate import tabulate

from benchmarks.sections import accounts, calls, cold, cpu, drain, latency, memory
from benchmarks.sections.section import Row, markdown_table

# In the order the report shows them.
SECTIONS = (
    drain.SECTION,
    accounts.SECTION,
    latency.SECTION,
    calls.SECTION,
    cpu.SECTION,
    cold.SECTION,
    memory.SECTION,
)
SECTION_NAMES = tuple(section.name for section in SECTIONS)


def load(path: Path) -> dict[str, Any]:
    if path.exists():
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    return {}


def rows(results: Mapping[str, Any]) -> list[Row]:
    """The summary table: every measured section's rows, in the report's order."""
    return [
        replace(row, section=section.name)
        for section in SECTIONS
        if results.get(section.name)
        for row in section.rows(results[section.name])
    ]


def markdown(results: Mapping[str, Any], table: list[Row]) -> str:
    meta = results.get("meta", {})
    lines = [
        "# Benchmark results",
        "",
        f"Made by `{meta.get('command', 'python -m benchmarks')}` on {meta.get('machine', 'an unknown machine')}, "
        f"commit {meta.get('commit', '?')}. Sections were measured at: "
        + ", ".join(f"{name} {results[name].get('measured_at', '?')}" for name in SECTION_NAMES if name in results)
        + ".",
        "",
        "The machine is shared and noisy: figures are medians of repeated runs (counts below), and a rerun moves "
        "them by a few percent. \"x peer\" is the function's figure divided by the peer's: the peer is Powertools' "
        "documented SQS pattern with one IVS call per record (`benchmarks/peer/handler.py`), on the same harness; "
        "the drain also runs a stronger peer (`benchmarks/peer/strong.py`: a batch's pairs merged into calls of 20, "
        "no pacing). The latency rows compare the urgent lane with the single queue, in the same run.",
        "",
        *markdown_table("figure | function | target | verdict | peer | x peer", map(_summary_cells, table)),
    ]
    misses = [row for row in table if row.verdict == "miss"]
    lines += ["", "## Targets missed", ""]
    lines += [f"- {row.figure}: {row.value}, target {row.target}; short by {row.miss_by}." for row in misses] or [
        "None."
    ]
    for section in SECTIONS:
        if results.get(section.name):
            lines += ["", f"## {section.title}", "", *section.details(results[section.name])]
    return "\n".join(lines) + "\n"


def _summary_cells(row: Row) -> list[str]:
    value = row.value + (f" <br><sub>{row.note}</sub>" if row.note else "")
    return [row.figure, value, row.target, row.verdict, row.peer, row.ratio]


def console(table: list[Row]) -> str:
    """The summary table as a run prints it at its end."""
    return str(
        tabulate(
            [
                [row.figure, row.value, f"[{row.verdict}]" if row.verdict else "", f"peer {row.peer}", f"({row.ratio})"]
                for row in table
            ],
            tablefmt="plain",
            colalign=("left", "right", "left", "left", "left"),
            disable_numparse=True,
        )
    )


def write(results: dict[str, Any], folder: Path) -> None:
    """results.json (with the summary table), results.md and the charts, into the folder."""
    table = rows(results)
    results["summary"] = [asdict(row) for row in table]
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (folder / "results.md").write_text(markdown(results, table))
    for section in SECTIONS:
        if section.chart is not None and results.get(section.name):
            section.chart(results[section.name], folder)
