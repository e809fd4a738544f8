"""`python -m benchmarks [--quick] [--only drain,calls,cpu,cold,memory] [--pairs N]`: measure, then report.

Writes benchmarks/results/results.json, results.md and the charts. A run with --only updates those
sections and keeps the others from the previous run; the markdown and charts are redrawn from the
whole JSON. `make bench ARGS="--quick"` passes options through.

--quick: the drain runs time-compressed (quota and per-instance rate doubled) with a shorter cap for
the peer, and the in-process measurements repeat less. The full run is the one the README quotes.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from benchmarks import calls, cold, cpu, drain, memory, report
from benchmarks.harness import RESULTS, ROOT, deploy_settings
from benchmarks.workload import DEFAULT_MIX, MIXES

SECTIONS = report.SECTION_NAMES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time-compressed drain, fewer repeats")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {SECTIONS})",
    )
    parser.add_argument("--pairs", type=int, default=4000, help="pairs per backlog for drain and calls (default 4000)")
    parser.add_argument(
        "--mix",
        default=",".join(MIXES),
        help=f"drain: comma-separated mixes of {MIXES} (default: all; {DEFAULT_MIX} combines the others)",
    )
    parser.add_argument(
        "--peer-cap", type=float, default=None, help="drain: seconds the peer may run per mix (default 60, quick 30)"
    )
    parser.add_argument("--drain-targets", default="product,peer", help="drain: product, peer or both (default)")
    parser.add_argument(
        "--ivs-url", default=None, help="drain: send IVS calls to this endpoint instead of the local emulator"
    )
    parser.add_argument("--cold-runs", type=int, default=None, help="cold start rounds (default 15, quick 7)")
    parser.add_argument("--memory-runs", type=int, default=None, help="peak memory runs per target (default 3)")
    return parser


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.0f} s] {message}", flush=True)


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
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        print(
            f"unknown section(s): {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}",
            file=sys.stderr,
        )
        return 2
    mixes = [name.strip() for name in args.mix.split(",") if name.strip()]
    if set(mixes) - set(MIXES):
        print(f"unknown mix(es): {', '.join(sorted(set(mixes) - set(MIXES)))}; choose from {MIXES}", file=sys.stderr)
        return 2

    progress = Progress()
    settings = deploy_settings()
    results = report.load()
    meta = _meta(arguments)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")

    def keep(name: str, section: dict[str, Any]) -> None:
        section["measured_at"] = stamp
        section["quick"] = args.quick
        results[name] = section
        results["meta"] = {**meta, "load_average_at_end": list(os.getloadavg())}
        report.write(results)

    if "calls" in only:
        progress("calls per pair")
        keep("calls", calls.run(args.pairs, settings.batch_size, progress))
    if "cpu" in only:
        keep("cpu", cpu.run(20_000 if args.quick else 100_000, progress))
    if "cold" in only:
        keep("cold", cold.run(args.cold_runs or (7 if args.quick else 15), progress))
    if "memory" in only:
        keep("memory", memory.run(args.memory_runs or (1 if args.quick else 3), progress))
    if "drain" in only:
        keep(
            "drain",
            drain.run(
                pairs=args.pairs,
                mixes=mixes,
                quick=args.quick,
                peer_cap_seconds=args.peer_cap or (30.0 if args.quick else 60.0),
                progress=progress,
                targets=[name.strip() for name in args.drain_targets.split(",") if name.strip()],
                ivs_url=args.ivs_url,
            ),
        )

    print()
    print(report.console(report.rows(results)))
    print(f"\nwritten: {', '.join(sorted(path.name for path in RESULTS.iterdir() if path.is_file()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
