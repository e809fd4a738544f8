"""The event publisher: the only code that puts events on EventBridge (the outcome events).

PutEvents takes at most EVENTBRIDGE_MAX_BATCH_ENTRIES entries and EVENTBRIDGE_MAX_ENTRY_BYTES in all
per request; an entry refused with a retryable code (InternalFailure, ThrottlingException), or a call
throttled or failed as a whole, is put again with backoff while the invocation's time allows. Nothing
here raises: what could not be put is returned, for the service to count and log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ivs_revocation.adapters import clients as aws_clients
from ivs_revocation.models import EVENTBRIDGE_MAX_ENTRY_BYTES
from ivs_revocation.outcome_events import PublishReport, Unpublished

EVENTBRIDGE_MAX_BATCH_ENTRIES = 10
# Per-entry codes (and whole-call codes) worth another try; any other is final for the entry.
RETRYABLE_CODES = frozenset({"InternalFailure", "InternalException", "ThrottlingException", "ServiceUnavailable"})
# One call's connect and read timeouts: a notification must not hold the invocation for long (a
# PutEvents takes tens of milliseconds). A call starts only with this much time left before the deadline.
CONNECT_TIMEOUT_SECONDS = 0.5
READ_TIMEOUT_SECONDS = 1.0
CALL_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
MAX_ATTEMPTS = 4
BACKOFF_SECONDS = 0.1
# PutEvents calls in flight at once: a batch of 200 records is 20 calls, which one after the other would
# hold the invocation (and its share of the IVS quota) for 20 round trips.
PARALLEL_CALLS = 10


class EventBridgePublisher:
    def __init__(
        self,
        client: Any | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client  # made on first use, as the queue writer's
        self._clock = clock
        self._sleep = sleep
        self._unreachable = False  # the first call of a round got no answer (connection refused, timed out)
        self._workers: ThreadPoolExecutor | None = None

    @property
    def _pool(self) -> ThreadPoolExecutor:
        if self._workers is None:
            # Made on first use and kept for the instance's life; botocore clients are thread-safe.
            self._workers = ThreadPoolExecutor(max_workers=PARALLEL_CALLS, thread_name_prefix="put-events")
        return self._workers

    @property
    def client(self) -> Any:
        if self._client is None:
            # No botocore retries: the loop below retries entries and calls itself, within the deadline.
            self._client = aws_clients.client(
                "events",
                config=Config(
                    retries={"mode": "standard", "total_max_attempts": 1},
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    read_timeout=READ_TIMEOUT_SECONDS,
                ),
            )
        return self._client

    def put(self, entries: Sequence[dict[str, str]], entry_bytes: Sequence[int], deadline: float) -> PublishReport:
        """Puts every entry, in calls that start before `deadline` (a monotonic time) with the time of a
        call still ahead; returns the calls made and the entries that could not be put."""
        pending = list(range(len(entries)))
        why: dict[int, tuple[str, str]] = {}  # the last failure of each entry not (yet) put
        given_up: list[int] = []  # refused for good
        calls = 0
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                pause = BACKOFF_SECONDS * 2 ** (attempt - 1)
                if self._clock() + pause + CALL_SECONDS > deadline:
                    break
                self._sleep(pause)
            again: list[int] = []
            groups = batches(pending, entry_bytes)
            out_of_time = self._clock() + CALL_SECONDS > deadline
            if out_of_time:
                for index in _flat(groups):
                    why.setdefault(index, ("NoTimeLeft", "the invocation had no time left to put it"))
                again.extend(_flat(groups))
            else:
                # The first call alone: when the service does not answer, the rest waits for the next
                # round rather than each call waiting out its own timeouts.
                retry, final = self._put_batch(entries, groups[0], why)
                calls += 1
                again.extend(retry)
                given_up.extend(final)
                rest = groups[1:]
                if rest and self._unreachable:
                    for index in _flat(rest):
                        why.setdefault(index, ("NoTimeLeft", "the service did not answer the call before it"))
                    again.extend(_flat(rest))
                elif rest:
                    # The others at once, PARALLEL_CALLS at a time: the invocation waits for about one call.
                    calls += len(rest)
                    for retry, final in self._pool.map(lambda batch: self._put_batch(entries, batch, why), rest):
                        again.extend(retry)
                        given_up.extend(final)
            pending = again
            if not pending or out_of_time:
                break
        failed = sorted({*pending, *given_up})
        return PublishReport(calls, [Unpublished(index, *why.get(index, ("Unknown", ""))) for index in failed])

    def _put_batch(
        self, entries: Sequence[dict[str, str]], batch: list[int], why: dict[int, tuple[str, str]]
    ) -> tuple[list[int], list[int]]:
        """One PutEvents call; returns the indexes to try again and those refused for good (`why` gets
        each one's reason)."""
        self._unreachable = False
        try:
            response = self.client.put_events(Entries=[entries[index] for index in batch])
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code") or "ClientError")
            message = str(error.response.get("Error", {}).get("Message") or "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            why.update({index: (code, message) for index in batch})
            retryable = code in RETRYABLE_CODES or (isinstance(status, int) and status >= 500)
            return (batch, []) if retryable else ([], batch)
        except BotoCoreError as error:
            self._unreachable = True
            why.update({index: (type(error).__name__, str(error)) for index in batch})
            return batch, []
        results = response.get("Entries") or []
        again: list[int] = []
        final: list[int] = []
        for position, index in enumerate(batch):
            # AWS answers one result per entry, in order; a missing result is no proof it was put.
            result = results[position] if position < len(results) and isinstance(results[position], dict) else {}
            if result.get("EventId") and not result.get("ErrorCode"):
                why.pop(index, None)
                continue
            code = str(result.get("ErrorCode") or "NoResult")
            why[index] = (code, str(result.get("ErrorMessage") or ""))
            (again if code in RETRYABLE_CODES or code == "NoResult" else final).append(index)
        return again, final


def batches(indexes: Sequence[int], entry_bytes: Sequence[int]) -> list[list[int]]:
    """The entries in order, in requests of at most 10 entries and EVENTBRIDGE_MAX_ENTRY_BYTES in all."""
    result: list[list[int]] = []
    size = 0
    for index in indexes:
        added = entry_bytes[index]
        if not result or len(result[-1]) == EVENTBRIDGE_MAX_BATCH_ENTRIES or size + added > EVENTBRIDGE_MAX_ENTRY_BYTES:
            result.append([])
            size = 0
        result[-1].append(index)
        size += added
    return result


def _flat(groups: Sequence[Sequence[int]]) -> list[int]:
    return [index for group in groups for index in group]
