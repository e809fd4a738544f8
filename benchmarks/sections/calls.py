"""The calls section: API calls per pair for each mix, beside the floor a batch-at-a-time function can reach."""

from __future__ import annotations

from benchmarks.sections.section import Figures, Row, Section, markdown_table, ratio, verdict

HEADER = (
    "mix | messages | pairs sent | distinct | calls | per pair | floor | backlog floor | peer calls | peer per pair"
)


def rows(calls: Figures) -> list[Row]:
    return [
        Row(
            "calls",
            f"calls per pair, {mix} ({entry['calls']} calls, {entry['unique_pairs']} distinct pairs)",
            f"{entry['calls_per_pair']:.4f}",
            f"floor {entry['floor_calls_per_pair']:.4f}",
            verdict(entry["at_floor"]),
            f"{entry['peer_calls_per_pair']:.4f}",
            ratio(entry["calls_per_pair"], entry["peer_calls_per_pair"]),
            note=f"backlog-wide floor {entry['floor_calls_per_pair_backlog']:.4f}",
            miss_by=""
            if entry["at_floor"]
            else f"{entry['calls_per_pair'] - entry['floor_calls_per_pair']:.4f} calls per pair",
        )
        for mix, entry in calls["mixes"].items()
    ]


def details(calls: Figures) -> list[str]:
    body = [
        [
            mix,
            str(entry["messages"]),
            str(entry["pair_entries"]),
            str(entry["unique_pairs"]),
            str(entry["calls"]),
            f"{entry['calls_per_pair']:.4f}",
            f"{entry['floor_calls_per_pair']:.4f}",
            f"{entry['floor_calls_per_pair_backlog']:.4f}",
            str(entry["peer_calls"]),
            f"{entry['peer_calls_per_pair']:.4f}",
        ]
        for mix, entry in calls["mixes"].items()
    ]
    return [
        f"{calls['pairs']:,} pairs per mix, handed to the handler in batches of {calls['batch_size']} records in "
        "queue order. Floor: the sum over batches of ceil(distinct pairs in the batch / 20), what a function "
        "that sees one batch at a time can reach; the backlog-wide floor ceil(n/20)/n is beside it.",
        "",
        *markdown_table(HEADER, body),
    ]


SECTION = Section("calls", "Calls per pair", rows, details)
