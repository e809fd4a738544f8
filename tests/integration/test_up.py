"""`make up` as a platform team uses it: start it, take its exports, point the real AWS CLI and
`ivs-revoke` at it, read the emulator's ledger, and stop it with Ctrl-C or SIGTERM; one service per
environment file; a stop that lets invocations finish and says what the in-memory queues discarded.

The stack runs as `make up` runs it, `python -m local.up` (or `make up` itself), a process of its own
whose output is read as a user reads it; every command the test runs is a process of its own too, with
only the printed exports (no endpoint option) and no AWS configuration of the machine's. Each test
gives it an environment file of its own (`--env-file`), so that neither a developer's running `make up`
nor a parallel test holds its lock.
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

from ivs_revocation.models import EVENT_DETAIL_TYPE, EVENT_SOURCE
from ivs_revoke.sqs import queue_counts
from local.clients import client
from local.demo import CLI_EXAMPLE, CLI_EXAMPLE_CHANNELS
from local.up import lock_path
from tests.integration.conftest import assert_processes_gone, install_project
from tests.integration.processes import descendants, listening

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
READY_SECONDS = 60.0
SETTLE_SECONDS = 60.0
STOP_SECONDS = 60.0


def _channel(name: str) -> str:
    return f"arn:aws:ivs:us-west-2:123456789012:channel/{name}"


def clean_environment() -> dict[str, str]:
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

    def __init__(self, *args: str, env_file: Path) -> None:
        self.env_file = env_file
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.up", *args, "--env-file", str(env_file)],
            cwd=ROOT,
            env=clean_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_sigint_ignored,
        )
        self.output = ""

    def read_until(self, pattern: str, timeout: float) -> re.Match[str]:
        self.output, found = read_until(self.process, self.output, pattern, timeout)
        return found

    def exports(self) -> dict[str, str]:
        """The printed `export` lines, evaluated by a shell: what a user who pastes them gets."""
        return exported(self.output)

    def log_dir(self) -> Path:
        found = re.search(r"^  logs\s+(\S+) ", self.output, re.MULTILINE)
        assert found, self.output
        return Path(found[1])

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


def read_until(process: subprocess.Popen[str], output: str, pattern: str, timeout: float) -> tuple[str, re.Match[str]]:
    """Reads on from the process's output (`output`, what was read so far) until `pattern` is in it."""
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while not (found := re.search(pattern, output, re.MULTILINE)):
        assert time.monotonic() < deadline, f"no {pattern!r} within {timeout:g} s:\n{output}"
        assert process.poll() is None, f"exited {process.returncode}:\n{output}"
        if selector.select(timeout=1):
            output += os.read(process.stdout.fileno(), 65536).decode(errors="replace")
    return output, found


def exported(output: str) -> dict[str, str]:
    """The `export` lines of `output`, evaluated by a shell."""
    lines = "\n".join(re.findall(r"^export .*$", output, re.MULTILINE))
    script = f"{lines}\nenv -0"
    printed = subprocess.run(["bash", "-c", script], env={}, capture_output=True, check=True).stdout
    names = re.findall(r"^export (\w+)=", lines, re.MULTILINE)
    values = dict(entry.split("=", 1) for entry in printed.decode().split("\0") if "=" in entry)
    return {name: values[name] for name in names}


@pytest.fixture
def up_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Up] = []

    def start(*args: str, env_file: Path = tmp_path / ".local-stack.env") -> Up:
        up = Up(*args, env_file=env_file)
        started.append(up)
        return up

    yield start
    for up in started:
        up.kill()


