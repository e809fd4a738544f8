"""`ivs-revoke submit --direct` over HTTP: the installed console script against the IVS emulator, and
against the real AWS CLI (`aws`, the awscli package) through a recorder of request bodies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from local.ivs_emulator import IvsEmulator

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
IVS_REVOKE = str(BIN / "ivs-revoke")
AWS = str(BIN / "aws")
REGION = "us-west-2"
ACCOUNT = "123456789012"
DENIED = f"arn:aws:ivs:{REGION}:{ACCOUNT}:channel/deniedChannel"


def channel(name: str) -> str:
    return f"arn:aws:ivs:{REGION}:{ACCOUNT}:channel/{name}"


def _environment() -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "IVS_REVOKE_"))}
    environment.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return environment


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, env=_environment(), timeout=120, check=False)


def ours_direct(url: str, values: list[str], *options: str) -> subprocess.CompletedProcess[str]:
    """`ivs-revoke submit --direct` against the endpoint at url, with the options given."""
    return run(IVS_REVOKE, "submit", "--direct", "--endpoint-url", url, *options, "--viewer-sessions", *values)


def aws_cli(url: str, values: list[str]) -> subprocess.CompletedProcess[str]:
    """The AWS CLI's command for the same operation and input, against the same endpoint."""
    return run(
        AWS,
        "ivs",
        "batch-start-viewer-session-revocation",
        "--region",
        REGION,
        "--endpoint-url",
        url,
        "--viewer-sessions",
        *values,
    )


class Recorder:
    """An HTTP endpoint that records each request body and answers as IVS does when all pairs pass,
    with the extra response `headers` given."""

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.bodies: list[bytes] = []
        recorder = self
        extra_headers = dict(headers or {})

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                recorder.bodies.append(self.rfile.read(length))
                payload = b'{"errors":[]}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def take(self) -> list[bytes]:
        bodies, self.bodies = self.bodies, []
        return bodies


@pytest.fixture(scope="module")
def emulator() -> Iterator[IvsEmulator]:
    with IvsEmulator(tps=2, unauthorized_channels=[DENIED]) as emulator:
        yield emulator


@pytest.fixture
def fresh_emulator(emulator: IvsEmulator) -> IvsEmulator:
    emulator.reset()
    return emulator


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    with Recorder() as recorder:
        yield recorder


def _shorthand(count: int, prefix: str = "viewer") -> list[str]:
    return [
        f"channelArn={channel('chanA')},viewerId={prefix}-{index},viewerSessionVersionsLessThanOrEqualTo={index}"
        for index in range(count)
    ]


def test_45_pairs_go_as_calls_of_20_20_and_5_within_the_quota(fresh_emulator: IvsEmulator) -> None:
    result = run(
        IVS_REVOKE, "submit", "--direct", "--endpoint-url", fresh_emulator.url, "--viewer-sessions", *_shorthand(45)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"errors": []}
    ledger = fresh_emulator.ledger()
    assert [call.pairs for call in ledger.accepted_calls] == [20, 20, 5]
    assert ledger.calls_throttled == 0
    assert {viewer: version for (_, viewer), version in ledger.revoked.items()} == {
        f"viewer-{index}": index for index in range(45)
    }


def test_a_41_character_viewer_id_is_refused_before_anything_is_sent(fresh_emulator: IvsEmulator) -> None:
    values = _shorthand(30)
    values[25] = f"channelArn={channel('chanA')},viewerId={'v' * 41}"
    result = ours_direct(fresh_emulator.url, values)
    assert result.returncode == 252
    assert "viewerSessions[25].viewerId: at most 40 characters (got 41)" in result.stderr
    ledger = fresh_emulator.ledger()
    assert (ledger.calls_accepted, ledger.calls_rejected, ledger.calls_throttled) == (0, 0, 0)


def test_denied_pairs_come_back_in_errors_exit_1_as_the_aws_cli_prints_them(fresh_emulator: IvsEmulator) -> None:
    values = [f"channelArn={DENIED},viewerId=banned", *_shorthand(2)]
    ours = ours_direct(fresh_emulator.url, values)
    theirs = aws_cli(fresh_emulator.url, values)
    assert ours.returncode == 1
    assert theirs.returncode == 0
    assert ours.stdout == theirs.stdout
    assert json.loads(ours.stdout)["errors"] == [
        {"channelArn": DENIED, "viewerId": "banned", "code": "403", "message": "not authorized"}
    ]


