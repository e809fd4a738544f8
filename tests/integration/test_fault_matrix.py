"""Conservation under faults: every pair submitted ends revoked or in the DLQ with its reason.

Each scenario has a stack (own queues and event bus on the shared moto server, own IVS emulator with
the fault, and its lane's two function instances), and all stacks start at once, so the module takes
about as long as its slowest stack. Each scenario submits the same kind of load
(one-pair messages, lists, an API request, an event through the bus, duplicates, invalid messages) to
its lane, drains the queue, checks where every pair went, then removes the fault, redrives the DLQ to
its lane's queue and checks again.

Settings: function timeout 6 s in both lanes (at one IVS call per second per bulk instance, two calls
of up to 2 s fit an invocation even right after the previous one), 1 s kept back, visibility timeout
36 s, and maxReceiveCount 2: a pair that keeps failing for a retryable reason is dead-lettered, with
the reason, on its second delivery. The stacks share two cores here, so the call timeout is generous
(botocore's read timeout is half of it): a slow answer should be the latency fault's doing. The
stacks' region is not their channels' (ivsRegions names it), as a deployment that revokes elsewhere.

The answers that are not IVS's (`--malformed-answer`: HTML, text or nothing, `errors` that is not a
list of objects, an error object, the other operation's shape, a list, a 202, an error naming a pair
that was not sent) run in both lanes, against each lane's operation, with a small load each: none of
their pairs may be counted revoked, and every one must reach the DLQ with a reason naming what was
wrong. What they check is the answer check, not SQS's redelivery, so their pairs are dead-lettered on
the first delivery (maxReceiveCount 1) rather than after a visibility timeout (`FIRST_DELIVERY_SETTINGS`),
and, seconds each, they take turns on a few stacks of their lane, from empty queues and ledger, while
the other scenarios wait out their visibility timeouts. A body trickling in, and
hostile bodies (a repeated key in each body shape; viewer IDs holding characters SQS refuses in a
body) are scenarios of the bulk lane.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ivs_revocation import names
from ivs_revocation.adapters.ivs import CODE_MALFORMED_RESPONSE
from ivs_revocation.models import (
    CODE_CONNECTION_ERROR,
    CODE_INVALID_MESSAGE,
    CODE_NOT_STARTED,
    EVENT_DETAIL_TYPE,
    EVENT_SOURCE,
    PRIORITY_URGENT,
)
from ivs_revoke.dlq import DeadLetter
from local.clients import ACCOUNT_ID
from local.ivs_emulator import Ledger
from local.moto_process import MotoServer
from local.runner import RunnerStats
from local.stack import LocalStack, instance_log_name
from tests.integration.conftest import assert_processes_gone, fast_settings

pytestmark = pytest.mark.integration

REGION = "us-west-2"
DRAIN_SECONDS = 150
# The scenarios that settle on their first delivery run in turns of this many on a stack of their lane,
# after the others' first deliveries (waited for at most this long).
SCENARIOS_PER_SHARED_STACK = 5
FIRST_DELIVERIES_SECONDS = 30.0
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
    # Substrings that the reasons of the invalid messages' DLQ entries must show, one entry each.
    invalid_reasons: list[str] = field(default_factory=list)
    # Pairs named only by invalid messages: never revoked.
    never_revoked: set[Pair] = field(default_factory=set)
    # Bodies sent as they are (a repeated key): their dead letters, the function's, keep them.
    hostile_bodies: list[str] = field(default_factory=list)

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


def small_load() -> Load:
    """9 distinct pairs in every shape (one pair, a list, an API request, an event) and an invalid message."""
    load = Load()
    for number in range(500, 503):
        load.add(session(number, 1), [session(number, 1)])
    listed = [session(number) for number in range(510, 512)]
    load.add(listed, listed)
    request = [session(number, 2) for number in range(520, 522)]
    load.add({"viewerSessions": request}, request)
    event = [session(number) for number in range(530, 532)]
    load.add({"viewerSessions": event}, event, event=True)
    load.messages.append("{not json")
    load.invalid = 1
    return load


# Characters that SQS refuses in a message body, and a tab, which it takes; the producer sends them
# JSON-escaped (json.dumps), as valid JSON must carry a control character.
HOSTILE_VIEWERS = ("ctl-\uffff", "ctl-\ufffe", "ctl-\u0001", "ctl-\u0000", "ctl-\t")


def hostile_load() -> Load:
    """A small load, a repeated key in each of the four body shapes, and viewer IDs holding characters
    SQS refuses, on a forbidden channel: their dead letters must still be bodies SQS takes."""
    load = small_load()
    hostile = [
        {"channelArn": FORBIDDEN[0], "viewerId": viewer, "viewerSessionVersionsLessThanOrEqualTo": 3}
        for viewer in HOSTILE_VIEWERS
    ]
    load.add({"viewerSessions": hostile}, hostile)
    arn = json.dumps(channel(2))
    repeated = [
        (f'{{"channelArn": {arn}, "viewerId": "dup-first", "viewerId": "dup-second"}}', "repeated key 'viewerId'"),
        (
            f'[{{"channelArn": {arn}, "viewerId": "dup-list", "viewerSessionVersionsLessThanOrEqualTo": 9,'
            ' "viewerSessionVersionsLessThanOrEqualTo": 1}]',
            "repeated key 'viewerSessionVersionsLessThanOrEqualTo'",
        ),
        (
            f'{{"viewerSessions": [{{"channelArn": {arn}, "viewerId": "dup-request-1"}}],'
            f' "viewerSessions": [{{"channelArn": {arn}, "viewerId": "dup-request-2"}}]}}',
            "repeated key 'viewerSessions'",
        ),
        (
            f'{{"version": "0", "id": "e-1", "detail-type": {json.dumps(EVENT_DETAIL_TYPE)},'
            f' "source": {json.dumps(EVENT_SOURCE)}, "account": "{ACCOUNT_ID}", "time": "2026-01-01T00:00:00Z",'
            f' "region": "{REGION}", "resources": [], "detail": {{"channelArn": {arn}, "channelArn": {arn},'
            ' "viewerId": "dup-event"}}',
            "repeated key 'channelArn'",
        ),
    ]
    for body, reason in repeated:
        load.messages.append(body)
        load.hostile_bodies.append(body)
        load.invalid_reasons.append(reason)
    load.invalid += len(repeated)
    viewers = ("dup-first", "dup-second", "dup-list", "dup-request-1", "dup-request-2", "dup-event")
    load.never_revoked = {(channel(2), viewer) for viewer in viewers}
    return load


@dataclass(frozen=True)
class Scenario:
    name: str
    faults: dict[str, Any] = field(default_factory=dict)
    unauthorized: tuple[str, ...] = ()
    load: Callable[[], Load] = standard_load
    # What shows the fault happened: a key of the ledger's faults_injected, or "403", or "NotStarted".
    evidence: str | None = None
    # For an answer that is never IVS's: the code and a part of the reason every valid pair must reach
    # the DLQ with, none of them counted revoked by the function.
    dead_letter: tuple[str, str] | None = None
    # The lane whose queue the load goes to and whose function alone runs (the redrive goes there too).
    lane: str = names.LANE_BULK
    settings: Mapping[str, Any] = field(default_factory=dict)  # deploy settings of this scenario only

    @property
    def settles_on_first_delivery(self) -> bool:
        return self.settings.get("maxReceiveCount") == 1


# The malformed answers test the answer check, not SQS's redelivery nor the pacing of retries: a
# pair's first delivery is its last, with one retry in it. The answers come at once; the call's
# deadline (read timeout 2 s) is long so that a reply slowed by this machine's load is still read,
# and the functions' timeouts leave room for it.
FIRST_DELIVERY_SETTINGS: Mapping[str, Any] = {
    "maxReceiveCount": 1,
    "ivsMaxAttempts": 2,
    "ivsCallTimeoutSeconds": 4.0,
    "functionTimeoutSeconds": 8,
    "visibilityTimeoutSeconds": 48,
    "urgentFunctionTimeoutSeconds": 8,
    "urgentVisibilityTimeoutSeconds": 48,
}


def malformed(name: str, kind: str, reason: str, lane: str = names.LANE_BULK) -> Scenario:
    return Scenario(
        name if lane == names.LANE_BULK else f"{lane}: {name}",
        {"malformed_answer": kind},
        load=small_load,
        evidence="malformed_answer",
        dead_letter=(CODE_MALFORMED_RESPONSE, reason),
        lane=lane,
        settings=FIRST_DELIVERY_SETTINGS,
    )


# A JSON object as the single operation's answer, which has none: the function names its keys.
def _object_keys(*keys: str) -> str:
    return f"JSON object that is not empty (keys: {', '.join(map(repr, keys))})"


# The malformed answers of StartViewerSessionRevocation (emulator's MALFORMED_ANSWERS), the urgent lane's.
URGENT_MALFORMED = [
    malformed("200 with HTML", "html", "200 with a text/html body", names.LANE_URGENT),
    malformed("200 with text", "text", "200 with a text/plain body", names.LANE_URGENT),
    malformed("200 with an empty page", "empty", "200 with an empty text/html body", names.LANE_URGENT),
    malformed("errors junk", "errors-junk", _object_keys("errors"), names.LANE_URGENT),
    malformed("errors [1, 2]", "errors-not-objects", _object_keys("errors"), names.LANE_URGENT),
    malformed('{"message": "Forbidden"}', "message-object", _object_keys("message"), names.LANE_URGENT),
    malformed("the batch shape, its pair 403", "errors-403", _object_keys("errors"), names.LANE_URGENT),
    malformed("a JSON list", "list", "200 with a JSON list body, not an object", names.LANE_URGENT),
    malformed("202 with no body", "status-202", "202 with an empty body", names.LANE_URGENT),
    malformed("errors naming a pair not sent", "unknown-pair", _object_keys("errors"), names.LANE_URGENT),
]

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
    malformed("200 with HTML", "html", "200 with a text/html body"),
    malformed("200 with text", "text", "200 with a text/plain body"),
    malformed("200 with no body", "empty", "200 with an empty body"),
    malformed("errors junk", "errors-junk", "200 whose errors is not a list (got string)"),
    malformed("errors [1, 2]", "errors-not-objects", "200 whose errors[0] is not an object (got integer)"),
    malformed("errors naming a pair not sent", "unknown-pair", "names a pair that was not sent"),
    malformed('{"message": "Forbidden"}', "message-object", "200 "),
    malformed("errors [403 naming no pair]", "errors-403", "200 whose errors[0].channelArn is not a string"),
    malformed("a JSON list", "list", "200 with a JSON list body, not an object"),
    malformed('202 with {"errors": []}', "status-202", "202 "),
    # 14 bytes at 0.4 s each outlive the 2 s call deadline; every socket read gets a byte in time.
    Scenario(
        "answer trickling in",
        {"trickle_ms": 400},
        load=small_load,
        evidence="trickle",
        dead_letter=(CODE_CONNECTION_ERROR, "no complete answer within the call's deadline of 2 s"),
    ),
    Scenario("hostile bodies", unauthorized=FORBIDDEN, load=hostile_load, evidence="403"),
    *URGENT_MALFORMED,
]
MALFORMED_NAMES = [scenario.name for scenario in SCENARIOS if scenario.dead_letter is not None]


@dataclass
class Snapshot:
    ledger: Ledger
    dead_letters: list[DeadLetter]
    stats: RunnerStats
    seconds: float
    counted_revoked: int  # the pairs the function counted revoked (its "batch settled" log lines)
    settled_batches: int  # its "batch settled" log lines: one per invocation that settled its batch
    invocations: int  # every lane's runner's


@dataclass
class Run:
    scenario: Scenario
    stack: LocalStack
    load: Load
    drained: Snapshot | None = None
    redriven: Snapshot | None = None
    redriven_messages: int = 0
    # Where this scenario began on a stack it shares: the size of each function log, the runner's stats.
    log_offsets: dict[Path, int] = field(default_factory=dict)
    stats_before: RunnerStats = field(default_factory=RunnerStats)


def _groups(scenarios: list[Scenario]) -> list[list[Scenario]]:
    """The scenarios by the stack they run on: one each, but those that settle on their first delivery
    (seconds each) in turns of SCENARIOS_PER_SHARED_STACK on a stack of their lane: two function
    instances cold-starting per scenario would be most of the module's time on two cores."""
    alone = [[scenario] for scenario in scenarios if not scenario.settles_on_first_delivery]
    shared = []
    for lane in names.LANES:
        turns = [s for s in scenarios if s.settles_on_first_delivery and s.lane == lane]
        shared += [turns[i : i + SCENARIOS_PER_SHARED_STACK] for i in range(0, len(turns), SCENARIOS_PER_SHARED_STACK)]
    return alone + shared