def _run(command: list[str], environment: Mapping[str, str], stdin: str | None = None) -> Any:
    result = subprocess.run(
        command, env={**clean_environment(), **environment}, input=stdin, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{command} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else None


def read_ledger(ivs_url: str) -> dict[str, Any]:
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


def test_up_serves_the_aws_cli_and_ivs_revoke_from_its_exports_and_stops_on_ctrl_c(
    up_factory: Any, tmp_path: Path
) -> None:
    env_file = tmp_path / ".local-stack.env"
    # What a `make up` that was killed leaves: a PID file naming a process that has ended, unlocked.
    ended = subprocess.Popen(["true"])
    ended.wait()
    lock_path(env_file).write_text(f"{ended.pid}\n")
    # No channel named: the emulator refuses the AWS CLI documentation's example channels by default.
    up = up_factory(env_file=env_file)
    up.read_until(r"^Ready:.*$", READY_SECONDS)
    environment = up.exports()
    pid = up.process.pid
    assert f"named PID {ended.pid}, which no longer serves" in up.output
    assert f"Ready: serving (lanes: bulk, urgent) at {environment['AWS_ENDPOINT_URL_SQS']} as PID {pid}" in up.output
    assert re.search(rf"^  process\s+PID {pid} .*Ctrl-C here or kill {pid};", up.output, re.MULTILINE), up.output
    assert re.search(rf"^  refused channels\s+{re.escape(', '.join(CLI_EXAMPLE_CHANNELS))}$", up.output, re.M)
    for lane, queue in (("bulk", "IVS_REVOKE_QUEUE_URL"), ("urgent", "IVS_REVOKE_URGENT_QUEUE_URL")):
        assert re.search(rf"^  {lane} lane\s+queue {re.escape(environment[queue])} ", up.output, re.MULTILINE), (
            up.output
        )
    assert env_file.read_text().splitlines()[1:] == re.findall(r"^export .*$", up.output, re.MULTILINE)
    assert lock_path(env_file).read_text() == f"{pid}\n"
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
        ledger = read_ledger(environment["AWS_ENDPOINT_URL_IVS"])
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

    processes = descendants(pid)
    assert processes
    log_dir = up.log_dir()
    assert log_dir.is_dir()
    rest = up.stop(signal.SIGINT)

    # A clean stop: 0, which make reports as no error.
    assert up.process.returncode == 0, up.output
    # The final status line: what each lane's function reported, read from its metrics.
    final = re.search(
        r"^\[.*\] bulk 0 queued \+ 0 in flight, urgent 0 queued \+ 0 in flight \| revoked 46 \(bulk 45, urgent 1\) "
        r"\| last minute pairs/s bulk [\d.]+ of 40, urgent [\d.]+ of 10 \| DLQ (\d+) msg; dead-lettered since start: "
        # The outcome events the functions put, and those waiting in the watch queue ($OUTCOME_QUEUE_URL).
        r"403 2 \| outcome events [1-9]\d* put, [1-9]\d* in \$OUTCOME_QUEUE_URL$",
        up.output,
        re.MULTILINE,
    )
    assert final, up.output
    # The dead letters were still in the DLQ: discarded with it, and said so.
    dead = int(final[1])
    assert rest.rstrip().endswith(
        f"Stopped (Ctrl-C). Discarded {dead} message{'' if dead == 1 else 's'} that the local queues still held "
        f"(they live in memory and end with the stack): DLQ {dead} queued."
    ), rest
    assert "Stopping (Ctrl-C): no new batches" in rest and "nothing left running" not in rest
    assert f"Logs removed ({log_dir}): nothing failed." in rest and not log_dir.exists()
    assert_processes_gone(sorted(processes))
    assert not [port for port in ports if listening(port)]
    assert not env_file.exists() and not lock_path(env_file).exists()


def test_up_calls_another_ivs_endpoint_refuses_a_second_up_and_lets_an_invocation_finish_on_sigterm(
    up_factory: Any, tmp_path: Path
) -> None:
    env_file = tmp_path / ".local-stack.env"
    # An IVS endpoint started apart, as a team's own stand-in would be; slow, so that a stop comes while
    # the function waits for it.
    stand_in = subprocess.Popen(
        [sys.executable, "-m", "local.ivs_emulator", "--latency-ms", "1500"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert stand_in.stdout is not None
        ivs_url = stand_in.stdout.readline().strip()
        up = up_factory("--ivs-url", ivs_url, "--quiet", env_file=env_file)
        up.read_until(r"^Ready:.*$", READY_SECONDS)
        environment = up.exports()
        assert environment["AWS_ENDPOINT_URL_IVS"] == ivs_url
        assert ivs_url in up.output and "emulator at" not in up.output and "refused channels" not in up.output
        written = env_file.read_text()

        # A second one with the same environment file: refused at once, naming the first; the first's file stays.
        second = subprocess.run(
            [sys.executable, "-m", "local.up", "--env-file", str(env_file)],
            cwd=ROOT,
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=READY_SECONDS,
        )
        assert second.returncode == 1, second
        assert f"another `make up` (PID {up.process.pid}) is serving with {env_file}" in second.stderr, second.stderr
        assert f"kill {up.process.pid}" in second.stderr and second.stdout == ""
        assert env_file.read_text() == written and lock_path(env_file).read_text() == f"{up.process.pid}\n"

        pair = {"channelArn": _channel("NewsChannel01"), "viewerId": "viewer-0002"}
        _run([str(BIN / "ivs-revoke"), "submit", "--event-bus", "--viewer-sessions", json.dumps([pair])], environment)
        # Stopped once the function is invoked, while its call waits for the slow endpoint.
        log_dir = up.log_dir()
        _wait_for(
            "an invocation started",
            lambda: any("START RequestId" in log.read_text() for log in log_dir.glob("instance-*.log")),
        )
        processes = descendants(up.process.pid)
        rest = up.stop(signal.SIGTERM)

        # The grace let the invocation finish: the pair is revoked and its message deleted.
        assert (pair["channelArn"], pair["viewerId"]) in _revoked(read_ledger(ivs_url))
        assert up.process.returncode == 0, up.output
        assert "Stopping (SIGTERM): no new batches; up to 5 s" in rest
        assert "The invocations in flight finished within the grace" in rest, rest
        assert rest.rstrip().endswith(
            "Stopped (SIGTERM): every queue was empty, nothing discarded; nothing left running."
        ), rest
        assert not re.search(r"^\[\d\d:\d\d:\d\d\]", up.output, re.MULTILINE), "a status line despite --quiet"
        assert_processes_gone(sorted(processes))
        assert not listening(int(urlparse(environment["AWS_ENDPOINT_URL_SQS"]).port or 0))
        assert not env_file.exists() and not lock_path(env_file).exists()
    finally:
        stand_in.send_signal(signal.SIGTERM)
        stand_in.wait(10)


def test_ctrl_c_on_make_up_with_work_left_reports_what_is_discarded_and_make_reports_no_error(tmp_path: Path) -> None:
    env_file = tmp_path / ".local-stack.env"
    # Every IVS call throttled: nothing is revoked, so every message sent is still queued or in flight
    # when the stop comes. make's own session stands for a terminal: Ctrl-C reaches make and the service.
    args = f"--throttle-rate 1 --grace 1 --quiet --env-file {env_file}"
    make = subprocess.Popen(
        # -o: the venv is taken as it is, never reinstalled by a test.
        ["make", "--no-print-directory", "-o", ".venv/.installed", "up", f"ARGS={args}"],
        cwd=ROOT,
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = read_until(make, "", r"^Ready:.*$", READY_SECONDS)
        environment = exported(output)
        sqs = client("sqs", environment["AWS_ENDPOINT_URL_SQS"], environment["AWS_REGION"])
        sent = {"IVS_REVOKE_QUEUE_URL": 120, "IVS_REVOKE_URGENT_QUEUE_URL": 7}
        for queue, count in sent.items():
            for first in range(0, count, 10):
                entries = [
                    {"Id": str(i), "MessageBody": json.dumps({"channelArn": _channel("C1"), "viewerId": f"v{i}"})}
                    for i in range(first, min(count, first + 10))
                ]
                assert not sqs.send_message_batch(QueueUrl=environment[queue], Entries=entries).get("Failed")

        _wait_for(
            "both lanes' functions holding a batch",
            lambda: all(queue_counts(sqs, environment[queue])["MessagesNotVisible"] for queue in sent),
        )
        os.killpg(make.pid, signal.SIGINT)
        rest, _ = make.communicate(timeout=STOP_SECONDS)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.communicate()
    output += rest

    # make, which the Ctrl-C reached too, ends by it once the service has stopped (so a shell sees 130), and
    # prints no error: it would print "*** [Makefile:..: up] Error N" for any status of the service but 0.
    assert make.returncode == -signal.SIGINT, output
    assert "***" not in output and "Error" not in output, output
    report = re.search(
        r"^Stopped \(Ctrl-C\)\. Discarded (\d+) messages that the local queues still held \(they live in memory and "
        r"end with the stack\): bulk (\d+) queued(?: \+ (\d+) in flight)?, urgent (\d+) queued(?: \+ (\d+) in "
        r"flight)?\.$",
        output,
        re.MULTILINE,
    )
    assert report, output
    total, bulk_queued, bulk_held, urgent_queued, urgent_held = (int(group or 0) for group in report.groups())
    assert (bulk_queued + bulk_held, urgent_queued + urgent_held, total) == (120, 7, 127), output
    assert bulk_held + urgent_held > 0, output
    assert "nothing left running" not in output
    assert not env_file.exists() and not lock_path(env_file).exists()


def test_make_up_runs_the_service_with_args() -> None:
    planned = subprocess.run(
        ["make", "--dry-run", "up", "ARGS=--quiet --port 4566"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout

    assert re.search(r"^\S*python -m local\.up --quiet --port 4566$", planned, re.MULTILINE), planned


def test_the_first_install_says_what_it_does_and_how_long_before_its_quiet_install() -> None:
    # -W: as if requirements.txt had changed, so that the install's recipe is planned (and only printed).
    planned = subprocess.run(
        ["make", "--dry-run", "-W", "requirements.txt", "venv"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    lines = planned.splitlines()
    said = next(i for i, line in enumerate(lines) if "First run: creating .venv and installing" in line)
    installs = [i for i, line in enumerate(lines) if "pip install" in line]

    assert "about half a minute" in lines[said] and said < installs[0], planned
    # One resolver pass over the pins, then the project itself: both by uv, quietly.
    assert [line.split(" pip install ")[0].rsplit("/", 1)[-1] for line in lines if " -r requirements" in line] == [
        "uv"
    ], planned
    [editable] = [line for line in lines if " -e ." in line]
    assert "uv pip install --quiet" in editable, editable


def test_the_editable_install_prints_no_warning_box(tmp_path: Path) -> None:
    """setuptools' "Editable installation." box reads as a failure on a first run: the install shows a
    build's output only when it fails."""
    installed = install_project(tmp_path / "site", editable=True)

    assert installed.returncode == 0, installed.stderr
    assert "Editable installation" not in installed.stdout + installed.stderr
