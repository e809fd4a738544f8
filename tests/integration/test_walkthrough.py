"""The README's `make up` walkthrough, run as a newcomer runs it: every ```bash command between
`<!-- walkthrough -->` and `<!-- /walkthrough -->`, in order, in one bash session.

`make up` (its first command) is started as a process of its own, `python -m local.up` with the
walkthrough's ARGS if it gives any; the other commands run in a bash session whose folder stands for
the repository (its entries linked) with the service's own `.local-stack.env`, with no AWS
configuration of the machine's. Between two commands the test waits, as a reader does, until both
lanes' queues are empty. What the commands print must show what the walkthrough promises: the pairs
revoked in the emulator's ledger, the refused pair in the DLQ with `403` `not authorized`, and a
redrive that moved it back. Plain `make up` must refuse a channel for that: without one, nothing is
dead-lettered and the test fails.
"""

from __future__ import annotations

import os
import re
import selectors
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivs_revoke.dlq import scan
from ivs_revoke.sqs import queue_counts
from local.clients import client
from local.up import lock_path
from tests.integration.test_up import READY_SECONDS, Up, clean_environment, exported, read_ledger

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARKERS = ("<!-- walkthrough -->", "<!-- /walkthrough -->")
COMMAND_SECONDS = 90.0
IDLE_SECONDS = 60.0
# What the session prints after each command: its exit status, on a line of its own.
DONE = f"walkthrough-command-done-{uuid.uuid4().hex}"
SENT_VIEWER = re.compile(r"viewerId(?:\\?\"\s*:\s*\\?\"|=)([A-Za-z0-9_.@:/-]+)")


def walkthrough_commands(readme: str) -> list[str]:
    """The commands of the ```bash blocks between the markers, one per entry: lines joined where a
    line ends with a backslash or leaves a quote open."""
    assert all(marker in readme for marker in MARKERS), f"README.md has no {MARKERS} around its walkthrough"
    section = readme[readme.index(MARKERS[0]) : readme.index(MARKERS[1])]
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", section, re.MULTILINE | re.DOTALL):
        pending = ""
        for line in block.splitlines():
            pending = f"{pending}\n{line}" if pending else line
            if pending.endswith("\\") or not _complete(pending):
                continue
            if shlex.split(pending, comments=True):
                commands.append(pending)
            pending = ""
        assert not pending, f"a command of the walkthrough does not end: {pending}"
    return commands


