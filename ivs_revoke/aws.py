"""The AWS side: one boto3 session per command run, clients configured by the global options.

The only module that imports boto3. Senders and the DLQ commands take the clients it makes, so tests can
hand them clients whose requests are recorded instead of sent.

The global options mean what they mean to the AWS CLI (see `awscli.customizations.globalargs`):
`--no-verify-ssl` wins over `--ca-bundle`; a timeout of 0 means no timeout, none given means 60 s;
`--endpoint-url` applies to every client the command makes (a local stack serves SQS, EventBridge and
CloudFormation on one URL; the service-specific `AWS_ENDPOINT_URL_<SERVICE>` variables, which botocore
reads itself, separate them when needed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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

    @property
    def verify(self) -> bool | str | None:
        if not self.verify_ssl:
            return False
        return self.ca_bundle  # None: botocore's own choice (AWS_CA_BUNDLE, the profile's ca_bundle, certifi)


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


class Aws:
    """Makes clients; `region` is the command's region (--region, else the profile's or environment's)."""

    def __init__(self, options: AwsOptions, session_factory: SessionFactory = default_session) -> None:
        self.options = options
        self._session_factory = session_factory
        self._botocore_session: botocore.session.Session | None = None
        self._session: boto3.Session | None = None

    @property
    def botocore_session(self) -> botocore.session.Session:
        if self._botocore_session is None:
            self._botocore_session = self._session_factory(self.options)
        return self._botocore_session

    @property
    def session(self) -> boto3.Session:
        if self._session is None:
            self._session = boto3.Session(botocore_session=self.botocore_session)
        return self._session

    @property
    def region(self) -> str | None:
        region: str | None = self.options.region or self.session.region_name
        return region

    def configured_output(self) -> str | None:
        """The `output` of the profile or AWS_DEFAULT_OUTPUT, as the AWS CLI reads it."""
        value = self.botocore_session.get_config_variable("output")
        return str(value) if value else None

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
        return self.session.client(
            service,
            region_name=region or self.region,
            endpoint_url=self.options.endpoint_url,
            verify=self.options.verify,
            config=config,
        )