def _start(scenarios: list[Scenario], moto: MotoServer, log_dir: Path) -> list[Run]:
    """One stack for the scenarios, which share their lane, settings and unauthorized channels; the
    faults are set at each one's turn."""
    first = scenarios[0]
    shared = (first.lane, first.settings, first.unauthorized)
    assert all((scenario.lane, scenario.settings, scenario.unauthorized) == shared for scenario in scenarios)
    stack_name = f"Fm{uuid.uuid4().hex[:10]}"
    settings: dict[str, Any] = {
        "stackName": stack_name,
        # A bus of its own: on the shared default bus, every stack's rules would take every stack's events.
        "eventBusName": f"{stack_name}-bus",
        "ivsRegions": [REGION],
        "functionTimeoutSeconds": 6,
        "visibilityTimeoutSeconds": 36,
        "maxReceiveCount": 2,
        "timeSafetyMarginSeconds": 1.0,
        "ivsCallTimeoutSeconds": 2.0,
        # The urgent lane as the bulk lane: a full batch of 5 messages of at most 2 pairs (the loads'
        # largest) fits its 6 s at 5 calls per second.
        "urgentFunctionTimeoutSeconds": 6,
        "urgentVisibilityTimeoutSeconds": 36,
        "urgentBatchSize": 5,
        "urgentMaxPairsPerMessage": 2,
    }
    stack = LocalStack(
        fast_settings(**{**settings, **first.settings}),
        region="us-east-1",
        moto=moto,
        ivs_options={"unauthorized_channels": first.unauthorized, "seed": 7},
        lanes=(first.lane,),
        log_dir=log_dir,
    )
    stack.__enter__()
    return [Run(scenario, stack, scenario.load()) for scenario in scenarios]


