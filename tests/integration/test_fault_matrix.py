"""Conservation under faults: every pair submitted ends revoked or in the DLQ with its reason.

Each scenario is a stack of its own (own queues on the shared moto server, own IVS emulator with the
fault, own two function instances), and all scenarios run at once, so the module takes about as long
as its slowest scenario. Each scenario submits the same kind of load (one-pair messages, lists, an
API request, an event through the bus, duplicates, invalid messages), drains the queue, checks where
every pair went, then removes the fault, redrives the DLQ and checks again.

Settings: function timeout 6 s (at one IVS call per second per instance, two calls of up to 2 s fit
an invocation even right after the previous one), 1 s kept back, visibility timeout 36 s, and
maxReceiveCount 2: a pair that keeps failing for a retryable reason is dead-lettered, with the
reason, on its second delivery. Nine stacks share two cores here, so the call timeout is generous
(botocore's read timeout is half of it): a slow answer should be the latency fault's doing.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local.ivs_emulator import Faults, Ledger
from local.runner import RunnerStats
from local.stack import ACCOUNT_ID, DeadLetterEntry, LocalStack, MotoServer
from revocation.models import CODE_INVALID_MESSAGE, CODE_NOT_STARTED
from tests.integration.conftest import assert_processes_gone, fast_settings

pytestmark = pytest.mark.integration

REGION = "us-west-2"
DRAIN_SECONDS = 150
Pair = tuple[str, str]


def channel(number: int) -> str:
    return f"arn:aws:ivs:{REGION}:{ACCOUNT_ID}:channel/FaultChannel{number}"


FORBIDDEN = (channel(0), channel(1))


@dataclass
class Load:
    messages: list[Any] = field(default_factory=list)  # bodies for SendMessage
    events: list[Any] = field(default_factory=list)  # details for PutEvents
    versions: dict[Pair, int] = field(default_factory=dict)  # highest version asked, per distinct pair
    invalid: int = 0

    def add(self, body: Any, sessions: list[dict[str, Any]], *, event: bool = False) -> None:
        (self.events if event else self.messages).append(body)
        for session in sessions:
            key = (session["channelArn"], session["viewerId"])
            version = session.get("viewerSessionVersionsLessThanOrEqualTo", 0)
            self.versions[key] = max(version, self.versions.get(key, version))


def session(number: int, version: int | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"channelArn": channel(number % 8), "viewerId": f"viewer-{number:04d}"}
    if version is not None:
        value["viewerSessionVersionsLessThanOrEqualTo"] = version
    return value


def standard_load() -> Load:
    """74 distinct pairs in 47 valid messages of every shape, and 3 invalid messages.

    No batch of 20 records holds more than 40 pairs, so a batch never needs more than the two calls
    that always fit an invocation: what does not get done is the faults' doing.
    """
    load = Load()
    for number in range(40):
        load.add(session(number, number % 3), [session(number, number % 3)])
    listed = [session(number, 1) for number in range(100, 108)]
    load.add(listed, listed)
    request = [session(number) for number in range(200, 208)]
    load.add({"viewerSessions": request}, request)
    event = [session(number, 2) for number in range(300, 304)]
    load.add({"viewerSessions": event}, event, event=True)
    for number in range(400, 414):
        load.add(session(number), [session(number)])
    # Duplicates: pairs sent before, one of them with a higher version.
    load.add([session(0, 9), session(1, 1)], [session(0, 9), session(1, 1)])
    load.add(session(5, 2), [session(5, 2)])
    load.messages += ["{not json", '{"channelArn": "arn:aws:ivs:nowhere", "viewerId": "x"}', "[]"]
    load.invalid = 3
    return load


def large_messages_load() -> Load:
    """8 messages of 20 pairs: a batch of them needs more calls than an invocation has time for."""
    load = Load()
    for message in range(8):
        sessions = [session(1000 + message * 20 + index, 1) for index in range(20)]
        load.add({"viewerSessions": sessions}, sessions)
    load.messages.append("{not json")
    load.invalid = 1
    return load


@dataclass(frozen=True)
class Scenario:
    name: str
    faults: dict[str, Any] = field(default_factory=dict)
    unauthorized: tuple[str, ...] = ()
    load: Callable[[], Load] = standard_load
    # What shows the fault happened: a key of the ledger's faults_injected, or "403", or "NotStarted".
    evidence: str | None = None


SCENARIOS = [
    Scenario("no fault"),
    Scenario("throttling bursts", {"throttle_burst": 6, "throttle_rate": 0.25}, evidence="throttle"),
    Scenario("per-pair 403", unauthorized=FORBIDDEN, evidence="403"),
    Scenario("per-pair 5xx", {"pair_error_rate": 0.3}, evidence="pair_error"),
    Scenario("call-level 5xx", {"server_error_rate": 0.4}, evidence="server_error"),
    Scenario("call-level 5xx, always", {"server_error_rate": 1.0}, evidence="server_error"),
    # The read timeout is half the call timeout (1 s): slower answers fail on the client side,
    # although the emulator did revoke their pairs.
    Scenario("latency 0.5-1.5 s", {"latency_ms": 500, "latency_jitter_ms": 1000}, evidence="latency"),
    Scenario("dropped connections", {"drop_rate": 0.3}, evidence="dropped_connection"),
    Scenario("out of time mid-batch", load=large_messages_load, evidence=CODE_NOT_STARTED),
]


@dataclass
class Snapshot:
    ledger: Ledger
    dead_letters: list[DeadLetterEntry]
    stats: RunnerStats
    seconds: float


@dataclass
class Run:
    scenario: Scenario
    stack: LocalStack
    load: Load
    drained: Snapshot | None = None
    redriven: Snapshot | None = None
    redriven_messages: int = 0


def _start(scenario: Scenario, moto: MotoServer, log_dir: Path) -> Run:
    settings = fast_settings(
        functionTimeoutSeconds=6,
        visibilityTimeoutSeconds=36,
        maxReceiveCount=2,
        timeSafetyMarginSeconds=1.0,
        ivsCallTimeoutSeconds=2.0,
    )
    stack = LocalStack(
        settings,
        region="us-east-1",
        moto=moto,
        ivs_options={"unauthorized_channels": scenario.unauthorized, "faults": Faults(**scenario.faults), "seed": 7},
        log_dir=log_dir,
    )
    stack.__enter__()
    return Run(scenario, stack, scenario.load())


def _submit(run: Run) -> None:
    run.stack.send(*run.load.messages)
    for detail in run.load.events:
        run.stack.put_event(detail)


def _snapshot(run: Run, started: float) -> Snapshot:
    run.stack.drain(DRAIN_SECONDS)
    assert run.stack.runner is not None
    stats = copy.deepcopy(run.stack.runner.stats)
    return Snapshot(run.stack.ivs.ledger(), run.stack.dead_letters(), stats, time.monotonic() - started)


def _drain_then_redrive(run: Run) -> None:
    started = time.monotonic()
    run.drained = _snapshot(run, started)
    run.stack.ivs.clear_faults()
    run.redriven_messages = run.stack.redrive_dead_letters().moved
    run.redriven = _snapshot(run, started)


@pytest.fixture(scope="module")
def runs(
    moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, Run]]:
    base = tmp_path_factory.mktemp("fault-matrix")
    with ThreadPoolExecutor(len(SCENARIOS)) as pool:
        started = list(
            pool.map(lambda s: _start(s, moto_server, base / s.name.replace(" ", "-").replace(",", "")), SCENARIOS)
        )
        by_name = {run.scenario.name: run for run in started}
        try:
            for run in started:
                _submit(run)
            for future in [pool.submit(_drain_then_redrive, run) for run in started]:
                future.result()
            report = _figures_table(started)
            (base / "figures.md").write_text(report)
            reporter = request.config.pluginmanager.getplugin("terminalreporter")
            if reporter is not None:
                reporter.write_line("\n" + report)
            yield by_name
        finally:
            pids = [pid for run in started for pid in run.stack.pids]
            list(pool.map(lambda run: run.stack.stop(), started))
            assert_processes_gone(pids)


# --------------------------------------------------------------------------------------- accounting


@dataclass
class Accounting:
    revoked: set[Pair]
    dead_lettered: dict[Pair, list[tuple[str, str]]]  # pair -> [(code, message)] of the DLQ entries naming it
    invalid: list[DeadLetterEntry]
    without_reason: list[DeadLetterEntry]
    lost: set[Pair]


def account(load: Load, snapshot: Snapshot) -> Accounting:
    expected = set(load.versions)
    dead_lettered: dict[Pair, list[tuple[str, str]]] = {}
    invalid, without_reason = [], []
    for entry in snapshot.dead_letters:
        if entry.code is None:
            without_reason.append(entry)
        elif entry.code == CODE_INVALID_MESSAGE:
            invalid.append(entry)
        for arn, viewer, code, message in entry.failed_pairs():
            dead_lettered.setdefault((arn, viewer), []).append((code or "", message or ""))
    revoked = {key for key in expected if snapshot.ledger.version(*key) is not None}
    return Accounting(
        revoked=revoked,
        dead_lettered=dead_lettered,
        invalid=invalid,
        without_reason=without_reason,
        lost=expected - revoked - set(dead_lettered),
    )


def _codes(accounting: Accounting, revoked_too: bool = False) -> Counter[str]:
    """Distinct pairs dead-lettered, by the code of their latest DLQ entry."""
    return Counter(
        reasons[-1][0]
        for key, reasons in accounting.dead_lettered.items()
        if revoked_too or key not in accounting.revoked
    )


def _figures_table(runs: list[Run]) -> str:
    lines = [
        "Fault matrix (maxReceiveCount 2, visibility timeout 36 s, function timeout 6 s, 2 instances)",
        "",
        "| scenario | pairs | revoked | dead-lettered (not revoked), by code | also revoked | lost | invalid msgs "
        "-> DLQ | calls ok / throttled | faults injected | batches failed | drain s | after redrive: revoked, DLQ "
        "by code, lost | redrive + drain s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        assert run.drained is not None and run.redriven is not None
        first, second = account(run.load, run.drained), account(run.load, run.redriven)
        ledger = run.drained.ledger
        codes = ", ".join(f"{code} {count}" for code, count in sorted(_codes(first).items())) or "-"
        also = len(set(first.dead_lettered) & first.revoked)
        after = ", ".join(f"{code} {count}" for code, count in sorted(_codes(second).items())) or "-"
        faults = ", ".join(f"{kind} {count}" for kind, count in sorted(ledger.faults_injected.items())) or "-"
        lines.append(
            f"| {run.scenario.name} | {len(run.load.versions)} | {len(first.revoked)} | {codes} | {also} | "
            f"{len(first.lost)} | {run.load.invalid} -> {len(first.invalid)} | {ledger.calls_accepted} / "
            f"{ledger.calls_throttled} | {faults} | {run.drained.stats.batches_failed} | {run.drained.seconds:.0f} | "
            f"{len(second.revoked)}, {after}, {len(second.lost)} | {run.redriven.seconds - run.drained.seconds:.0f} |"
        )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- tests

NAMES = [scenario.name for scenario in SCENARIOS]


@pytest.mark.parametrize("name", NAMES)
def test_every_valid_pair_is_revoked_or_dead_lettered_with_a_reason(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert run.drained is not None
    accounting = account(run.load, run.drained)
    assert accounting.lost == set()
    assert accounting.without_reason == []
    for key, reasons in accounting.dead_lettered.items():
        for code, message in reasons:
            assert code and message, f"{key} dead-lettered without a code or message"


@pytest.mark.parametrize("name", NAMES)
def test_every_invalid_message_is_dead_lettered_with_a_reason(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert run.drained is not None
    accounting = account(run.load, run.drained)
    assert len(accounting.invalid) == run.load.invalid
    assert all(entry.reason for entry in accounting.invalid)


def _wrong_versions(load: Load, snapshot: Snapshot) -> dict[Pair, tuple[int, int | None, int | None]]:
    """Pairs whose highest version asked is neither revoked nor in the DLQ: (asked, revoked, in DLQ)."""
    in_dlq: dict[Pair, int] = {}
    for entry in snapshot.dead_letters:
        message = entry.message if entry.code != CODE_INVALID_MESSAGE else None
        for item in message.viewer_sessions if message else ():
            in_dlq[item.key] = max(item.version, in_dlq.get(item.key, item.version))
    wrong = {}
    for key, asked in load.versions.items():
        revoked = snapshot.ledger.version(*key)
        if asked not in (revoked, in_dlq.get(key)) or (revoked or 0) > asked:
            wrong[key] = (asked, revoked, in_dlq.get(key))
    return wrong


@pytest.mark.parametrize("name", NAMES)
def test_the_highest_version_asked_is_revoked_or_in_the_dlq(runs: dict[str, Run], name: str) -> None:
    """Duplicates merge to the highest version; when that request fails, the DLQ holds that version."""
    run = runs[name]
    assert run.drained is not None
    assert _wrong_versions(run.load, run.drained) == {}


@pytest.mark.parametrize("name", NAMES)
def test_the_fault_did_happen(runs: dict[str, Run], name: str) -> None:
    """A fault matrix whose faults never fire proves nothing."""
    run = runs[name]
    assert run.drained is not None
    ledger = run.drained.ledger
    evidence = run.scenario.evidence
    if evidence is None:
        assert ledger.faults_injected == {}
        assert account(run.load, run.drained).dead_lettered == {}
    elif evidence == "403":
        assert ledger.pair_errors.get("403", 0) > 0
        assert _codes(account(run.load, run.drained))["403"] == sum(
            1 for arn, _ in run.load.versions if arn in FORBIDDEN
        )
    elif evidence == CODE_NOT_STARTED:
        # The tail put back on the queue as new messages (more deleted than were sent), records left
        # for SQS to deliver again (there is no other fault), or pairs dead-lettered as not started.
        stats = run.drained.stats
        requeued = stats.records_deleted > len(run.load.messages)
        not_started = any(entry.code == CODE_NOT_STARTED for entry in run.drained.dead_letters)
        assert requeued or not_started or stats.records_failed + stats.batches_failed > 0
    else:
        assert ledger.faults_injected.get(evidence, 0) > 0


@pytest.mark.parametrize("name", NAMES)
def test_a_redrive_once_the_fault_is_gone_revokes_the_dead_lettered_pairs(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert run.drained is not None and run.redriven is not None
    before, after = account(run.load, run.drained), account(run.load, run.redriven)
    assert run.redriven_messages == len(run.drained.dead_letters)
    assert after.lost == set()
    assert after.without_reason == []
    assert len(after.invalid) == run.load.invalid
    permanent = {key for key in run.load.versions if key[0] in run.scenario.unauthorized}
    assert after.revoked == set(run.load.versions) - permanent
    assert set(after.dead_lettered) == permanent & set(before.dead_lettered)
    assert _wrong_versions(run.load, run.redriven) == {}
