"""The IVS emulator, checked from the outside: boto3, raw HTTP, and the real AWS CLI against
``python -m local.ivs_emulator``."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awscli
import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from local import up
from local.ivs_emulator import EmulatorConfigError, EmulatorControl, IvsEmulator, Ledger
from local.ivs_emulator.service import MALFORMED_ANSWER_KINDS, faults_of

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-west-2"
CHANNEL = "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh"
OTHER_CHANNEL = "arn:aws:ivs:us-west-2:123456789012:channel/efghEFGHijkl"
EAST_CHANNEL = "arn:aws:ivs:us-east-1:123456789012:channel/ijklIJKLmnop"

# The AWS CLI documentation example (awscli/examples/ivs/batch-start-viewer-session-revocation.rst),
# verbatim apart from two things: its --viewer-sessions JSON is on one line (the example breaks it with a
# backslash inside single quotes, which a shell passes on literally, so the CLI would reject the JSON),
# and the literal block's 4-space indent is removed from the output.
DOC_CHANNEL_1 = "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh1"
DOC_CHANNEL_2 = "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh2"
DOC_VIEWER_SESSIONS = (
    '[{"channelArn":"arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh1","viewerId":"abcdefg1",'
    '"viewerSessionVersionsLessThanOrEqualTo":1234567890}, '
    '{"channelArn":"arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh2","viewerId":"abcdefg2",'
    '"viewerSessionVersionsLessThanOrEqualTo":1234567890}]'
)
DOC_OUTPUT = textwrap.dedent(
    """\
    {
        "errors": [
            {
                "channelArn": "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh1",
                "viewerId": "abcdefg1",
                "code": "403",
                "message": "not authorized",
            },
            {
                "channelArn": "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh2",
                "viewerId": "abcdefg2",
                "code": "403",
                "message": "not authorized",
            }
        ]
    }"""
)
# The documented output has a trailing comma after each "message", which is not JSON and which the CLI
# (json.dumps) does not print; everything else must match character for character.
DOC_OUTPUT_AS_JSON = re.sub(r",(\s*[}\]])", r"\1", DOC_OUTPUT)

# AWS CLI v1 exits 255 when the service answers an error; v2 exits 254 (AWS CLI user guide, return codes).
CLI_SERVICE_ERROR_EXIT = 255 if awscli.__version__.startswith("1.") else 254


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, and nothing from the developer's own AWS configuration."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest.fixture(autouse=True)
def _no_emulator_thread_left() -> Iterator[None]:
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("ivs-emulator")]
    assert left == [], f"emulator threads still running after the test: {left}"


@pytest.fixture
def emu() -> Iterator[IvsEmulator]:
    """An emulator without quota, so that functional tests are not throttled."""
    with IvsEmulator(tps=0, seed=1) as emulator:
        yield emulator


def ivs(
    url: str, region: str = REGION, *, validate: bool = True, access_key_id: str | None = None, timeout: float = 5
) -> Any:
    """A boto3 IVS client that does not retry, so each call is one request the test can account for.

    ``validate=False`` turns botocore's client-side checks off, to send what only the service rejects.
    """
    config = Config(
        retries={"total_max_attempts": 1},
        parameter_validation=validate,
        connect_timeout=timeout,
        read_timeout=timeout,
    )
    credentials = {} if access_key_id is None else {"aws_access_key_id": access_key_id, "aws_secret_access_key": "x"}
    return boto3.client("ivs", region_name=region, endpoint_url=url, config=config, **credentials)


def pair(channel: str = CHANNEL, viewer: str = "viewer-1", version: Any = 7) -> dict[str, Any]:
    return {"channelArn": channel, "viewerId": viewer, "viewerSessionVersionsLessThanOrEqualTo": version}


def raw_post(
    url: str, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request without botocore; the emulator reads the SigV4 scope but not the signature."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    signed = {"Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/ivs/aws4_request, x"}
    try:
        connection.request("POST", path, body=body, headers=signed if headers is None else headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(response.read())
    finally:
        connection.close()


def outcome(call: Any) -> str:
    """ "ok" or the error code of a call, for tests that look at sequences of calls."""
    try:
        call()
    except botocore.exceptions.ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


# ------------------------------------------------------------------------------------- accepted calls


def test_accepted_batch_revokes_every_pair_and_is_counted(emu: IvsEmulator) -> None:
    response = ivs(emu.url).batch_start_viewer_session_revocation(
        viewerSessions=[pair(version=3), pair(OTHER_CHANNEL, "viewer-2", 9), {"channelArn": CHANNEL, "viewerId": "v3"}]
    )

    assert response["errors"] == []
    ledger = emu.ledger()
    assert ledger.revoked == {(CHANNEL, "viewer-1"): 3, (OTHER_CHANNEL, "viewer-2"): 9, (CHANNEL, "v3"): 0}
    assert (ledger.calls_accepted, ledger.calls_throttled, ledger.calls_rejected) == (1, 0, 0)
    assert ledger.pairs_per_call == {3: 1}
    [call] = ledger.accepted_calls
    assert (call.operation, call.account, call.region, call.pairs) == (
        "BatchStartViewerSessionRevocation",
        "testing",
        REGION,
        3,
    )
    assert abs(call.at - time.time()) < 5


def test_ledger_keeps_the_highest_version_of_a_pair(emu: IvsEmulator) -> None:
    client = ivs(emu.url)
    client.batch_start_viewer_session_revocation(viewerSessions=[pair(version=5), pair(version=2)])
    client.batch_start_viewer_session_revocation(viewerSessions=[pair(version=4)])

    assert emu.ledger().version(CHANNEL, "viewer-1") == 5
    assert emu.ledger().pairs_per_call == {2: 1, 1: 1}


def test_single_operation_revokes_one_pair(emu: IvsEmulator) -> None:
    response = ivs(emu.url).start_viewer_session_revocation(
        channelArn=CHANNEL, viewerId="viewer-1", viewerSessionVersionsLessThanOrEqualTo=11
    )

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert emu.ledger().version(CHANNEL, "viewer-1") == 11
    assert emu.ledger().accepted_calls[0].operation == "StartViewerSessionRevocation"


def test_single_operation_answers_200_with_an_empty_body_and_no_media_type(emu: IvsEmulator) -> None:
    """boto3 reads `{}` and an empty body alike: the bytes themselves are checked here."""
    request = {"channelArn": CHANNEL, "viewerId": "viewer-1", "viewerSessionVersionsLessThanOrEqualTo": 3}

    status, headers, answer = raw_answer(emu.url, json.dumps(request).encode(), "/StartViewerSessionRevocation")

    # The API reference's example answer is a bare `HTTP/1.1 200`.
    assert (status, answer, headers.get("content-type")) == (200, b"", None)
    assert emu.ledger().version(CHANNEL, "viewer-1") == 3


def test_largest_valid_values_are_accepted(emu: IvsEmulator) -> None:
    longest_arn = "arn:aws:ivs:us-west-2:123456789012:channel/" + "a" * (128 - len(CHANNEL) + 12)
    assert len(longest_arn) == 128
    sessions = [pair(longest_arn, "v" * 40, 2147483647)] + [pair(viewer=f"viewer-{i}") for i in range(19)]

    response = ivs(emu.url).batch_start_viewer_session_revocation(viewerSessions=sessions)

    assert response["errors"] == []
    assert emu.ledger().version(longest_arn, "v" * 40) == 2147483647
    assert len(emu.ledger().revoked) == 20


# ----------------------------------------------------------------------------------------- validation

VERSION_FIELD = "viewerSessions.1.member.viewerSessionVersionsLessThanOrEqualTo"


@pytest.mark.parametrize(
    ("sessions", "field", "constraint"),
    [
        ([pair(viewer=f"v{i}") for i in range(21)], "viewerSessions", "length less than or equal to 20"),
        ([], "viewerSessions", "length greater than or equal to 1"),
        ([pair(viewer="x" * 41)], "viewerSessions.1.member.viewerId", "length less than or equal to 40"),
        ([pair(viewer="")], "viewerSessions.1.member.viewerId", "length greater than or equal to 1"),
        ([pair(), pair("arn:aws:ivs:us-west-2:1234:stage/abc")], "viewerSessions.2.member.channelArn", "pattern"),
        ([pair(CHANNEL + "/extra")], "viewerSessions.1.member.channelArn", "pattern"),
        ([pair("x" + CHANNEL)], "viewerSessions.1.member.channelArn", "pattern"),
        ([pair(CHANNEL + "\n")], "viewerSessions.1.member.channelArn", "pattern"),
        ([pair(CHANNEL + "a" * 85)], "viewerSessions.1.member.channelArn", "length less than or equal to 128"),
        ([{"viewerId": "v"}], "viewerSessions.1.member.channelArn", "must not be null"),
        ([pair(version=-1)], VERSION_FIELD, "greater than or equal to 0"),
        ([pair(version=2**31)], VERSION_FIELD, "less than or equal to 2147483647"),
        ([pair(version=True)], VERSION_FIELD, "must be an integer"),
        ([pair(version=1.5)], VERSION_FIELD, "must be an integer"),
        ([pair(version="7")], VERSION_FIELD, "must be an integer"),
    ],
    ids=[
        "21-pairs",
        "0-pairs",
        "41-char-viewer",
        "empty-viewer",
        "stage-arn",
        "arn-suffix",
        "arn-prefix",
        "arn-newline",
        "129-char-arn",
        "no-arn",
        "negative-version",
        "huge-version",
        "bool-version",
        "float-version",
        "string-version",
    ],
)
def test_invalid_request_is_a_validation_exception_naming_the_field(
    emu: IvsEmulator, sessions: list[dict[str, Any]], field: str, constraint: str
) -> None:
    client = ivs(emu.url, validate=False)

    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.batch_start_viewer_session_revocation(viewerSessions=sessions)

    message = raised.value.response["Error"]["Message"]
    assert f"at '{field}' failed to satisfy constraint" in message
    assert constraint in message
    ledger = emu.ledger()
    assert (ledger.calls_rejected, ledger.calls_accepted, ledger.revoked) == (1, 0, {})


def test_every_violation_is_listed(emu: IvsEmulator) -> None:
    client = ivs(emu.url, validate=False)

    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.batch_start_viewer_session_revocation(viewerSessions=[pair(viewer="x" * 41, version=-3), pair("bad")])

    message = raised.value.response["Error"]["Message"]
    assert message.startswith("3 validation errors detected: ")
    assert "viewerSessions.1.member.viewerId" in message
    assert VERSION_FIELD in message
    assert "viewerSessions.2.member.channelArn" in message


def test_single_operation_is_validated_too(emu: IvsEmulator) -> None:
    client = ivs(emu.url, validate=False)

    with pytest.raises(client.exceptions.ValidationException, match="at 'viewerId'"):
        client.start_viewer_session_revocation(channelArn=CHANNEL, viewerId="x" * 41)

    assert emu.ledger().revoked == {}


def test_errors_are_answered_as_aws_does(emu: IvsEmulator) -> None:
    status, headers, body = raw_post(emu.url, "/BatchStartViewerSessionRevocation", b'{"viewerSessions": []}')

    assert status == 400
    assert headers["x-amzn-errortype"] == "ValidationException"
    assert headers["content-type"] == "application/json"
    assert "x-amzn-requestid" in headers
    assert body["exceptionMessage"].startswith("1 validation error detected: ")
    # botocore surfaces the modeled member as well as its generic Error.Message
    client = ivs(emu.url, validate=False)
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.batch_start_viewer_session_revocation(viewerSessions=[])
    assert raised.value.response["exceptionMessage"] == raised.value.response["Error"]["Message"] != ""
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b'{"viewerSessions": [', "not valid JSON"), (b"\xff\xfe{", "not valid JSON"), (b"[1, 2]", "JSON object")],
    ids=["truncated", "not-utf8", "not-an-object"],
)
def test_malformed_body_is_a_validation_exception(emu: IvsEmulator, body: bytes, reason: str) -> None:
    status, headers, answer = raw_post(emu.url, "/BatchStartViewerSessionRevocation", body)

    assert (status, headers["x-amzn-errortype"]) == (400, "ValidationException")
    assert reason in answer["exceptionMessage"]
    assert emu.ledger().calls_rejected == 1


def test_unknown_path_is_an_unknown_operation(emu: IvsEmulator) -> None:
    status, headers, _ = raw_post(emu.url, "/CreateChannel", b"{}")

    assert (status, headers["x-amzn-errortype"]) == (404, "UnknownOperationException")


def test_unsigned_call_is_denied(emu: IvsEmulator) -> None:
    status, headers, _ = raw_post(
        emu.url, "/BatchStartViewerSessionRevocation", json.dumps({"viewerSessions": [pair()]}).encode(), headers={}
    )

    assert (status, headers["x-amzn-errortype"]) == (403, "MissingAuthenticationTokenException")
    assert (emu.ledger().calls_denied, emu.ledger().revoked) == (1, {})


# ---------------------------------------------------------------------------------------------- quota


@pytest.mark.timed
def test_quota_throttles_after_two_calls_per_account_and_region() -> None:
    with IvsEmulator(tps=2) as emulator:
        west, east = ivs(emulator.url, "us-west-2"), ivs(emulator.url, "us-east-1")
        other_account = ivs(emulator.url, "us-west-2", access_key_id="AKIAOTHERACCOUNT")

        burst = [outcome(lambda: west.batch_start_viewer_session_revocation(viewerSessions=[pair()])) for _ in range(5)]
        east_call = outcome(lambda: east.batch_start_viewer_session_revocation(viewerSessions=[pair(EAST_CHANNEL)]))
        other_call = outcome(lambda: other_account.batch_start_viewer_session_revocation(viewerSessions=[pair()]))
        time.sleep(1.05)  # the window has slid past the burst
        after_a_second = outcome(lambda: west.batch_start_viewer_session_revocation(viewerSessions=[pair()]))

        assert burst == ["ok", "ok", "ThrottlingException", "ThrottlingException", "ThrottlingException"]
        assert (east_call, other_call, after_a_second) == ("ok", "ok", "ok")
        ledger = emulator.ledger()
        assert (ledger.calls_accepted, ledger.calls_throttled) == (5, 3)
        assert ledger.faults_injected == {}


def _burst(emulator: IvsEmulator, batch_calls: int, single_calls: int) -> list[str]:
    """Outcomes of batch calls, then single calls, all within well under a second."""
    client = ivs(emulator.url)
    batch = [
        outcome(lambda: client.batch_start_viewer_session_revocation(viewerSessions=[pair()]))
        for _ in range(batch_calls)
    ]
    single = [
        outcome(lambda i=i: client.start_viewer_session_revocation(channelArn=CHANNEL, viewerId=f"v{i}"))
        for i in range(single_calls)
    ]
    return batch + single


@pytest.mark.timed
def test_single_operation_has_its_own_quota_of_10_calls_per_second_by_default() -> None:
    with IvsEmulator() as emulator:
        outcomes = _burst(emulator, batch_calls=3, single_calls=11)
        ledger = emulator.ledger()

    # The quota table's rows: 2 batch calls and 10 single calls in the same second, neither taking from the other.
    assert outcomes == ["ok", "ok", "ThrottlingException"] + ["ok"] * 10 + ["ThrottlingException"]
    assert ledger.throttled_by_operation == {
        "BatchStartViewerSessionRevocation": 1,
        "StartViewerSessionRevocation": 1,
    }


@pytest.mark.timed
def test_single_tps_sets_the_single_operation_s_quota() -> None:
    with IvsEmulator(tps=2, single_tps=3) as emulator:
        assert _burst(emulator, batch_calls=2, single_calls=4) == ["ok"] * 5 + ["ThrottlingException"]


@pytest.mark.timed
def test_a_shared_quota_makes_both_operations_draw_from_the_batch_window() -> None:
    with IvsEmulator(tps=2, shared_quota=True) as emulator:
        outcomes = _burst(emulator, batch_calls=1, single_calls=2)
        assert emulator.ledger().throttled_by_operation == {"StartViewerSessionRevocation": 1}
    assert outcomes == ["ok", "ok", "ThrottlingException"]
    with pytest.raises(EmulatorConfigError, match="shared"):
        IvsEmulator(single_tps=10, shared_quota=True)


def test_the_ledger_records_each_single_call_s_pair_and_time(emu: IvsEmulator) -> None:
    client = ivs(emu.url)
    before = time.time()
    client.start_viewer_session_revocation(channelArn=CHANNEL, viewerId="urgent-1")
    after = time.time()
    client.batch_start_viewer_session_revocation(viewerSessions=[pair(viewer="in-a-batch")])

    ledger = emu.ledger()
    at = ledger.single_call_at(CHANNEL, "urgent-1")
    assert at is not None and before <= at <= after
    # A pair revoked by a batch call has no single call.
    assert ledger.single_call_at(CHANNEL, "in-a-batch") is None
    pairs = [(call.channel_arn, call.viewer_id) for call in ledger.accepted_calls]
    assert pairs == [(CHANNEL, "urgent-1"), (None, None)]
    assert Ledger.from_json(json.loads(json.dumps(ledger.to_json()))) == ledger


# ------------------------------------------------------------------------------------ per-pair errors


def test_unauthorized_channel_gets_a_per_pair_403_and_is_not_revoked() -> None:
    with IvsEmulator(tps=0, unauthorized_channels=[OTHER_CHANNEL]) as emulator:
        response = ivs(emulator.url).batch_start_viewer_session_revocation(
            viewerSessions=[pair(), pair(OTHER_CHANNEL, "viewer-2")]
        )

        assert response["errors"] == [
            {"channelArn": OTHER_CHANNEL, "viewerId": "viewer-2", "code": "403", "message": "not authorized"}
        ]
        ledger = emulator.ledger()
        assert ledger.revoked == {(CHANNEL, "viewer-1"): 7}
        assert (ledger.calls_accepted, ledger.pair_errors) == (1, {"403": 1})


def test_unauthorized_channel_denies_the_single_operation() -> None:
    with IvsEmulator(tps=0, unauthorized_channels=[CHANNEL]) as emulator:
        client = ivs(emulator.url)
        with pytest.raises(client.exceptions.AccessDeniedException):
            client.start_viewer_session_revocation(channelArn=CHANNEL, viewerId="v")
        assert emulator.ledger().revoked == {}


def test_strict_region_rejects_a_channel_of_another_region() -> None:
    with IvsEmulator(tps=0, strict_region=True) as emulator:
        response = ivs(emulator.url, "us-west-2").batch_start_viewer_session_revocation(
            viewerSessions=[pair(), pair(EAST_CHANNEL)]
        )

        assert [(e["channelArn"], e["code"]) for e in response["errors"]] == [(EAST_CHANNEL, "404")]
        assert set(emulator.ledger().revoked) == {(CHANNEL, "viewer-1")}


# --------------------------------------------------------------------------------------------- faults


def test_pair_error_fault_fails_pairs_with_5xx_codes(emu: IvsEmulator) -> None:
    client = ivs(emu.url)
    emu.set_faults(pair_error_rate=1.0)

    errors = client.batch_start_viewer_session_revocation(viewerSessions=[pair(viewer=f"v{i}") for i in range(6)])[
        "errors"
    ]

    assert [e["viewerId"] for e in errors] == [f"v{i}" for i in range(6)]
    assert {e["code"] for e in errors} <= {"500", "503"}
    assert all(e["message"] for e in errors)
    ledger = emu.ledger()
    assert (ledger.revoked, ledger.faults_injected, sum(ledger.pair_errors.values())) == ({}, {"pair_error": 6}, 6)

    emu.clear_faults()
    assert client.batch_start_viewer_session_revocation(viewerSessions=[pair()])["errors"] == []


def test_server_error_fault_revokes_nothing(emu: IvsEmulator) -> None:
    client = ivs(emu.url)
    emu.set_faults(server_error_rate=1.0)

    with pytest.raises(client.exceptions.InternalServerException):
        client.batch_start_viewer_session_revocation(viewerSessions=[pair()])

    ledger = emu.ledger()
    assert (ledger.revoked, ledger.calls_accepted, ledger.faults_injected) == ({}, 0, {"server_error": 1})


def test_throttle_faults_throttle_without_a_quota(emu: IvsEmulator) -> None:
    client = ivs(emu.url)

    def call() -> str:
        return outcome(lambda: client.batch_start_viewer_session_revocation(viewerSessions=[pair()]))

    emu.set_faults(throttle_burst=2)
    assert [call() for _ in range(3)] == ["ThrottlingException", "ThrottlingException", "ok"]
    assert emu.faults().throttle_burst == 0
    emu.set_faults(throttle_rate=1.0)
    assert call() == "ThrottlingException"

    ledger = emu.ledger()
    assert (ledger.calls_throttled, ledger.faults_injected, ledger.calls_accepted) == (3, {"throttle": 3}, 1)


def test_dropped_connection_fault_closes_without_a_response(emu: IvsEmulator) -> None:
    client = ivs(emu.url)
    emu.set_faults(drop_rate=1.0)

    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        client.batch_start_viewer_session_revocation(viewerSessions=[pair()])

    assert (emu.ledger().revoked, emu.ledger().faults_injected) == ({}, {"dropped_connection": 1})
    emu.clear_faults()
    assert client.batch_start_viewer_session_revocation(viewerSessions=[pair()])["errors"] == []


@pytest.mark.timed
def test_latency_fault_delays_responses(emu: IvsEmulator) -> None:
    client = ivs(emu.url)
    client.batch_start_viewer_session_revocation(viewerSessions=[pair()])  # connection set up beforehand

    def timed() -> float:
        start = time.monotonic()
        client.batch_start_viewer_session_revocation(viewerSessions=[pair()])
        return time.monotonic() - start

    emu.set_faults(latency_ms=300)
    fixed = timed()
    emu.set_faults(latency_ms=0, latency_jitter_ms=200)
    jittered = [timed() for _ in range(3)]

    assert 0.3 <= fixed < 1.0
    assert all(elapsed < 0.6 for elapsed in jittered)
    assert emu.ledger().faults_injected["latency"] >= 3  # jitter may draw 0 ms, nothing else


def raw_answer(
    url: str, body: bytes, path: str = "/BatchStartViewerSessionRevocation"
) -> tuple[int, dict[str, str], bytes]:
    """One signed call (the batch operation unless `path` says otherwise) over plain HTTP; the answer's
    status, headers and body bytes as sent."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    signed = {"Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/ivs/aws4_request, x"}
    try:
        connection.request("POST", path, body=body, headers=signed)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


