"""`ivs-revoke submit --wait` on the local stack, through the installed console script: the outcome
events of its own request come back through a temporary queue and rule, printed as --direct prints the
API's answer ({"errors": [...]}, exit 1 with a failed pair), and the queue and rule are gone afterwards,
also after Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivs_revoke.wait import WAIT_PREFIX
from local.stack import LocalStack
from tests.integration.conftest import cli_environment, one_invocation_settings

pytestmark = pytest.mark.integration

IVS_REVOKE = str(Path(sys.executable).parent / "ivs-revoke")
REGION = "us-west-2"
ACCOUNT = "123456789012"
DENIED = f"arn:aws:ivs:{REGION}:{ACCOUNT}:channel/deniedChannel"
OK = f"arn:aws:ivs:{REGION}:{ACCOUNT}:channel/okChannel"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    name = f"Wait{uuid.uuid4().hex[:10]}"
    settings = one_invocation_settings(stackName=name, eventBusName=f"{name}-bus")
    with LocalStack(settings, region=REGION, ivs_options={"unauthorized_channels": [DENIED]}) as stack:
        yield stack


def submit(stack: LocalStack, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IVS_REVOKE, "submit", *argv, "--endpoint-url", stack.endpoint_url],
        capture_output=True,
        text=True,
        env=cli_environment(stack),
        timeout=120,
        check=False,
    )


def endpoint(stack: LocalStack) -> str:
    return stack.endpoint_url


def pairs(chan: str, *viewers: str) -> list[str]:
    return [f"channelArn={chan},viewerId={viewer}" for viewer in viewers]


def leftovers(stack: LocalStack) -> tuple[list[str], list[str]]:
    queues = stack.sqs.list_queues(QueueNamePrefix=WAIT_PREFIX).get("QueueUrls", [])
    rules = stack.events.list_rules(NamePrefix=WAIT_PREFIX, EventBusName=stack.resources.outcome_event_bus_name)
    return queues, [rule["Name"] for rule in rules.get("Rules", [])]


@pytest.mark.parametrize("through", [[], ["--event-bus"], ["--urgent"]], ids=["queue", "bus", "urgent"])
def test_wait_prints_the_failed_pairs_as_the_api_does_and_exits_1(stack: LocalStack, through: list[str]) -> None:
    tag = uuid.uuid4().hex[:6]
    result = submit(
        stack,
        "--viewer-sessions",
        *pairs(OK, f"a{tag}", f"b{tag}"),
        *pairs(DENIED, f"c{tag}"),
        *through,
        "--wait",
        "60",
    )
    assert result.returncode == 1, result.stderr
    [error] = json.loads(result.stdout)["errors"]
    assert (error["channelArn"], error["viewerId"], error["code"]) == (DENIED, f"c{tag}", "403")
    # The dead letter's message: the batch operation's per-pair one, or the single operation's.
    assert error["message"].startswith("not authorized")
    assert {(OK, f"a{tag}"), (OK, f"b{tag}")} <= set(stack.ivs.ledger().revoked)
    assert leftovers(stack) == ([], [])


def test_wait_exits_0_with_no_errors_when_every_pair_is_revoked(stack: LocalStack) -> None:
    tag = uuid.uuid4().hex[:6]
    result = submit(stack, "--viewer-sessions", *pairs(OK, f"d{tag}"), "--wait")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"errors": []}
    assert leftovers(stack) == ([], [])


def test_ctrl_c_while_waiting_removes_the_queue_and_the_rule(stack: LocalStack) -> None:
    # The function is stopped: nothing settles, the command waits until interrupted.
    stack.stop_function()
    try:
        process = subprocess.Popen(
            [
                IVS_REVOKE,
                "submit",
                "--viewer-sessions",
                *pairs(OK, "e1"),
                "--wait",
                "60",
                "--endpoint-url",
                endpoint(stack),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_environment(stack),
        )
        deadline = time.monotonic() + 30
        while leftovers(stack) == ([], []) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert leftovers(stack) != ([], [])
        time.sleep(1)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 130, stderr
        assert leftovers(stack) == ([], [])
    finally:
        stack.purge()
        stack.start_function()


def test_wait_is_refused_with_direct(stack: LocalStack) -> None:
    result = submit(stack, "--viewer-sessions", *pairs(OK, "f1"), "--direct", "--wait")
    assert result.returncode == 252 and "--wait" in result.stderr
