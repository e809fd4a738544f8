"""`make demo` as a newcomer runs it: `python -m local.demo`, a process of its own, start to finish and on Ctrl-C."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import assert_processes_gone
from tests.integration.processes import descendants, listening

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
URL = re.compile(r"http://127\.0\.0\.1:(\d+)")


def _demo(*args: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Nothing of the caller's AWS configuration may leak into the demo's clients.
    for name in list(environment):
        if name.startswith("AWS_"):
            del environment[name]
    return subprocess.Popen(
        [sys.executable, "-m", "local.demo", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As from a terminal: a test run started in the background inherits SIGINT ignored, and a
        # child that starts with it ignored keeps ignoring Ctrl-C.
        preexec_fn=_sigint_default,
    )


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# The wave is the demo's only part whose length is a parameter: 400 pairs take 10 s at the quota, which
# shows the same pacing and the same overtaking as the default 2,000 (50 s), and leave moto's server a
# fifth of the work.
WAVE = 400


def test_demo_exits_0_with_the_documented_403_pairs_in_the_dead_letter_queue_and_the_urgent_pair_first() -> None:
    demo = _demo("--wave", str(WAVE))
    output, _ = demo.communicate(timeout=180)

    assert demo.returncode == 0, output
    assert len(re.findall(r"^\s+403\s+not authorized$", output, re.MULTILINE)) == 2, output
    assert "InvalidMessage" in output
    assert re.search(r"Every pair accounted for: \d+ revoked \+ 2 dead-lettered with a reason", output), output
    # The urgent pair, sent after the wave, revoked in under a second; the wave takes its 40 pairs/s.
    wave = re.search(r"^  wave, bulk lane +(\d+) pairs revoked in ([\d.]+) s$", output, re.MULTILINE)
    urgent = re.search(r"^  urgent pair, fast lane revoked ([\d.]+) s after its SendMessage returned", output, re.M)
    assert wave and urgent, output
    assert int(wave[1]) == WAVE and float(wave[2]) >= WAVE / 40 * 0.95, output
    # The urgent pair overtakes the wave: revoked while the wave still drains. Its time includes the urgent
    # lane's cold start, as on AWS without provisioned concurrency; the latency benchmark measures that path.
    behind = re.search(
        r"^  in one queue +it would have waited behind the wave: the wave's last pair was revoked "
        r"([\d.]+) s after the urgent pair was sent",
        output,
        re.MULTILINE,
    )
    assert behind and float(urgent[1]) < float(behind[1]), output
    for port in map(int, URL.findall(output)):
        assert not listening(port), f"port {port} still open after the demo"


def test_demo_interrupted_stops_every_process_and_frees_its_ports() -> None:
    # 1,000 pairs drain in 25 s at the quota: still draining when the signal comes, 2 s after it began.
    demo = _demo("--pairs", "1000")
    assert demo.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(demo.stdout, selectors.EVENT_READ)
    seen = ""
    deadline = time.monotonic() + 60
    # Interrupted once it is draining (the progress bar redraws with \r, so read what comes, not lines):
    # servers and function instances all running.
    while "revoking" not in seen:
        assert time.monotonic() < deadline and demo.poll() is None, seen
        if selector.select(timeout=1):
            seen += os.read(demo.stdout.fileno(), 65536).decode(errors="replace")
    time.sleep(2)
    processes = descendants(demo.pid)
    ports = [int(port) for port in URL.findall(seen)]
    assert processes and len(set(ports)) == 2, (processes, seen)

    demo.send_signal(signal.SIGINT)
    try:
        rest, _ = demo.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        demo.kill()
        rest, _ = demo.communicate()
        raise AssertionError(f"the demo did not stop within 60 s of Ctrl-C\n{rest[-3000:]}") from None

    assert demo.returncode == 130, rest
    assert "Interrupted" in rest
    assert_processes_gone(sorted(processes))
    assert not [port for port in ports if listening(port)]