def _submit(run: Run) -> None:
    if run.scenario.lane == names.LANE_URGENT:
        run.stack.send_urgent(*run.load.messages)
        for detail in run.load.events:
            run.stack.put_event({**detail, "priority": PRIORITY_URGENT})
        return
    run.stack.send(*run.load.messages)
    for detail in run.load.events:
        run.stack.put_event(detail)


def _stats_since(before: RunnerStats, now: RunnerStats) -> RunnerStats:
    """The runner's counts since `before`; its recent errors as they are (of the whole stack)."""
    since = copy.deepcopy(now)
    for name, value in vars(now).items():
        if isinstance(value, int):
            setattr(since, name, value - getattr(before, name))
    return since


def _snapshot(run: Run, started: float) -> Snapshot:
    run.stack.drain(DRAIN_SECONDS)
    stats = _stats_since(run.stats_before, run.stack.runners[run.scenario.lane].stats)
    settled = _settled(run)
    return Snapshot(
        run.stack.ivs.ledger(),
        run.stack.dead_letters(),
        stats,
        time.monotonic() - started,
        counted_revoked=sum(line["pairs_revoked"] for line in settled),
        settled_batches=len(settled),
        invocations=stats.invocations,
    )


def _function_logs(run: Run) -> list[Path]:
    """Every lane's function instance logs (one file per instance, named as the stack names them)."""
    assert run.stack.log_dir is not None
    return [log for lane in names.LANES for log in sorted(run.stack.log_dir.glob(f"{instance_log_name(lane)}-*.log"))]


