"""A local stand-in for Lambda's SQS event source mapping (ESM), calling the real handler.

What it does, as the mapping does with `ReportBatchItemFailures`:
- `max_concurrency` pollers, each with its own function instance: a separate process with its own cold
  start and module-level state (local/instance_supervisor.py runs local/function_instance.py), serving
  invocation after invocation. As Lambda's execution environments, an instance starts on demand, for
  the first batch that needs it (process start, import and init on that batch's clock), and is ended
  after `FunctionConfig.idle_seconds` without an invocation, so that the next batch waits for a cold
  start where AWS would make it wait;
- a poller long-polls the queue, then keeps receiving (at most 10 messages per ReceiveMessage) until it
  holds `batch_size` messages, the batching window has passed since the first one arrived, or the next
  message would take the event over Lambda's 6 MB invocation payload;
- it builds the SQS event Lambda builds (local/sqs_event.py): every system attribute
  (ApproximateReceiveCount included), message attributes, md5OfBody, eventSource, eventSourceARN,
  awsRegion;
- it invokes the handler with a context whose remaining time counts down from the function timeout, and
  ends an invocation that runs past it (the process is killed, like a timed-out environment, and the
  next batch gets a fresh cold start);
- it deletes the records that succeeded. A raised error, a timeout, a crash, a response that is not
  JSON or a `batchItemFailures` entry with an empty or unknown `itemIdentifier` fail the whole batch:
  nothing is deleted. Whatever is not deleted comes back after the queue's visibility timeout, and the
  queue's own redrive policy moves it to the DLQ after maxReceiveCount receives;
- as Lambda documents for SQS, the next batching window begins as soon as the previous invocation
  completes: a poller gathers its next batch while the last one's records are being deleted, and waits
  for those deletes only before it invokes again.

Receives use the queue's visibility timeout, as the mapping does.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ivs_revocation.models import SQS_MAX_BATCH_ENTRIES
from ivs_revoke import sqs as sqs_calls
from local.clients import client
from local.instance_supervisor import FunctionConfig, FunctionInstance, Outcome
from local.sqs_event import sqs_event, sqs_record

# Lambda's limit, as the mapping meets it.
MAX_INVOCATION_PAYLOAD_BYTES = 6 * 1024 * 1024
# Long poll while idle; it also bounds how long a poller takes to notice stop().
IDLE_WAIT_SECONDS = 1
DRAIN_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class MappingConfig:
    """The event source mapping's settings."""

    queue_url: str
    queue_arn: str
    batch_size: int
    batching_window_seconds: float
    max_concurrency: int


@dataclass
class RunnerStats:
    """What the mapping did, for summaries and for tests that check its semantics."""

    cold_starts: int = 0
    invocations: int = 0
    records_received: int = 0
    records_deleted: int = 0
    records_failed: int = 0  # reported in batchItemFailures
    batches_failed: int = 0  # whole batch back to the queue: raised, timed out, crashed, bad response
    function_errors: int = 0
    timeouts: int = 0
    crashes: int = 0
    init_errors: int = 0
    reaped: int = 0  # instances ended after idle_seconds without an invocation
    # Seconds each recent cold start took (process start, import, init), the latest last.
    cold_start_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    recent_errors: deque[str] = field(default_factory=lambda: deque(maxlen=20))


class DrainTimeout(TimeoutError):
    """The queue still held messages when the time was up."""


def failed_message_ids(outcome: Outcome, message_ids: Sequence[str]) -> tuple[set[str], str | None]:
    """The records to leave on the queue, read from the response as Lambda reads it, and why the
    whole batch failed (None when the response was a valid partial-batch response).

    Success: a null response, an empty one, or a null or empty `batchItemFailures`. Whole batch failed:
    no response (error, timeout, crash), a response of the wrong shape, or an entry whose
    `itemIdentifier` is missing, empty or not a message of this batch.
    """
    everything = set(message_ids)
    if outcome.error is not None or outcome.failure is not None:
        error = outcome.error or {}
        reason = outcome.failure or "error"
        if error:
            reason += f": {error.get('errorType')}: {error.get('errorMessage')}"
        return everything, reason
    result = outcome.result
    if result is None:
        return set(), None
    if not isinstance(result, dict):
        return everything, f"invalid response: {json.dumps(result)[:300]}"
    failures = result.get("batchItemFailures")
    if failures is None:
        return set(), None
    if not isinstance(failures, list):
        return everything, f"invalid batchItemFailures: {json.dumps(failures)[:300]}"
    failed = set()
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(identifier, str) or identifier not in everything:
            return everything, f"invalid itemIdentifier in {json.dumps(entry)[:300]}"
        failed.add(identifier)
    return failed, None


