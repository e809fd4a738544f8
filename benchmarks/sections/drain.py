"""The drain section: rate against the bound, throttled calls and lost pairs, per mix; the drain chart."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from benchmarks.sections.section import (
    COMPARED,
    Compared,
    Figures,
    Row,
    Section,
    chart_file,
    markdown_table,
    ratio,
    verdict,
)

TARGET_DRAIN_RATIO = 0.95
TARGET_THROTTLED_SHARE = 0.01
CHART = "drain.png"
HEADER = (
    "mix | target | drained | sustained s | pairs/s | x bound | function / this | steady 10-90% | "
    "calls/s / quota | pairs/call / 20 | calls (throttled) | per-batch floor calls | DLQ msgs | lost"
)
# The drain also runs the stronger peer (benchmarks/peer/strong.py): batch size 20, the pairs of a
# batch merged into calls of 20, standard retries, no pacing.
DRAIN_COMPARED = {**COMPARED, "strong": Compared("stronger peer", "tab:orange")}


def rows(drain: Figures) -> list[Row]:
    table: list[Row] = []
    bound = drain["bound_pairs_per_second"]
    for mix, entry in drain["mixes"].items():
        product, peer = entry.get("product"), entry.get("peer")
        if not product:
            continue
        table += [_rate(mix, bound, product, peer), _throttled(mix, product, peer), _lost(mix, entry, product, peer)]
        if entry.get("strong"):
            table.append(_against_strong(mix, entry, product, entry["strong"]))
    return table


def _against_strong(mix: str, entry: Figures, product: Figures, strong: Figures) -> Row:
    """The function's rate beside the stronger peer's: what pacing and merging across 200 records add."""
    rate, strong_rate = product.get("sustained_pairs_per_second", 0.0), strong.get("sustained_pairs_per_second")
    capped = f" (capped at {strong['cap_seconds']:g} s)" if strong.get("cap_seconds") else ""
    return Row(
        "drain",
        f"drain rate, {mix}, against the stronger peer (pairs/s; ratio to the bound)",
        f"{rate:.1f} ({product.get('ratio_to_bound', 0.0):.3f})",
        "",
        "",
        f"{strong_rate:.1f} ({strong['ratio_to_bound']:.3f}){capped}" if strong_rate is not None else "n/a",
        ratio(rate, strong_rate),
        note=f"stronger peer: {_throttled_text(strong)} calls throttled; {_settled_text(entry, strong)}",
    )


def _settled_text(entry: Figures, figures: Figures) -> str:
    """How far a capped run got: its rate counts accepted calls only, not the time it then stood still."""
    revoked = figures.get("unique_pairs_revoked")
    if figures.get("drained") or revoked is None:
        return "drained"
    return (
        f"{revoked} of {entry['unique_pairs']} pairs revoked when capped at {figures['cap_seconds']:g} s "
        "(records failed after their retries wait out the visibility timeout)"
    )


def _rate(mix: str, bound: float, product: Figures, peer: Figures | None) -> Row:
    rate = product.get("sustained_pairs_per_second", 0.0)
    share = product.get("ratio_to_bound", 0.0)
    peer_rate = peer.get("sustained_pairs_per_second") if peer else None
    capped = f" (capped at {peer['cap_seconds']:g} s)" if peer and peer.get("cap_seconds") else ""
    short = TARGET_DRAIN_RATIO - share
    return Row(
        "drain",
        f"drain rate, {mix} (pairs/s; ratio to the {bound:g} pairs/s bound)",
        f"{rate:.1f} ({share:.3f})",
        f">= {TARGET_DRAIN_RATIO:g} of the bound",
        verdict(share >= TARGET_DRAIN_RATIO),
        f"{peer_rate:.1f} ({peer['ratio_to_bound']:.3f}){capped}" if peer and peer_rate is not None else "n/a",
        ratio(rate, peer_rate),
        note=f"steady 10-90%: {product['steady_ratio_to_bound']:.3f}" if "steady_ratio_to_bound" in product else "",
        miss_by=f"{short:.3f} of the bound ({short * bound:.1f} pairs/s)" if share < TARGET_DRAIN_RATIO else "",
    )


def _throttled(mix: str, product: Figures, peer: Figures | None) -> Row:
    share = product["throttled_share"]
    return Row(
        "drain",
        f"throttled calls, {mix}",
        _throttled_text(product),
        f"< {TARGET_THROTTLED_SHARE:.0%} of calls",
        verdict(share < TARGET_THROTTLED_SHARE),
        _throttled_text(peer) if peer else "n/a",
        ratio(share, peer["throttled_share"]) if peer else "n/a",
        miss_by=f"{share - TARGET_THROTTLED_SHARE:.2%} of calls" if share >= TARGET_THROTTLED_SHARE else "",
    )


def _throttled_text(figures: Figures) -> str:
    throttled = figures["calls_throttled"]
    return f"{throttled} of {figures['calls_accepted'] + throttled} ({figures['throttled_share']:.2%})"


def _lost(mix: str, entry: Figures, product: Figures, peer: Figures | None) -> Row:
    lost = product.get("pairs_lost")
    peer_lost = "n/a"
    if peer:
        peer_lost = (
            str(peer["pairs_lost"])
            if peer.get("pairs_lost") is not None
            else f"{peer.get('pairs_unsettled_at_cap')} unsettled at the cap"
        )
    return Row(
        "drain",
        f"pairs lost, {mix} (of {entry['unique_pairs']} distinct)",
        "not drained" if lost is None else str(lost),
        "0",
        verdict(lost == 0),
        peer_lost,
        "n/a",
        miss_by="" if lost == 0 else "queue not drained" if lost is None else f"{lost} pairs",
    )


def details(drain: Figures) -> list[str]:
    lines = [
        f"Mode: {drain['mode']} (time scale {drain['time_scale']}x; quota {drain['quota_calls_per_second']} "
        f"calls/s, bound {drain['bound_pairs_per_second']} pairs/s); IVS: {drain['ivs']}; "
        f"{drain['pairs']:,} pairs per backlog; batch size {drain['batch_size']}, batching window "
        f"{drain['batching_window_seconds']} s, maximum concurrency {drain['max_concurrency']}, "
        f"{drain['per_instance_calls_per_second']:g} calls/s per instance. Rate = pairs in accepted calls after "
        "the first second's (as many calls as the quota admits at once) / sustained seconds (last accepted "
        "call - first accepted call). It is the product of the two shares: "
        "calls per second over the quota, and pairs per call over 20. The peer (`benchmarks/peer/handler.py`) "
        "runs with the function's mapping; the stronger peer (`benchmarks/peer/strong.py`: the pairs of a batch "
        "merged into calls of 20, botocore standard retries, no pacing) with batch size "
        f"{drain.get('strong_peer_batch_size', 20)}, the same batching window and maximum concurrency "
        f"{drain.get('strong_peer_max_concurrency', 2)}. \"function / this\": the function's rate over the row's. "
        "A capped run's rate counts the span of its accepted calls: a peer whose failed records wait out the "
        "visibility timeout stands still after its last call, which its rate does not show (its lost column does).",
        "",
    ]
    body = [
        _detail_row(mix, target, entry[target], entry["floor_calls_per_batch"], entry.get("product"))
        for mix, entry in drain["mixes"].items()
        for target in DRAIN_COMPARED
        if entry.get(target)
    ]
    return [*lines, *markdown_table(HEADER, body), "", f"![drain]({CHART})"]


def _detail_row(mix: str, target: str, figures: Figures, floor_calls: int, product: Figures | None) -> list[str]:
    lost = figures.get("pairs_lost")
    rate = figures.get("sustained_pairs_per_second")
    return [
        mix,
        DRAIN_COMPARED[target].label,
        "yes" if figures["drained"] else f"capped at {figures['cap_seconds']:g} s",
        f"{figures.get('sustained_seconds', 0):.1f}",
        f"{rate or 0:.1f}",
        f"{figures.get('ratio_to_bound', 0):.3f}",
        ratio(product.get("sustained_pairs_per_second"), rate) if product else "n/a",
        f"{figures.get('steady_ratio_to_bound', math.nan):.3f}",
        f"{figures.get('calls_share_of_quota', 0):.3f}",
        f"{figures.get('pairs_per_call', 0) / 20:.3f}",
        f"{figures['calls_accepted']} ({figures['calls_throttled']})",
        str(floor_calls),
        str(figures["dead_letter_messages"]),
        str(lost) if lost is not None else f"({figures.get('pairs_unsettled_at_cap')} unsettled)",
    ]


def chart(drain: Figures, folder: Path) -> str | None:
    """Pairs revoked over time per mix, the function's and the peer's, beside the bound."""
    if not drain.get("mixes"):
        return None
    mixes = list(drain["mixes"].items())
    bound = drain["bound_pairs_per_second"]
    subplots = {"ncols": len(mixes), "figsize": (5.2 * len(mixes), 4.2), "squeeze": False}
    with chart_file(folder, CHART, **subplots) as (figure, axes):
        for axis, (mix, entry) in zip(axes[0], mixes, strict=True):
            _draw_mix(axis, mix, entry, bound)
        figure.suptitle(
            f"Drain at {drain['quota_calls_per_second']} calls/s ({drain['mode']} run; peers capped at "
            f"{drain['peer_cap_seconds']:g} s)"
        )
    return CHART


def _draw_mix(axis: Any, mix: str, entry: Figures, bound: float) -> None:
    """One mix: pairs revoked over time, the function's and the peer's, beside the bound."""
    longest = 0.0
    start = None
    for target, compared in DRAIN_COMPARED.items():
        timeline = (entry.get(target) or {}).get("timeline") or []
        if not timeline:
            continue
        times = [0.0] + [point[0] for point in timeline]
        pairs = [0] + [point[1] for point in timeline]
        axis.step(times, pairs, where="post", label=compared.label, color=compared.colour)
        longest = max(longest, times[-1])
        if target == "product":
            start = timeline[0][0]
    if start is not None:
        axis.plot([start, longest], [0, bound * (longest - start)], "k--", linewidth=1, label=f"bound, {bound:g}/s")
    axis.set_title(f"{mix} ({entry['unique_pairs']} distinct pairs)")
    axis.set_xlabel("seconds since the mapping started")
    axis.set_ylabel("pairs revoked (in accepted calls)")
    axis.set_xlim(0, longest * 1.02 if longest else 1)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", fontsize=8)


SECTION = Section("drain", "Drain rate", rows, details, chart)
