"""The three ways `submit` sends validated pairs: the queue, the event bus, or the IVS API itself.

Each sender takes its client(s) from `ivs_revoke.aws` and returns a report: what was sent, and, when it
could not send everything, why and what was left (the command prints the report either way, so a
partial run is never silent). Ctrl-C stops a sender between calls with the same kind of report.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from ivs_revoke.errors import EXIT_INTERRUPTED, EXIT_OTHER, EXIT_SERVICE
from ivs_revoke.inputs import OPERATION_NAME, SESSIONS_MEMBER, Pair
from revocation.adapters.ivs import (
    CODE_MALFORMED_RESPONSE,
    CallDeadlineExceeded,
    MalformedAnswer,
    call_within,
    check_answers,
    confirmed_errors,
)
from revocation.models import (
    EVENT_DETAIL_TYPE,
    EVENT_SOURCE,
    EVENTBRIDGE_MAX_ENTRY_BYTES,
    MAX_SESSIONS_PER_CALL,
    SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    SQS_MAX_BATCH_ENTRIES,
    SQS_MAX_MESSAGE_BYTES,
    RevocationRequest,
    ViewerSession,
    sqs_message_bytes,
    to_sqs_json,
)

Sleep = Callable[[float], None]
Clock = Callable[[], float]
Progress = Callable[[int, int], None]

# SQS's limits are revocation.models': a SendMessageBatch request holds SQS_MAX_BATCH_ENTRIES messages
# and SQS_MAX_MESSAGE_BYTES in all, each message at most the queue's own MaximumMessageSize.
# EventBridge PutEvents: at most 10 entries, and EVENTBRIDGE_MAX_ENTRY_BYTES per request, counted as AWS
# documents ("Calculating Amazon EventBridge PutEvents event entry size").
MAX_EVENTS_PER_PUT: Final = 10
# The queue attribute that bounds each message (body and attributes, in bytes).
QUEUE_MAX_MESSAGE_SIZE_ATTRIBUTE: Final = "MaximumMessageSize"

# Pairs per message or event, by default: one API call's worth. The function merges pairs across the
# records of a batch, so small messages cost no extra calls; a large one can outlast an invocation's
# time and be retried whole, re-revoking what it already revoked.
DEFAULT_PAIRS_PER_MESSAGE: Final = MAX_SESSIONS_PER_CALL

# BatchStartViewerSessionRevocation's quota: calls per second per account and region.
DEFAULT_CALLS_PER_SECOND: Final = 2.0
DEFAULT_MAX_ATTEMPTS: Final = 5
# Calls are spaced a little wider than the quota, so that network jitter cannot put one call more
# into the service's one-second window.
PACING_MARGIN: Final = 1.02
BACKOFF_BASE_SECONDS: Final = 0.25
BACKOFF_MAX_SECONDS: Final = 8.0

_RETRYABLE_CALL_ERRORS: Final = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "InternalServerException", "ServiceUnavailableException"}
)
_RETRYABLE_EVENT_ERRORS: Final = frozenset({"ThrottlingException", "InternalFailure", "InternalException"})
_ERRORS_MEMBER: Final = "errors"  # the response's list of pairs that were not revoked
_CONNECTION_ERRORS: Final = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)


@dataclass
class Failure:
    """Why a sender stopped or left something unsent, and the exit code it stands for."""

    message: str
    exit_code: int = EXIT_SERVICE


@dataclass
class SendReport:
    """What a queue or bus sender did: `output` is printed, `failure` set when not everything went."""

    output: dict[str, Any]
    failure: Failure | None = None


def backoff_seconds(attempt: int, rng: random.Random) -> float:
    """Capped exponential backoff with jitter, for the `attempt`-th retry (1-based)."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** (attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def pack(
    sizes: Sequence[int], *, max_items: int | None, max_bytes: int, overhead: int, separator: int = 1
) -> list[range]:
    """Cuts items (sizes in bytes) into consecutive groups of at most `max_items` whose joined size,
    with `overhead` and a `separator` between items, stays within `max_bytes`."""
    groups: list[range] = []
    start = 0
    size = overhead
    for index, item in enumerate(sizes):
        if overhead + item > max_bytes:
            raise ValueError(f"item {index} is {item} bytes, over the limit of {max_bytes - overhead}")
        count = index - start
        added = item + (separator if count else 0)
        if count and ((max_items is not None and count >= max_items) or size + added > max_bytes):
            groups.append(range(start, index))
            start, size, added = index, overhead, item
        size += added
    if start < len(sizes):
        groups.append(range(start, len(sizes)))
    return groups