BATCH = "/BatchStartViewerSessionRevocation"
SINGLE = "/StartViewerSessionRevocation"
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body>It works!</body></html>"
SINGLE_REQUEST = {"channelArn": CHANNEL, "viewerId": "viewer-1", "viewerSessionVersionsLessThanOrEqualTo": 7}
# The same answer to both operations: a proxy's or a wrong endpoint's, whatever was asked.
ANSWERED_ALIKE = {
    "html": (200, "text/html", HTML_PAGE),
    "text": (200, "text/plain", b"OK"),
    "errors-junk": (200, "application/json", b'{"errors": "junk"}'),
    "errors-not-objects": (200, "application/json", b'{"errors": [1, 2]}'),
    "message-object": (200, "application/json", b'{"message": "Forbidden"}'),
    "list": (200, "application/json", b"[]"),
}
# (kind, path, status, content type or None for none, body): what a lax check takes for that operation's success.
MALFORMED = [
    *((kind, path, *answer) for kind, answer in ANSWERED_ALIKE.items() for path in (BATCH, SINGLE)),
    # botocore reads an empty JSON body as "no errors"; the single operation's success is an empty body,
    # so there the empty body comes as an empty page.
    ("empty", BATCH, 200, "application/json", b""),
    ("empty", SINGLE, 200, "text/html", b""),
    # The batch shape: a 403 naming no pair to a batch call, the single call's pair denied to a single call.
    ("errors-403", BATCH, 200, "application/json", b'{"errors": [{"code": "403", "message": "not authorized"}]}'),
    (
        "errors-403",
        SINGLE,
        200,
        "application/json",
        json.dumps(
            {"errors": [{"channelArn": CHANNEL, "viewerId": "viewer-1", "code": "403", "message": "not authorized"}]}
        ).encode(),
    ),
    # Each operation's success body, under a 2xx that is not the documented 200.
    ("status-202", BATCH, 202, "application/json", b'{"errors": []}'),
    ("status-202", SINGLE, 202, None, b""),
]


