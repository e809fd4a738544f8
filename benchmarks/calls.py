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
from benchmarks.workload import MIXES


def run(pairs: int, batch_size: int, progress: Callable[[str], None]) -> dict[str, Any]:
    mixes: dict[str, Any] = {}
    for mix in MIXES:
        product = worker.run("calls", {"target": "product", "mix": mix, "pairs": pairs, "batch_size": batch_size})
        peer = worker.run("calls", {"target": "peer", "mix": mix, "pairs": pairs, "batch_size": batch_size})
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
