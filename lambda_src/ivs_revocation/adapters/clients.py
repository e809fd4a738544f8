"""AWS clients: the one place the function makes them.

botocore, not boto3: `boto3.client(...)` is a botocore client made by a botocore session, but importing
boto3 also imports s3transfer and its resource machinery, which the function never uses and a cold start
pays for. One botocore session per process, made on first use: it loads the endpoint and service data
once for every client made from it.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.config import Config

# botocore's session is not documented as thread-safe for client creation; clients are made rarely.
_lock = threading.Lock()


@dataclass(frozen=True)
class Credentials:
    """Static credentials for a client (e.g. an assumed role's); None uses the default chain."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


@functools.cache
def session() -> botocore.session.Session:
    return botocore.session.get_session()


def client(
    service: str,
    region: str | None = None,
    *,
    config: Config | None = None,
    credentials: Credentials | None = None,
    endpoint_url: str | None = None,
) -> Any:
    """A botocore client of `service` in `region` (None: the environment's region)."""
    keys: dict[str, str | None] = {}
    if credentials is not None:
        keys = {
            "aws_access_key_id": credentials.access_key_id,
            "aws_secret_access_key": credentials.secret_access_key,
            "aws_session_token": credentials.session_token,
        }
    with _lock:
        return session().create_client(service, region_name=region, config=config, endpoint_url=endpoint_url, **keys)
