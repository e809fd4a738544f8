"""Test support for the `ivs-revoke` unit tests: a fake AWS behind botocore's `before-send` event.

Clients are real botocore clients (serializers, signers, parsers, retries); only the HTTP exchange is
replaced: every request is recorded as sent, and answered by a responder per operation. The same hook
on the AWS CLI's own session (`awscli.clidriver`) records what `aws` sends, for parity checks.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from awscli.clidriver import create_clidriver
from botocore.awsrequest import AWSResponse

from ivs_revocation.models import SQS_MAX_MESSAGE_BYTES
from ivs_revoke.aws import AwsOptions, default_session
from ivs_revoke.cli import run
from tests.unit.fakes import FakeClock

ACCOUNT = "123456789012"
REGION = "us-west-2"


def channel(name: str = "abcdABCDefgh", region: str = REGION) -> str:
    return f"arn:aws:ivs:{region}:{ACCOUNT}:channel/{name}"


def shorthand(chan: str, viewer: str, version: int | None = None) -> str:
    text = f"channelArn={chan},viewerId={viewer}"
    return text if version is None else f"{text},viewerSessionVersionsLessThanOrEqualTo={version}"


@dataclass
class Sent:
    """One request as it would have gone on the wire."""

    operation: str
    url: str
    headers: dict[str, str]
    body: bytes
    time: float

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def region(self) -> str:
        # The SigV4 credential scope: Credential=AKID/DATE/REGION/SERVICE/aws4_request
        match = re.search(r"Credential=[^/]+/\d+/([^/]+)/", self.headers.get("Authorization", ""))
        assert match, self.headers
        return match.group(1)


@dataclass
class Reply:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[Sent], Reply]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def ivs_error(code: str, message: str, status: int) -> Reply:
    # As IVS answers: the error type in x-amzn-ErrorType, the message in the JSON body.
    return Reply({"exceptionMessage": message, "message": message}, status, {"x-amzn-ErrorType": code})


def json_error(code: str, message: str, status: int = 400) -> Reply:
    # The awsJson protocols (SQS, EventBridge).
    return Reply({"__type": code, "message": message}, status)


def xml_error(code: str, message: str, status: int = 400) -> Reply:
    # The query protocol (CloudFormation).
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>r-1</RequestId></ErrorResponse>"
    )
    return Reply(body, status, {"Content-Type": "text/xml"})


def describe_stacks_reply(name: str, outputs: dict[str, str]) -> Reply:
    members = "".join(
        f"<member><OutputKey>{key}</OutputKey><OutputValue>{value}</OutputValue></member>"
        for key, value in outputs.items()
    )
    body = (
        '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult>'
        f"<Stacks><member><StackName>{name}</StackName><StackId>id-{name}</StackId>"
        "<CreationTime>2024-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>"
        f"<Outputs>{members}</Outputs></member></Stacks></DescribeStacksResult>"
        "<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></DescribeStacksResponse>"
    )
    return Reply(body, 200, {"Content-Type": "text/xml"})


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _send_message_batch(sent: Sent) -> Reply:
    entries = sent.json()["Entries"]
    return Reply(
        {
            "Successful": [
                {
                    "Id": entry["Id"],
                    "MessageId": f"m-{entry['Id']}-{_md5(entry['MessageBody'])[:8]}",
                    "MD5OfMessageBody": _md5(entry["MessageBody"]),
                }
                for entry in entries
            ],
            "Failed": [],
        }
    )


def queue_arn_of(url: str) -> str:
    """The ARN of a queue URL of the form https://sqs.REGION.amazonaws.com/ACCOUNT/NAME."""
    *_, host, account, name = url.split("/")
    region = host.split(".")[1] if host.startswith("sqs.") else REGION
    return f"arn:aws:sqs:{region}:{account}:{name}"


def queue_attributes(maximum_message_size: int = SQS_MAX_MESSAGE_BYTES) -> Responder:
    """GetQueueAttributes of a queue as SQS creates it by default (1 MiB), or with the size given."""

    def answer(sent: Sent) -> Reply:
        request = sent.json()
        every = {
            "QueueArn": queue_arn_of(request["QueueUrl"]),
            "MaximumMessageSize": str(maximum_message_size),
        }
        names = request.get("AttributeNames", [])
        return Reply({"Attributes": {k: v for k, v in every.items() if k in names or "All" in names}})

    return answer


def _put_events(sent: Sent) -> Reply:
    entries = sent.json()["Entries"]
    return Reply({"FailedEntryCount": 0, "Entries": [{"EventId": f"e-{index}"} for index in range(len(entries))]})


class FakeAws:
    """Records every request; answers with the responder registered for its operation."""

    def __init__(self, clock: Callable[[], float] = lambda: 0.0) -> None:
        self.sent: list[Sent] = []
        self._clock = clock
        self.responders: dict[str, Responder] = {
            "BatchStartViewerSessionRevocation": lambda sent: Reply({"errors": []}),
            "SendMessageBatch": _send_message_batch,
            "GetQueueAttributes": queue_attributes(),
            "PutEvents": _put_events,
            "ChangeMessageVisibilityBatch": lambda sent: Reply(
                {"Successful": [{"Id": e["Id"]} for e in sent.json()["Entries"]], "Failed": []}
            ),
            "DeleteMessageBatch": lambda sent: Reply(
                {"Successful": [{"Id": e["Id"]} for e in sent.json()["Entries"]], "Failed": []}
            ),
        }

    def on(self, operation: str, responder: Responder | Sequence[Reply]) -> None:
        """Answers `operation` with `responder`, or with the replies given, one per call, the last repeated."""
        if callable(responder):
            self.responders[operation] = responder
            return
        replies = list(responder)

        def next_reply(sent: Sent) -> Reply:
            return replies.pop(0) if len(replies) > 1 else replies[0]

        self.responders[operation] = next_reply

    def of(self, operation: str) -> list[Sent]:
        return [sent for sent in self.sent if sent.operation == operation]

    def before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse:
        operation = event_name.split(".")[-1]
        body = request.body or b""
        headers = {
            name: value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()
        }
        sent = Sent(
            operation,
            request.url,
            headers,
            body if isinstance(body, bytes) else body.encode(),
            self._clock(),
        )
        self.sent.append(sent)
        responder = self.responders.get(operation)
        if responder is None:
            raise AssertionError(f"unexpected call: {operation}")
        reply = responder(sent)
        payload = reply.body if isinstance(reply.body, str | bytes) else json.dumps(reply.body or {})
        raw = payload if isinstance(payload, bytes) else payload.encode()
        return AWSResponse(request.url, reply.status, reply.headers, _Raw(raw))

    def session_factory(self, options: AwsOptions) -> botocore.session.Session:
        session = default_session(options)
        session.register("before-send", self.before_send)
        return session


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def ivs_revoke(
    argv: Sequence[str], fake: FakeAws, *, clock: FakeClock | None = None, environ: dict[str, str] | None = None
) -> Result:
    clock = clock or FakeClock()
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(
        list(argv),
        stdout=stdout,
        stderr=stderr,
        environ=environ or {},
        session_factory=fake.session_factory,
        sleep=clock.sleep,
        clock=clock,
    )
    return Result(code, stdout.getvalue(), stderr.getvalue())


def aws_cli(argv: Sequence[str], fake: FakeAws) -> Result:
    """The real AWS CLI (the awscli package), in this process, its requests going to `fake`."""
    driver = create_clidriver()
    driver.session.register("before-send", fake.before_send)
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = driver.main(list(argv))
    return Result(code, stdout.getvalue(), stderr.getvalue())
