"""The local stack's account: its region, account id and credentials, and clients for its endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import boto3
from botocore.config import Config

DEFAULT_REGION: Final = "us-east-1"
# moto's default account; the queue and rule ARNs name it.
ACCOUNT_ID: Final = "123456789012"
# moto accepts any credentials. The IVS emulator keys its quota by access key id, so every client of
# the stack (producers and every function instance) counts against one account's quota, as at AWS.
CREDENTIALS: Final[Mapping[str, str]] = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def client(service: str, endpoint_url: str, region: str = DEFAULT_REGION, **config: Any) -> Any:
    """A boto3 client for the local endpoint, in a session of its own (safe to use from any thread)."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, **config),
        **CREDENTIALS,
    )
