"""Cold start: importing and initialising a handler module in a fresh interpreter.

Each run is a new `python -c` process with the function's environment, timing `import <module>` with
perf_counter inside the process: that is the function's own share of a Lambda cold start (module
imports, settings, clients, processor), without the interpreter's start, which every runtime pays
alike. The targets run interleaved, round after round, so that a burst of load on a shared machine
hits them all; a first round, which writes the bytecode caches, is discarded. Medians are reported.

A second, unmeasured-by-target figure says where the function's import time goes: `-X importtime`,
own time summed per top-level package.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.harness import MINIMAL, PEER, PRODUCT, run_python

# The function makes its IVS client on first use; the peer makes it at import, as the Powertools
# documentation does. "product+client" adds the client, so both sides pay for the same work.
SNIPPETS = {
    "product": f"import {PRODUCT}",
    "product+client": f"import {PRODUCT}; import boto3; boto3.session.Session().client('ivs')",
    "minimal": f"import {MINIMAL}",
    "peer": f"import {PEER}",
    # Not a target: the minimal handler plus the libraries the function adds (pydantic for its message
    # models and settings, boto3 for its adapters), so that the gap splits into theirs and its own.
    "minimal+pydantic+boto3": f"import {MINIMAL}; import pydantic, boto3",
}
TIMER = (
    "import time, sys\n"
    "started = time.perf_counter()\n"
    "{snippet}\n"
    "sys.stderr.write(f'\\nCOLD {{time.perf_counter() - started!r}}\\n')\n"
)


def _once(snippet: str) -> tuple[float, float]:
    """(import seconds measured inside, whole process seconds measured outside)."""
    started = time.perf_counter()
    completed = run_python("-c", TIMER.format(snippet=snippet))
    process = time.perf_counter() - started
    lines = [line for line in completed.stderr.splitlines() if line.startswith("COLD ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"cold start of {snippet!r} failed:\n{completed.stderr[-3000:]}")
    return float(lines[-1].split()[1]), process


def import_profile(module: str, runs: int) -> dict[str, float]:
    """Median own import time (ms) per top-level package, from `python -X importtime`."""
    per_package: dict[str, list[float]] = {}
    for _ in range(runs):
        completed = run_python("-X", "importtime", "-c", f"import {module}", check=True)
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
    for snippet in SNIPPETS.values():
        _once(snippet)
    inside: dict[str, list[float]] = {name: [] for name in SNIPPETS}
    outside: dict[str, list[float]] = {name: [] for name in SNIPPETS}
    for round_number in range(runs):
        for name, snippet in SNIPPETS.items():
            seconds, process = _once(snippet)
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
            "minimal": _top(import_profile(MINIMAL, profile_runs)),
        },
    }


def _top(profile: dict[str, float], count: int = 12) -> dict[str, float]:
    top = dict(list(profile.items())[:count])
    rest = sum(list(profile.values())[count:])
    if rest:
        top["(other)"] = rest
    return top