def wait_until_drained(
    runners: Sequence[EventSourceMapping], timeout: float, on_poll: Callable[[], None] | None = None
) -> float:
    """Waits until each runner's queue is empty and its function idle; returns the seconds it took.

    Idle only if each is idle at its look, one after the other: the caller orders them so that the
    looks agree. `on_poll` is called at every look (for a progress bar). Raises DrainTimeout (with the
    queues' counts and the mappings' recent errors) after `timeout` seconds.
    """
    started = time.monotonic()
    while True:
        looks = [(runner, runner.queue_counts()) for runner in runners]
        if on_poll is not None:
            on_poll()
        if all(not any(counts.values()) and runner.in_flight == 0 for runner, counts in looks):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise DrainTimeout(
                f"queues not drained after {timeout:g} s: "
                + "; ".join(
                    f"{runner.mapping.queue_url}: {counts}, {runner.in_flight} batches held, mapping: "
                    f"{runner.describe()}"
                    for runner, counts in looks
                )
            )
        time.sleep(DRAIN_POLL_SECONDS)


class EventSourceMapping:
    """The runner: `max_concurrency` pollers, each invoking its own function instance.

    Use as a context manager, or start() and stop(). `wait_until_drained()` returns once the queue holds
    no message (visible, in flight or delayed) and no batch is held: none being gathered, invoked or
    settled (its deletes and the stats), so the stats are final.
    """

    def __init__(self, mapping: MappingConfig, function: FunctionConfig, *, endpoint_url: str) -> None:
        self.mapping = mapping
        self.function = function
        self._endpoint_url = endpoint_url
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._threads: list[threading.Thread] = []
        self._instances: list[FunctionInstance] = []
        self.stats = RunnerStats()
        self._sqs = self._client()

    # --- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> EventSourceMapping:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("already started")
        self._stopping.clear()
        # No process yet: each starts with the first batch its poller receives (`_invoke`).
        self._instances = [FunctionInstance(self.function, slot) for slot in range(self.mapping.max_concurrency)]
        self._threads = [
            threading.Thread(target=self._poll, args=(instance,), name=f"esm-poller-{slot}", daemon=True)
            for slot, instance in enumerate(self._instances)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stops polling; an invocation still running gets `timeout` seconds, then its instance is ended.

        A batch received after the stop began goes back to the queue at once, as a disabled mapping
        lets go of what it has not invoked.
        """
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for instance in self._instances:
            instance.close()
        for thread in self._threads:
            thread.join(IDLE_WAIT_SECONDS + 5)
        self._threads = []
        self._instances = []

    def start_instances(self) -> None:
        """Starts every instance now, their cold starts in parallel, as provisioned concurrency has its
        environments ready before the first batch: for a measurement whose premise is the warm lane.
        Call it while no batch is on its way to the mapping (a poller would start the same instance);
        an instance is still reaped after idle_seconds."""
        starters = [
            threading.Thread(target=self._cold_start, args=(instance,))
            for instance in self._instances
            if not instance.alive
        ]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()

    def set_idle_seconds(self, seconds: float) -> None:
        """From now on, instances idle for `seconds` are ended (a benchmark's cold round shortens it)."""
        self.function = dataclasses.replace(self.function, idle_seconds=seconds)

    @property
    def pids(self) -> list[int]:
        return [pid for pid in (instance.pid for instance in self._instances) if pid is not None]

    @property
    def in_flight(self) -> int:
        """Batches held: being gathered, invoked, or settled."""
        with self._lock:
            return self._in_flight

    # --- draining -------------------------------------------------------------------------------
    def queue_counts(self) -> dict[str, int]:
        return sqs_calls.queue_counts(self._sqs, self.mapping.queue_url)

    def wait_until_drained(self, timeout: float) -> float:
        """Blocks until the queue is empty and no invocation runs; returns the seconds it took."""
        return wait_until_drained([self], timeout)

    def describe(self) -> str:
        stats = self.stats
        with self._lock:
            errors = list(stats.recent_errors)
        return (
            f"{stats.invocations} invocations, {stats.records_received} records received, "
            f"{stats.records_deleted} deleted, {stats.records_failed} reported failed, "
            f"{stats.batches_failed} batches failed whole ({stats.function_errors} errors, {stats.timeouts} "
            f"timeouts, {stats.crashes} crashes, {stats.init_errors} init errors), {stats.cold_starts} cold starts, "
            f"{stats.reaped} reaped" + (f"; recent errors: {errors}" if errors else "")
        )

    # --- pollers --------------------------------------------------------------------------------
    def _client(self) -> Any:
        return client("sqs", self._endpoint_url, self.function.region)

    def _cold_start(self, instance: FunctionInstance) -> Outcome | None:
        started = time.monotonic()
        failed = instance.start()
        with self._lock:
            self.stats.cold_starts += 1
            self.stats.cold_start_seconds.append(time.monotonic() - started)
            if failed is not None:
                self.stats.init_errors += 1
                error = failed.error or {}
                self.stats.recent_errors.append(f"init: {error.get('errorType')}: {error.get('errorMessage')}")
        return failed

    def _poll(self, instance: FunctionInstance) -> None:
        sqs, settle_sqs = self._client(), self._client()
        # The last batch's settling (deletes, stats), in a thread of its own while the next is gathered.
        settler = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{threading.current_thread().name}-settle")
        settling: Future[None] | None = None
        try:
            while not self._stopping.is_set():
                holding = False
                try:
                    wanted = min(SQS_MAX_BATCH_ENTRIES, self.mapping.batch_size)
                    first = self._receive(sqs, wanted, IDLE_WAIT_SECONDS)
                    if not first:
                        self._reap_if_idle(instance)
                        continue
                    holding = True
                    with self._lock:
                        self._in_flight += 1
                    messages = self._collect(sqs, first)
                    if settling is not None:
                        # At most one batch behind, so that deletes cannot pile up while messages wait in flight.
                        settling.result()
                    if self._stopping.is_set():
                        self._release(sqs, messages)
                        continue
                    outcome = self._invoke(instance, messages)
                    settling = settler.submit(self._settle, settle_sqs, messages, outcome)
                    holding = False  # the settler lets go of it
                except Exception as error:
                    # The endpoint went away or hiccupped. Messages held come back after the visibility
                    # timeout, as they do when the mapping's poller fails; the poller tries again.
                    self._record_error("poller", error)
                    self._stopping.wait(1.0)
                finally:
                    if holding:
                        with self._lock:
                            self._in_flight -= 1
        finally:
            settler.shutdown(wait=True)

    def _reap_if_idle(self, instance: FunctionInstance) -> None:
        """Ends the instance once it has been idle for idle_seconds, as Lambda reclaims an environment."""
        if instance.alive and instance.idle_seconds() >= self.function.idle_seconds:
            instance.stop()
            with self._lock:
                self.stats.reaped += 1

    def _collect(self, sqs: Any, first: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Goes on receiving after the first messages, until the batch is full or the window closes."""
        batch_size = self.mapping.batch_size
        batch: list[dict[str, Any]] = []
        overflow: list[dict[str, Any]] = []
        payload = 0
        window_ends = time.monotonic() + self.mapping.batching_window_seconds
        received = first
        while True:
            for message in received:
                size = len(json.dumps(sqs_record(message, self.mapping.queue_arn, self.function.region)))
                if overflow or (batch and payload + size > MAX_INVOCATION_PAYLOAD_BYTES):
                    overflow.append(message)
                else:
                    batch.append(message)
                    payload += size
            remaining = window_ends - time.monotonic()
            if overflow or len(batch) >= batch_size or remaining <= 0 or self._stopping.is_set():
                break
            wanted = min(SQS_MAX_BATCH_ENTRIES, batch_size - len(batch))
            # WaitTimeSeconds is whole seconds: long-poll for the whole seconds left, short-poll the rest.
            received = self._receive(sqs, wanted, int(remaining))
            if not received:
                self._stopping.wait(min(0.05, max(0.0, remaining)))
        if overflow:
            self._release(sqs, overflow)
        return batch

    def _receive(self, sqs: Any, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages") or []
        return messages

    def _invoke(self, instance: FunctionInstance, messages: list[dict[str, Any]]) -> Outcome:
        if not instance.alive:
            failed_start = self._cold_start(instance)
            if failed_start is not None:
                return failed_start
        event = sqs_event(messages, self.mapping.queue_arn, self.function.region)
        return instance.invoke(event, str(uuid.uuid4()))

    def _settle(self, sqs: Any, messages: list[dict[str, Any]], outcome: Outcome) -> None:
        """Deletes the records that succeeded and counts the invocation; then the batch is let go."""
        try:
            ids = [message["MessageId"] for message in messages]
            failed, whole_batch = failed_message_ids(outcome, ids)
            succeeded = [message for message in messages if message["MessageId"] not in failed]
            deleted = self._delete(sqs, succeeded)
            with self._lock:
                stats = self.stats
                if outcome.failure != "init":
                    stats.invocations += 1
                stats.records_received += len(messages)
                stats.records_deleted += deleted
                if whole_batch is None:
                    stats.records_failed += len(failed)
                else:
                    stats.batches_failed += 1
                    stats.recent_errors.append(whole_batch)
                if outcome.failure is None and outcome.error is not None:
                    stats.function_errors += 1
                elif outcome.failure == "timeout":
                    stats.timeouts += 1
                elif outcome.failure == "crash":
                    stats.crashes += 1
        except Exception as error:
            # As when the poller fails: what was not deleted comes back after the visibility timeout.
            self._record_error("settle", error)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _delete(self, sqs: Any, messages: Sequence[Mapping[str, Any]]) -> int:
        deleted = 0
        for batch in sqs_calls.batches(message["ReceiptHandle"] for message in messages):
            response = sqs_calls.delete(sqs, self.mapping.queue_url, batch)
            deleted += len(response.get("Successful") or [])
            for entry in response.get("Failed") or []:
                with self._lock:
                    self.stats.recent_errors.append(f"delete failed: {entry.get('Code')}: {entry.get('Message')}")
        return deleted

    def _record_error(self, where: str, error: Exception) -> None:
        with self._lock:
            self.stats.recent_errors.append(f"{where}: {type(error).__name__}: {error}")

    def _release(self, sqs: Any, messages: Sequence[Mapping[str, Any]]) -> None:
        """Makes received messages visible again at once: they were not invoked."""
        sqs_calls.make_visible(sqs, self.mapping.queue_url, [message["ReceiptHandle"] for message in messages])