def _request(path: str) -> bytes:
    return json.dumps({"viewerSessions": [pair()]} if path == BATCH else SINGLE_REQUEST).encode()


@pytest.mark.parametrize(
    ("kind", "path", "status", "content_type", "body"),
    MALFORMED,
    ids=[f"{kind}-{path.removeprefix('/').removesuffix('ViewerSessionRevocation')}" for kind, path, *_ in MALFORMED],
)
def test_malformed_answer_fault_answers_either_operation_with_what_is_not_its_success(
    emu: IvsEmulator, kind: str, path: str, status: int, content_type: str | None, body: bytes
) -> None:
    emu.set_faults(malformed_answer=kind)

    answered, headers, answer = raw_answer(emu.url, _request(path), path)

    assert (answered, headers.get("content-type"), answer) == (status, content_type, body)
    ledger = emu.ledger()
    # Answered as a proxy or a wrong endpoint would: the call never reached the service.
    assert (ledger.revoked, ledger.calls_accepted, ledger.faults_injected) == ({}, 0, {"malformed_answer": 1})
    # Not the operation's success, which the same call gets once the fault is off.
    emu.clear_faults()
    success = raw_answer(emu.url, _request(path), path)
    assert (answered, headers.get("content-type"), answer) != (success[0], success[1].get("content-type"), success[2])
    assert emu.ledger().version(CHANNEL, "viewer-1") == 7


