"""A local stand-in for Lambda's SQS event source mapping (ESM), calling the real handler.

What it does, as the mapping does with `ReportBatchItemFailures`:
- `max_concurrency` pollers, each with its own function instance: a separate process with its own cold
  start and module-level state (see local/function_instance.py), serving invocation after invocation;
- a poller long-polls the queue, then keeps receiving (at most 10 messages per ReceiveMessage) until it
  holds `batch_size` messages, the batching window has passed since the first one arrived, or the next
  message would take the event over Lambda's 6 MB invocation payload;
- it builds the SQS event Lambda builds: every system attribute (ApproximateReceiveCount included),
  message attributes, md5OfBody, eventSource, eventSourceARN, awsRegion;
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

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config

# Lambda's limits and SQS's, as the mapping meets them.
MAX_MESSAGES_PER_RECEIVE = 10
MAX_INVOCATION_PAYLOAD_BYTES = 6 * 1024 * 1024
# Long poll while idle; it also bounds how long a poller takes to notice stop().
IDLE_WAIT_SECONDS = 1
# Time allowed for a new instance's cold start (importing the handler) before it counts as failed.
INIT_TIMEOUT_SECONDS = 60.0
# Slack between the context's deadline and the kill: the time a response needs to cross the socket.
TIMEOUT_GRACE_SECONDS = 0.25


@dataclass(frozen=True)
class FunctionConfig:
    """The function as the stack deploys it: handler, environment, timeout, memory, name."""

    handler: str
    environment: Mapping[str, str]
    timeout_seconds: float
    region: str
    account_id: str
    name: str = "IvsRevocationFunction"
    memory_mb: int = 512
    # Folders the handler's modules are imported from, besides the installed packages.
    python_path: Sequence[str] = ()
    # One log file per instance slot (the function's log streams); None discards the logs.
    log_dir: Path | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"


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
    recent_errors: deque[str] = field(default_factory=lambda: deque(maxlen=20))


@dataclass(frozen=True)
class Outcome:
    """How one invocation ended: a response, or why there is none."""

    result: Any = None
    error: Mapping[str, Any] | None = None  # errorType, errorMessage, stackTrace
    failure: str | None = None  # "timeout", "crash" or "init": no response at all


class DrainTimeout(TimeoutError):
    """The queue still held messages when the time was up."""


def build_event(messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda passes for a batch of SQS messages (ReceiveMessage output, attributes 'All')."""
    return {"Records": [_record(message, queue_arn, region) for message in messages]}


