"""Many accounts: routing and pacing per (account, region), member credentials by sts:AssumeRole."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Sequence
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.credentials import Credentials
from botocore.stub import Stubber

from ivs_revocation.adapters import clients as aws_clients
from ivs_revocation.adapters import ivs as ivs_adapter
from ivs_revocation.adapters.ivs import Boto3IvsGateway, Boto3IvsSingleGateway
from ivs_revocation.adapters.member_credentials import FAILURE_HOLD_SECONDS, AssumeRoleFailed, MemberCredentials
from ivs_revocation.models import CallErrorKind, CallFailed, RevocationError, ViewerSession
from ivs_revocation.plan import deployment_scope, plan_calls
from ivs_revocation.revoke import Revoker
from ivs_revocation.service import RevocationService
from tests.unit.fakes import (
    ACCOUNT,
    FakeClock,
    FakeContext,
    FakeGateway,
    FakeQueueWriter,
    settings,
    sqs_event,
    sqs_record,
)
from tests.unit.raw_ivs import Raw

MEMBERS = ("111111111111", "222222222222", "333333333333")
UNLISTED = "444444444444"
ROLE = "IvsRevocationMember"


def chan(account: str, region: str = "us-west-2", name: str = "abcdABCDefgh") -> str:
    return f"arn:aws:ivs:{region}:{account}:channel/{name}"


def pairs(account: str, count: int, region: str = "us-west-2") -> list[ViewerSession]:
    return [ViewerSession(channel_arn=chan(account, region), viewer_id=f"v{i}") for i in range(count)]


# --- Routing and pacing ------------------------------------------------------------------------


def test_calls_never_mix_accounts_and_each_account_region_is_cut_on_its_own() -> None:
    sessions = [*pairs(ACCOUNT, 25), *pairs(MEMBERS[0], 3), *pairs(MEMBERS[0], 2, "eu-west-1")]

    calls = plan_calls([sessions])

    assert [(call.account, call.region, len(call.sessions)) for call in calls] == [
        (ACCOUNT, "us-west-2", 20),
        (ACCOUNT, "us-west-2", 5),
        (MEMBERS[0], "us-west-2", 3),
        (MEMBERS[0], "eu-west-1", 2),
    ]
    assert all(len({session.account for session in call.sessions}) == 1 for call in calls)


def test_the_scope_holds_the_own_account_and_the_listed_members_only() -> None:
    scope = deployment_scope(f"arn:aws:lambda:us-west-2:{ACCOUNT}:function:f", ("us-west-2",), MEMBERS)

    assert scope.accounts == (ACCOUNT, *MEMBERS)
    assert scope.problem(pairs(MEMBERS[2], 1)[0]) is None
    problem = scope.problem(pairs(UNLISTED, 1)[0])
    assert problem is not None and UNLISTED in problem


def _starts_by_account(gateway: FakeGateway) -> dict[str, list[float]]:
    starts: dict[str, list[float]] = {}
    for _, sessions, started in gateway.calls:
        starts.setdefault(sessions[0].account, []).append(started)
    return starts


def test_each_account_is_paced_at_its_own_share_and_they_interleave(clock: FakeClock) -> None:
    gateway = FakeGateway(clock=clock, call_seconds=0.01)
    revoker = Revoker(gateway, calls_per_second=2.0, max_attempts=4, call_timeout=5.0, clock=clock, sleep=clock.sleep)
    accounts = (ACCOUNT, *MEMBERS)
    started = clock.now

    report = revoker.run(plan_calls([pairs(account, 200) for account in accounts]), deadline=clock.now + 600)

    assert len(report.revoked) == 800
    assert report.calls_by_account == dict.fromkeys(accounts, 10)
    starts = _starts_by_account(gateway)
    for account in accounts:
        gaps = [later - earlier for earlier, later in zip(starts[account], starts[account][1:], strict=False)]
        # Each account at its own limiter's interval (1.02 / 2 calls per second), never faster.
        assert min(gaps) >= 0.51 - 1e-9
    # Four quotas side by side: the 40 calls take as long as one account's 10, not four times that.
    assert clock.now - started < 10 * 0.51 + 1.0


def test_an_account_without_credentials_fails_its_calls_at_once_and_does_not_slow_the_others(
    clock: FakeClock,
) -> None:
    def denied_for_first_member(region: str, sessions: Sequence[ViewerSession]) -> list[RevocationError]:
        if sessions[0].account == MEMBERS[0]:
            raise CallFailed(CallErrorKind.CREDENTIALS, "AccessDenied", "sts:AssumeRole failed")
        return []

    durations = {}
    for failing in (False, True):
        clock = FakeClock()
        gateway = FakeGateway(clock=clock, call_seconds=0.01, default=denied_for_first_member)
        revoker = Revoker(
            gateway, calls_per_second=2.0, max_attempts=4, call_timeout=5.0, clock=clock, sleep=clock.sleep
        )
        accounts = (ACCOUNT, MEMBERS[1], MEMBERS[2], *((MEMBERS[0],) if failing else ()))
        backlog = [pairs(account, 200) for account in accounts]
        if failing:
            backlog.append(pairs(MEMBERS[0], 20, "eu-west-1"))
        report = revoker.run(plan_calls(backlog), deadline=clock.now + 600)
        last_good = max(started for _, sessions, started in gateway.calls if sessions[0].account != MEMBERS[0])
        durations[failing] = last_good - 1000.0
        assert len(report.revoked) == 600
        if failing:
            # One attempt; its other calls (in both regions) fail with it, unmade, instead of waiting their turns.
            assert sum(1 for _, sessions, _ in gateway.calls if sessions[0].account == MEMBERS[0]) == 1
            assert {failure.code for failure in report.failures.values()} == {"AccessDenied"}
            assert len(report.failures) == 200 + 20
            assert report.calls_by_account[MEMBERS[0]] == 0
    # The others' last call starts no later than without it.
    assert durations[True] == pytest.approx(durations[False], abs=0.05)


def test_a_denied_account_is_retried_by_sqs_then_dead_lettered_with_sts_reason_others_revoked(
    handler_module: Any, clock: FakeClock
) -> None:
    def member_refused(region: str, sessions: Sequence[ViewerSession]) -> list[RevocationError]:
        if sessions[0].account == MEMBERS[0]:
            raise CallFailed(
                CallErrorKind.CREDENTIALS, "AccessDenied", f"sts:AssumeRole of arn:aws:iam::{MEMBERS[0]}:x"
            )
        return []

    dead_letters = FakeQueueWriter()
    gateway = FakeGateway(clock=clock, default=member_refused)
    service = RevocationService(
        settings(IVS_REGIONS="us-west-2", IVS_ACCOUNTS=",".join(MEMBERS)),
        gateway,
        dead_letters,
        clock=clock,
        sleep=clock.sleep,
    )
    handler = handler_module.make_handler(service)
    bodies = [{"channelArn": chan(account), "viewerId": "v"} for account in (ACCOUNT, *MEMBERS, UNLISTED)]

    first = [sqs_record(body) for body in bodies]
    response = handler(sqs_event(*first), FakeContext(clock))
    assert [item["itemIdentifier"] for item in response["batchItemFailures"]] == [first[1]["messageId"]]
    assert {sessions[0].account for _, sessions, _ in gateway.calls} == {ACCOUNT, *MEMBERS}
    [unlisted] = dead_letters.bodies()
    assert unlisted["errors"][0]["code"] == "OutOfScope" and UNLISTED in unlisted["errors"][0]["message"]

    last = sqs_record(bodies[1], receive_count=3)
    assert handler(sqs_event(last), FakeContext(clock)) == {"batchItemFailures": []}
    letter = dead_letters.bodies()[-1]
    assert letter["errors"][0]["code"] == "AccessDenied"
    assert "sts:AssumeRole" in letter["errors"][0]["message"]


# --- Credentials --------------------------------------------------------------------------------


def _sts_response(key: str, expires_in: datetime.timedelta) -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": key,
            "SecretAccessKey": f"secret-{key}",
            "SessionToken": f"token-{key}",
            "Expiration": datetime.datetime.now(datetime.UTC) + expires_in,
        },
        "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:ivs-revocation", "Arn": "arn:aws:sts::x:assumed-role/r/s"},
    }


@pytest.fixture
def sts() -> Iterator[tuple[Any, Stubber]]:
    client = botocore.session.get_session().create_client(
        "sts", region_name="us-west-2", aws_access_key_id="own", aws_secret_access_key="own"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _members(sts_client: Any, clock: FakeClock, regions: list[str] | None = None) -> MemberCredentials:
    def creator(region: str) -> Any:
        if regions is not None:
            regions.append(region)
        return lambda service, **keys: sts_client

    return MemberCredentials(
        MEMBERS, ROLE, client_creator=creator, source_credentials=Credentials("own", "own"), clock=clock
    )


def _expected(account: str) -> dict[str, Any]:
    return {
        "RoleArn": f"arn:aws:iam::{account}:role/{ROLE}",
        "RoleSessionName": "ivs-revocation",
        "DurationSeconds": 3600,
    }


def test_member_credentials_are_assumed_once_kept_and_refreshed_before_they_expire(
    sts: tuple[Any, Stubber], clock: FakeClock
) -> None:
    client, stubber = sts
    regions: list[str] = []
    members = _members(client, clock, regions)
    # The first credentials are within botocore's mandatory refresh window (10 minutes) of expiring.
    stubber.add_response(
        "assume_role", _sts_response("ASIAFIRSTEXAMPLE1", datetime.timedelta(minutes=5)), _expected(MEMBERS[0])
    )
    stubber.add_response(
        "assume_role", _sts_response("ASIASECONDEXAMPLE", datetime.timedelta(hours=1)), _expected(MEMBERS[0])
    )

    first = members.frozen(MEMBERS[0], "eu-west-1")
    refreshed = members.frozen(MEMBERS[0], "eu-west-1")
    kept = members.frozen(MEMBERS[0], "eu-west-1")  # fresh for an hour: no third AssumeRole

    assert first is not None and first.access_key == "ASIAFIRSTEXAMPLE1"
    assert refreshed is not None and (refreshed.access_key, refreshed.token) == (
        "ASIASECONDEXAMPLE",
        "token-ASIASECONDEXAMPLE",
    )
    assert kept == refreshed
    assert regions == ["eu-west-1"]  # STS asked in the region of the account's first call
    assert members.frozen(ACCOUNT, "us-west-2") is None  # the own account: the function's own credentials


def test_a_role_that_cannot_be_assumed_fails_with_sts_error_held_briefly_then_asked_again(
    sts: tuple[Any, Stubber], clock: FakeClock
) -> None:
    client, stubber = sts
    members = _members(client, clock)
    stubber.add_client_error(
        "assume_role", "AccessDenied", "User is not authorized to perform: sts:AssumeRole", 403, _expected(MEMBERS[1])
    )
    stubber.add_response(
        "assume_role", _sts_response("ASIAOTHEREXAMPLE1", datetime.timedelta(hours=1)), _expected(MEMBERS[2])
    )
    stubber.add_response(
        "assume_role", _sts_response("ASIALATEREXAMPLE1", datetime.timedelta(hours=1)), _expected(MEMBERS[1])
    )

    with pytest.raises(AssumeRoleFailed) as failed:
        members.frozen(MEMBERS[1], "us-west-2")
    assert failed.value.code == "AccessDenied"
    assert f"arn:aws:iam::{MEMBERS[1]}:role/{ROLE}" in failed.value.message
    assert "not authorized" in failed.value.message
    # Within the hold, the same failure without asking STS again (the stubber has no answer for it).
    with pytest.raises(AssumeRoleFailed) as again:
        members.frozen(MEMBERS[1], "us-west-2")
    assert again.value.code == "AccessDenied"
    other = members.frozen(MEMBERS[2], "us-west-2")  # another account is unaffected
    assert other is not None and other.access_key == "ASIAOTHEREXAMPLE1"

    clock.sleep(FAILURE_HOLD_SECONDS)
    later = members.frozen(MEMBERS[1], "us-west-2")
    assert later is not None and later.access_key == "ASIALATEREXAMPLE1"


class _SignedIvs:
    """Clients made by the one client factory, answering from here, recording who signed each call."""

    def __init__(self) -> None:
        self.signed_by: list[tuple[str, str]] = []  # (access key, account of the call's channel)

    def client(self, service: str, region: str | None = None, **kwargs: Any) -> Any:
        client = _REAL_CLIENT(service, region, **kwargs)
        for operation in (ivs_adapter.OPERATION, ivs_adapter.SINGLE_OPERATION):
            client.meta.events.register(f"before-send.ivs.{operation}", self._send)
        return client

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        authorization = request.headers["Authorization"]
        key = (authorization.decode() if isinstance(authorization, bytes) else authorization).split("Credential=")[1]
        body = json.loads(request.body or b"{}")
        arn = (body.get("viewerSessions") or [body])[0]["channelArn"]
        self.signed_by.append((key.split("/")[0], arn.split(":")[4]))
        single = request.url.endswith("/StartViewerSessionRevocation")
        return (Raw(b"", content_type=None) if single else Raw()).response(request.url)


_REAL_CLIENT = aws_clients.client


@pytest.mark.parametrize("gateway_type", [Boto3IvsGateway, Boto3IvsSingleGateway])
def test_each_member_account_is_called_with_its_own_assumed_credentials_in_both_lanes(
    gateway_type: type[Boto3IvsGateway] | type[Boto3IvsSingleGateway],
    sts: tuple[Any, Stubber],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, stubber = sts
    for account in MEMBERS[:2]:
        stubber.add_response(
            "assume_role", _sts_response(f"ASIA{account}", datetime.timedelta(hours=1)), _expected(account)
        )
    ivs = _SignedIvs()
    monkeypatch.setattr(ivs_adapter.aws_clients, "client", ivs.client)
    gateway = gateway_type(5.0, members=_members(client, clock))

    for account in (ACCOUNT, MEMBERS[0], MEMBERS[1], MEMBERS[0]):
        assert gateway.revoke("us-west-2", pairs(account, 1)) == []

    assert ivs.signed_by == [
        ("testing", ACCOUNT),  # the function's own credentials (the environment's)
        (f"ASIA{MEMBERS[0]}", MEMBERS[0]),
        (f"ASIA{MEMBERS[1]}", MEMBERS[1]),
        (f"ASIA{MEMBERS[0]}", MEMBERS[0]),
    ]


def test_a_refused_role_is_a_denied_call_with_sts_code_and_no_ivs_call(
    sts: tuple[Any, Stubber], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stubber = sts
    stubber.add_client_error("assume_role", "AccessDenied", "not authorized to assume", 403, _expected(MEMBERS[0]))
    ivs = _SignedIvs()
    monkeypatch.setattr(ivs_adapter.aws_clients, "client", ivs.client)
    gateway = Boto3IvsGateway(5.0, members=_members(client, clock))

    with pytest.raises(CallFailed) as failed:
        gateway.revoke("us-west-2", pairs(MEMBERS[0], 2))

    assert (failed.value.kind, failed.value.code) == (CallErrorKind.CREDENTIALS, "AccessDenied")
    assert "sts:AssumeRole" in failed.value.message
    assert ivs.signed_by == []
    assert gateway.revoke("us-west-2", pairs(ACCOUNT, 1)) == []


def test_warm_assumes_the_member_roles_before_the_first_calls(
    sts: tuple[Any, Stubber], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stubber = sts
    members = MemberCredentials(
        MEMBERS[:2],
        ROLE,
        client_creator=lambda region: lambda service, **keys: client,
        source_credentials=Credentials("own", "own"),
        clock=clock,
    )
    stubber.add_response(
        "assume_role", _sts_response("ASIAWARMEXAMPLE01", datetime.timedelta(hours=1)), _expected(MEMBERS[0])
    )
    stubber.add_client_error("assume_role", "AccessDenied", "not authorized to assume", 403, _expected(MEMBERS[1]))
    ivs = _SignedIvs()
    monkeypatch.setattr(ivs_adapter.aws_clients, "client", ivs.client)
    gateway = Boto3IvsGateway(5.0, members=members)

    gateway.warm(["us-west-2"]).join(timeout=10)

    stubber.assert_no_pending_responses()  # both asked, before any call
    assert gateway.revoke("us-west-2", pairs(MEMBERS[0], 1)) == []  # no AssumeRole left for it: kept
    with pytest.raises(CallFailed) as refused:  # held: no AssumeRole asked again within the hold
        gateway.revoke("us-west-2", pairs(MEMBERS[1], 1))
    assert refused.value.code == "AccessDenied"
    assert ivs.signed_by == [("ASIAWARMEXAMPLE01", MEMBERS[0])]