def _function_log_lines(run: Run) -> list[str]:
    """What the function instances logged since the scenario began."""
    lines = []
    for log in _function_logs(run):
        with log.open("rb") as file:
            file.seek(run.log_offsets.get(log, 0))
            lines += file.read().decode(errors="replace").splitlines()
    return lines


def _settled(run: Run) -> list[dict[str, Any]]:
    """The function's "batch settled" log lines, read."""
    read = [json.loads(line) for line in _function_log_lines(run) if '"batch settled"' in line]
    return [line for line in read if line.get("message") == "batch settled"]


def _begin(run: Run, *, after_another: bool = False) -> float:
    """Sets the scenario's fault and submits its load (on a shared stack, from empty queues and ledger);
    returns when it began."""
    if after_another:
        run.stack.purge()
    run.stack.ivs.set_faults(**run.scenario.faults)
    run.log_offsets = {log: log.stat().st_size for log in _function_logs(run)}
    run.stats_before = copy.deepcopy(run.stack.runners[run.scenario.lane].stats)
    began = time.monotonic()
    _submit(run)
    return began


def _finish(run: Run, began: float) -> None:
    """A drain, then without the fault a redrive and a drain."""
    run.drained = _snapshot(run, began)
    run.stack.ivs.clear_faults()
    run.redriven_messages = run.stack.redrive_dead_letters(lane=run.scenario.lane).moved
    run.redriven = _snapshot(run, began)


