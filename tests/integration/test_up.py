"""`make up` as a platform team uses it: start it, take its exports, point the real AWS CLI and
`ivs-revoke` at it, read the emulator's ledger, and stop it with Ctrl-C or SIGTERM.

The stack runs as `make up` runs it, `python -m local.up`, a process of its own whose output is read
as a user reads it; every command the test runs is a process of its own too, with only the printed
exports (no endpoint option) and no AWS configuration of the machine's.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from local.demo import CLI_EXAMPLE, CLI_EXAMPLE_CHANNELS
from local.up import ENV_FILE
from revocation.models import EVENT_DETAIL_TYPE, EVENT_SOURCE
from tests.integration.conftest import assert_processes_gone
from tests.integration.processes import descendants, listening

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
READY_SECONDS = 60.0
SETTLE_SECONDS = 60.0
STOP_SECONDS = 60.0


def _channel(name: str) -> str:
    return f"arn:aws:ivs:us-west-2:123456789012:channel/{name}"


def _clean_environment() -> dict[str, str]:
    # Nothing of the machine's AWS configuration: what works must work from the exports alone.
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment["AWS_CONFIG_FILE"] = environment["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def _sigint_ignored() -> None:
    # As a script's background job starts (`make up &`): with SIGINT ignored. Ctrl-C must stop it still.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Up:
    """`python -m local.up` in a process of its own, and what it printed."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.up", *args],
            cwd=ROOT,
            env=_clean_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_sigint_ignored,
        )
        self.output = ""

    def read_until(self, pattern: str, timeout: float) -> re.Match[str]:
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while not (found := re.search(pattern, self.output, re.MULTILINE)):
            assert time.monotonic() < deadline, f"no {pattern!r} within {timeout:g} s:\n{self.output}"
            assert self.process.poll() is None, f"exited {self.process.returncode}:\n{self.output}"
            if selector.select(timeout=1):
                self.output += os.read(self.process.stdout.fileno(), 65536).decode(errors="replace")
        return found

    def exports(self) -> dict[str, str]:
        """The printed `export` lines, evaluated by a shell: what a user who pastes them gets."""
        lines = "\n".join(re.findall(r"^export .*$", self.output, re.MULTILINE))
        script = f"{lines}\nenv -0"
        printed = subprocess.run(["bash", "-c", script], env={}, capture_output=True, check=True).stdout
        names = re.findall(r"^export (\w+)=", lines, re.MULTILINE)
        values = dict(entry.split("=", 1) for entry in printed.decode().split("\0") if "=" in entry)
        return {name: values[name] for name in names}

    def stop(self, signum: int) -> str:
        self.process.send_signal(signum)
        try:
            rest, _ = self.process.communicate(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            rest, _ = self.process.communicate()
            raise AssertionError(f"not stopped within {STOP_SECONDS:g} s of signal {signum}\n{rest[-3000:]}") from None
        self.output += rest
        return rest

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def up_factory() -> Iterator[Any]:
    started: list[Up] = []

    def start(*args: str) -> Up:
        up = Up(*args)
        started.append(up)
        return up

    yield start
    for up in started:
        up.kill()


def _run(command: list[str], environment: Mapping[str, str], stdin: str | None = None) -> Any:
    result = subprocess.run(
        command, env={**_clean_environment(), **environment}, input=stdin, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{command} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else None


def _ledger(ivs_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{ivs_url}/_emulator/ledger", timeout=10) as response:
        ledger: dict[str, Any] = json.load(response)
    return ledger


def _revoked(ledger: Mapping[str, Any]) -> dict[tuple[str, str], int]:
    return {(item["channelArn"], item["viewerId"]): item["version"] for item in ledger["revoked"]}


def _wait_for(what: str, check: Any, timeout: float = SETTLE_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.5)


def _ports(environment: Mapping[str, str]) -> list[int]:
    urls = [environment["AWS_ENDPOINT_URL_SQS"], environment["AWS_ENDPOINT_URL_IVS"]]
    assert {urlparse(url).hostname for url in urls} == {"127.0.0.1"}, urls
    return sorted({int(urlparse(url).port or 0) for url in urls})


def test_up_serves_the_aws_cli_and_ivs_revoke_from_its_exports_and_stops_on_ctrl_c(up_factory: Any) -> None:
    unauthorized = [arg for arn in CLI_EXAMPLE_CHANNELS for arg in ("--unauthorized-channel", arn)]
    up = up_factory(*unauthorized)
    up.read_until(r"^Ready:.*$", READY_SECONDS)
    environment = up.exports()
    assert "Ready: serving (lanes: bulk, urgent)" in up.output
    for lane, queue in (("bulk", "IVS_REVOKE_QUEUE_URL"), ("urgent", "IVS_REVOKE_URGENT_QUEUE_URL")):
        assert re.search(rf"^  {lane} lane\s+queue {re.escape(environment[queue])} ", up.output, re.MULTILINE), (
            up.output
        )
    assert ENV_FILE.read_text().splitlines()[1:] == re.findall(r"^export .*$", up.output, re.MULTILINE)
    ports = _ports(environment)
    assert len(ports) == 2
    one: dict[str, Any] = {
        "channelArn": _channel("NewsChannel01"),
        "viewerId": "viewer-0001",
        "viewerSessionVersionsLessThanOrEqualTo": 7,
    }
    by_event: dict[str, Any] = {"channelArn": _channel("NewsChannel01"), "viewerId": "banned-1"}
    many: list[dict[str, Any]] = [
        {"channelArn": _channel("SportsChannel02"), "viewerId": f"viewer-{i:04d}"} for i in range(43)
    ]
    urgent: dict[str, Any] = {"channelArn": _channel("NewsChannel01"), "viewerId": "banned-now"}

    aws = str(BIN / "aws")
    queue_url = environment["IVS_REVOKE_QUEUE_URL"]
    _run([aws, "sqs", "send-message", "--queue-url", queue_url, "--message-body", json.dumps(one)], environment)
    # The fast lane, by its own exported queue URL.
    urgent_queue_url = environment["IVS_REVOKE_URGENT_QUEUE_URL"]
    assert urgent_queue_url != queue_url
    _run(
        [aws, "sqs", "send-message", "--queue-url", urgent_queue_url, "--message-body", json.dumps(urgent)],
        environment,
    )
    entry = {
        "Source": EVENT_SOURCE,
        "DetailType": EVENT_DETAIL_TYPE,
        "Detail": json.dumps({"viewerSessions": [by_event]}),
        "EventBusName": environment["IVS_REVOKE_EVENT_BUS"],
    }
    sent = _run([aws, "events", "put-events", "--entries", json.dumps([entry])], environment)
    assert sent["FailedEntryCount"] == 0, sent
    ivs_revoke = str(BIN / "ivs-revoke")
    _run([ivs_revoke, "submit", "--cli-input-json", json.dumps({"viewerSessions": [*many, *CLI_EXAMPLE]})], environment)

    valid = {(pair["channelArn"], pair["viewerId"]) for pair in [one, by_event, *many, urgent]}

    def all_revoked() -> dict[str, Any] | None:
        ledger = _ledger(environment["AWS_ENDPOINT_URL_IVS"])
        return ledger if valid <= set(_revoked(ledger)) else None

    ledger = _wait_for("every valid pair revoked", all_revoked)
    assert _revoked(ledger)[(one["channelArn"], one["viewerId"])] == 7
    single_calls = [call for call in ledger["accepted_calls"] if call["operation"] == "StartViewerSessionRevocation"]
    assert [(call["channel_arn"], call["viewer_id"]) for call in single_calls] == [
        (urgent["channelArn"], urgent["viewerId"])
    ]
    denied = {(pair["channelArn"], pair["viewerId"]) for pair in CLI_EXAMPLE}
    assert not denied & set(_revoked(ledger))

    def dead_lettered() -> dict[tuple[str, str], str] | None:
        listed = _run([ivs_revoke, "dlq", "list"], environment)
        codes = {(row["channelArn"], row["viewerId"]): row["code"] for row in listed["failedPairs"]}
        return codes if denied <= set(codes) else None

    assert _wait_for("the CLI example's pairs in the DLQ", dead_lettered) == dict.fromkeys(denied, "403")

    processes = descendants(up.process.pid)
    assert processes
    rest = up.stop(signal.SIGINT)

    assert up.process.returncode == 130, up.output
    assert "Interrupted" in rest
    # The final status line: what each lane's function reported, read from its metrics.
    assert re.search(
        r"^\[.*\] bulk 0 queued \+ 0 in flight, urgent 0 queued \+ 0 in flight \| revoked 46 \(bulk 45, urgent 1\) \| "
        r"last minute pairs/s bulk [\d.]+ of 40, urgent [\d.]+ of 10 \| DLQ \d+ msg; dead-lettered since start: 403 2$",
        up.output,
        re.MULTILINE,
    ), up.output
    assert_processes_gone(sorted(processes))
    assert not [port for port in ports if listening(port)]
    assert not ENV_FILE.exists()


def test_up_calls_another_ivs_endpoint_and_stops_on_sigterm(up_factory: Any) -> None:
    # An IVS endpoint started apart, as a team's own stand-in would be.
    stand_in = subprocess.Popen(
        [sys.executable, "-m", "local.ivs_emulator"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert stand_in.stdout is not None
        ivs_url = stand_in.stdout.readline().strip()
        up = up_factory("--ivs-url", ivs_url, "--quiet")
        up.read_until(r"^Ready:.*$", READY_SECONDS)
        environment = up.exports()
        assert environment["AWS_ENDPOINT_URL_IVS"] == ivs_url
        assert ivs_url in up.output and "emulator at" not in up.output
        pair = {"channelArn": _channel("NewsChannel01"), "viewerId": "viewer-0002"}
        _run([str(BIN / "ivs-revoke"), "submit", "--event-bus", "--viewer-sessions", json.dumps([pair])], environment)
        key = (pair["channelArn"], pair["viewerId"])
        _wait_for("the pair revoked by the other endpoint", lambda: key in _revoked(_ledger(ivs_url)))
        processes = descendants(up.process.pid)
        up.stop(signal.SIGTERM)

        assert up.process.returncode == 0, up.output
        assert not re.search(r"^\[\d\d:\d\d:\d\d\]", up.output, re.MULTILINE), "a status line despite --quiet"
        assert_processes_gone(sorted(processes))
        assert not listening(int(urlparse(environment["AWS_ENDPOINT_URL_SQS"]).port or 0))
        assert not ENV_FILE.exists()
    finally:
        stand_in.send_signal(signal.SIGTERM)
        stand_in.wait(10)


def test_make_up_runs_the_service_with_args() -> None:
    planned = subprocess.run(
        ["make", "--dry-run", "up", "ARGS=--quiet --port 4566"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout

    assert re.search(r"^\S*python -m local\.up --quiet --port 4566$", planned, re.MULTILINE), planned