def test_every_malformed_kind_is_covered_for_both_operations() -> None:
    """A kind added to the emulator without a case above would go untested for one operation."""
    covered = {(kind, path) for kind, path, *_ in MALFORMED}
    expected = {(kind, path) for kind in MALFORMED_ANSWER_KINDS if kind != "unknown-pair" for path in (BATCH, SINGLE)}
    assert covered == expected


def test_unknown_pair_fault_names_the_first_viewer_spelled_otherwise_and_does_not_revoke_it(emu: IvsEmulator) -> None:
    emu.set_faults(malformed_answer="unknown-pair")
    sessions = [pair(viewer=" Alice "), pair(viewer="bob"), pair(viewer="Carol")]

    errors = ivs(emu.url).batch_start_viewer_session_revocation(viewerSessions=sessions)["errors"]

    assert [(e["channelArn"], e["viewerId"], e["code"]) for e in errors] == [(CHANNEL, "alice", "500")]
    ledger = emu.ledger()
    assert set(ledger.revoked) == {(CHANNEL, "bob"), (CHANNEL, "Carol")}
    assert ledger.faults_injected == {"malformed_answer": 1}


def test_unknown_pair_fault_answers_a_single_call_with_its_pair_spelled_otherwise_and_revokes_nothing(
    emu: IvsEmulator,
) -> None:
    emu.set_faults(malformed_answer="unknown-pair")
    request = {**SINGLE_REQUEST, "viewerId": " Alice "}

    status, headers, answer = raw_answer(emu.url, json.dumps(request).encode(), SINGLE)

    assert (status, headers["content-type"]) == (200, "application/json")
    assert json.loads(answer) == {
        "errors": [{"channelArn": CHANNEL, "viewerId": "alice", "code": "500", "message": "internal server error"}]
    }
    ledger = emu.ledger()
    assert (ledger.revoked, ledger.calls_accepted, ledger.faults_injected) == ({}, 0, {"malformed_answer": 1})


