"""Integration layer: the local stack (moto's server, the IVS emulator, the event source mapping runner).

One moto server serves the whole session; every stack provisions its own queues on it under a stack
name of its own, so stacks never see each other's messages. Every fixture that starts processes
checks, when it ends, that none of them is left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.settings import DeploySettings
from local.moto_process import MotoServer
from local.overview import lanes
from local.stack import LocalStack
from local.up import environment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STAND_IN_HANDLER = "stand_in_function.lambda_handler"


def fast_settings(**overrides: Any) -> DeploySettings:
    """cdk.json's settings with timeouts short enough that a redelivery comes back in seconds, and no
    outcome events.

    Function timeout 3 s: two IVS calls fit in one invocation at one call per second (per instance,
    the default 2 calls/s shared by 2 instances), with 1 s per call and 0.5 s kept back. The
    visibility timeout is the 6 x that the settings require; 20 one-pair records fit a batch.
    """
    values: dict[str, Any] = {
        "stackName": f"It{uuid.uuid4().hex[:10]}",
        "functionTimeoutSeconds": 3,
        "visibilityTimeoutSeconds": 18,
        "batchSize": 20,
        "maxBatchingWindowSeconds": 1,
        "maxReceiveCount": 3,
        "timeSafetyMarginSeconds": 0.5,
        "ivsCallTimeoutSeconds": 1.0,
        # Publishing outcome events needs its window after the last IVS call (a call's timeouts, 1.5 s,
        # and 0.25 s), which cdk.json's 3 s margin leaves and this 0.5 s does not: under load an
        # invocation could then run past its 3 s and be delivered again. Tests of outcome events turn
        # them on with a margin that fits (test_outcome_events.py).
        "outcomeEvents": False,
    }
    values.update(overrides)
    return DeploySettings.from_cdk_json(overrides=values)


def one_invocation_settings(**overrides: Any) -> DeploySettings:
    """cdk.json's settings with a function timeout that fits the few calls of a command's test in one
    invocation (one call per second per instance), so that no test waits for a redelivery."""
    values: dict[str, Any] = {
        "stackName": f"Cli{uuid.uuid4().hex[:10]}",
        "functionTimeoutSeconds": 6,
        "visibilityTimeoutSeconds": 36,
        "batchSize": 20,
        "maxBatchingWindowSeconds": 1,
        "maxReceiveCount": 3,
        "timeSafetyMarginSeconds": 0.5,
        "ivsCallTimeoutSeconds": 1.0,
    }
    values.update(overrides)
    return DeploySettings.from_cdk_json(overrides=values)


def cli_environment(stack: LocalStack) -> dict[str, str]:
    """The environment a command runs in against `stack`: what `make up` exports for it, and nothing of
    this machine's own AWS configuration or `ivs-revoke` settings."""
    kept = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "IVS_REVOKE_"))}
    return {
        **kept,
        **environment(stack, lanes(stack)),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def install_project(target: Path, *, editable: bool = False) -> subprocess.CompletedProcess[str]:
    """This project installed into `target` as the Makefile installs it (uv, no dependencies: they are
    the test environment's), output captured."""
    command = [str(ROOT / ".venv" / "bin" / "uv"), "pip", "install", "--quiet", "--no-deps"]
    command += ["--python", sys.executable, "--target", str(target), *(["-e"] if editable else []), str(ROOT)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def assert_processes_gone(pids: list[int]) -> None:
    alive = [pid for pid in pids if _alive(pid)]
    assert alive == [], f"processes left behind: {alive}"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # A zombie has exited; it only waits to be reaped.
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The stand-in function's invocations in the order they started; `ended` is missing for one that
    was cut short (timed out or crashed)."""
    if not path.exists():
        return []
    invocations: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        invocations.setdefault(entry["request_id"], {}).update(entry)
    return sorted(invocations.values(), key=lambda invocation: invocation["started"])


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    pid = server.pid
    assert pid is not None
    try:
        yield server
    finally:
        server.stop()
        assert_processes_gone([pid])
