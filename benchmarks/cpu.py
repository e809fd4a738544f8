"""Handler CPU per record, by batch size, against the instant IVS; and a profile at the largest size.

CPU is the process time spent inside the handler call (time.process_time), so no sleep counts and
another process's load counts only as far as it slows this one's caches. Each size repeats until about
`record_budget` records were handled (at least `min_repeats` times); medians are reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import worker
from benchmarks.harness import RESULTS

SIZES = (10, 100, 1_000, 10_000)
MIX = "one-pair"


def run(record_budget: int, progress: Callable[[str], None], sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    args = {"mix": MIX, "sizes": list(sizes), "min_repeats": 5, "max_repeats": 200, "record_budget": record_budget}
    result: dict[str, Any] = {"mix": MIX, "record_budget": record_budget}
    for target in ("product", "peer"):
        progress(f"cpu: {target}, batches of {', '.join(map(str, sizes))} records")
        result[target] = worker.run("cpu", {**args, "target": target})["sizes"]
    largest = max(sizes)
    profiles = {}
    for target in ("product", "peer"):
        progress(f"cpu: profiling {target} at {largest} records")
        path = RESULTS / f"profile_{target}.txt"
        profile = worker.run(
            "profile", {"target": target, "mix": MIX, "records": largest, "top": 25, "text_path": str(path)}
        )
        profiles[target] = {"file": path.name, "own_time_share": profile["own_time_share"]}
    result["profile"] = profiles
    result["profile_records"] = largest
    return result
