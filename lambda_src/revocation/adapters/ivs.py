"""The IVS gateway: the only code that calls IVS. One boto3 client per region, made on first use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from revocation.models import CODE_CONNECTION_ERROR, RevocationError, ViewerSession
from revocation.revoke import CallErrorKind, CallFailed

_KIND_BY_CODE = {
    "ThrottlingException": CallErrorKind.THROTTLED,
    "ValidationException": CallErrorKind.INVALID,
    "AccessDeniedException": CallErrorKind.DENIED,
    "PendingVerification": CallErrorKind.DENIED,
}


class Boto3IvsGateway:
    def __init__(
        self,
        call_timeout_seconds: float,
        session: boto3.session.Session | None = None,
        clients: dict[str, Any] | None = None,
    ) -> None:
        self._session = session or boto3.session.Session()
        # botocore does not retry here: every attempt must pass the rate limiter and the time budget
        # (see revoke.py). Connect plus read timeout stays within the time a call is given.
        self._config = Config(
            connect_timeout=min(2.0, call_timeout_seconds / 2),
            read_timeout=call_timeout_seconds - min(2.0, call_timeout_seconds / 2),
            retries={"mode": "standard", "total_max_attempts": 1},
            tcp_keepalive=True,
        )
        self._clients: dict[str, Any] = clients if clients is not None else {}

    def revoke(self, region: str, sessions: Sequence[ViewerSession]) -> list[RevocationError]:
        try:
            response = self._client(region).batch_start_viewer_session_revocation(
                viewerSessions=[session.to_api() for session in sessions]
            )
        except ClientError as error:
            raise _call_failed(error) from error
        except ParamValidationError as error:
            raise CallFailed(CallErrorKind.INVALID, "ValidationException", str(error)) from error
        except BotoCoreError as error:
            raise CallFailed(CallErrorKind.CONNECTION, CODE_CONNECTION_ERROR, str(error)) from error
        return [RevocationError.model_validate(entry) for entry in response.get("errors") or []]

    def _client(self, region: str) -> Any:
        client = self._clients.get(region)
        if client is None:
            client = self._clients[region] = self._session.client("ivs", region_name=region, config=self._config)
        return client


def _call_failed(error: ClientError) -> CallFailed:
    details = error.response.get("Error", {})
    code = str(details.get("Code") or "Unknown")
    # IVS puts its text in the body's `exceptionMessage`, which botocore parses as a modeled field,
    # not as Error.Message.
    message = str(details.get("Message") or error.response.get("exceptionMessage") or error)
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    kind = _KIND_BY_CODE.get(code)
    if kind is None:
        # 429 without the named code is a throttle all the same; anything else unknown is retried.
        kind = CallErrorKind.THROTTLED if status == 429 else CallErrorKind.SERVER
    return CallFailed(kind, code, message)
