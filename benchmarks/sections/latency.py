"""Latency: how long an urgent pair waits behind a bulk backlog, in the urgent lane and in one queue;
the section's rows, details and chart.

One local stack at the real quotas: the IVS emulator gives each operation its own sliding one-second
window, BatchStartViewerSessionRevocation 2 calls/s and StartViewerSessionRevocation 10 calls/s (the
quota table's separate rows), and both lanes run with the deploy settings (the bulk lane's batch size,
window and concurrency, the urgent lane's urgentBatchSize, no window and urgentMaxConcurrency).

1. Behind the backlog. `pairs` one-pair bulk messages are sent to the bulk queue, then both mappings
   start. Every `every` seconds while the bulk queue still holds messages (waiting, or received by the
   function and not yet deleted), two pairs are sent, each with
   SendMessage: one to the urgent queue (`"priority": "urgent"`), and one to the bulk queue, which is
   the single queue as it is today (what a producer had to do before the urgent lane). Both wait behind
   the same backlog at the same moment, so the gain is a ratio measured in one run.
   Cold round: once the bulk backlog is down to half its messages, the urgent lane's instances are
   ended after `COLD_REAP_SECONDS` idle (the runner's reaping, as Lambda reclaims an idle environment,
   shortened from its minutes), and from then on one urgent pair at a time is sent only when the lane
   has no instance left: each waits for a cold start (process start, import, init) behind the same
   backlog. The cold-start share is the cold start's time over that pair's latency.
2. Idle. With the queues empty and the functions warm, `idle_pairs` rounds of one pair to each lane.

A pair's latency is from its producer's send (SendMessage returned) to the IVS call that revoked it,
as the emulator's ledger stamps it (the machine's wall clock). The emulator runs in a process of its
own, so that its threads do not hold up the producer's (Python's interpreter lock): a producer that
resumed late would understate the wait. The time SendMessage took is kept beside it. A
single-operation call names its pair, so an urgent pair's time is exact. A batch call does not: a bulk
pair is given the time of the last batch call accepted between the two ledger reads around its
revocation (read every `LEDGER_POLL_SECONDS`), at most that much late.

Also reported, from the ledger: the bulk lane's sustained rate in the same run against 2 calls/s x 20
pairs (the drain section's definition), calls accepted and throttled per operation, and pairs lost
(neither revoked at the version sent nor in the dead-letter queue).
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks.harness import ROOT, deploy_settings
from benchmarks.sections.drain import (
    MAPPING_COUNTS,
    TARGET_DRAIN_RATIO,
    backlogged_stack,
    dead_lettered,
    mapping_counts,
    rate_figures,
)
from benchmarks.sections.section import Figures, Row, Section, chart_file, markdown_table, ratio, verdict
from benchmarks.workload import PAIRS_PER_CALL, channel_arn, make_backlog
from ivs_revocation.call_policy import BATCH_CALLS_PER_SECOND, SINGLE_CALLS_PER_SECOND
from ivs_revocation.models import PRIORITY_URGENT
from ivs_revocation.names import OPERATION_BATCH as BATCH_OPERATION
from ivs_revocation.names import OPERATION_SINGLE as SINGLE_OPERATION

# The real quotas, as whole calls per second for the emulator's command line.
BATCH_QUOTA: Final = int(BATCH_CALLS_PER_SECOND)
SINGLE_QUOTA: Final = int(SINGLE_CALLS_PER_SECOND)
DEFAULT_PAIRS: Final = 10_000
DEFAULT_EVERY_SECONDS: Final = 2.0
DEFAULT_IDLE_PAIRS: Final = 10
# Each read copies the whole ledger over HTTP: often enough for a bulk pair (it waits minutes), and rare
# enough to take little of the machine from the lanes measured. An urgent pair's time is exact at any interval.
LEDGER_POLL_SECONDS: Final = 1.0
IDLE_ROUND_SECONDS: Final = 3.0
IDLE_WAIT_SECONDS: Final = 30.0
PROGRESS_SECONDS: Final = 10.0
# After the last pair was sent: how long the run may take to settle everything before it gives up.
SETTLE_SECONDS: Final = 120.0

# The scenarios, by their keys in results.json.
URGENT_LANE: Final = "urgent_lane"
SINGLE_QUEUE: Final = "single_queue"
IDLE_URGENT: Final = "idle_urgent"
IDLE_BULK: Final = "idle_bulk"
COLD_URGENT: Final = "cold_urgent"
# Not a scenario: one urgent pair after the cold round, so that the idle rounds start warm.
WARM_UP: Final = "warm_up"
# The urgent lane's idle time before its instances are ended, in the cold round.
COLD_REAP_SECONDS: Final = 2.0
MIN_COLD_PAIRS: Final = 5
# How often the cold round looks whether the lane has no instance left.
COLD_LOOK_SECONDS: Final = 0.25

CHART = "latency.png"
TARGET_P99_SECONDS = 1.0
MIN_URGENT_PAIRS = 30
HEADER = "scenario | sent to | pairs | min s | p50 s | p99 s | max s | mean s | SendMessage max s | not revoked"
SCENARIOS = {
    URGENT_LANE: ("urgent pair behind the backlog, urgent lane", "urgent queue"),
    COLD_URGENT: ("urgent pair behind the backlog after the lane was idle past its reap time (cold)", "urgent queue"),
    SINGLE_QUEUE: ("urgent pair behind the backlog, single queue (as before the urgent lane)", "bulk queue"),
    IDLE_URGENT: ("idle pipeline, urgent lane", "urgent queue"),
    IDLE_BULK: ("idle pipeline, bulk lane", "bulk queue"),
}
# The operations, as the report names them.
OPERATIONS = {BATCH_OPERATION: "batch", SINGLE_OPERATION: "single"}

PairKey = tuple[str, str]


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value at least `share` of the values do not exceed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def latency_summary(latencies: Sequence[float]) -> dict[str, Any]:
    if not latencies:
        return {"pairs": 0}
    return {
        "pairs": len(latencies),
        "p50_seconds": percentile(latencies, 0.50),
        "p99_seconds": percentile(latencies, 0.99),
        "max_seconds": max(latencies),
        "mean_seconds": sum(latencies) / len(latencies),
    }


@dataclass
class Probe:
    """A pair sent to be timed: which scenario, when its producer's SendMessage returned, when revoked."""

    scenario: str
    key: PairKey
    sent_at: float
    send_seconds: float
    """How long SendMessage took (sent_at is when it returned)."""
    revoked_at: float | None = None

    @property
    def latency(self) -> float | None:
        return None if self.revoked_at is None else self.revoked_at - self.sent_at


