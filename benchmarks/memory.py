"""Peak memory (RSS) of one invocation at 10,000 records, beside the function's configured memory.

One fresh process per target and run: import the handler, serve one small invocation (first-use
work), then parse a 10,000-record event from JSON as the runtime does and invoke once. The peak is
the process's ru_maxrss, what Lambda reports as "Max Memory Used". Repeated; medians reported.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from benchmarks import worker
from benchmarks.harness import deploy_settings

RECORDS = 10_000
MIX = "one-pair"


def run(runs: int, progress: Callable[[str], None], records: int = RECORDS) -> dict[str, Any]:
    configured = deploy_settings().function_memory_mb
    result: dict[str, Any] = {"records": records, "mix": MIX, "runs": runs, "function_memory_mb": configured}
    for target in ("product", "peer"):
        samples = [worker.run("memory", {"target": target, "mix": MIX, "records": records}) for _ in range(runs)]
        progress(f"memory: {target}, {runs} runs")
        result[target] = {
            key: statistics.median(sample[key] for sample in samples)
            for key in (
                "event_payload_mb",
                "rss_after_import_mb",
                "rss_with_event_mb",
                "peak_rss_mb",
                "invocation_peak_increase_mb",
            )
        }
        result[target]["peak_share_of_configured"] = result[target]["peak_rss_mb"] / configured
    return result
