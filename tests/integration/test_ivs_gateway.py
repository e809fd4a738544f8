"""The function's IVS gateway over HTTP, against the emulator's malformed and trickling answers.

It finds the emulator as the function does, through AWS_ENDPOINT_URL_IVS.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from ivs_revocation.adapters.ivs import CODE_MALFORMED_RESPONSE, Boto3IvsGateway, Boto3IvsSingleGateway
from ivs_revocation.models import CODE_CONNECTION_ERROR, CallErrorKind, CallFailed, ViewerSession, viewer_reference
from local.ivs_emulator import IvsEmulator

pytestmark = pytest.mark.integration

REGION = "us-west-2"
CHANNEL = f"arn:aws:ivs:{REGION}:123456789012:channel/gatewayChannel"
SESSIONS = [ViewerSession(channel_arn=CHANNEL, viewer_id=viewer) for viewer in (" Alice ", "bob")]


def _only_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[IvsEmulator]:
    _only_test_credentials(monkeypatch)
    with IvsEmulator(tps=0, seed=1) as emulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL_IVS", emulator.url)
        yield emulator


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("html", "200 with a text/html body"),
        ("text", "200 with a text/plain body"),
        ("empty", "200 with an empty body"),
        ("errors-junk", "200 whose errors is not a list (got string)"),
        ("errors-not-objects", "200 whose errors[0] is not an object (got integer)"),
        (
            "unknown-pair",
            f"errors[0] names a pair that was not sent: channelArn {CHANNEL!r}, viewerId {viewer_reference('alice')}",
        ),
    ],
)
def test_the_gateway_counts_nothing_of_a_malformed_answer(emu: IvsEmulator, kind: str, problem: str) -> None:
    emu.set_faults(malformed_answer=kind)

    with pytest.raises(CallFailed) as raised:
        Boto3IvsGateway(5.0).revoke(REGION, SESSIONS)

    assert (raised.value.kind, raised.value.code, raised.value.message) == (
        CallErrorKind.MALFORMED,
        CODE_MALFORMED_RESPONSE,
        problem,
    )
    emu.clear_faults()
    assert Boto3IvsGateway(5.0).revoke(REGION, SESSIONS) == []


def test_an_answer_that_trickles_in_outlives_botocores_read_timeout(emu: IvsEmulator) -> None:
    """Why the gateway needs a deadline of its own: every read gets a byte within the read timeout."""
    emu.set_faults(trickle_ms=200)  # 14 bytes: 2.8 s in all
    client = boto3.client("ivs", region_name=REGION, config=Config(read_timeout=0.5, connect_timeout=0.5))
    started = time.monotonic()

    assert client.batch_start_viewer_session_revocation(viewerSessions=[s.to_api() for s in SESSIONS])["errors"] == []
    assert time.monotonic() - started > 2.5


@pytest.mark.timed
def test_the_gateway_gives_up_on_a_trickling_answer_at_the_call_deadline(emu: IvsEmulator) -> None:
    emu.set_faults(trickle_ms=400)  # 14 bytes: 5.6 s in all
    gateway = Boto3IvsGateway(1.0)
    started = time.monotonic()

    with pytest.raises(CallFailed) as raised:
        gateway.revoke(REGION, SESSIONS)
    elapsed = time.monotonic() - started

    assert (raised.value.kind, raised.value.code) == (CallErrorKind.CONNECTION, CODE_CONNECTION_ERROR)
    assert raised.value.message == "no complete answer within the call's deadline of 1 s"
    assert 1.0 <= elapsed < 2.0
    # The abandoned call's late answer changes nothing; the next call, once the fault is gone, counts.
    emu.clear_faults()
    assert gateway.revoke(REGION, SESSIONS) == []


# --- The single-pair gateway (the urgent lane's) over HTTP ----------------------------------------

DENIED_CHANNEL = f"arn:aws:ivs:{REGION}:123456789012:channel/deniedChannel"


def test_the_single_gateway_is_answered_by_the_single_operation(monkeypatch: pytest.MonkeyPatch) -> None:
    _only_test_credentials(monkeypatch)
    with IvsEmulator(tps=0, unauthorized_channels=[DENIED_CHANNEL], strict_region=True, seed=1) as emulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL_IVS", emulator.url)
        gateway = Boto3IvsSingleGateway(5.0)
        elsewhere = "arn:aws:ivs:eu-west-1:123456789012:channel/gatewayChannel"

        assert gateway.revoke(REGION, SESSIONS[:1]) == []
        [denied] = gateway.revoke(REGION, [ViewerSession(channel_arn=DENIED_CHANNEL, viewer_id="v")])
        [missing] = gateway.revoke(REGION, [ViewerSession(channel_arn=elsewhere, viewer_id="v")])

    assert (denied.channel_arn, denied.viewer_id, denied.code) == (DENIED_CHANNEL, "v", "403")
    assert (missing.channel_arn, missing.code) == (elsewhere, "404")
    assert denied.message and missing.message
