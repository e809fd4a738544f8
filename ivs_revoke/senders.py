"""The batched ways `submit` sends validated pairs: the queue and the event bus (--direct: direct.py).

Each sender takes its client from `ivs_revoke.aws` and returns a report: what was sent, and, when it
could not send everything, why and what was left (the command prints the report either way, so a
partial run is never silent). Ctrl-C stops a sender between calls with the same kind of report.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from ivs_revocation.call_policy import backoff_seconds
from ivs_revocation.models import (
    EVENT_DETAIL_TYPE,
    EVENT_SOURCE,
    EVENTBRIDGE_MAX_ENTRY_BYTES,
    MAX_SESSIONS_PER_CALL,
    SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    SQS_MAX_BATCH_ENTRIES,
    SQS_MAX_MESSAGE_BYTES,
    Priority,
    RevocationRequest,
    ViewerSession,
    sqs_message_bytes,
    to_sqs_json,
)
from ivs_revoke.errors import EXIT_INTERRUPTED, EXIT_OTHER, EXIT_SERVICE
from ivs_revoke.inputs import SESSIONS_MEMBER, Pair
from ivs_revoke.sqs import whole_number

Sleep = Callable[[float], None]
Clock = Callable[[], float]

# SQS's limits are ivs_revocation.models': a SendMessageBatch request holds SQS_MAX_BATCH_ENTRIES messages
# and SQS_MAX_MESSAGE_BYTES in all, each message at most the queue's own MaximumMessageSize.
# EventBridge PutEvents: at most 10 entries, and under EVENTBRIDGE_MAX_ENTRY_BYTES per request, counted as AWS
# documents ("Calculating Amazon EventBridge PutEvents event entry size").
MAX_EVENTS_PER_PUT: Final = 10
# What `pack` may fill (it allows its limit exactly): AWS says a PutEvents request's total entry size
# "must be less than 256KB", so one byte under EVENTBRIDGE_MAX_ENTRY_BYTES.
PUT_EVENTS_MAX_BYTES: Final = EVENTBRIDGE_MAX_ENTRY_BYTES - 1
# The queue attribute that bounds each message (body and attributes, in bytes).
QUEUE_MAX_MESSAGE_SIZE_ATTRIBUTE: Final = "MaximumMessageSize"

# Pairs per message or event, by default: one API call's worth. The function merges pairs across the
# records of a batch, so small messages cost no extra calls; a larger one is cut into calls, and what
# one invocation has no time for is put back on the queue.
DEFAULT_PAIRS_PER_MESSAGE: Final = MAX_SESSIONS_PER_CALL
# To the urgent lane: one pair per message. That lane sends at most a deployment's bound of pairs per
# message itself and the rest to the bulk queue, and spreads messages, not pairs, over its instances.
URGENT_PAIRS_PER_MESSAGE: Final = 1

DEFAULT_MAX_ATTEMPTS: Final = 5
# SQS and EventBridge have no quota of ours to pace: the backoff between batch attempts (the
# function's formula) starts from a quarter of a second at most, doubling.
BATCH_BACKOFF_BASE_SECONDS: Final = 0.125

_RETRYABLE_EVENT_ERRORS: Final = frozenset({"ThrottlingException", "InternalFailure", "InternalException"})
# Every failure of the connection or of the HTTP exchange, as botocore's bases group them (endpoint,
# TLS, proxy, timeouts, a connection closed or an answer cut off mid-stream): the errors botocore's own
# retry modes retry.
CONNECTION_ERRORS: Final = (BotocoreConnectionError, HTTPClientError)


@dataclass
class SendFailure:
    """Why a sender stopped or left something unsent, and the exit code it stands for."""

    message: str
    exit_code: int = EXIT_SERVICE


@dataclass
class SendReport:
    """What a queue or bus sender did: `output` is printed, `failure` set when not everything went."""

    output: dict[str, Any]
    failure: SendFailure | None = None


def pack(
    sizes: Sequence[int], *, max_items: int | None, max_bytes: int, overhead: int = 0, separator: int = 1
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


def request_body(
    sessions: Sequence[ViewerSession], priority: Priority | None = None, request_id: str | None = None
) -> str:
    """One message body or event detail: the API request shape, `{"viewerSessions": [...]}`, in JSON
    that SQS accepts (a viewer ID holding a character SQS refuses travels escaped, its value unchanged),
    with the request's `priority` when one is given, and its `requestId` (submit --wait's)."""
    if priority is None:
        return RevocationRequest(viewer_sessions=list(sessions), request_id=request_id).to_json()
    return RevocationRequest(viewer_sessions=list(sessions), priority=priority, request_id=request_id).to_json()


def _pairs_text(group: range) -> str:
    return f"{SESSIONS_MEMBER}[{group.start}]" if len(group) == 1 else f"{SESSIONS_MEMBER}[{group.start}:{group.stop}]"


# --- Queue and event bus -----------------------------------------------------------------------


class _BatchedSender:
    """Shared by the queue and bus senders: pack pairs into request bodies ("items": messages or
    events), send the items in batches, retry the items a batch answer marks as retryable, report.
    `priority` (ivs_revocation.models' PRIORITY_URGENT) is written into every body and the report."""

    noun = "item"
    batch_limits: tuple[int, int]  # items per batch, bytes per batch

    def __init__(
        self,
        client: Any,
        header: dict[str, Any],
        *,
        pairs_per_message: int | None = DEFAULT_PAIRS_PER_MESSAGE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        sleep: Sleep = time.sleep,
        priority: Priority | None = None,
        request_id: str | None = None,
    ) -> None:
        self._client = client
        self._header = header  # what the report says first: where the items went
        self._priority = priority
        self._request_id = request_id
        self._pairs_per_message = pairs_per_message
        self._max_attempts = max_attempts
        self._sleep = sleep

    # What each kind of item needs.
    def _body_limit(self) -> int:
        raise NotImplementedError

    def _item(self, body: str) -> dict[str, Any]:
        raise NotImplementedError

    def _item_size(self, item: dict[str, Any]) -> int:
        raise NotImplementedError

    def _send_items(self, indexes: list[int], items: list[dict[str, Any]]) -> dict[int, _ItemResult]:
        raise NotImplementedError

    def send(self, pairs: Sequence[Pair]) -> SendReport:
        # Consecutive groups of pairs, each one request body within the limit (UTF-8 bytes, as SQS and
        # EventBridge count them).
        sessions = [pair.session for pair in pairs]
        sizes = [sqs_message_bytes(to_sqs_json(session.to_api()), {}) for session in sessions]
        overhead = (
            sqs_message_bytes(request_body(sessions[:1], self._priority, self._request_id), {}) - sizes[0]
            if sessions
            else 0
        )
        groups = pack(sizes, max_items=self._pairs_per_message, max_bytes=self._body_limit(), overhead=overhead)
        items = [
            self._item(request_body(sessions[group.start : group.stop], self._priority, self._request_id))
            for group in groups
        ]
        ids: list[str | None] = [None] * len(items)
        max_items, max_bytes = self.batch_limits
        batches = pack([self._item_size(item) for item in items], max_items=max_items, max_bytes=max_bytes, separator=0)
        rejected: dict[int, _ItemResult] = {}
        failure: SendFailure | None = None
        try:
            for batch in batches:
                rejected.update(self._send_batch(list(batch), items, ids))
        except ClientError as error:
            failure = SendFailure(str(error))
        except CONNECTION_ERRORS as error:
            failure = SendFailure(str(error), EXIT_OTHER)
        except KeyboardInterrupt:
            failure = SendFailure("interrupted", EXIT_INTERRUPTED)

        sent = [index for index, item_id in enumerate(ids) if item_id is not None]
        unsent = [index for index, item_id in enumerate(ids) if item_id is None]
        output = (
            self._header
            | ({"priority": self._priority} if self._priority else {})
            | {
                "pairs": len(pairs),
                f"{self.noun}s": len(items),
                "pairsSent": sum(len(groups[index]) for index in sent),
                f"{self.noun}sSent": len(sent),
                f"{self.noun}Ids": [ids[index] for index in sent],
            }
        )
        if rejected:
            output["failed"] = [
                {"pairs": _pairs_text(groups[index]), "code": result.code, "reason": result.reason}
                for index, result in sorted(rejected.items())
            ]
        if unsent and failure is None:
            failure = SendFailure(f"{len(unsent)} of {len(items)} {self.noun}s were not accepted")
        if failure is not None and unsent:
            failure.message += f"; pairs not sent: {index_ranges([i for u in unsent for i in groups[u]])}"
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
            self._sleep(backoff_seconds(attempt, BATCH_BACKOFF_BASE_SECONDS, random.random()))
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
    size = whole_number(str(attributes.get(QUEUE_MAX_MESSAGE_SIZE_ATTRIBUTE, "")))
    return SOURCE_QUEUE_MAX_MESSAGE_BYTES if size is None else min(size, SQS_MAX_MESSAGE_BYTES)


class QueueSender(_BatchedSender):
    """SendMessageBatch: pairs packed into request-shaped messages, 10 messages per call, each message
    within the queue's MaximumMessageSize (read from the queue)."""

    noun = "message"
    batch_limits = (SQS_MAX_BATCH_ENTRIES, SQS_MAX_MESSAGE_BYTES)

    def __init__(self, client: Any, queue_url: str, **options: Any) -> None:
        super().__init__(client, {"queueUrl": queue_url}, **options)
        self._queue_url = queue_url

    def _body_limit(self) -> int:
        return queue_max_message_bytes(self._client, self._queue_url)

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
    batch_limits = (MAX_EVENTS_PER_PUT, PUT_EVENTS_MAX_BYTES)

    def __init__(self, client: Any, event_bus: str, **options: Any) -> None:
        super().__init__(client, {"eventBusName": event_bus}, **options)
        self._event_bus = event_bus

    def _body_limit(self) -> int:
        return PUT_EVENTS_MAX_BYTES - event_entry_size(self._item(""))

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


def index_ranges(indexes: Sequence[int]) -> str:
    """`viewerSessions[0:20], viewerSessions[45]`: consecutive runs of indexes, briefly."""
    runs: list[range] = []
    for index in indexes:
        if runs and runs[-1].stop == index:
            runs[-1] = range(runs[-1].start, index + 1)
        else:
            runs.append(range(index, index + 1))
    text = ", ".join(_pairs_text(run) for run in runs[:10])
    return text + (f" and {len(runs) - 10} more ranges" if len(runs) > 10 else "")
