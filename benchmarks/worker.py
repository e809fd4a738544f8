"""One measurement in a fresh interpreter: `python -m benchmarks.worker TASK ARGS_JSON OUT_PATH`.

Each measurement gets its own process so that one handler's imports, caches and peak memory never
colour another's. The function's logs and metrics go to /dev/null (they are still formatted and
written, as on Lambda); the result is written as JSON to OUT_PATH.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import InstantIvs, NoDeadlineContext, load, quiet_stdout, run_python
from benchmarks.workload import make_backlog, message_bodies, sqs_event

# The target's Lambda entry point, given an event (with a context whose time never runs out).
Invoke = Callable[[dict[str, Any]], Any]


def run(task: str, args: dict[str, Any], timeout: float = 1800) -> dict[str, Any]:
    """Runs a task in a child interpreter with the function's environment; returns its result."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        completed = run_python("-m", "benchmarks.worker", task, json.dumps(args), str(out), timeout=timeout)
        if completed.returncode != 0 or not out.exists():
            raise RuntimeError(f"benchmark worker {task} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _cpu(args: dict[str, Any], ivs: InstantIvs, invoke: Invoke) -> dict[str, Any]:
    """Handler CPU per record, by batch size: process time around the handler, median of repeats."""
    import statistics
    import time

    bodies = message_bodies(args["mix"], max(args["sizes"]))
    # First invocation: lazy imports and first-use work belong to the cold start, not to records.
    invoke(sqs_event(bodies[:10]))

    by_size: dict[str, Any] = {}
    for size in args["sizes"]:
        event = sqs_event(bodies[:size])
        repeats = max(args["min_repeats"], min(args["max_repeats"], args["record_budget"] // size))
        cpu: list[float] = []
        wall: list[float] = []
        calls: list[int] = []
        for _ in range(repeats):
            before_calls = ivs.calls
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            response = invoke(event)
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started_wall)
            calls.append(ivs.calls - before_calls)
            if response.get("batchItemFailures"):
                raise RuntimeError(f"{args['target']} failed records with an instant IVS: {response}")
        by_size[str(size)] = {
            "records": size,
            "repeats": repeats,
            "cpu_seconds_median": statistics.median(cpu),
            "wall_seconds_median": statistics.median(wall),
            "cpu_us_per_record_median": statistics.median(cpu) / size * 1e6,
            "cpu_us_per_record_min": min(cpu) / size * 1e6,
            "cpu_us_per_record_max": max(cpu) / size * 1e6,
            "calls_per_invocation": statistics.median(calls),
        }
    return {"target": args["target"], "mix": args["mix"], "sizes": by_size}


def _profile(args: dict[str, Any], ivs: InstantIvs, invoke: Invoke) -> dict[str, Any]:
    """Where one invocation's time goes: cProfile's table, and own time grouped by package."""
    import cProfile
    import io
    import pstats

    bodies = message_bodies(args["mix"], args["records"])
    invoke(sqs_event(bodies[:10]))
    event = sqs_event(bodies)

    profiler = cProfile.Profile()
    profiler.enable()
    invoke(event)
    profiler.disable()

    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    groups: dict[str, float] = {}
    for (filename, _, function), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        group = _group(filename, function)
        groups[group] = groups.get(group, 0.0) + own
    text = io.StringIO()
    text.write(
        f"cProfile of one invocation of {args['target']} with {args['records']} records ({args['mix']}), "
        f"instant IVS; total {total:.3f} s under the profiler (profiling inflates it).\n\n"
        "Own time by package:\n"
    )
    for group, seconds in sorted(groups.items(), key=lambda item: -item[1]):
        text.write(f"  {seconds / total:6.1%}  {seconds:8.3f} s  {group}\n")
    for key, title in (("cumulative", "by cumulative time"), ("tottime", "by own time")):
        text.write(f"\nTop {args['top']} functions {title}:\n")
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(key).print_stats(args["top"])
    Path(args["text_path"]).write_text(text.getvalue())
    return {
        "target": args["target"],
        "records": args["records"],
        "profiled_seconds": total,
        "own_time_share": {group: seconds / total for group, seconds in sorted(groups.items(), key=lambda i: -i[1])},
    }


def _group(filename: str, function: str) -> str:
    """The package a profiled function belongs to, for the where-the-time-goes summary.

    C functions have no file: they are named by the type they belong to (pydantic-core's validators,
    the json module's scanner) where that says whose work they do.
    """
    if filename == "~":
        for marker, name in (("pydantic_core", "pydantic"), ("json", "json (stdlib)"), ("re.Pattern", "re (stdlib)")):
            if marker in function:
                return name
        return "builtins (C)"
    path = filename.replace(os.sep, "/")
    if "/revocation/" in path:
        return "ivs_revocation." + Path(path).stem
    if "/benchmarks/" in path:
        return "benchmarks (instant IVS)"
    for marker, name in (
        ("aws_lambda_powertools/", "aws_lambda_powertools"),
        ("pydantic_core", "pydantic"),
        ("pydantic/", "pydantic"),
        ("botocore/", "botocore"),
        ("boto3/", "boto3"),
        ("/json/", "json (stdlib)"),
        ("/logging/", "logging (stdlib)"),
    ):
        if marker in path:
            return name
    if filename.startswith("<"):
        return "builtins (C)"
    return "other stdlib"


def _memory(args: dict[str, Any], ivs: InstantIvs, invoke: Invoke) -> dict[str, Any]:
    """Peak RSS of the process around one invocation of `records` records (what Lambda reports)."""
    import gc
    import resource

    def rss_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def current_mb() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    invoke(sqs_event(message_bodies("one-pair", 10)))
    gc.collect()
    after_import = current_mb()
    peak_after_import = rss_mb()

    # The runtime hands the handler the event parsed from the JSON it received.
    bodies = message_bodies(args["mix"], args["records"])
    payload = json.dumps(sqs_event(bodies))
    del bodies
    gc.collect()
    event = json.loads(payload)
    payload_mb = len(payload.encode()) / 2**20
    del payload
    gc.collect()
    with_event = current_mb()
    response = invoke(event)
    peak = rss_mb()
    return {
        "target": args["target"],
        "records": len(event["Records"]),
        "event_payload_mb": payload_mb,
        "rss_after_import_mb": after_import,
        "peak_rss_after_import_mb": peak_after_import,
        "rss_with_event_mb": with_event,
        "peak_rss_mb": peak,
        "invocation_peak_increase_mb": peak - with_event,
        "failed_records": len(response.get("batchItemFailures", [])),
    }


def _calls(args: dict[str, Any], ivs: InstantIvs, invoke: Invoke) -> dict[str, Any]:
    """API calls a backlog takes, fed to the handler in batches of the mapping's batch size, in order."""
    backlog = make_backlog(args["mix"], args["pairs"])
    failed = 0
    for number, batch in enumerate(backlog.batches(args["batch_size"])):
        response = invoke(sqs_event([backlog.bodies[i] for i in batch], first_number=number * 100_000))
        failed += len(response.get("batchItemFailures", []))
    wrong = sum(1 for key, version in backlog.expected.items() if ivs.revoked.get(key) != version)
    return {
        "target": args["target"],
        "mix": args["mix"],
        "messages": len(backlog.bodies),
        "pair_entries": backlog.entries,
        "unique_pairs": backlog.unique_pairs,
        "batch_size": args["batch_size"],
        "calls": ivs.calls,
        "pairs_sent": ivs.pairs,
        "floor_calls": backlog.floor_calls(),
        "floor_calls_per_batch": backlog.floor_calls(args["batch_size"]),
        "failed_records": failed,
        "pairs_not_revoked_at_highest_version": wrong,
    }


TASKS = {"cpu": _cpu, "profile": _profile, "memory": _memory, "calls": _calls}


def main() -> int:
    task, args, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    quiet_stdout()
    ivs = InstantIvs(record=task == "calls")
    handler = load(args["target"], ivs)
    context = NoDeadlineContext()
    result = TASKS[task](args, ivs, lambda event: handler(event, context))
    Path(out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
