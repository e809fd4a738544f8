"""Calls per pair: the API calls a backlog takes, beside the floor, for every mix.

The backlog goes to the handler in the mapping's batch size, in queue order, against the instant IVS
(harness.py), once per target. The floor is ceil(n / 20) calls for n distinct pairs. A function that
sees one batch at a time can merge only within a batch, so the floor it can reach is the sum over
batches of ceil(n_batch / 20): that is the target. The backlog-wide floor is reported beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import worker
from benchmarks.sections.section import COMPARED, Figures, Row, Section, markdown_table, ratio, verdict
from benchmarks.workload import MIXES

HEADER = (
    "mix | messages | pairs sent | distinct | calls | per pair | floor | backlog floor | peer calls | peer per pair"
)


def run(pairs: int, batch_size: int, progress: Callable[[str], None]) -> dict[str, Any]:
    mixes: dict[str, Any] = {}
    for mix in MIXES:
        args = {"mix": mix, "pairs": pairs, "batch_size": batch_size}
        product, peer = (worker.run("calls", {**args, "target": target}) for target in COMPARED)
        unique = product["unique_pairs"]
        mixes[mix] = {
            "messages": product["messages"],
            "pair_entries": product["pair_entries"],
            "unique_pairs": unique,
            "calls": product["calls"],
            "calls_per_pair": product["calls"] / unique,
            "floor_calls_per_pair": product["floor_calls_per_batch"] / unique,
            "floor_calls_per_pair_backlog": product["floor_calls"] / unique,
            "at_floor": product["calls"] <= product["floor_calls_per_batch"],
            "pairs_not_revoked_at_highest_version": product["pairs_not_revoked_at_highest_version"],
            "failed_records": product["failed_records"],
            "peer_calls": peer["calls"],
            "peer_calls_per_pair": peer["calls"] / unique,
            "peer_pairs_not_revoked_at_highest_version": peer["pairs_not_revoked_at_highest_version"],
        }
        progress(
            f"calls per pair, {mix}: {product['calls']} calls for {unique} pairs "
            f"(floor {product['floor_calls_per_batch']}), peer {peer['calls']}"
        )
    return {"pairs": pairs, "batch_size": batch_size, "mixes": mixes}


def rows(calls: Figures) -> list[Row]:
    return [
        Row(
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
