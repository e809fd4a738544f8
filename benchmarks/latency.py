"""Latency: how long an urgent pair waits behind a bulk backlog, in the urgent lane and in one queue.

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
2. Idle. With the queues empty and the functions warm, `idle_pairs` rounds of one pair to each lane.

A pair's latency is from its producer's send (SendMessage returned) to the IVS call that revoked it,
as the emulator's ledger stamps it (the machine's wall clock). The emulator runs in a process of its
own, so that its threads do not hold up the producer's (Python's interpreter lock): a producer that
resumed late would understate the wait. The time SendMessage took is kept beside it. A
single-operation call names its pair, so an urgent pair's time is exact. A batch call does not: a bulk
pair is given the time of the last batch call accepted between the two ledger reads around its
revocation (read every `LEDGER_POLL_SECONDS`), at most that much late.

Also reported, from the ledger: the bulk lane's sustained rate in the same run against 2 calls/s x 20
pairs (benchmarks/drain.py's definition), calls accepted and throttled per operation, and pairs lost
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks.drain import rate_figures
from benchmarks.harness import ROOT, deploy_settings
from benchmarks.workload import PAIRS_PER_CALL, REGION, channel_arn, make_backlog
from ivs_revoke.dlq import DeadLetter
from revocation.call_policy import BATCH_CALLS_PER_SECOND, SINGLE_CALLS_PER_SECOND
from revocation.models import PRIORITY_URGENT
from revocation.names import OPERATION_BATCH as BATCH_OPERATION
from revocation.names import OPERATION_SINGLE as SINGLE_OPERATION

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
    log = (log_dir / "ivs-emulator.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "local.ivs_emulator", "--tps", str(BATCH_QUOTA), "--single-tps", str(SINGLE_QUOTA)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
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
            process.wait()
        log.close()


def run(
    *,
    pairs: int = DEFAULT_PAIRS,
    every_seconds: float = DEFAULT_EVERY_SECONDS,
    idle_pairs: int = DEFAULT_IDLE_PAIRS,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    from local.ivs_emulator import EmulatorControl
    from local.stack import LocalStack

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
            LocalStack(
                settings,
                region=REGION,
                ivs_url=emulator.url,
                start_function=False,
                python_path=[str(ROOT)],
                log_dir=log_dir,
            )
        )
        progress(f"latency: sending {len(backlog.bodies)} one-pair bulk messages")
        stack.send(*backlog.bodies)
        emulator.reset()
        progress("latency: starting both mappings")
        stack.start_function()
        origin = time.time()

        def send(scenario: str, number: int) -> None:
            urgent_pair = scenario in (URGENT_LANE, IDLE_URGENT)
            key = (channel_arn(number), f"{scenario}-{number:05d}")
            sent_versions[key] = 0
            queue_url = stack.urgent_queue_url if urgent_pair else stack.resources.queue_url
            calling = time.time()
            stack.sqs.send_message(QueueUrl=queue_url, MessageBody=_body(key, urgent_pair))
            returned = time.time()
            times.watch(Probe(scenario, key, returned, returned - calling))

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
                if waiting + held:
                    number += 1
                    send(URGENT_LANE, number)
                    send(SINGLE_QUEUE, number)
                    next_send += every_seconds
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

        # 2. Idle: the queues are empty and both functions warm.
        progress(f"latency: idle, {idle_pairs} pairs to each lane")
        for round_number in range(1, idle_pairs + 1):
            started = time.time()
            send(IDLE_URGENT, round_number)
            send(IDLE_BULK, round_number)
            while times.pending() and time.time() - started < IDLE_WAIT_SECONDS:
                time.sleep(0.05)
                times.update(emulator.ledger())
            time.sleep(max(0.0, started + IDLE_ROUND_SECONDS - time.time()))
        with contextlib.suppress(Exception):
            stack.drain(timeout=SETTLE_SECONDS)
        ledger = emulator.ledger()
        times.update(ledger)
        dead_letters = stack.dead_letters()
        mapping = {lane: _mapping_stats(runner) for lane, runner in stack.runners.items()}
        stack.stop_function()

    batch_calls = sorted(
        (call.at, call.pairs) for call in drain_ledger.accepted_calls if call.operation == BATCH_OPERATION
    )
    bulk_rate = rate_figures(batch_calls, BATCH_QUOTA)
    dead_lettered = _dead_lettered(dead_letters)
    lost = [
        key
        for key, version in sent_versions.items()
        if ledger.revoked.get(key, -1) < version and key not in dead_lettered
    ]
    scenarios = {
        name: latency_summary(times.latencies(name))
        | {
            "not_revoked": _not_revoked(times, name),
            "min_seconds": min(times.latencies(name), default=None),
            "send_seconds_max": max(
                (p.send_seconds for p in times.probes.values() if p.scenario == name), default=None
            ),
        }
        for name in (URGENT_LANE, SINGLE_QUEUE, IDLE_URGENT, IDLE_BULK)
    }
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
        "scenarios": scenarios,
        "bulk_rate": bulk_rate,
        "calls_accepted": _by_operation(call.operation for call in ledger.accepted_calls),
        "calls_throttled": {op: ledger.throttled_by_operation.get(op, 0) for op in (BATCH_OPERATION, SINGLE_OPERATION)},
        "pairs_sent": len(sent_versions),
        "pairs_lost": len(lost),
        "lost_examples": [list(key) for key in lost[:5]],
        "dead_letter_messages": len(dead_letters),
        "mapping": mapping,
        "log_dir": str(log_dir),
        "timeline": {
            # (seconds since the mappings started, latency) per pair sent behind the backlog.
            URGENT_LANE: _points(times, URGENT_LANE, origin),
            SINGLE_QUEUE: _points(times, SINGLE_QUEUE, origin),
            # (seconds, bulk messages waiting, in flight), sampled at each send.
            "bulk_backlog": backlog_timeline,
        },
    }


def _idle(stack: Any) -> bool:
    return all(not any(runner.queue_counts().values()) and runner.in_flight == 0 for runner in stack.runners.values())


def _not_revoked(times: RevocationTimes, scenario: str) -> int:
    return sum(1 for probe in times.probes.values() if probe.scenario == scenario and probe.revoked_at is None)


def _points(times: RevocationTimes, scenario: str, origin: float) -> list[list[float]]:
    return [
        [round(probe.sent_at - origin, 3), round(probe.latency, 4)]
        for probe in sorted(times.probes.values(), key=lambda probe: probe.sent_at)
        if probe.scenario == scenario and probe.latency is not None
    ]


def _by_operation(operations: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys((BATCH_OPERATION, SINGLE_OPERATION), 0)
    for operation in operations:
        counts[operation] = counts.get(operation, 0) + 1
    return counts


def _lane_settings(lane: Any) -> dict[str, Any]:
    return {
        "batch_size": lane.batch_size,
        "batching_window_seconds": lane.max_batching_window_seconds,
        "max_concurrency": lane.max_concurrency,
        "calls_per_second_per_instance": lane.calls_per_second,
    }


def _mapping_stats(runner: Any) -> dict[str, int]:
    stats = runner.stats
    return {
        "invocations": stats.invocations,
        "records_received": stats.records_received,
        "records_deleted": stats.records_deleted,
        "records_failed": stats.records_failed,
        "cold_starts": stats.cold_starts,
    }


def _dead_lettered(letters: Iterable[DeadLetter]) -> set[PairKey]:
    return {session.key for letter in letters for session, _, _ in letter.failed_sessions()}