def _complete(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
    except ValueError:  # a quote still open
        return False
    return True


def service_args(command: str) -> list[str] | None:
    """The arguments of `python -m local.up` if the command is `make up [ARGS=...]`, else None."""
    words = shlex.split(command, comments=True)
    if words[:2] != ["make", "up"]:
        return None
    assert all(word.startswith("ARGS=") for word in words[2:]), f"make up with other than ARGS: {command}"
    return [arg for word in words[2:] for arg in shlex.split(word.removeprefix("ARGS="))]


@dataclass(frozen=True)
class Ran:
    command: str
    output: str


class Session:
    """One bash, fed one command at a time, as a terminal is."""

    def __init__(self, folder: Path) -> None:
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=folder,
            env=clean_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def run(self, command: str) -> Ran:
        assert self.process.stdin is not None and self.process.stdout is not None
        # Grouped, so that bash reads the whole command before it runs, with nothing to read on its
        # stdin but the terminal's nothing.
        self.process.stdin.write(f"{{\n{command}\n}} </dev/null\nprintf '\\n{DONE} %d\\n' $?\n")
        self.process.stdin.flush()
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        output = ""
        deadline = time.monotonic() + COMMAND_SECONDS
        while not (done := re.search(rf"\n{DONE} (\d+)\n", output)):
            assert time.monotonic() < deadline, f"{command}\nnot done within {COMMAND_SECONDS:g} s:\n{output}"
            assert self.process.poll() is None, f"bash exited during {command}:\n{output}"
            if selector.select(timeout=1):
                output += os.read(self.process.stdout.fileno(), 65536).decode(errors="replace")
        printed = output[: done.start()]
        assert done[1] == "0", f"{command}\nexited {done[1]}:\n{printed}"
        return Ran(command, printed)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def _repository_stand_in(folder: Path) -> Path:
    """A folder with every entry of the repository linked, but no `.local-stack.env` of a `make up`
    someone may be running: the walkthrough's relative paths work, and its environment file is the
    test's own."""
    for entry in ROOT.iterdir():
        if entry.name not in (".local-stack.env", lock_path(ROOT / ".local-stack.env").name):
            (folder / entry.name).symlink_to(entry)
    return folder


def _wait_until_idle(environment: Mapping[str, str]) -> None:
    """Until both lanes' queues hold nothing, visible, delayed or in flight: every message settled."""
    sqs = client("sqs", environment["AWS_ENDPOINT_URL_SQS"], environment["AWS_REGION"])
    deadline = time.monotonic() + IDLE_SECONDS
    while True:
        counts = {
            queue: queue_counts(sqs, environment[queue])
            for queue in ("IVS_REVOKE_QUEUE_URL", "IVS_REVOKE_URGENT_QUEUE_URL")
        }
        if not any(any(lane.values()) for lane in counts.values()):
            return
        assert time.monotonic() < deadline, f"the queues not settled within {IDLE_SECONDS:g} s: {counts}"
        time.sleep(0.2)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return _repository_stand_in(tmp_path)


@pytest.fixture
def session(folder: Path) -> Iterator[Session]:
    bash = Session(folder)
    yield bash
    bash.close()


def test_the_readme_walkthrough_shows_revoked_pairs_a_403_dead_letter_and_a_redrive(
    folder: Path, session: Session
) -> None:
    commands = walkthrough_commands(README.read_text())
    args = service_args(commands[0])
    assert args is not None, f"the walkthrough starts with `make up`, not {commands[0]!r}"
    assert not [command for command in commands[1:] if service_args(command) is not None], commands
    env_file = folder / ".local-stack.env"
    up = Up(*args, env_file=env_file)
    try:
        up.read_until(r"^Ready:.*$", READY_SECONDS)
        environment = exported(up.output)
        ran = []
        for command in commands[1:]:
            ran.append(session.run(command))
            _wait_until_idle(environment)
        ledger = read_ledger(environment["AWS_ENDPOINT_URL_IVS"])
        sqs = client("sqs", environment["AWS_ENDPOINT_URL_SQS"], environment["AWS_REGION"])
        dead_lettered = {
            (pair.channel_arn, pair.viewer_id): (pair.code, pair.message)
            for letter in scan(sqs, environment["IVS_REVOKE_DLQ_URL"])
            for pair in letter.failed_pairs()
        }
        rest = up.stop(signal.SIGINT)
    finally:
        up.kill()
    transcript = "\n".join(f"$ {step.command}\n{step.output}" for step in ran)

    sent = {viewer for step in ran if _sends(step.command) for viewer in SENT_VIEWER.findall(step.command)}
    revoked = {item["viewerId"]: item for item in ledger["revoked"]}
    refused = {viewer: reason for (_, viewer), reason in dead_lettered.items()}
    assert sent, f"the walkthrough sends no pair that names a viewerId:\n{transcript}"
    # Every pair sent is accounted for: revoked, or dead-lettered with the emulator's refusal.
    assert {viewer: viewer in revoked or refused.get(viewer) == ("403", "not authorized") for viewer in sent} == (
        dict.fromkeys(sent, True)
    ), (revoked, refused, transcript)
    assert sent & set(revoked), f"no pair revoked:\n{transcript}"
    assert sent & set(refused), f"no pair refused: plain `make up` refuses no channel?\n{transcript}"
    # The refused pairs' channels are the ones the header announced.
    announced = re.search(r"^  refused channels\s+(.*)$", up.output, re.MULTILINE)
    assert announced and all(arn in announced[1] for arn, viewer in dead_lettered if viewer in sent), up.output

    # What the commands printed shows it.
    ledger_reads = [step.output for step in ran if "_emulator/ledger" in step.command]
    assert ledger_reads, f"the walkthrough never reads the emulator's ledger:\n{transcript}"
    for viewer in sent & set(revoked):
        assert any(f'"{viewer}"' in output for output in ledger_reads), f"{viewer} revoked but not shown:\n{transcript}"
    listings = [step.output for step in ran if re.search(r"\bdlq list\b", step.command)]
    assert listings, f"the walkthrough never lists the DLQ:\n{transcript}"
    assert any(re.search(r"403\s+not authorized", output) for output in listings), transcript
    redrives = [step.output for step in ran if re.search(r"\bdlq redrive\b", step.command)]
    assert redrives, (
        "the walkthrough runs no `ivs-revoke dlq redrive`, yet the README promises a redrive: add "
        f"`ivs-revoke dlq redrive --wait` to its commands\n{transcript}"
    )
    for output in redrives:
        moved = re.search(r'"messagesMoved":\s*(\d+)', output)
        assert moved and int(moved[1]) >= 1, f"the redrive moved nothing:\n{transcript}"

    # Stopped with Ctrl-C: what the DLQ still held is discarded with it, and said so.
    assert up.process.returncode == 0, up.output
    assert re.search(r"^Stopped \(Ctrl-C\)\. Discarded \d+ messages? .*: DLQ \d+ queued\.$", rest, re.MULTILINE), rest
    assert not env_file.exists()


def _sends(command: str) -> bool:
    """Whether the command is one that sends revocation requests (not one that reads what became of them)."""
    return re.search(r"\b(send-message|put-events|submit)\b", command) is not None


def test_the_walkthrough_is_read_as_bash_reads_it() -> None:
    readme = "\n".join(
        [
            "intro",
            "```bash",
            'make up    # or: make up ARGS="--unauthorized-channel arn:x"',
            "```",
            MARKERS[0],
            "```bash",
            'make up ARGS="--quiet --port 4566"',
            "```",
            "text between",
            "```bash",
            "# a comment line",
            'aws events put-events --entries \'[{"Source": "s",',
            '  "Detail": "{}"}]\'',
            "ivs-revoke submit --viewer-sessions \\",
            "  channelArn=arn,viewerId=viewer-3",
            "```",
            MARKERS[1],
            "```bash",
            "ivs-revoke dlq purge",
            "```",
        ]
    )

    commands = walkthrough_commands(readme)

    assert commands == [
        'make up ARGS="--quiet --port 4566"',
        'aws events put-events --entries \'[{"Source": "s",\n  "Detail": "{}"}]\'',
        "ivs-revoke submit --viewer-sessions \\\n  channelArn=arn,viewerId=viewer-3",
    ]
    assert service_args(commands[0]) == ["--quiet", "--port", "4566"]
    assert service_args("make up  # plain") == []
    assert service_args(commands[1]) is None
    assert SENT_VIEWER.findall(commands[2] + ' {"viewerId": "viewer-1"} \\"viewerId\\": \\"viewer-2\\"') == [
        "viewer-3",
        "viewer-1",
        "viewer-2",
    ]