def test_malformed_answers_that_name_the_pair_come_after_validation(emu: IvsEmulator) -> None:
    """An answer naming the call's pair needs a valid call to name: an invalid one is refused as usual."""
    emu.set_faults(malformed_answer="errors-403")
    client = ivs(emu.url, validate=False)

    with pytest.raises(client.exceptions.ValidationException):
        client.start_viewer_session_revocation(channelArn=CHANNEL, viewerId="x" * 41)

    assert (emu.ledger().calls_rejected, emu.ledger().faults_injected) == (1, {})


@pytest.mark.parametrize("kind", ["message-object", "errors-403", "status-202", "unknown-pair"])
def test_malformed_answers_to_a_single_call_pass_botocore_as_success(emu: IvsEmulator, kind: str) -> None:
    """What the fault is for: botocore raises nothing, though nothing was revoked. Set over HTTP, as
    `PUT /_emulator/faults` does for an emulator run by `python -m local.ivs_emulator` or `make up`."""
    EmulatorControl(emu.url).set_faults(malformed_answer=kind)

    response = ivs(emu.url).start_viewer_session_revocation(channelArn=CHANNEL, viewerId="viewer-1")

    assert 200 <= response["ResponseMetadata"]["HTTPStatusCode"] < 300
    assert emu.ledger().revoked == {}