@dataclass
class RevocationTimes:
    """Finds when each probe was revoked, from successive reads of the emulator's ledger."""

    probes: dict[PairKey, Probe] = field(default_factory=dict)
    _calls_seen: int = 0

    def watch(self, probe: Probe) -> None:
        self.probes[probe.key] = probe

    def update(self, ledger: Any) -> None:
        calls = ledger.accepted_calls
        new_calls = calls[self._calls_seen :]
        self._calls_seen = len(calls)
        # A single call names its pair: exact. A probe is watched before the next read, so its call is
        # among the new ones even if it came before the producer's send returned.
        for call in new_calls:
            probe = self.probes.get((call.channel_arn, call.viewer_id)) if call.operation == SINGLE_OPERATION else None
            if probe is not None and probe.revoked_at is None:
                probe.revoked_at = call.at
        last_batch = next((call.at for call in reversed(new_calls) if call.operation == BATCH_OPERATION), None)
        for key, probe in self.probes.items():
            if probe.revoked_at is None and key in ledger.revoked and last_batch is not None:
                probe.revoked_at = max(last_batch, probe.sent_at)

    def pending(self) -> list[Probe]:
        return [probe for probe in self.probes.values() if probe.revoked_at is None]

    def latencies(self, scenario: str) -> list[float]:
        return [p.latency for p in self.probes.values() if p.scenario == scenario and p.latency is not None]


def _body(key: PairKey, urgent: bool) -> str:
    session: dict[str, Any] = {"channelArn": key[0], "viewerId": key[1], "viewerSessionVersionsLessThanOrEqualTo": 0}
    if urgent:
        session["priority"] = PRIORITY_URGENT
    return json.dumps(session, separators=(",", ":"))