def request_body(sessions: Sequence[ViewerSession]) -> str:
    """One message body or event detail: the API request shape, `{"viewerSessions": [...]}`, in JSON
    that SQS accepts (a viewer ID holding a character SQS refuses travels escaped, its value unchanged)."""
    return RevocationRequest(viewer_sessions=list(sessions)).to_json()


def pack_requests(sessions: Sequence[ViewerSession], *, pairs_per_message: int | None, max_bytes: int) -> list[range]:
    """Consecutive groups of pairs, each group one request body within `max_bytes` (UTF-8 bytes, as SQS
    and EventBridge count them)."""
    sizes = [sqs_message_bytes(to_sqs_json(session.to_api()), {}) for session in sessions]
    overhead = sqs_message_bytes(request_body(sessions[:1]), {}) - sizes[0] if sessions else 0
    return pack(sizes, max_items=pairs_per_message, max_bytes=max_bytes, overhead=overhead)


def _pairs_text(group: range) -> str:
    return f"{SESSIONS_MEMBER}[{group.start}]" if len(group) == 1 else f"{SESSIONS_MEMBER}[{group.start}:{group.stop}]"


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _client_error_text(error: ClientError) -> str:
    """The AWS CLI's wording for a service error, without botocore's retry count: with botocore's
    retries off, the attempts are ours and its "(reached max retries: 0)" would mislead."""
    detail = error.response.get("Error", {})
    return (
        f"An error occurred ({detail.get('Code', 'Unknown')}) when calling the {error.operation_name} operation: "
        f"{detail.get('Message', '')}"
    )


# --- Queue and event bus -----------------------------------------------------------------------


class _BatchedSender:
    """Shared by the queue and bus senders: pack pairs into request bodies ("items": messages or
    events), send the items in batches, retry the items a batch answer marks as retryable, report."""

    noun = "item"
    batch_limits: tuple[int, int]  # items per batch, bytes per batch

    def __init__(
        self,
        client: Any,
        *,
        pairs_per_message: int | None = DEFAULT_PAIRS_PER_MESSAGE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._pairs_per_message = pairs_per_message
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._rng = rng or random.Random()

    # What each kind of item needs.
    def _body_limit(self) -> int:
        raise NotImplementedError

    def _item(self, body: str) -> dict[str, Any]:
        raise NotImplementedError

    def _item_size(self, item: dict[str, Any]) -> int:
        raise NotImplementedError

    def _send_items(self, indexes: list[int], items: list[dict[str, Any]]) -> dict[int, _ItemResult]:
        raise NotImplementedError

    def _header(self) -> dict[str, Any]:
        raise NotImplementedError

    def send(self, pairs: Sequence[Pair]) -> SendReport:
        sessions = [pair.session for pair in pairs]
        groups = pack_requests(sessions, pairs_per_message=self._pairs_per_message, max_bytes=self._body_limit())
        items = [self._item(request_body(sessions[group.start : group.stop])) for group in groups]
        ids: list[str | None] = [None] * len(items)
        max_items, max_bytes = self.batch_limits
        batches = pack(
            [self._item_size(item) for item in items], max_items=max_items, max_bytes=max_bytes, overhead=0, separator=0
        )
        rejected: dict[int, _ItemResult] = {}
        failure: Failure | None = None
        try:
            for batch in batches:
                rejected.update(self._send_batch(list(batch), items, ids))
        except ClientError as error:
            failure = Failure(str(error))
        except _CONNECTION_ERRORS as error:
            failure = Failure(str(error), EXIT_OTHER)
        except KeyboardInterrupt:
            failure = Failure("interrupted", EXIT_INTERRUPTED)

        sent = [index for index, item_id in enumerate(ids) if item_id is not None]
        unsent = [index for index, item_id in enumerate(ids) if item_id is None]
        output = self._header() | {
            "pairs": len(pairs),
            f"{self.noun}s": len(items),
            "pairsSent": sum(len(groups[index]) for index in sent),
            f"{self.noun}sSent": len(sent),
            f"{self.noun}Ids": [ids[index] for index in sent],
        }
        if rejected:
            output["failed"] = [
                {"pairs": _pairs_text(groups[index]), "code": result.code, "reason": result.reason}
                for index, result in sorted(rejected.items())
            ]
        if unsent and failure is None:
            failure = Failure(f"{len(unsent)} of {len(items)} {self.noun}s were not accepted")
        if failure is not None and unsent:
            failure.message += f"; pairs not sent: {_index_ranges([i for u in unsent for i in groups[u]])}"
        return SendReport(output, failure)

    def _send_batch(
        self, pending: list[int], items: list[dict[str, Any]], ids: list[str | None]
    ) -> dict[int, _ItemResult]:
        rejected: dict[int, _ItemResult] = {}
        for attempt in range(1, self._max_attempts + 1):
            results = self._send_items(pending, items)
            retry: list[int] = []
            for index, result in results.items():
                if result.item_id is not None:
                    ids[index] = result.item_id
                    rejected.pop(index, None)
                    continue
                rejected[index] = result
                if result.retryable:
                    retry.append(index)
            if not retry or attempt == self._max_attempts:
                break
            self._sleep(backoff_seconds(attempt, self._rng))
            pending = retry
        return rejected


@dataclass(frozen=True)
class _ItemResult:
    item_id: str | None = None
    code: str | None = None
    reason: str | None = None
    retryable: bool = False


def queue_max_message_bytes(client: Any, queue_url: str) -> int:
    """The queue's MaximumMessageSize; SOURCE_QUEUE_MAX_MESSAGE_BYTES (what the stack sets on its queue)
    when the queue does not say, e.g. a producer allowed SendMessage but not GetQueueAttributes."""
    try:
        attributes = client.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=[QUEUE_MAX_MESSAGE_SIZE_ATTRIBUTE]
        ).get("Attributes", {})
    except ClientError:
        return SOURCE_QUEUE_MAX_MESSAGE_BYTES
    value = str(attributes.get(QUEUE_MAX_MESSAGE_SIZE_ATTRIBUTE, ""))
    return min(int(value), SQS_MAX_MESSAGE_BYTES) if value.isdigit() else SOURCE_QUEUE_MAX_MESSAGE_BYTES