@pytest.mark.parametrize("path", [BATCH, SINGLE])
def test_malformed_rate_is_the_share_of_calls_answered_so(emu: IvsEmulator, path: str) -> None:
    emu.set_faults(malformed_answer="text", malformed_rate=0.5)
    bodies = [raw_answer(emu.url, _request(path), path)[2] for _ in range(20)]

    assert 0 < bodies.count(b"OK") < 20
    assert len(emu.ledger().revoked) == 1  # the same pair, revoked by the calls answered as usual


def test_trickle_fault_sends_the_body_one_byte_at_a_time(emu: IvsEmulator) -> None:
    emu.set_faults(trickle_ms=60)
    host, port = emu.url.removeprefix("http://").split(":")
    body = json.dumps({"viewerSessions": [pair()]}).encode()
    request = (
        f"POST /BatchStartViewerSessionRevocation HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
        f"Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/ivs/aws4_request, x\r\n\r\n"
    ).encode() + body
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        started = time.monotonic()
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(4096)
        headers_after = time.monotonic() - started
        head, _, payload = received.partition(b"\r\n\r\n")
        reads = []
        while len(payload) < len(b'{"errors": []}'):
            chunk = sock.recv(4096)
            assert chunk, "the connection closed before the body was complete"
            reads.append(len(chunk))
            payload += chunk

    assert head.startswith(b"HTTP/1.1 200")
    assert payload == b'{"errors": []}'
    assert headers_after < 0.5  # status and headers at once: a read timeout never fires
    assert time.monotonic() - started >= 13 * 0.06  # then one byte every 60 ms
    assert max(reads) <= 2
    assert emu.ledger().revoked == {(CHANNEL, "viewer-1"): 7}  # the call itself was processed
    assert emu.ledger().faults_injected == {"trickle": 1}


