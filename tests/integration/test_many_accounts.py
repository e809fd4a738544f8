"""Many accounts on the local stack: the function assumes each member's role on moto's STS, and the IVS
emulator attributes each call to the account of its credentials (local/accounts.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ivs_revocation import names
from local.accounts import StsAccounts
from local.clients import ACCOUNT_ID
from local.ivs_emulator import IvsEmulator
from local.moto_process import MotoServer
from local.stack import LocalStack
from tests.integration.conftest import assert_processes_gone, fast_settings

pytestmark = pytest.mark.integration

REGION = "us-west-2"
MEMBERS = ("111111111111", "222222222222", "333333333333")
UNLISTED = "444444444444"
# Listed in IVS_ACCOUNTS but without a role in it: its role cannot be assumed.
ROLELESS = "555555555555"
PAIRS_PER_ACCOUNT = 60


def chan(account: str) -> str:
    return f"arn:aws:ivs:{REGION}:{account}:channel/Channel1"


@pytest.fixture
def stack(moto_server: MotoServer, tmp_path: Path) -> Iterator[LocalStack]:
    settings = fast_settings(memberAccounts=list(MEMBERS), ivsRegions=[REGION])
    accounts = ",".join([*MEMBERS, ROLELESS])
    running = LocalStack(
        settings,
        region=REGION,
        moto=moto_server,
        log_dir=tmp_path / "logs",
        environment={names.ENV_IVS_ACCOUNTS: accounts},
    ).start()
    pids = running.pids
    try:
        yield running
    finally:
        running.stop()
        assert_processes_gone(pids)


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_each_listed_account_is_revoked_through_its_own_role_the_unlisted_never_sent(stack: LocalStack) -> None:
    listed = (ACCOUNT_ID, *MEMBERS)
    bulk = {
        account: [{"channelArn": chan(account), "viewerId": f"v{i}"} for i in range(PAIRS_PER_ACCOUNT)]
        for account in listed
    }
    for pairs in bulk.values():
        stack.send(*(pairs[start : start + 20] for start in range(0, len(pairs), 20)))
    stack.send([{"channelArn": chan(UNLISTED), "viewerId": "v"}], [{"channelArn": chan(ROLELESS), "viewerId": "v"}])
    # The urgent lane too: one pair of each member, by StartViewerSessionRevocation.
    stack.send_urgent(*({"channelArn": chan(account), "viewerId": "urgent"} for account in MEMBERS))
    ivs = stack.ivs

    wanted = {(pair["channelArn"], pair["viewerId"]) for pairs in bulk.values() for pair in pairs}
    wanted |= {(chan(account), "urgent") for account in MEMBERS}
    wait_for(lambda: wanted <= set(ivs.ledger().revoked))
    wait_for(lambda: any(letter.code == "OutOfScope" for letter in stack.dead_letters()))

    ledger = ivs.ledger()
    assert ledger.calls_throttled == 0
    resolve = StsAccounts(stack.endpoint_url, REGION)
    keys: dict[str, set[str]] = {}
    for call in ledger.accepted_calls:
        # A call names only its credentials' account, and that account's channels.
        assert call.channel_accounts == (call.account,)
        assert resolve(call.access_key) == call.account
        keys.setdefault(call.account, set()).add(call.access_key)
    assert set(keys) == set(listed)  # neither the unlisted account nor the roleless one was revoked in
    assert keys[ACCOUNT_ID] == {"testing"}  # the function's own credentials
    for account in MEMBERS:
        # Each member through its own assumed role's temporary credentials.
        assert all(key.startswith("ASIA") for key in keys[account])
    assert len(set().union(*(keys[account] for account in MEMBERS))) >= len(MEMBERS)
    assert {key for (arn, _) in ledger.revoked for key in [arn.split(":")[4]]} == set(listed)

    [out_of_scope] = [letter for letter in stack.dead_letters() if letter.code == "OutOfScope"]
    assert UNLISTED in out_of_scope.body
    # The roleless account's record is retried by SQS (not its last attempt yet): no letter of its own.
    assert [letter.code for letter in stack.dead_letters()] == ["OutOfScope"]


def test_the_emulator_refuses_another_accounts_channel_as_aws_does(moto_server: MotoServer) -> None:
    """Credentials of the own account calling for a member's channel: the batch's per-pair 403, and
    AccessDeniedException to the single call; nothing revoked."""
    with IvsEmulator() as ivs:
        ivs.resolve_accounts(StsAccounts(moto_server.url, REGION))
        client = boto3.client(
            "ivs",
            region_name=REGION,
            endpoint_url=ivs.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        other = {"channelArn": chan(MEMBERS[0]), "viewerId": "v"}
        own = {"channelArn": chan(ACCOUNT_ID), "viewerId": "v"}
        answer = client.batch_start_viewer_session_revocation(viewerSessions=[other, own])
        assert [(error["channelArn"], error["code"]) for error in answer["errors"]] == [(other["channelArn"], "403")]
        with pytest.raises(client.exceptions.AccessDeniedException):
            client.start_viewer_session_revocation(**other)
        assert set(ivs.ledger().revoked) == {(own["channelArn"], "v")}
