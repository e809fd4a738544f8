"""Credentials for member accounts: `sts:AssumeRole` into each one's role, refreshed by botocore.

The function's own account calls with its own credentials; a member account's calls are signed with
the credentials of its role (arn:<partition>:iam::<account>:role/<IVS_MEMBER_ROLE_NAME>). botocore's
refreshable credentials (`AssumeRoleCredentialFetcher` + `DeferredRefreshableCredentials`, what a
profile's `role_arn` uses) keep them: fetched on an account's first call, kept across warm invocations,
refreshed before they expire (15 minutes ahead, or at once within 10). So STS sees about one AssumeRole
per member account and hour per instance, far below its 600 requests/s per account.

A role that cannot be assumed raises AssumeRoleFailed, with STS's error; the failure is kept for
FAILURE_HOLD_SECONDS, so that the other calls of that account in the meantime fail at once instead of
asking STS again (an account whose role is missing costs one STS call per hold, not one per IVS call).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    Credentials,
    DeferredRefreshableCredentials,
    ReadOnlyCredentials,
)
from botocore.exceptions import BotoCoreError, ClientError

from ivs_revocation.adapters import clients as aws_clients

SESSION_NAME: Final = "ivs-revocation"
# A Lambda function's role assuming another role is role chaining, which AWS caps at 1 hour.
SESSION_SECONDS: Final = 3600
FAILURE_HOLD_SECONDS: Final = 5.0

# (service, aws_access_key_id=, aws_secret_access_key=, aws_session_token=) -> a client: the
# signature of botocore's AssumeRoleCredentialFetcher client creator; it asks it for "sts".
ClientCreator = Callable[..., Any]


class AssumeRoleFailed(Exception):
    """The member role could not be assumed: `code` is STS's error code (or ConnectionError)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class _Held:
    failure: AssumeRoleFailed
    until: float


def role_arn(partition: str, account: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{role_name}"


class MemberCredentials:
    """The assumed-role credentials of each member account, made on first use and kept."""

    def __init__(
        self,
        accounts: Iterable[str],
        role_name: str,
        *,
        partition: str = "aws",
        client_creator: Callable[[str], ClientCreator] | None = None,
        source_credentials: Credentials | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`client_creator(region)`: how STS clients are made for `region` (tests pass stubbed ones);
        by default the regional STS endpoint of that region, signed with `source_credentials` (by
        default the function's own, from the environment)."""
        self._accounts = frozenset(accounts)
        self._role_name = role_name
        self._partition = partition
        self._client_creator = client_creator or _regional_sts
        self._source = source_credentials
        self._clock = clock
        self._credentials: dict[str, DeferredRefreshableCredentials] = {}
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()

    @property
    def accounts(self) -> frozenset[str]:
        return self._accounts

    def role_arn(self, account: str) -> str:
        return role_arn(self._partition, account, self._role_name)

    def frozen(self, account: str, region: str) -> ReadOnlyCredentials | None:
        """The current credentials of member `account`'s role (fetched, or refreshed if due), None for
        any other account (the function's own credentials); `region`: where STS is asked, on the
        account's first use. Raises AssumeRoleFailed."""
        if account not in self._accounts:
            return None
        held = self._held.get(account)
        if held is not None and self._clock() < held.until:
            raise held.failure
        credentials = self._of(account, region)
        try:
            frozen: ReadOnlyCredentials = credentials.get_frozen_credentials()
        except ClientError as error:
            details = error.response.get("Error", {})
            failure = AssumeRoleFailed(
                str(details.get("Code") or "Unknown"),
                f"sts:AssumeRole of {self.role_arn(account)} failed: {details.get('Message') or error}",
            )
        except BotoCoreError as error:
            failure = AssumeRoleFailed("ConnectionError", f"sts:AssumeRole of {self.role_arn(account)} failed: {error}")
        except Exception as error:  # e.g. no source credentials at all: the account's calls fail, not the batch
            failure = AssumeRoleFailed(
                type(error).__name__, f"sts:AssumeRole of {self.role_arn(account)} failed: {type(error).__name__}"
            )
        else:
            self._held.pop(account, None)
            return frozen
        self._held[account] = _Held(failure, self._clock() + FAILURE_HOLD_SECONDS)
        raise failure

    def _of(self, account: str, region: str) -> DeferredRefreshableCredentials:
        with self._lock:
            credentials = self._credentials.get(account)
            if credentials is None:
                source = self._source or aws_clients.session().get_credentials()
                fetcher = AssumeRoleCredentialFetcher(
                    client_creator=self._client_creator(region),
                    source_credentials=source,
                    role_arn=self.role_arn(account),
                    extra_args={"RoleSessionName": SESSION_NAME, "DurationSeconds": SESSION_SECONDS},
                )
                credentials = self._credentials[account] = DeferredRefreshableCredentials(
                    refresh_using=fetcher.fetch_credentials, method="assume-role"
                )
            return credentials


def _regional_sts(region: str) -> ClientCreator:
    """STS clients of `region`'s own endpoint (botocore's default since 1.36, sts_regional_endpoints)."""

    def create(
        service: str,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
    ) -> Any:
        source = None
        if aws_access_key_id is not None and aws_secret_access_key is not None:
            source = aws_clients.Credentials(aws_access_key_id, aws_secret_access_key, aws_session_token)
        return aws_clients.client(service, region, credentials=source)

    return create
