"""Cold start: importing and initialising a handler module in a fresh interpreter.

Each run is a new `python -c` process with the function's environment, timing `import <module>` with
perf_counter inside the process: that is the function's own share of a Lambda cold start (module
imports, settings, clients, processor), without the interpreter's start, which every runtime pays
alike. The targets run interleaved, round after round, so that a burst of load on a shared machine
hits them all; a first round, which writes the bytecode caches, is discarded. Medians are reported.

The function runs in both lanes, each with its own environment (REVOCATION_LANE picks the ports and
the modules they need), so each lane is a target of its own, compared with the naive peer.

A second, unmeasured-by-target figure says where the function's import time goes: `-X importtime`,
own time summed per top-level package, for each lane and the peer.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import MINIMAL, PEER, PRODUCT, run_python
from benchmarks.sections.section import Figures, Row, Section, chart_file, markdown_table, ratio, verdict

# The function makes its IVS client on first use; the peer makes it at import, as the Powertools
# documentation does. "product+client" adds the client, so both sides pay for the same work.
_CLIENT = "from ivs_revocation.adapters.clients import client; client('ivs')"
# name: (snippet, lane whose environment it runs in)
SNIPPETS = {
    "product": (f"import {PRODUCT}", "bulk"),
    "product urgent": (f"import {PRODUCT}", "urgent"),
    "product+client": (f"import {PRODUCT}; {_CLIENT}", "bulk"),
    "product urgent+client": (f"import {PRODUCT}; {_CLIENT}", "urgent"),
    "minimal": (f"import {MINIMAL}", "bulk"),
    "peer": (f"import {PEER}", "bulk"),
    # Not a target: the minimal handler plus the libraries the function adds (pydantic for its message
    # models and settings, botocore for its adapters), so that the gap splits into theirs and its own.
    "minimal+pydantic+botocore": (f"import {MINIMAL}; import pydantic, botocore.session", "bulk"),
}
# Each lane's import, at most this many times the naive peer's.
TARGET_PEER_RATIO = 1.0
LANES = {"product": "bulk", "product urgent": "urgent"}
TIMER = (
    "import time, sys\n"
    "started = time.perf_counter()\n"
    "{snippet}\n"
    "sys.stderr.write(f'\\nCOLD {{time.perf_counter() - started!r}}\\n')\n"
)
TARGET_COLD_START_RATIO = 1.3
CHART = "cold_start.png"


def _once(snippet: str, lane: str) -> tuple[float, float]:
    """(import seconds measured inside, whole process seconds measured outside)."""
    started = time.perf_counter()
    completed = run_python("-c", TIMER.format(snippet=snippet), lane=lane)
    process = time.perf_counter() - started
    lines = [line for line in completed.stderr.splitlines() if line.startswith("COLD ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"cold start of {snippet!r} failed:\n{completed.stderr[-3000:]}")
    return float(lines[-1].split()[1]), process


def import_profile(module: str, runs: int, lane: str = "bulk") -> dict[str, float]:
    """Median own import time (ms) per top-level package, from `python -X importtime`."""
    per_package: dict[str, list[float]] = {}
    for _ in range(runs):
        completed = run_python("-X", "importtime", "-c", f"import {module}", check=True, lane=lane)
        totals: dict[str, float] = {}
        for line in completed.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            package = name.split(".")[0]
            totals[package] = totals.get(package, 0.0) + int(self_us) / 1000
        for package, ms in totals.items():
            per_package.setdefault(package, []).append(ms)
    medians = {
        package: statistics.median(values + [0.0] * (runs - len(values))) for package, values in per_package.items()
    }
    return dict(sorted(medians.items(), key=lambda item: -item[1]))


def run(runs: int, progress: Callable[[str], None]) -> dict[str, Any]:
    for snippet, lane in SNIPPETS.values():
        _once(snippet, lane)
    inside: dict[str, list[float]] = {name: [] for name in SNIPPETS}
    outside: dict[str, list[float]] = {name: [] for name in SNIPPETS}
    for round_number in range(runs):
        for name, (snippet, lane) in SNIPPETS.items():
            seconds, process = _once(snippet, lane)
            inside[name].append(seconds)
            outside[name].append(process)
        if (round_number + 1) % 5 == 0 or round_number + 1 == runs:
            progress(f"cold start: {round_number + 1}/{runs} rounds")
    targets = {
        name: {
            "runs": runs,
            "import_ms_median": statistics.median(inside[name]) * 1000,
            "import_ms_min": min(inside[name]) * 1000,
            "import_ms_max": max(inside[name]) * 1000,
            "process_ms_median": statistics.median(outside[name]) * 1000,
        }
        for name in SNIPPETS
    }
    profile_runs = max(3, runs // 3)
    progress(f"cold start: -X importtime, {profile_runs} runs per module")
    return {
        "runs": runs,
        "targets": targets,
        "import_profile_ms": {
            "product": _top(import_profile(PRODUCT, profile_runs)),
            "product urgent": _top(import_profile(PRODUCT, profile_runs, lane="urgent")),
            "peer": _top(import_profile(PEER, profile_runs)),
            "minimal": _top(import_profile(MINIMAL, profile_runs)),
        },
    }


def _top(profile: dict[str, float], count: int = 12) -> dict[str, float]:
    top = dict(list(profile.items())[:count])
    rest = sum(list(profile.values())[count:])
    if rest:
        top["(other)"] = rest
    return top


def rows(cold: Figures) -> list[Row]:
    targets = cold["targets"]
    product = targets["product"]["import_ms_median"]
    minimal = targets["minimal"]["import_ms_median"]
    peer_ms = targets["peer"]["import_ms_median"]
    times = product / minimal
    lanes = [
        Row(
            f"cold start, {lane} lane: import + init (ms; x the naive peer, {peer_ms:.0f} ms)",
            f"{targets[name]['import_ms_median']:.0f} ({targets[name]['import_ms_median'] / peer_ms:.2f} x)",
            f"<= {TARGET_PEER_RATIO:g} x peer",
            verdict(targets[name]["import_ms_median"] <= TARGET_PEER_RATIO * peer_ms),
            f"{peer_ms:.0f}",
            ratio(targets[name]["import_ms_median"], peer_ms),
        )
        for name, lane in LANES.items()
        if name in targets
    ]
    return [
        *lanes,
        Row(
            f"cold start: import + init (ms; x the minimal Powertools handler, {minimal:.0f} ms)",
            f"{product:.0f} ({times:.2f} x)",
            f"<= {TARGET_COLD_START_RATIO:g} x minimal",
            verdict(times <= TARGET_COLD_START_RATIO),
            f"{peer_ms:.0f}",
            ratio(product, peer_ms),
            note="with its IVS client made, as the peer makes it: "
            f"{targets['product+client']['import_ms_median']:.0f} ms",
            miss_by=f"{times - TARGET_COLD_START_RATIO:.2f} x ({product - TARGET_COLD_START_RATIO * minimal:.0f} ms)"
            if times > TARGET_COLD_START_RATIO
            else "",
        ),
    ]


def details(cold: Figures) -> list[str]:
    body = [
        [
            name,
            f"{figures['import_ms_median']:.0f}",
            f"{figures['import_ms_min']:.0f}-{figures['import_ms_max']:.0f}",
            f"{figures['process_ms_median']:.0f}",
        ]
        for name, figures in cold["targets"].items()
    ]
    lines = [
        f"Import and initialisation of the handler module in a fresh interpreter, timed inside it; "
        f"{cold['runs']} interleaved rounds after one discarded round (bytecode caches written), medians.",
        "",
        *markdown_table("module | median ms | min-max | whole process ms", body),
    ]
    profile = cold.get("import_profile_ms", {})
    if profile:
        columns = [name for name in ("product", "product urgent", "peer", "minimal") if name in profile]
        names = list(dict.fromkeys(package for column in columns for package in profile[column]))
        lines += [
            "",
            "Own import time by top-level package (`-X importtime`, medians, ms):",
            "",
            *markdown_table(
                "package | " + " | ".join(columns),
                [[name, *(_ms(profile[column].get(name)) for column in columns)] for name in names],
            ),
        ]
    return [*lines, "", f"![cold start]({CHART})"]


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def chart(cold: Figures, folder: Path) -> None:
    """Median import + init per module, the function's in blue, beside the target."""
    names = list(cold["targets"])
    values = [cold["targets"][name]["import_ms_median"] for name in names]
    minimal = cold["targets"]["minimal"]["import_ms_median"]
    with chart_file(folder, CHART, figsize=(6.5, 3.6)) as (_, axis):
        axis.barh(names, values, color=["tab:blue" if name.startswith("product") else "tab:gray" for name in names])
        axis.axvline(minimal * TARGET_COLD_START_RATIO, color="k", linestyle="--", linewidth=1, label="target")
        axis.set_xlabel("import + init, median ms")
        axis.invert_yaxis()
        axis.legend()


SECTION = Section("cold", "Cold start", rows, details, chart)