def test_faults_are_reproducible_with_a_seed() -> None:
    sessions = [pair(viewer=f"v{i}") for i in range(20)]

    def failed_viewers(emulator: IvsEmulator) -> list[tuple[str, str]]:
        errors = ivs(emulator.url).batch_start_viewer_session_revocation(viewerSessions=sessions)["errors"]
        return [(e["viewerId"], e["code"]) for e in errors]

    with IvsEmulator(tps=0, seed=42) as first, IvsEmulator(tps=0, seed=42) as second:
        first.set_faults(pair_error_rate=0.5)
        second.set_faults(pair_error_rate=0.5)
        run = failed_viewers(first)
        assert 0 < len(run) < 20
        assert failed_viewers(second) == run
        first.reset()  # re-seeds: the same sequence again
        assert failed_viewers(first) == run


def test_faults_and_ledger_are_controlled_over_http(emu: IvsEmulator) -> None:
    control = EmulatorControl(emu.url)
    client = ivs(emu.url)

    assert control.set_faults(server_error_rate=1.0).server_error_rate == 1.0
    with pytest.raises(client.exceptions.InternalServerException):
        client.batch_start_viewer_session_revocation(viewerSessions=[pair()])
    assert control.clear_faults() == control.faults()
    client.batch_start_viewer_session_revocation(viewerSessions=[pair()])

    over_http = control.ledger()
    assert over_http == emu.ledger()
    assert Ledger.from_json(over_http.to_json()) == over_http
    assert over_http.version(CHANNEL, "viewer-1") == 7
    control.reset()
    assert control.ledger().revoked == {}
    assert control.ledger().calls_accepted == 0


def test_bad_fault_settings_are_refused(emu: IvsEmulator) -> None:
    control = EmulatorControl(emu.url)

    with pytest.raises(EmulatorConfigError, match="unknown fault"):
        control.set_faults(lag=1)
    with pytest.raises(EmulatorConfigError, match="between 0 and 1"):
        emu.set_faults(drop_rate=2)
    with pytest.raises(EmulatorConfigError, match=">= 0"):
        emu.set_faults(throttle_burst=-1)
    with pytest.raises(EmulatorConfigError, match="malformed_answer must be one of"):
        control.set_faults(malformed_answer="xml")
    assert emu.faults() == control.faults()
    assert emu.faults().drop_rate == 0


# ------------------------------------------------------------------------------ serving and stopping