def _run_in_turn(runs: list[Run]) -> None:
    for index, run in enumerate(runs):
        _finish(run, _begin(run, after_another=index > 0))


def _wait_for_first_deliveries(runs: list[Run], timeout: float) -> None:
    """Until no run's queue holds a visible or delayed message and no batch is held: what is left
    waits for its visibility timeout. At most `timeout` seconds: then the rest start anyway."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runners = [run.stack.runners[run.scenario.lane] for run in runs]
        looks = [(runner.in_flight, runner.queue_counts()) for runner in runners]
        if all(held == 0 and counts["Messages"] == counts["MessagesDelayed"] == 0 for held, counts in looks):
            return
        time.sleep(0.5)


@pytest.fixture(scope="module")
def runs(
    moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, Run]]:
    base = tmp_path_factory.mktemp("fault-matrix")
    groups = _groups(SCENARIOS)
    with ThreadPoolExecutor(len(groups)) as pool:
        starting = [
            pool.submit(_start, group, moto_server, base / re.sub(r"[^A-Za-z0-9]+", "-", group[0].name).strip("-"))
            for group in groups
        ]
        # Every start waited for, so that the stacks that did start are stopped if another one did not.
        started = [future.result() for future in starting if future.exception() is None]
        stacks = [group[0].stack for group in started]
        by_name = {run.scenario.name: run for group in started for run in group}
        try:
            for future in starting:
                future.result()
            # The scenarios that settle on their first delivery take their turns while the others wait
            # out their visibility timeout, not at once with the others' first deliveries.
            alone = [group[0] for group in started if not group[0].scenario.settles_on_first_delivery]
            began = [(run, _begin(run)) for run in alone]
            work = [pool.submit(_finish, run, at) for run, at in began]
            _wait_for_first_deliveries(alone, FIRST_DELIVERIES_SECONDS)
            work += [pool.submit(_run_in_turn, group) for group in started if group[0] not in alone]
            for done in work:
                done.result()
            report = _figures_table([run for group in started for run in group])
            (base / "figures.md").write_text(report)
            reporter = request.config.pluginmanager.getplugin("terminalreporter")
            if reporter is not None:
                reporter.write_line("\n" + report)
            yield by_name
        finally:
            pids = [pid for stack in stacks for pid in stack.pids]
            list(pool.map(lambda stack: stack.stop(), stacks))
            assert_processes_gone(pids)


# --------------------------------------------------------------------------------------- accounting


@dataclass
class Accounting:
    revoked: set[Pair]
    dead_lettered: dict[Pair, list[tuple[str, str]]]  # pair -> [(code, message)] of the DLQ entries naming it
    invalid: list[DeadLetter]
    without_reason: list[DeadLetter]
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
        "Fault matrix (maxReceiveCount 2, visibility timeout 36 s, function timeout 6 s; malformed answers: "
        "maxReceiveCount 1, call timeout 4 s, function timeout 8 s; 2 instances of the scenario's lane)",
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


@pytest.mark.parametrize("name", MALFORMED_NAMES)
def test_an_answer_that_is_not_ivss_counts_nothing_and_each_pair_is_dead_lettered_naming_it(
    runs: dict[str, Run], name: str
) -> None:
    run = runs[name]
    assert run.drained is not None and run.scenario.dead_letter is not None
    code, reason = run.scenario.dead_letter
    accounting = account(run.load, run.drained)
    # Read from the logs: had they been missed (another name, another message), the count would be 0 too.
    assert run.drained.settled_batches == run.drained.invocations > 0
    assert run.drained.counted_revoked == 0
    # Only this load's pairs count (a redelivered duplicate may name them again).
    latest = {key: accounting.dead_lettered[key][-1] for key in run.load.versions if key in accounting.dead_lettered}
    assert set(latest) == set(run.load.versions)
    wrong = {key: (got, message) for key, (got, message) in latest.items() if got != code or reason not in message}
    assert wrong == {}
    # Nothing but the documented all-records-failed BatchProcessingError left the handler.
    stats = run.drained.stats
    assert (stats.timeouts, stats.crashes, stats.init_errors) == (0, 0, 0)
    assert [error for error in stats.recent_errors if "BatchProcessingError" not in error] == []


def test_hostile_bodies_repeated_keys_are_invalid_messages_naming_the_key(runs: dict[str, Run]) -> None:
    run = runs["hostile bodies"]
    assert run.drained is not None
    reasons = [entry.reason or "" for entry in account(run.load, run.drained).invalid]
    for expected in run.load.invalid_reasons:
        assert [reason for reason in reasons if expected in reason], f"no InvalidMessage reason naming {expected}"
    assert {key for key in run.load.never_revoked if run.drained.ledger.version(*key) is not None} == set()


def test_hostile_bodies_dead_letters_are_written_by_the_function_with_their_reason(runs: dict[str, Run]) -> None:
    """The local SQS refuses what SQS refuses (InvalidMessageContents): a dead letter holding a character
    outside its set would not be written, and the queue's redrive policy would move the message bare."""
    run = runs["hostile bodies"]
    assert run.drained is not None
    lines = _function_log_lines(run)
    assert [line for line in lines if '"batch settled"' in line], "no function log read"
    assert [line for line in lines if "InvalidMessageContents" in line] == []
    errors = [error for runner in run.stack.runners.values() for error in runner.stats.recent_errors]
    assert [error for error in errors if "InvalidMessageContents" in error] == []
    hostile = [
        entry
        for entry in run.drained.dead_letters
        if entry.body in run.load.hostile_bodies
        or any(viewer in HOSTILE_VIEWERS for _, viewer, _, _ in entry.failed_pairs())
    ]
    assert [entry.message_id for entry in hostile if entry.code is None] == []
    assert len([entry for entry in hostile if entry.body in run.load.hostile_bodies]) >= len(run.load.hostile_bodies)
    dead_lettered = {viewer for entry in hostile for _, viewer, _, _ in entry.failed_pairs()}
    assert set(HOSTILE_VIEWERS) <= dead_lettered  # the same viewer IDs, read back from the escapes