class QueueSender(_BatchedSender):
    """SendMessageBatch: pairs packed into request-shaped messages, 10 messages per call, each message
    within the queue's MaximumMessageSize (read from the queue unless given)."""

    noun = "message"
    batch_limits = (SQS_MAX_BATCH_ENTRIES, SQS_MAX_MESSAGE_BYTES)

    def __init__(self, client: Any, queue_url: str, *, max_message_bytes: int | None = None, **options: Any) -> None:
        super().__init__(client, **options)
        self._queue_url = queue_url
        self._max_message_bytes = max_message_bytes

    def _header(self) -> dict[str, Any]:
        return {"queueUrl": self._queue_url}

    def _body_limit(self) -> int:
        if self._max_message_bytes is None:
            self._max_message_bytes = queue_max_message_bytes(self._client, self._queue_url)
        return self._max_message_bytes

    def _item(self, body: str) -> dict[str, Any]:
        return {"MessageBody": body}

    def _item_size(self, item: dict[str, Any]) -> int:
        return sqs_message_bytes(item["MessageBody"], {})

    def _send_items(self, indexes: list[int], items: list[dict[str, Any]]) -> dict[int, _ItemResult]:
        entries = [{"Id": str(index), **items[index]} for index in indexes]
        response = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
        results = {
            int(entry["Id"]): _ItemResult(item_id=entry["MessageId"]) for entry in response.get("Successful", [])
        }
        for entry in response.get("Failed", []):
            # A sender's fault (size, content) fails again the same way; the rest may pass on retry.
            results[int(entry["Id"])] = _ItemResult(
                code=entry.get("Code"), reason=entry.get("Message"), retryable=not entry.get("SenderFault")
            )
        return results


def event_entry_size(entry: dict[str, Any]) -> int:
    """An entry's size as EventBridge counts it against PutEvents' EVENTBRIDGE_MAX_ENTRY_BYTES."""
    size = 14 if entry.get("Time") is not None else 0
    size += len(entry["Source"].encode()) + len(entry["DetailType"].encode())
    size += len(entry.get("Detail", "").encode())
    size += sum(len(resource.encode()) for resource in entry.get("Resources", []))
    return size


