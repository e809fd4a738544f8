"""`python -m benchmarks [--quick] [--only drain,latency,calls,cpu,cold,memory] [--pairs N]`: measure, then report.

Writes benchmarks/results/results.json, results.md and the charts. A run with --only updates those
sections and keeps the others from the previous run; the markdown and charts are redrawn from the
whole JSON. `make bench ARGS="--quick"` passes options through.

--quick: the drain runs time-compressed (quota and per-instance rate doubled) with a shorter cap for
the peers, the latency section behind a backlog of 2,000 pairs (at the real quotas: its figures are
about them), and the in-process measurements repeat less. The full run is the one the README quotes.
`--results DIR` writes (and reads the previous run) elsewhere, e.g. for a check that is not to be kept.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.harness import RESULTS, ROOT, deploy_settings
from benchmarks.sections import accounts, calls, cold, cpu, drain, latency, memory
from benchmarks.workload import DEFAULT_MIX, MIXES

SECTIONS = report.SECTION_NAMES
DRAIN_PAIRS = 4000
DRAIN_TARGETS = tuple(drain.HANDLERS)
QUICK_LATENCY_PAIRS = 2000


def _names(what: str, allowed: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of names, each one of `allowed`."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = set(names) - set(allowed)
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {what}: {', '.join(sorted(unknown))}; choose from {', '.join(allowed)}"
            )
        return names

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time-compressed drain, fewer repeats")
    parser.add_argument(
        "--only",
        type=_names("section(s)", SECTIONS),
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {SECTIONS})",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=None,
        help=f"pairs per backlog (default: {DRAIN_PAIRS} for drain and calls, {latency.DEFAULT_PAIRS} for latency, "
        f"quick {QUICK_LATENCY_PAIRS})",
    )
    parser.add_argument(
        "--mix",
        type=_names("mix(es)", MIXES),
        default=",".join(MIXES),
        help=f"drain: comma-separated mixes of {MIXES} (default: all; {DEFAULT_MIX} combines the others)",
    )
    parser.add_argument(
        "--peer-cap", type=float, default=None, help="drain: seconds the peer may run per mix (default 60, quick 30)"
    )
    parser.add_argument(
        "--drain-targets",
        type=_names("drain target(s)", DRAIN_TARGETS),
        default=",".join(DRAIN_TARGETS),
        help="drain: product, peer (Powertools' example), strong (the stronger peer); default all three",
    )
    parser.add_argument(
        "--urgent-every",
        type=float,
        default=latency.DEFAULT_EVERY_SECONDS,
        help=f"latency: seconds between urgent pairs during the drain (default {latency.DEFAULT_EVERY_SECONDS:g})",
    )
    parser.add_argument(
        "--idle-pairs",
        type=int,
        default=latency.DEFAULT_IDLE_PAIRS,
        help=f"latency: pairs sent to each lane when idle (default {latency.DEFAULT_IDLE_PAIRS})",
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="folder of results.json, results.md and the charts"
    )
    parser.add_argument(
        "--outcome-events",
        choices=("on", "off"),
        default="on",
        help="drain: the function puts its outcome events (on, cdk.json's default) or not (off), for comparison",
    )
    parser.add_argument(
        "--ivs-url", default=None, help="drain: send IVS calls to this endpoint instead of the local emulator"
    )
    parser.add_argument("--cold-runs", type=int, default=None, help="cold start rounds (default 15, quick 7)")
    parser.add_argument("--memory-runs", type=int, default=None, help="peak memory runs per target (default 3)")
    return parser


def _meta(argv: Sequence[str]) -> dict[str, Any]:
    def git(*args: str) -> str:
        completed = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return completed.stdout.strip()

    return {
        "command": " ".join(["python -m benchmarks", *argv]),
        "commit": git("rev-parse", "--short", "HEAD") or "?",
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
        "load_average_at_start": list(os.getloadavg()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(arguments)
    only: list[str] = args.only
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {message}", flush=True)

    settings = deploy_settings()
    folder: Path = args.results
    folder.mkdir(parents=True, exist_ok=True)
    results = report.load(folder / "results.json")
    meta = _meta(arguments)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")

    def keep(name: str, section: dict[str, Any]) -> None:
        section["measured_at"] = stamp
        section["quick"] = args.quick
        results[name] = section
        results["meta"] = {**meta, "load_average_at_end": list(os.getloadavg())}
        report.write(results, folder)

    pairs = args.pairs or DRAIN_PAIRS
    if "calls" in only:
        progress("calls per pair")
        keep("calls", calls.run(pairs, settings.batch_size, progress))
    if "cpu" in only:
        keep("cpu", cpu.run(20_000 if args.quick else 100_000, folder, progress))
    if "cold" in only:
        keep("cold", cold.run(args.cold_runs or (7 if args.quick else 15), progress))
    if "memory" in only:
        keep("memory", memory.run(args.memory_runs or (1 if args.quick else 3), progress))
    if "drain" in only:
        keep(
            "drain",
            drain.run(
                pairs=pairs,
                mixes=args.mix,
                quick=args.quick,
                peer_cap_seconds=args.peer_cap or (30.0 if args.quick else 60.0),
                progress=progress,
                targets=args.drain_targets,
                ivs_url=args.ivs_url,
                outcome_events=args.outcome_events == "on",
            ),
        )

    if "accounts" in only:
        keep("accounts", accounts.run(pairs=args.pairs, quick=args.quick, progress=progress))

    if "latency" in only:
        keep(
            "latency",
            latency.run(
                pairs=args.pairs or (QUICK_LATENCY_PAIRS if args.quick else latency.DEFAULT_PAIRS),
                every_seconds=args.urgent_every,
                idle_pairs=args.idle_pairs,
                progress=progress,
            ),
        )

    print()
    print(report.console(report.rows(results)))
    print(f"\nwritten to {folder}: {', '.join(sorted(path.name for path in folder.iterdir() if path.is_file()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
