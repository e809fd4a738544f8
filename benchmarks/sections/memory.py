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
from benchmarks.sections.section import COMPARED, Figures, Row, Section, markdown_table, ratio, verdict

RECORDS = 10_000
MIX = "one-pair"
TARGET_MEMORY_SHARE = 0.70


def run(runs: int, progress: Callable[[str], None]) -> dict[str, Any]:
    configured = deploy_settings().function_memory_mb
    result: dict[str, Any] = {"records": RECORDS, "mix": MIX, "runs": runs, "function_memory_mb": configured}
    for target in COMPARED:
        samples = [worker.run("memory", {"target": target, "mix": MIX, "records": RECORDS}) for _ in range(runs)]
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


def rows(memory: Figures) -> list[Row]:
    product = memory["product"]
    peer = memory["peer"]
    share = product["peak_share_of_configured"]
    return [
        Row(
            f"peak RSS at {memory['records']:,} records (MB; share of {memory['function_memory_mb']} MB)",
            f"{product['peak_rss_mb']:.0f} ({share:.0%})",
            f"<= {TARGET_MEMORY_SHARE:.0%}",
            verdict(share <= TARGET_MEMORY_SHARE),
            f"{peer['peak_rss_mb']:.0f} ({peer['peak_share_of_configured']:.0%})",
            ratio(product["peak_rss_mb"], peer["peak_rss_mb"]),
            note=f"after import {product['rss_after_import_mb']:.0f} MB; event "
            f"{product['event_payload_mb']:.1f} MB of JSON",
            miss_by=f"{(share - TARGET_MEMORY_SHARE) * memory['function_memory_mb']:.0f} MB"
            if share > TARGET_MEMORY_SHARE
            else "",
        )
    ]


def details(memory: Figures) -> list[str]:
    body = [
        [
            COMPARED[target].label,
            f"{memory[target]['rss_after_import_mb']:.0f}",
            f"{memory[target]['rss_with_event_mb']:.0f}",
            f"{memory[target]['peak_rss_mb']:.0f}",
            f"{memory[target]['peak_share_of_configured']:.0%}",
        ]
        for target in COMPARED
    ]
    return [
        f"One invocation of {memory['records']:,} records ({memory['mix']}) in a fresh process; ru_maxrss; "
        f"median of {memory['runs']} runs. Configured: {memory['function_memory_mb']} MB.",
        "",
        *markdown_table(" | after import MB | with the event MB | peak MB | share of configured", body),
    ]


SECTION = Section("memory", "Peak memory", rows, details)