class BusSender(_BatchedSender):
    """PutEvents with the source and detail-type the stack's rule matches; detail = the request."""

    noun = "event"
    batch_limits = (MAX_EVENTS_PER_PUT, EVENTBRIDGE_MAX_ENTRY_BYTES)

    def __init__(self, client: Any, event_bus: str, **options: Any) -> None:
        super().__init__(client, **options)
        self._event_bus = event_bus

    def _header(self) -> dict[str, Any]:
        return {"eventBusName": self._event_bus}

    def _body_limit(self) -> int:
        return EVENTBRIDGE_MAX_ENTRY_BYTES - event_entry_size(self._item(""))

    def _item(self, body: str) -> dict[str, Any]:
        return {
            "Source": EVENT_SOURCE,
            "DetailType": EVENT_DETAIL_TYPE,
            "Detail": body,
            "EventBusName": self._event_bus,
        }

    def _item_size(self, item: dict[str, Any]) -> int:
        return event_entry_size(item)

    def _send_items(self, indexes: list[int], items: list[dict[str, Any]]) -> dict[int, _ItemResult]:
        response = self._client.put_events(Entries=[items[index] for index in indexes])
        results: dict[int, _ItemResult] = {}
        # PutEvents answers entry by entry, in the order of the request.
        for index, entry in zip(indexes, response.get("Entries", []), strict=False):
            if entry.get("EventId"):
                results[index] = _ItemResult(item_id=entry["EventId"])
            else:
                code = entry.get("ErrorCode")
                results[index] = _ItemResult(
                    code=code, reason=entry.get("ErrorMessage"), retryable=code in _RETRYABLE_EVENT_ERRORS
                )
        return results


# --- Direct: the IVS API -----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    region: str
    indexes: tuple[int, ...]


def plan_calls(pairs: Sequence[Pair]) -> list[Call]:
    """Calls of at most 20 pairs, in input order within each region (the API is regional: a channel ARN
    names the region whose endpoint must be called); regions take turns, as their quotas are separate."""
    by_region: dict[str, list[int]] = {}
    for index, pair in enumerate(pairs):
        by_region.setdefault(pair.session.region, []).append(index)
    queues = [
        deque(
            Call(region, tuple(indexes[start : start + MAX_SESSIONS_PER_CALL]))
            for start in range(0, len(indexes), MAX_SESSIONS_PER_CALL)
        )
        for region, indexes in by_region.items()
    ]
    calls: list[Call] = []
    while any(queues):
        for queue in queues:
            if queue:
                calls.append(queue.popleft())
    return calls


class QuotaPacer:
    """At most `calls_per_second` calls per region, whichever way the service counts them.

    Two rules, both kept:
    - calls start evenly spaced, 1/rate apart (a token bucket that holds one call, or a fixed
      interval, sees no burst);
    - a call starts one window after the *end* of the call `n` places earlier (`n` = the calls a
      window allows): a call reaches the service somewhere between its start and its end, so no
      one-second window of the service's, sliding or on the clock's seconds, ever holds more than `n`,
      whatever the latency of each call was.
    """

    def __init__(self, calls_per_second: float, *, sleep: Sleep, clock: Clock) -> None:
        if calls_per_second <= 0:
            raise ValueError("calls per second must be positive")
        self._calls = max(1, int(calls_per_second))
        self._interval = PACING_MARGIN / calls_per_second
        self._window = self._calls * self._interval
        self._last_start: dict[str, float] = {}
        self._finished: dict[str, deque[float]] = {}
        self._sleep = sleep
        self._clock = clock

    def before_call(self, region: str) -> None:
        ready = self._last_start.get(region, float("-inf")) + self._interval
        finished = self._finished.setdefault(region, deque(maxlen=self._calls))
        if len(finished) == self._calls:
            ready = max(ready, finished[0] + self._window)
        delay = ready - self._clock()
        if delay > 0:
            self._sleep(delay)
        self._last_start[region] = self._clock()

    def after_call(self, region: str) -> None:
        self._finished.setdefault(region, deque(maxlen=self._calls)).append(self._clock())


@dataclass
class DirectReport:
    """The responses of every call made, merged, and what was left if the run stopped early."""

    calls: int = 0
    calls_made: int = 0
    failure: Failure | None = None
    # What the AWS CLI prints for one call's response, for all calls together: the members of the
    # responses in their order, `errors` concatenated, the others (the HTTP headers the model names,
    # such as `cacheControl`) as the latest response had them. Empty when no call was answered.
    output: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.output.get(_ERRORS_MEMBER, [])
        return errors

    def add(self, response: Mapping[str, Any]) -> None:
        for key, value in response.items():
            if key == "ResponseMetadata":  # never printed by the AWS CLI
                continue
            if key == _ERRORS_MEMBER:
                self.output.setdefault(key, []).extend(value)
            else:
                self.output[key] = value


