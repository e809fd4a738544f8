"""The AWS side: one boto3 session per command run, clients configured by the global options.

The only module that imports boto3. Senders and the DLQ commands take the clients it makes, so tests can
hand them clients whose requests are recorded instead of sent.

The global options mean what they mean to the AWS CLI (see `awscli.customizations.globalargs`);
`--endpoint-url` applies to every client, as a local stack serves SQS, EventBridge and CloudFormation on
one URL (botocore itself reads the `AWS_ENDPOINT_URL_<SERVICE>` variables that separate them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

import boto3
import botocore.session
from awscli import EnvironmentVariables
from botocore.config import Config
from botocore.endpoint import DEFAULT_TIMEOUT

from ivs_revoke import __version__

USER_AGENT_EXTRA: Final = f"ivs-revoke/{__version__}"
# Read by AWS CLI v2 and the SDKs before AWS_DEFAULT_REGION; botocore reads only the latter.
ENV_REGION: Final = "AWS_REGION"


@dataclass(frozen=True)
class AwsOptions:
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    verify_ssl: bool = True
    ca_bundle: str | None = None
    read_timeout: int | None = None
    connect_timeout: int | None = None


SessionFactory = Callable[[AwsOptions], botocore.session.Session]


def default_session(options: AwsOptions) -> botocore.session.Session:
    """A botocore session with the AWS CLI's session variables (`output`, `ca_bundle`), so that the
    profile's and the environment's settings mean here what they mean to `aws`."""
    session = botocore.session.Session(session_vars=EnvironmentVariables, profile=options.profile)
    if options.region:
        session.set_config_variable("region", options.region)
    return session


def _timeout(value: int | None) -> int | None:
    if value is None:
        return int(DEFAULT_TIMEOUT)
    return None if value == 0 else value


@dataclass
class Aws:
    """Makes clients, by default in the command's region (--region, else the profile's or environment's)."""

    options: AwsOptions
    session_factory: SessionFactory = default_session

    @cached_property
    def botocore_session(self) -> botocore.session.Session:
        return self.session_factory(self.options)

    @cached_property
    def session(self) -> boto3.Session:
        return boto3.Session(botocore_session=self.botocore_session)

    def client(self, service: str, *, region: str | None = None, max_attempts: int | None = None) -> Any:
        """A client for `service`; `max_attempts=1` leaves every retry to the caller (paced calls)."""
        retries: dict[str, Any] = {"mode": "standard"}
        if max_attempts is not None:
            retries["total_max_attempts"] = max_attempts
        config = Config(
            connect_timeout=_timeout(self.options.connect_timeout),
            read_timeout=_timeout(self.options.read_timeout),
            retries=retries,
            user_agent_extra=USER_AGENT_EXTRA,
        )
        # A ca_bundle of None leaves botocore its own choice (AWS_CA_BUNDLE, the profile's ca_bundle, certifi).
        verify = self.options.ca_bundle if self.options.verify_ssl else False
        return self.session.client(
            service,
            region_name=region or self.options.region or self.session.region_name,
            endpoint_url=self.options.endpoint_url,
            verify=verify,
            config=config,
        )