def _record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: str(value) for name, value in (message.get("Attributes") or {}).items()},
        "messageAttributes": {
            name: _message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # In the event, binary values are base64 text, and the list fields are always present.
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [base64.b64encode(item).decode() for item in value.get("BinaryListValues") or []]
    attribute["dataType"] = value["DataType"]
    return attribute


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


class FunctionInstance:
    """The runner's handle on one execution environment (a process running local.function_instance)."""

    def __init__(self, config: FunctionConfig, slot: int) -> None:
        self._config = config
        self._slot = slot
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None
        self._log: IO[bytes] | None = None
        self._closed = False
        self.log_stream_name = ""

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> Outcome | None:
        """Starts the process and waits for its cold start; returns an Outcome when it failed."""
        if self._closed:
            # The mapping is stopping: a poller that raced the stop must not start a process nobody ends.
            return Outcome(failure="init", error={"errorType": "Stopped", "errorMessage": "the mapping is stopping"})
        parent_end, child_end = socket.socketpair()
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        environment = {**self._runtime_environment(), **self._config.environment}
        environment["AWS_LAMBDA_LOG_STREAM_NAME"] = self.log_stream_name
        if self._log is None and self._config.log_dir is not None:
            self._config.log_dir.mkdir(parents=True, exist_ok=True)
            self._log = (self._config.log_dir / f"instance-{self._slot}.log").open("ab", buffering=0)
        output: IO[bytes] | int = self._log if self._log is not None else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "local.function_instance",
                    "--fd",
                    str(child_end.fileno()),
                    "--handler",
                    self._config.handler,
                ],
                env=environment,
                pass_fds=[child_end.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # Out of the terminal's process group: Ctrl-C reaches the runner, which stops us in order.
                start_new_session=True,
            )
        finally:
            child_end.close()
        self._connection = Connection(parent_end.detach())
        if not self._connection.poll(INIT_TIMEOUT_SECONDS):
            self.stop()
            return Outcome(failure="init", error={"errorType": "InitTimeout", "errorMessage": "cold start too long"})
        try:
            ready = json.loads(self._connection.recv_bytes())
        except (EOFError, OSError):
            self.stop()
            return Outcome(failure="init", error={"errorType": "Runtime.ExitError", "errorMessage": "exited in init"})
        if "init_error" in ready:
            self.stop()
            return Outcome(failure="init", error=ready["init_error"])
        return None

    def invoke(self, event: Mapping[str, Any], request_id: str) -> Outcome:
        assert self._connection is not None, "start() first"
        timeout = self._config.timeout_seconds
        invocation = {
            "event": event,
            "aws_request_id": request_id,
            "timeout_ms": int(timeout * 1000),
            "function_name": self._config.name,
            "function_version": "$LATEST",
            "invoked_function_arn": self._config.arn,
            "memory_limit_in_mb": self._config.memory_mb,
            "log_group_name": f"/aws/lambda/{self._config.name}",
            "log_stream_name": self.log_stream_name,
        }
        try:
            self._connection.send_bytes(json.dumps(invocation).encode())
            if not self._connection.poll(timeout + TIMEOUT_GRACE_SECONDS):
                self._write_log(f"{_now()} {request_id} Task timed out after {timeout:.2f} seconds\n")
                self.stop()
                return Outcome(failure="timeout")
            reply = json.loads(self._connection.recv_bytes())
        except (EOFError, OSError):
            code = self._process.poll() if self._process else None
            self._write_log(f"{_now()} {request_id} Runtime exited with status {code}\n")
            self.stop()
            return Outcome(failure="crash")
        if "error" in reply:
            return Outcome(error=reply["error"])
        return Outcome(result=reply["result"])

    def stop(self, wait_seconds: float = 2.0) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(wait_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        self._closed = True
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _write_log(self, line: str) -> None:
        if self._log is not None:
            self._log.write(line.encode())

    def _runtime_environment(self) -> dict[str, str]:
        """What any Lambda environment has besides the function's own variables."""
        config = self._config
        python_path = [*config.python_path, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "_HANDLER": config.handler,
            # No shared config or credentials files in Lambda: a developer's ~/.aws must not leak in.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if python_path:
            environment["PYTHONPATH"] = os.pathsep.join(python_path)
        return environment


class EventSourceMapping:
    """The runner: `max_concurrency` pollers, each invoking its own function instance.

    Use as a context manager, or start() and stop(). `wait_until_drained()` returns once the queue holds
    no message (visible, in flight or delayed) and no batch is held: none being gathered, invoked or
    settled (its deletes and the stats), so the stats are final.
    """

    def __init__(
        self,
        mapping: MappingConfig,
        function: FunctionConfig,
        *,
        endpoint_url: str,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self.mapping = mapping
        self.function = function
        self._endpoint_url = endpoint_url
        self._credentials = dict(credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"})
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
        self._instances = [FunctionInstance(self.function, slot) for slot in range(self.mapping.max_concurrency)]
        # Cold starts in parallel, before the first poll: the pollers then start on warm instances.
        warmers = [threading.Thread(target=self._cold_start, args=(instance,)) for instance in self._instances]
        for thread in warmers:
            thread.start()
        for thread in warmers:
            thread.join()
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
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.mapping.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return {name.removeprefix("ApproximateNumberOf"): int(value) for name, value in attributes.items()}

    def wait_until_drained(
        self,
        timeout: float,
        poll_seconds: float = 0.2,
        on_poll: Callable[[Mapping[str, int]], None] | None = None,
    ) -> float:
        """Blocks until the queue is empty and no invocation runs; returns the seconds it took.

        `on_poll` gets the queue's counts at every look (for a progress bar). Raises DrainTimeout
        (with the queue's counts and the mapping's recent errors) after `timeout`.
        """
        started = time.monotonic()
        while True:
            counts = self.queue_counts()
            if on_poll is not None:
                on_poll(counts)
            if not any(counts.values()) and self.in_flight == 0:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise DrainTimeout(
                    f"queue not drained after {timeout:g} s: {counts}, {self.in_flight} batches held; "
                    f"mapping: {self.describe()}"
                )
            time.sleep(poll_seconds)

    def describe(self) -> str:
        stats = self.stats
        with self._lock:
            errors = list(stats.recent_errors)
        return (
            f"{stats.invocations} invocations, {stats.records_received} records received, "
            f"{stats.records_deleted} deleted, {stats.records_failed} reported failed, "
            f"{stats.batches_failed} batches failed whole ({stats.function_errors} errors, {stats.timeouts} "
            f"timeouts, {stats.crashes} crashes, {stats.init_errors} init errors), {stats.cold_starts} cold starts"
            + (f"; recent errors: {errors}" if errors else "")
        )

    # --- pollers --------------------------------------------------------------------------------
    def _client(self) -> Any:
        session = boto3.session.Session()
        return session.client(
            "sqs",
            endpoint_url=self._endpoint_url,
            region_name=self.function.region,
            config=Config(retries={"mode": "standard", "max_attempts": 5}),
            **self._credentials,
        )

    def _cold_start(self, instance: FunctionInstance) -> Outcome | None:
        failed = instance.start()
        with self._lock:
            self.stats.cold_starts += 1
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
                    wanted = min(MAX_MESSAGES_PER_RECEIVE, self.mapping.batch_size)
                    first = self._receive(sqs, wanted, IDLE_WAIT_SECONDS)
                    if not first:
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
                size = len(json.dumps(_record(message, self.mapping.queue_arn, self.function.region)))
                if overflow or (batch and payload + size > MAX_INVOCATION_PAYLOAD_BYTES):
                    overflow.append(message)
                else:
                    batch.append(message)
                    payload += size
            remaining = window_ends - time.monotonic()
            if overflow or len(batch) >= batch_size or remaining <= 0 or self._stopping.is_set():
                break
            wanted = min(MAX_MESSAGES_PER_RECEIVE, batch_size - len(batch))
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
        event = build_event(messages, self.mapping.queue_arn, self.function.region)
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
        for chunk in _chunks(messages, MAX_MESSAGES_PER_RECEIVE):
            response = sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
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
        for chunk in _chunks(messages, MAX_MESSAGES_PER_RECEIVE):
            sqs.change_message_visibility_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ],
            )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