class DirectSender:
    """BatchStartViewerSessionRevocation, 20 pairs a call, paced to the quota, retrying throttling.

    Each call's `viewerSessions` are the items exactly as parsed from the command line, so a call
    carries the body `aws ivs batch-start-viewer-session-revocation` would send for those items.

    As in the function (revocation.adapters.ivs, whose checks these are): a call counts only when its
    answer is the operation's JSON about the pairs sent; anything else is a malformed answer, retried
    as a 5xx is and reported as a service error. And a call has a deadline for all of it, the client's
    connect timeout plus its read timeout (`--cli-connect-timeout`, `--cli-read-timeout`; 0 for either
    means no deadline), since the read timeout alone bounds each socket read, not the answer.
    """

    def __init__(
        self,
        client_for_region: Callable[[str], Any],
        *,
        calls_per_second: float = DEFAULT_CALLS_PER_SECOND,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        progress: Progress | None = None,
    ) -> None:
        self._client_for_region = client_for_region
        self._clients: dict[str, Any] = {}
        self._pacer = QuotaPacer(calls_per_second, sleep=sleep, clock=clock)
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._progress = progress

    def _client(self, region: str) -> Any:
        if region not in self._clients:
            self._clients[region] = check_answers(self._client_for_region(region))
        return self._clients[region]

    def send(self, pairs: Sequence[Pair]) -> DirectReport:
        calls = plan_calls(pairs)
        report = DirectReport(calls=len(calls))
        for number, call in enumerate(calls):
            try:
                response = self._call(call, [pairs[index] for index in call.indexes])
            except ClientError as error:
                report.failure = Failure(_client_error_text(error))
            except MalformedAnswer as error:
                report.failure = Failure(
                    f"{CODE_MALFORMED_RESPONSE}: the answer to {OPERATION_NAME} is not the operation's: {error} "
                    "(nothing of it was counted)"
                )
            except (*_CONNECTION_ERRORS, CallDeadlineExceeded) as error:
                report.failure = Failure(str(error), EXIT_OTHER)
            except KeyboardInterrupt:
                report.failure = Failure("interrupted", EXIT_INTERRUPTED)
            if report.failure is not None:
                report.failure.message += self._unsent_text(calls[number:])
                break
            report.calls_made += 1
            report.add(response)
            if self._progress is not None:
                self._progress(report.calls_made, report.calls)
        return report

    def _call(self, call: Call, pairs: list[Pair]) -> Any:
        client = self._client(call.region)
        sessions = [pair.raw for pair in pairs]
        deadline = _call_deadline(client)
        for attempt in range(1, self._max_attempts + 1):
            self._pacer.before_call(call.region)
            try:
                response = call_within(
                    deadline, lambda: client.batch_start_viewer_session_revocation(**{SESSIONS_MEMBER: sessions})
                )
                confirmed_errors(response, (pair.session.key for pair in pairs))
                return response
            except ClientError as error:
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
                retryable = _error_code(error) in _RETRYABLE_CALL_ERRORS or status == 429 or status >= 500
                if not retryable or attempt == self._max_attempts:
                    raise
            except MalformedAnswer:
                # Treated as a 5xx: whatever answered may answer properly next time.
                if attempt == self._max_attempts:
                    raise
            except (*_CONNECTION_ERRORS, CallDeadlineExceeded):
                # A revocation repeated is harmless, so an unanswered call is simply made again.
                if attempt == self._max_attempts:
                    raise
            finally:
                self._pacer.after_call(call.region)
            self._sleep(backoff_seconds(attempt, self._rng))
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _unsent_text(calls: Sequence[Call]) -> str:
        indexes = sorted(index for call in calls for index in call.indexes)
        return (
            f" ({OPERATION_NAME}: {len(calls)} call(s) not completed, {len(indexes)} pairs not sent: "
            f"{_index_ranges(indexes)})"
        )


def _call_deadline(client: Any) -> float | None:
    """The time a whole call may take: the client's connect timeout plus its read timeout."""
    config = client.meta.config
    if config.connect_timeout is None or config.read_timeout is None:
        return None
    return float(config.connect_timeout) + float(config.read_timeout)


def _index_ranges(indexes: Sequence[int]) -> str:
    """`viewerSessions[0:20], viewerSessions[45]`: consecutive runs of indexes, briefly."""
    runs: list[range] = []
    for index in indexes:
        if runs and runs[-1].stop == index:
            runs[-1] = range(runs[-1].start, index + 1)
        else:
            runs.append(range(index, index + 1))
    text = ", ".join(_pairs_text(run) for run in runs[:10])
    return text + (f" and {len(runs) - 10} more ranges" if len(runs) > 10 else "")
