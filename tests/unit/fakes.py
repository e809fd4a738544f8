"""In-memory fakes of the function's two ports, a clock, and SQS records for unit tests."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from ivs_revocation.models import CallFailed, RevocationError, ViewerSession
from ivs_revocation.settings import FunctionSettings
from ivs_revocation.settle import OutboundMessage
from local import sqs_event as lambda_event

ACCOUNT = "123456789012"


def channel(name: str = "abcdABCDefgh", region: str = "us-west-2") -> str:
    return f"arn:aws:ivs:{region}:{ACCOUNT}:channel/{name}"


def session(viewer: str, version: int = 0, chan: str | None = None) -> ViewerSession:
    return ViewerSession(channel_arn=chan or channel(), viewer_id=viewer, version=version)


class FakeClock:
    """Monotonic time that moves only when the code under test sleeps (or a fake call takes time).

    Pass the clock itself where the code reads the time, and `clock.sleep` where it sleeps.
    """

    # A loop that never ends fails at this many sleeps instead of hanging the test run.
    MAX_SLEEPS = 10_000

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert len(self.sleeps) < self.MAX_SLEEPS, f"slept {self.MAX_SLEEPS} times: a loop that does not end"
        self.sleeps.append(seconds)
        self.now += seconds


Outcome = Callable[[str, Sequence[ViewerSession]], list[RevocationError]]


@dataclass
class FakeGateway:
    """The IVS port in memory: each call gets the next scripted outcome, then `default`.

    An outcome is a list of per-pair errors, a CallFailed to raise, or a function of the call.
    """

    script: list[Any] = field(default_factory=list)
    default: Any = field(default_factory=list)
    clock: FakeClock | None = None
    call_seconds: float = 0.0
    durations: list[float] = field(default_factory=list)
    calls: list[tuple[str, tuple[ViewerSession, ...], float]] = field(default_factory=list)

    def revoke(self, region: str, sessions: Sequence[ViewerSession]) -> list[RevocationError]:
        started = self.clock() if self.clock else 0.0
        self.calls.append((region, tuple(sessions), started))
        if self.clock:
            self.clock.now += self.durations.pop(0) if self.durations else self.call_seconds
        outcome = self.script.pop(0) if self.script else self.default
        if callable(outcome):
            outcome = outcome(region, sessions)
        if isinstance(outcome, CallFailed):
            raise outcome
        return list(outcome)


def denied_pairs(*viewers: str, code: str = "403", message: str = "not authorized") -> Outcome:
    def outcome(region: str, sessions: Sequence[ViewerSession]) -> list[RevocationError]:
        return [
            RevocationError(channel_arn=s.channel_arn, viewer_id=s.viewer_id, code=code, message=message)
            for s in sessions
            if s.viewer_id in viewers
        ]

    return outcome


class InlineExecutor(Executor):
    """Runs what is submitted at once, on the caller's thread: the service's background puts, in order."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:
            future.set_exception(error)
        return future


@dataclass
class FakeQueueWriter:
    """A queue-writer port (dead letters, requeue) in memory; `fail` names indexes (per call) not written."""

    fail: set[int] = field(default_factory=set)
    written: list[OutboundMessage] = field(default_factory=list)

    def send(self, letters: Sequence[OutboundMessage]) -> set[int]:
        self.written.extend(letter for index, letter in enumerate(letters) if index not in self.fail)
        return {index for index in self.fail if index < len(letters)}

    def bodies(self) -> list[Any]:
        return [json.loads(letter.body) for letter in self.written]


@dataclass
class FakeContext:
    """What Powertools and the service read of a LambdaContext; remaining time follows the clock."""

    clock: FakeClock
    timeout_seconds: float = 60.0
    function_name: str = "revocation"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:us-west-2:{ACCOUNT}:function:revocation"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "c0ffee00-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/revocation"
    log_stream_name: str = "stream"

    def __post_init__(self) -> None:
        self._deadline = self.clock.now + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self.clock.now) * 1000))


DEAD_LETTER_QUEUE_URL = f"https://sqs.us-west-2.amazonaws.com/{ACCOUNT}/revocations-dlq"
FUNCTION_ENVIRONMENT = {
    "DEAD_LETTER_QUEUE_URL": DEAD_LETTER_QUEUE_URL,
    "MAX_RECEIVE_COUNT": "3",
    "IVS_CALLS_PER_SECOND": "1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "IvsRevocation",
    "AWS_DEFAULT_REGION": "us-west-2",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def settings(**overrides: Any) -> FunctionSettings:
    values = {
        "DEAD_LETTER_QUEUE_URL": DEAD_LETTER_QUEUE_URL,
        "MAX_RECEIVE_COUNT": "3",
        "IVS_CALLS_PER_SECOND": "1",
    }
    values.update({key: str(value) for key, value in overrides.items()})
    return FunctionSettings.from_environ(values)


_ids = itertools.count(1)
QUEUE_ARN = f"arn:aws:sqs:us-west-2:{ACCOUNT}:revocations"


def sqs_record(body: str | dict[str, Any] | list[Any], receive_count: int = 1) -> dict[str, Any]:
    """A record as Lambda's SQS event source mapping delivers it."""
    text = body if isinstance(body, str) else json.dumps(body)
    message = lambda_event.received_message(text, next(_ids), receive_count)
    return lambda_event.sqs_record(message, QUEUE_ARN, "us-west-2")


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


# Where a body can hold an integer literal of 4,301 digits, one past Python's int-string limit, for
# which json.loads raises a plain ValueError (not JSONDecodeError): a request's version or requestId,
# an event's id, or the `errors` that intake ignores.
HUGE_INTEGER_PLACES = ("version", "requestId", "event id", "ignored errors")


def huge_integer_body(where: str, chan: str) -> str:
    """A request for one pair on `chan`, valid but for a 4,301-digit integer at `where`."""
    pair: dict[str, Any] = {"channelArn": chan, "viewerId": "v"}
    body: dict[str, Any] = {
        "version": {**pair, "viewerSessionVersionsLessThanOrEqualTo": "HUGE"},
        "requestId": {"viewerSessions": [pair], "requestId": "HUGE"},
        "event id": {"id": "HUGE", "source": "s", "detail-type": "d", "detail": pair},
        "ignored errors": {"viewerSessions": [pair], "errors": ["HUGE"]},
    }[where]
    return json.dumps(body).replace('"HUGE"', "7" * 4301)
