"""Member accounts on the local stack: their roles in moto's IAM, and whose credentials call IVS.

At AWS the function assumes `arn:aws:iam::<member>:role/<memberRoleName>` in each member account with
STS, and IVS attributes each call to the account of its credentials. Here moto's server is STS and
IAM: `provision_member_roles` creates each member's role in that account's IAM (moto keeps an IAM per
account, chosen by its `x-moto-account-id` header), and its server process refuses an AssumeRole of
a role that does not exist (`local.moto_server`), as STS does (AccessDenied). `StsAccounts` tells the
IVS emulator the account of an access key: moto's GetCallerIdentity answers, for assumed-role
credentials, the role's account (moto does not check signatures, so the key alone is enough).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import threading
from collections.abc import Iterable
from typing import Any, Final

import boto3
from botocore.config import Config

from ivs_revocation.settings import ACCOUNT_PATTERN
from local.clients import ACCOUNT_ID, DEFAULT_REGION

_ACCOUNT_HEADER: Final = "x-moto-account-id"


def member_role_trust(principal_arns: Iterable[str]) -> dict[str, Any]:
    """The trust policy of a member role: the revoking functions' roles may assume it."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": sorted(principal_arns)}, "Action": "sts:AssumeRole"}],
    }


def provision_member_roles(endpoint_url: str, accounts: Iterable[str], role_name: str) -> None:
    """Creates `role_name` in each of `accounts` on moto's server (once; an existing role is kept)."""
    for account in accounts:
        iam = _client("iam", endpoint_url, "testing", account)
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=json.dumps(member_role_trust([f"arn:aws:iam::{ACCOUNT_ID}:root"])),
                Description="Lets the revocation functions of the local stack revoke viewer sessions here",
            )


class StsAccounts:
    """An access key id -> its account, asked of STS (GetCallerIdentity) once per key and kept."""

    def __init__(self, endpoint_url: str, region: str = DEFAULT_REGION) -> None:
        self._endpoint_url = endpoint_url
        self._region = region
        self._accounts: dict[str, str] = {}
        self._lock = threading.Lock()
        # One session for every key: a client of a warm session is made in milliseconds, a new
        # session's first in a tenth of a second or more (it loads the service models).
        self._session = boto3.session.Session()

    def __call__(self, access_key_id: str) -> str:
        account = self._accounts.get(access_key_id)
        if account is None:
            with self._lock:  # a boto3 session is not thread-safe
                sts = _client("sts", self._endpoint_url, access_key_id, region=self._region, session=self._session)
            account = str(sts.get_caller_identity()["Account"])
            with self._lock:
                self._accounts[access_key_id] = account
        return account


def _client(
    service: str,
    endpoint_url: str,
    access_key_id: str,
    account: str | None = None,
    region: str = DEFAULT_REGION,
    session: boto3.session.Session | None = None,
) -> Any:
    client = (session or boto3.session.Session()).client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )
    if account is not None:
        # moto's own way to act in another account of its backends.
        client.meta.events.register(
            "before-sign", lambda request, **_: request.headers.__setitem__(_ACCOUNT_HEADER, account)
        )
    return client


def account_ids(value: str) -> list[str]:
    """--member-accounts: comma-separated 12-digit account ids."""
    accounts = [account.strip() for account in value.split(",") if account.strip()]
    wrong = [account for account in accounts if not re.fullmatch(ACCOUNT_PATTERN, account)]
    if not accounts or wrong:
        raise argparse.ArgumentTypeError(f"not comma-separated 12-digit account ids: {value!r}")
    return accounts
