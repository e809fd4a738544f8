"""A real boto3 IVS client whose HTTP exchange is replaced by raw answers: status, headers, body bytes.

Everything else is botocore's own (serializer, signer, event hooks, and the parser that reads the raw
bytes), so a test sees what the function would make of exactly those bytes on the wire.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config

from ivs_revocation import names

OPERATION = names.OPERATION_BATCH
SINGLE_OPERATION = names.OPERATION_SINGLE


@dataclass(frozen=True)
class Raw:
    """One answer as it comes over HTTP."""

    body: bytes = b'{"errors": []}'
    status: int = 200
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def response(self, url: str) -> AWSResponse:
        headers = dict(self.headers)
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        return AWSResponse(url, self.status, headers, _Stream(self.body))


def answer(value: Any) -> Raw:
    """The operation's JSON answer, as IVS sends it."""
    return Raw(json.dumps(value).encode())


# StartViewerSessionRevocation's success as the API reference documents it: 200, empty body.
SINGLE_ACCEPTED = Raw(b"", content_type=None)


def call_error(
    status: int, error_type: str, message: str, members: Sequence[str] = ("exceptionMessage", "message")
) -> Raw:
    """A call-level error as IVS sends it: the type in x-amzn-ErrorType, the text in the body's members."""
    body = json.dumps(dict.fromkeys(members, message)).encode()
    return Raw(body, status, headers={"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/"})


def echo_errors(code: str, message: str, *viewers: str) -> Callable[[dict[str, Any]], Raw]:
    """An answer naming, with `code`, the pairs of the request whose viewer is one of `viewers`."""

    def reply(request: dict[str, Any]) -> Raw:
        errors = [
            {"channelArn": item["channelArn"], "viewerId": item["viewerId"], "code": code, "message": message}
            for item in request["viewerSessions"]
            if item["viewerId"] in viewers
        ]
        return answer({"errors": errors})

    return reply


Reply = Raw | Callable[[dict[str, Any]], Raw] | BaseException


class RawIvs:
    """Answers each call with the next scripted reply (the last one repeats); records the requests.

    A reply is a `Raw`, a function of the decoded request returning one, or an exception to raise
    from the HTTP layer (as a refused connection would).
    """

    def __init__(self, *replies: Reply, region: str = "us-west-2") -> None:
        self.replies: list[Reply] = list(replies) or [Raw()]
        self.requests: list[dict[str, Any]] = []
        self.client = boto3.client(
            "ivs",
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            endpoint_url=f"https://ivs.{region}.amazonaws.com",
            # As the gateway's own clients: every attempt is the Revoker's.
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        for operation in (OPERATION, SINGLE_OPERATION):
            self.client.meta.events.register(f"before-send.ivs.{operation}", self._send)

    def script(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        body = request.body or b"{}"
        decoded = json.loads(body if isinstance(body, bytes | str) else body.read())
        self.requests.append(decoded)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, BaseException):
            raise reply
        raw = reply if isinstance(reply, Raw) else reply(decoded)
        return raw.response(request.url)

    @property
    def sessions_per_call(self) -> list[Sequence[dict[str, Any]]]:
        """The pairs of each call: a batch call's viewerSessions, a single call's own pair."""
        return [request.get("viewerSessions", [request]) for request in self.requests]


class _Stream:
    """The raw stream an AWSResponse reads its body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body
