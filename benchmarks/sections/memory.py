"""The peak memory section: RSS of one large invocation against the function's configured memory."""

from __future__ import annotations

from benchmarks.sections.section import COMPARED, Figures, Row, Section, markdown_table, ratio, verdict

TARGET_MEMORY_SHARE = 0.70


def rows(memory: Figures) -> list[Row]:
    product = memory["product"]
    peer = memory["peer"]
    share = product["peak_share_of_configured"]
    return [
        Row(
            "memory",
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