@contextlib.contextmanager
def emulator_process(log_dir: Path) -> Iterator[str]:
    """`python -m local.ivs_emulator` at the real quotas, its own windows per operation; yields its URL."""
    command = [sys.executable, "-m", "local.ivs_emulator", "--tps", str(BATCH_QUOTA), "--single-tps", str(SINGLE_QUOTA)]
    with (
        (log_dir / "ivs-emulator.log").open("w") as log,
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True) as process,
    ):
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            if not url.startswith("http://"):
                raise RuntimeError(f"the IVS emulator did not start (see {log.name})")
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def run(
    *,
    pairs: int = DEFAULT_PAIRS,
    every_seconds: float = DEFAULT_EVERY_SECONDS,
    idle_pairs: int = DEFAULT_IDLE_PAIRS,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    from local.ivs_emulator import EmulatorControl
    from local.runner import DrainTimeout

    settings = deploy_settings()
    bulk, urgent = settings.lane("bulk"), settings.lane("urgent")
    backlog = make_backlog("one-pair", pairs)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    times = RevocationTimes()
    sent_versions: dict[PairKey, int] = dict(backlog.expected)
    backlog_timeline: list[list[float]] = []
    with contextlib.ExitStack() as stack_of:
        emulator = EmulatorControl(stack_of.enter_context(emulator_process(log_dir)))
        stack = stack_of.enter_context(
            backlogged_stack(settings, backlog, emulator, "latency", progress, ivs_url=emulator.url, log_dir=log_dir)
        )
        progress("latency: starting both mappings")
        stack.start_function()
        origin = time.time()

        urgent_runner = stack.urgent_runner
        assert urgent_runner is not None, "the latency run needs the urgent lane"
        warm_idle_seconds = urgent_runner.function.idle_seconds
        cold_from = math.ceil(len(backlog.bodies) / 2)
        cold = False
        cold_number = 0
        cold_probes: list[tuple[Probe, int]] = []  # each with the urgent lane's cold-start count before it

        def send(scenario: str, number: int) -> Probe:
            urgent_pair = scenario in (URGENT_LANE, IDLE_URGENT, COLD_URGENT, WARM_UP)
            key = (channel_arn(number), f"{scenario}-{number:05d}")
            sent_versions[key] = 0
            queue_url = stack.urgent_queue_url if urgent_pair else stack.resources.queue_url
            calling = time.time()
            stack.sqs.send_message(QueueUrl=queue_url, MessageBody=_body(key, urgent_pair))
            returned = time.time()
            probe = Probe(scenario, key, returned, returned - calling)
            times.watch(probe)
            return probe

        # 1. Behind the backlog: a pair to each lane every `every_seconds` while the bulk queue holds any.
        number = 0
        next_send = origin + every_seconds
        next_poll = next_report = origin
        sending = True
        settle_by = math.inf
        while True:
            now = time.time()
            if sending and now >= next_send:
                counts = stack.queue_counts()
                waiting, held = counts.get("Messages", 0), counts.get("MessagesNotVisible", 0)
                backlog_timeline.append([round(now - origin, 3), waiting, held])
                # The backlog lasts while messages wait or are held by the function (a batch of 200).
                if waiting + held and not cold and waiting + held <= cold_from:
                    cold = True
                    urgent_runner.set_idle_seconds(COLD_REAP_SECONDS)
                    progress(
                        f"latency: cold round, the urgent lane's instances ended after {COLD_REAP_SECONDS:g} s idle"
                    )
                if waiting + held and not cold:
                    number += 1
                    send(URGENT_LANE, number)
                    send(SINGLE_QUEUE, number)
                    next_send += every_seconds
                elif waiting + held:
                    # One cold pair at a time: the last one revoked, and no urgent instance left.
                    if all(probe.revoked_at is not None for probe, _ in cold_probes) and not urgent_runner.pids:
                        cold_number += 1
                        starts_before = urgent_runner.stats.cold_starts
                        cold_probes.append((send(COLD_URGENT, cold_number), starts_before))
                    next_send = now + COLD_LOOK_SECONDS
                else:
                    sending = False
                    settle_by = now + SETTLE_SECONDS
            if now >= next_poll:
                times.update(emulator.ledger())
                next_poll = now + LEDGER_POLL_SECONDS
                if not sending and (now > settle_by or (not times.pending() and _idle(stack))):
                    break
            if now >= next_report:
                ledger = emulator.ledger()
                progress(
                    f"latency: {now - origin:5.0f} s, {len(ledger.revoked)} pairs revoked, "
                    f"{number} urgent pairs sent, {len(times.pending())} not yet revoked, "
                    f"throttled {dict(ledger.throttled_by_operation)}"
                )
                next_report = now + PROGRESS_SECONDS
            time.sleep(0.02)
        drain_end = time.time()
        drain_ledger = emulator.ledger()
        times.update(drain_ledger)

        # 2. Idle: the queues are empty and both functions warm (the urgent lane's after one pair).
        urgent_runner.set_idle_seconds(warm_idle_seconds)
        warm_up = send(WARM_UP, 0)
        while warm_up.revoked_at is None and time.time() - warm_up.sent_at < IDLE_WAIT_SECONDS:
            time.sleep(0.05)
            times.update(emulator.ledger())
        progress(f"latency: idle, {idle_pairs} pairs to each lane")
        for round_number in range(1, idle_pairs + 1):
            started = time.time()
            send(IDLE_URGENT, round_number)
            send(IDLE_BULK, round_number)
            while times.pending() and time.time() - started < IDLE_WAIT_SECONDS:
                time.sleep(0.05)
                times.update(emulator.ledger())
            time.sleep(max(0.0, started + IDLE_ROUND_SECONDS - time.time()))
        # Whatever is still queued then is counted below as not revoked or lost.
        with contextlib.suppress(DrainTimeout):
            stack.drain(timeout=SETTLE_SECONDS)
        ledger = emulator.ledger()
        times.update(ledger)
        dead_letters = stack.dead_letters()
        lane_counts = [name for name in MAPPING_COUNTS if name != "batches_failed"]
        mapping = {lane: mapping_counts(runner.stats, lane_counts) for lane, runner in stack.runners.items()}
        start_seconds = list(urgent_runner.stats.cold_start_seconds)
        stack.stop_function()

    batch_calls = sorted(
        (call.at, call.pairs) for call in drain_ledger.accepted_calls if call.operation == BATCH_OPERATION
    )
    bulk_rate = rate_figures(batch_calls, BATCH_QUOTA)
    in_dlq = dead_lettered(dead_letters)
    lost = [
        key for key, version in sent_versions.items() if ledger.revoked.get(key, -1) < version and key not in in_dlq
    ]
    scenarios = {
        name: latency_summary(times.latencies(name))
        | {
            "not_revoked": sum(1 for probe in times.pending() if probe.scenario == name),
            "min_seconds": min(times.latencies(name), default=None),
            "send_seconds_max": max(
                (p.send_seconds for p in times.probes.values() if p.scenario == name), default=None
            ),
        }
        for name in SCENARIOS
    }
    accepted = Counter(call.operation for call in ledger.accepted_calls)
    # Each cold pair's cold start: the urgent lane's first after the pair was sent.
    cold_starts = [
        (probe.latency, start_seconds[before])
        for probe, before in cold_probes
        if probe.latency is not None and before < len(start_seconds)
    ]
    return {
        "ivs": "local emulator (python -m local.ivs_emulator), separate windows per operation",
        "batch_quota_calls_per_second": BATCH_QUOTA,
        "single_quota_calls_per_second": SINGLE_QUOTA,
        "bound_pairs_per_second": BATCH_QUOTA * PAIRS_PER_CALL,
        "backlog_pairs": pairs,
        "every_seconds": every_seconds,
        "idle_pairs": idle_pairs,
        "ledger_poll_seconds": LEDGER_POLL_SECONDS,
        "bulk": _lane_settings(bulk),
        "urgent": _lane_settings(urgent),
        "drain_seconds": drain_end - origin,
        "cold": {
            "reap_seconds": COLD_REAP_SECONDS,
            "from_messages_left": cold_from,
            "start_seconds": [round(start, 4) for _, start in cold_starts],
            "start_seconds_p50": percentile([start for _, start in cold_starts], 0.5) if cold_starts else None,
            "share_p50": percentile([start / latency for latency, start in cold_starts], 0.5) if cold_starts else None,
        },
        "scenarios": scenarios,
        "bulk_rate": bulk_rate,
        "calls_accepted": {op: accepted[op] for op in OPERATIONS},
        "calls_throttled": {op: ledger.throttled_by_operation.get(op, 0) for op in OPERATIONS},
        "pairs_sent": len(sent_versions),
        "pairs_lost": len(lost),
        "lost_examples": [list(key) for key in lost[:5]],
        "dead_letter_messages": len(dead_letters),
        "mapping": mapping,
        "log_dir": str(log_dir),
        "timeline": {
            # (seconds since the mappings started, latency) per pair sent behind the backlog.
            URGENT_LANE: _points(times, URGENT_LANE, origin),
            COLD_URGENT: _points(times, COLD_URGENT, origin),
            SINGLE_QUEUE: _points(times, SINGLE_QUEUE, origin),
            # (seconds, bulk messages waiting, in flight), sampled at each send.
            "bulk_backlog": backlog_timeline,
        },
    }


def _idle(stack: Any) -> bool:
    return all(not any(runner.queue_counts().values()) and runner.in_flight == 0 for runner in stack.runners.values())


def _points(times: RevocationTimes, scenario: str, origin: float) -> list[list[float]]:
    return [
        [round(probe.sent_at - origin, 3), round(probe.latency, 4)]
        for probe in sorted(times.probes.values(), key=lambda probe: probe.sent_at)
        if probe.scenario == scenario and probe.latency is not None
    ]


def _lane_settings(lane: Any) -> dict[str, Any]:
    return {
        "batch_size": lane.batch_size,
        "batching_window_seconds": lane.max_batching_window_seconds,
        "max_concurrency": lane.max_concurrency,
        "calls_per_second_per_instance": lane.calls_per_second,
    }


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _spread(summary: Figures) -> str:
    if not summary.get("pairs"):
        return "no pairs"
    return (
        f"p99 {_seconds(summary['p99_seconds'])} s (p50 {_seconds(summary['p50_seconds'])}, "
        f"max {_seconds(summary['max_seconds'])}; {summary['pairs']} pairs)"
    )


def rows(latency: Figures) -> list[Row]:
    scenarios = latency["scenarios"]
    urgent, single = scenarios[URGENT_LANE], scenarios[SINGLE_QUEUE]
    backlog = f"{latency['backlog_pairs']:,}"
    count = urgent.get("pairs", 0)
    p99 = urgent.get("p99_seconds")
    enough = count >= MIN_URGENT_PAIRS and not urgent.get("not_revoked")
    passed = enough and p99 is not None and p99 <= TARGET_P99_SECONDS
    miss = ""
    if not passed:
        if not enough:
            miss = f"{count} urgent pairs revoked of {count + urgent.get('not_revoked', 0)} (needs {MIN_URGENT_PAIRS})"
        else:
            miss = f"{p99 - TARGET_P99_SECONDS:.3f} s"
    rate = latency["bulk_rate"]
    share = rate.get("ratio_to_bound", 0.0)
    throttled, accepted = latency["calls_throttled"], latency["calls_accepted"]
    total = sum(throttled.values())
    lost = latency["pairs_lost"]
    return [
        Row(
            f"urgent pair's wait behind {backlog} bulk pairs, urgent lane (s, send to accepted call)",
            _spread(urgent),
            f"p99 <= {TARGET_P99_SECONDS:g} s over >= {MIN_URGENT_PAIRS} pairs",
            verdict(passed),
            note=f"single queue, same run: {_spread(single)}",
            miss_by=miss,
        ),
        _cold_row(latency, backlog),
        Row(
            f"urgent pair's wait behind {backlog} bulk pairs: single queue / urgent lane, same run (p50; p99)",
            f"{ratio(single.get('p50_seconds'), urgent.get('p50_seconds'))}; "
            f"{ratio(single.get('p99_seconds'), urgent.get('p99_seconds'))}",
        ),
        Row(
            f"bulk drain in the same run (pairs/s; ratio to the {latency['bound_pairs_per_second']:g} pairs/s bound)",
            f"{rate.get('sustained_pairs_per_second', 0.0):.1f} ({share:.3f})",
            f">= {TARGET_DRAIN_RATIO:g} of the bound",
            verdict(share >= TARGET_DRAIN_RATIO),
            note=f"steady 10-90%: {rate['steady_ratio_to_bound']:.3f}" if "steady_ratio_to_bound" in rate else "",
            miss_by="" if share >= TARGET_DRAIN_RATIO else f"{TARGET_DRAIN_RATIO - share:.3f} of the bound",
        ),
        Row(
            "calls throttled in the latency run, per operation",
            ", ".join(f"{OPERATIONS.get(op, op)} {n} of {accepted.get(op, 0) + n}" for op, n in throttled.items()),
            "0",
            verdict(total == 0),
            miss_by="" if total == 0 else f"{total} calls",
        ),
        Row(
            f"pairs lost in the latency run (of {latency['pairs_sent']:,} sent)",
            str(lost),
            "0",
            verdict(lost == 0),
            miss_by="" if lost == 0 else f"{lost} pairs",
        ),
        *(
            Row(f"{SCENARIOS[name][0]} (s, send to accepted call)", _spread(scenarios[name]))
            for name in (IDLE_URGENT, IDLE_BULK)
        ),
    ]


def _cold_row(latency: Figures, backlog: str) -> Row:
    cold = latency["scenarios"].get(COLD_URGENT, {})
    figures = latency.get("cold", {})
    count, p99 = cold.get("pairs", 0), cold.get("p99_seconds")
    enough = count >= MIN_COLD_PAIRS and not cold.get("not_revoked")
    passed = enough and p99 is not None and p99 <= TARGET_P99_SECONDS
    share, start = figures.get("share_p50"), figures.get("start_seconds_p50")
    if passed:
        miss = ""
    elif not enough:
        miss = f"{count} cold pairs revoked of {count + cold.get('not_revoked', 0)} (needs {MIN_COLD_PAIRS})"
    else:
        miss = f"{p99 - TARGET_P99_SECONDS:.3f} s"
    return Row(
        f"cold urgent pair's wait behind {backlog} bulk pairs, the lane idle past its reap time (s)",
        _spread(cold),
        f"p99 <= {TARGET_P99_SECONDS:g} s over >= {MIN_COLD_PAIRS} pairs",
        verdict(passed),
        note=(
            f"cold start (process start, import, init) p50 {_seconds(start)} s, {share:.0%} of the cold latency (p50)"
            if share is not None
            else ""
        ),
        miss_by=miss,
    )


def details(latency: Figures) -> list[str]:
    bulk, urgent = latency["bulk"], latency["urgent"]
    lines = [
        f"IVS: {latency['ivs']}: batch {latency['batch_quota_calls_per_second']} calls/s, single "
        f"{latency['single_quota_calls_per_second']} calls/s. Bulk lane: batch size {bulk['batch_size']}, window "
        f"{bulk['batching_window_seconds']} s, maximum concurrency {bulk['max_concurrency']}, "
        f"{bulk['calls_per_second_per_instance']:g} calls/s per instance. Urgent lane: batch size "
        f"{urgent['batch_size']}, no window, maximum concurrency {urgent['max_concurrency']}, "
        f"{urgent['calls_per_second_per_instance']:g} calls/s per instance.",
        "",
        f"A backlog of {latency['backlog_pairs']:,} one-pair messages in the bulk queue, then both mappings start. "
        f"Every {latency['every_seconds']:g} s while the bulk queue holds messages (waiting or in flight), "
        "one pair is sent to the urgent "
        "queue and one to the bulk queue (the single queue as it was before the urgent lane), each with "
        f"SendMessage; the backlog drained in {latency['drain_seconds']:.0f} s. Then {latency['idle_pairs']} rounds "
        "of one pair to each lane, idle. Cold round: once the backlog was down to "
        f"{latency.get('cold', {}).get('from_messages_left', 'n/a')} messages, the urgent lane's instances were "
        f"ended after {latency.get('cold', {}).get('reap_seconds', COLD_REAP_SECONDS):g} s idle and one urgent pair "
        "at a time was sent when the lane had none left (each waits for a cold start). "
        "Latency: from the producer's SendMessage returning to the accepted IVS "
        "call, from the emulator's ledger (a single call names its pair; a bulk pair is given the last batch call "
        f"between two ledger reads {latency['ledger_poll_seconds']:g} s apart). p50 and p99 are nearest-rank. "
        "The emulator runs in its own process, so that it does not hold up the producer's thread.",
        "",
    ]
    body = [
        [
            SCENARIOS[name][0],
            SCENARIOS[name][1],
            str(summary.get("pairs", 0)),
            _seconds(summary.get("min_seconds")),
            _seconds(summary.get("p50_seconds")),
            _seconds(summary.get("p99_seconds")),
            _seconds(summary.get("max_seconds")),
            _seconds(summary.get("mean_seconds")),
            _seconds(summary.get("send_seconds_max")),
            str(summary.get("not_revoked", 0)),
        ]
        for name, summary in latency["scenarios"].items()
    ]
    accepted, throttled = latency["calls_accepted"], latency["calls_throttled"]
    calls = ", ".join(
        f"{OPERATIONS.get(op, op)}: {accepted.get(op, 0)} accepted, {throttled.get(op, 0)} throttled" for op in accepted
    )
    rate = latency["bulk_rate"]
    return [
        *lines,
        *markdown_table(HEADER, body),
        "",
        f"Bulk lane in the same run: {rate.get('sustained_pairs_per_second', 0.0):.1f} pairs/s "
        f"({rate.get('ratio_to_bound', 0.0):.3f} of the bound) over {rate.get('sustained_seconds', 0.0):.0f} s. "
        f"Calls: {calls}. Pairs sent {latency['pairs_sent']:,}, lost {latency['pairs_lost']}, dead-letter "
        f"messages {latency['dead_letter_messages']}.",
        "",
        f"![latency]({CHART})",
    ]


def chart(latency: Figures, folder: Path) -> None:
    """Each urgent pair's wait over the drain, in both lanes (log scale), with the bulk backlog beside it."""
    timeline = latency.get("timeline") or {}
    if not timeline.get("urgent_lane") and not timeline.get("single_queue"):
        return
    with chart_file(folder, CHART, figsize=(9, 4.8)) as (figure, axis):
        series = (
            ("urgent_lane", "tab:blue", "o", "urgent lane (sent to the urgent queue)"),
            (COLD_URGENT, "tab:green", "^", "urgent lane, cold (idle past its reap time)"),
            ("single_queue", "tab:red", "s", "single queue (sent to the bulk queue)"),
        )
        for name, colour, marker, label in series:
            points = timeline.get(name) or []
            axis.plot([p[0] for p in points], [p[1] for p in points], marker, markersize=3, color=colour, label=label)
        axis.axhline(TARGET_P99_SECONDS, color="k", linestyle="--", linewidth=1, label="target, 1 s")
        axis.set_yscale("log")
        axis.set_xlabel("seconds since the mappings started (when the pair was sent)")
        axis.set_ylabel("wait: send to accepted IVS call (s, log)")
        axis.grid(alpha=0.3, which="both")
        backlog_axis: Any = axis.twinx()
        samples = timeline.get("bulk_backlog") or []
        backlog_axis.plot(
            [s[0] for s in samples],
            [s[1] + s[2] for s in samples],
            color="tab:gray",
            linewidth=1.5,
            label="bulk backlog",
        )
        backlog_axis.set_ylabel("bulk messages waiting or in flight")
        backlog_axis.set_ylim(bottom=0)
        handles, labels = axis.get_legend_handles_labels()
        more_handles, more_labels = backlog_axis.get_legend_handles_labels()
        axis.legend(handles + more_handles, labels + more_labels, loc="center right", fontsize=8)
        figure.suptitle(
            f"Urgent pairs behind {latency['backlog_pairs']:,} bulk pairs (batch "
            f"{latency['batch_quota_calls_per_second']} calls/s, single {latency['single_quota_calls_per_second']} "
            "calls/s)"
        )


SECTION = Section("latency", "Latency: the urgent lane", rows, details, chart)