def test_concurrent_clients_are_all_served(emu: IvsEmulator) -> None:
    clients = [ivs(emu.url) for _ in range(8)]
    failures: list[BaseException] = []

    def revoke(index: int) -> None:
        try:
            for call in range(5):
                clients[index].batch_start_viewer_session_revocation(viewerSessions=[pair(viewer=f"v{index}-{call}")])
        except BaseException as error:  # collected, so the main thread sees it
            failures.append(error)

    threads = [threading.Thread(target=revoke, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert failures == []
    assert (emu.ledger().calls_accepted, len(emu.ledger().revoked)) == (40, 40)


def test_connection_is_kept_alive_between_calls(emu: IvsEmulator) -> None:
    host, port = emu.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", "/_emulator/ledger")
        connection.getresponse().read()
        first_socket = connection.sock
        for _ in range(2):
            # http.client drops its socket when the server says it will close; it must not.
            connection.request("GET", "/_emulator/ledger")
            response = connection.getresponse()
            response.read()
            assert (response.status, connection.sock) == (200, first_socket)
        assert first_socket is not None
    finally:
        connection.close()


def test_stop_frees_the_port_and_cuts_idle_and_delayed_connections() -> None:
    emulator = IvsEmulator(tps=0).start()
    port = int(emulator.url.rsplit(":", 1)[1])
    client = ivs(emulator.url, timeout=60)
    results: list[str] = []

    def delayed_call() -> None:
        try:
            client.batch_start_viewer_session_revocation(viewerSessions=[pair()])
            results.append("answered")
        except botocore.exceptions.ConnectionClosedError:
            results.append("cut")

    idle = socket.create_connection(("127.0.0.1", port), timeout=5)  # keep-alive, sends nothing
    caller = threading.Thread(target=delayed_call)
    try:
        emulator.set_faults(latency_ms=30_000)
        caller.start()
        time.sleep(0.3)  # the call is now waiting out its latency
        started = time.monotonic()
        emulator.stop()
        stop_seconds = time.monotonic() - started
        caller.join(5)
        idle_end = idle.recv(1)
    finally:
        idle.close()
        emulator.stop()

    assert stop_seconds < 3
    assert results == ["cut"]
    assert idle_end == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # The closed connections sit in TIME_WAIT; a new emulator may still listen on the port (SO_REUSEADDR).
    with IvsEmulator(port=port) as again:
        assert again.url == f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------------------- command and the AWS CLI


def start_command(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``python -m local.ivs_emulator`` as a real process, and the URL from its first line."""
    # Without PYTHONUNBUFFERED, so that the URL arrives only if the emulator flushes it.
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    process = subprocess.Popen(
        [sys.executable, "-m", "local.ivs_emulator", *args],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 15)
    if not ready:
        process.kill()
        process.wait()
        raise AssertionError("the emulator printed no URL within 15 s")
    url = process.stdout.readline().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), f"first line is not the URL: {url!r}"
    return process, url


def interrupt(process: subprocess.Popen[str]) -> int:
    """Ctrl-C, and the exit status (the process is killed if it does not stop)."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    finally:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def documented_emulator() -> Iterator[str]:
    """The command with the two channels of the documentation example unauthorized."""
    process, url = start_command("--unauthorized-channel", DOC_CHANNEL_1, "--unauthorized-channel", DOC_CHANNEL_2)
    try:
        yield url
    finally:
        assert interrupt(process) == 0


def aws_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    return subprocess.run(
        [sys.executable, "-m", "awscli", "ivs", *args, "--endpoint-url", url, "--region", REGION],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_documentation_example_text_is_the_installed_cli_example() -> None:
    example = Path(awscli.__file__).parent / "examples" / "ivs" / "batch-start-viewer-session-revocation.rst"
    text = example.read_text().replace("\r\n", "\n")

    assert textwrap.indent(DOC_OUTPUT, "    ") in text
    for session in json.loads(DOC_VIEWER_SESSIONS):
        assert json.dumps(session, separators=(",", ":")) in text


def test_aws_cli_runs_the_documentation_example(documented_emulator: str) -> None:
    result = aws_cli(
        documented_emulator, "batch-start-viewer-session-revocation", "--viewer-sessions", DOC_VIEWER_SESSIONS
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(DOC_OUTPUT_AS_JSON)
    assert result.stdout == DOC_OUTPUT_AS_JSON + "\n"


def test_aws_cli_reports_21_pairs_as_a_validation_exception(documented_emulator: str) -> None:
    sessions = json.dumps([pair(viewer=f"v{i}") for i in range(21)])

    result = aws_cli(documented_emulator, "batch-start-viewer-session-revocation", "--viewer-sessions", sessions)

    assert result.returncode == CLI_SERVICE_ERROR_EXIT, result.stderr
    assert "An error occurred (ValidationException)" in result.stderr
    assert "at 'viewerSessions' failed to satisfy constraint: Member must have length less than or equal to 20" in (
        result.stderr
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((), ["ok"] * 10 + ["ThrottlingException"]),
        (("--single-tps", "4"), ["ok"] * 4 + ["ThrottlingException"] * 7),
        (("--shared-quota",), ["ok"] * 2 + ["ThrottlingException"] * 9),
    ],
)
def test_command_sets_the_single_operation_s_quota(options: tuple[str, ...], expected: list[str]) -> None:
    process, url = start_command(*options)
    try:
        client = ivs(url)
        outcomes = [
            outcome(lambda i=i: client.start_viewer_session_revocation(channelArn=CHANNEL, viewerId=f"v{i}"))
            for i in range(11)
        ]
    finally:
        interrupt(process)
    assert outcomes == expected


def test_command_s_malformed_answer_applies_to_the_single_operation() -> None:
    process, url = start_command("--malformed-answer", "message-object")
    try:
        response = ivs(url).start_viewer_session_revocation(channelArn=CHANNEL, viewerId="viewer-1")
        ledger = EmulatorControl(url).ledger()
    finally:
        interrupt(process)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert (ledger.revoked, ledger.faults_injected) == ({}, {"malformed_answer": 1})


@pytest.mark.parametrize("kind", MALFORMED_ANSWER_KINDS)
def test_make_up_offers_every_malformed_kind(kind: str) -> None:
    """`make up` takes the emulator's fault options (`add_fault_options`): the same kinds, both operations."""
    assert faults_of(up.build_parser().parse_args(["--malformed-answer", kind])).malformed_answer == kind


def test_command_serves_until_ctrl_c_and_exits_0() -> None:
    process, url = start_command("--tps", "1", "--seed", "3", "--server-error-rate", "1")
    try:
        client = ivs(url)
        with pytest.raises(client.exceptions.InternalServerException):
            client.batch_start_viewer_session_revocation(viewerSessions=[pair()])
        assert EmulatorControl(url).ledger().faults_injected == {"server_error": 1}
    finally:
        status = interrupt(process)
    assert status == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=2).close()