@pytest.mark.parametrize("syntax", ["shorthand", "json", "file"])
def test_each_syntax_sends_the_body_the_aws_cli_sends(recorder: Recorder, tmp_path: Path, syntax: str) -> None:
    pairs = [
        {"channelArn": channel("chanA"), "viewerId": "viewer-1", "viewerSessionVersionsLessThanOrEqualTo": 7},
        {"channelArn": channel("chanB"), "viewerId": "viewer-2"},
    ]
    path = tmp_path / "sessions.json"
    path.write_text(json.dumps(pairs))
    values = {
        "shorthand": [",".join(f"{key}={value}" for key, value in pair.items()) for pair in pairs],
        "json": [json.dumps(pairs)],
        "file": [f"file://{path}"],
    }[syntax]
    recorder.take()
    ours = ours_direct(recorder.url, values)
    assert ours.returncode == 0, ours.stderr
    our_bodies = recorder.take()
    theirs = aws_cli(recorder.url, values)
    assert theirs.returncode == 0, theirs.stderr
    assert our_bodies == recorder.take()
    assert json.loads(our_bodies[0]) == {"viewerSessions": pairs}


def test_the_skeleton_is_the_aws_cli_s() -> None:
    ours = run(IVS_REVOKE, "submit", "--generate-cli-skeleton")
    theirs = run(AWS, "ivs", "batch-start-viewer-session-revocation", "--generate-cli-skeleton")
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout


def test_response_headers_are_printed_as_the_aws_cli_prints_them() -> None:
    # The API reference lists security headers in the response; botocore makes them members.
    headers = {"Cache-Control": "no-store", "Strict-Transport-Security": "max-age=47304000", "X-Frame-Options": "DENY"}
    values = _shorthand(2)
    with Recorder(headers) as recorder:
        ours = ours_direct(recorder.url, values)
        theirs = aws_cli(recorder.url, values)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert json.loads(ours.stdout)["cacheControl"] == "no-store"


@pytest.fixture
def faulty_emulator(fresh_emulator: IvsEmulator) -> Iterator[IvsEmulator]:
    yield fresh_emulator
    fresh_emulator.clear_faults()


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("html", "200 with a text/html body"),
        ("text", "200 with a text/plain body"),
        ("empty", "200 with an empty body"),
        ("errors-junk", "200 whose errors is not a list (got string)"),
        ("errors-not-objects", "200 whose errors[0] is not an object (got integer)"),
        ("unknown-pair", "errors[0] names a pair that was not sent: channelArn"),
    ],
)
def test_an_answer_that_is_not_the_operations_exits_254_naming_it(
    faulty_emulator: IvsEmulator, kind: str, problem: str
) -> None:
    """The AWS CLI prints such an answer as `{}` or crashes; ours counts nothing of it."""
    faulty_emulator.set_faults(malformed_answer=kind)
    values = [f"channelArn={channel('chanA')},viewerId=Alice", *_shorthand(2)]
    result = ours_direct(faulty_emulator.url, values, "--max-attempts", "2")
    assert result.returncode == 254, result.stderr
    assert f"MalformedResponse: the answer to BatchStartViewerSessionRevocation is not the operation's: {problem}" in (
        result.stderr
    )
    assert "3 pairs not sent: viewerSessions[0:3]" in result.stderr
    assert faulty_emulator.ledger().faults_injected == {"malformed_answer": 2}  # retried once


@pytest.mark.timed
def test_an_answer_that_trickles_in_is_given_up_at_the_call_deadline(faulty_emulator: IvsEmulator) -> None:
    # 14 bytes at one every 0.4 s take 5.6 s; each socket read gets a byte well within the read timeout.
    faulty_emulator.set_faults(trickle_ms=400)
    started = time.monotonic()
    options = ("--max-attempts", "1", "--cli-read-timeout", "1", "--cli-connect-timeout", "1")
    result = ours_direct(faulty_emulator.url, _shorthand(2), *options)
    elapsed = time.monotonic() - started
    assert result.returncode == 255, result.stderr
    assert "no complete answer within the call's deadline of 2 s" in result.stderr
    assert elapsed < 5.0  # the deadline (2 s) plus the command's start, not the 5.6 s of the answer
