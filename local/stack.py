"""The whole pipeline on one machine: IVS emulator, SQS and EventBridge on moto's server, the function.

    from infra.settings import DeploySettings
    from local.stack import LocalStack

    settings = DeploySettings.from_cdk_json(overrides={"functionTimeoutSeconds": 5, ...})
    with LocalStack(settings) as stack:
        stack.send({"channelArn": ..., "viewerId": ...})      # SQS SendMessage
        stack.put_event({"viewerSessions": [...]})             # EventBridge PutEvents, through the rule
        stack.drain(timeout=60)                                # until the queue is empty
        stack.ivs.ledger().revoked                             # what IVS revoked
        stack.dead_letters()                                   # the DLQ, read without consuming it

What is provisioned comes from the same `DeploySettings` (cdk.json) that the CDK stack deploys, with
the template's attributes: the queue with its visibility timeout, retention, maximum message size and
redrive policy (DLQ, maxReceiveCount), the DLQ with its longer retention, its maximum message size and
a redrive allow policy naming the queue, SSE-SQS on every queue, the event bus (the default one, or a
bus of its own), the rule that routes revocation events to the queue (with a delivery DLQ and retry
policy on the target), and the function's environment. The event source mapping runner
(local/runner.py) polls with the settings' batch size, batching window and maximum concurrency.

Nothing outlives the stack: moto's server and the function instances are child processes that end
with it (also when this process is interrupted or killed), and the IVS emulator is a thread.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.settings import DeploySettings
from local.ivs_emulator import IvsEmulator
from local.runner import EventSourceMapping, FunctionConfig, MappingConfig
from revocation import names
from revocation.models import (
    ATTR_ATTEMPTS,
    ATTR_ERROR_CODE,
    ATTR_ERROR_MESSAGE,
    ATTR_SOURCE_MESSAGE_ID,
    DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES,
    EVENT_DETAIL_TYPE,
    EVENT_SOURCE,
    SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    SQS_MAX_MESSAGE_BYTES,
    DeadLetterMessage,
)

DEFAULT_REGION = "us-east-1"
# moto's default account; the queue and rule ARNs name it.
ACCOUNT_ID = "123456789012"
# moto accepts any credentials. The IVS emulator keys its quota by access key id, so every client of
# the stack (producers and every function instance) counts against one account's quota, as at AWS.
CREDENTIALS: Mapping[str, str] = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
SERVER_START_TIMEOUT_SECONDS = 30.0
SERVER_STOP_TIMEOUT_SECONDS = 5.0
# What SendMessageBatch, ReceiveMessage and DeleteMessageBatch take at most.
SQS_BATCH = 10


# --------------------------------------------------------------------------------------- moto server


class MotoServer:
    """moto's server mode in a child process (local/moto_server.py), on a free 127.0.0.1 port."""

    def __init__(self, log_path: Path | None = None, port: int = 0) -> None:
        self._log_path = log_path
        self._port = port  # 0: a free port, picked by the server as it binds
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self.url = ""

    def start(self) -> Self:
        if self._process is not None:
            raise RuntimeError("moto server already started")
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._log_path.open("a")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local.moto_server", *(["--port", str(self._port)] if self._port else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log if self._log is not None else subprocess.DEVNULL,
            text=True,
            # Out of the terminal's process group: Ctrl-C reaches us, and we stop the server in order.
            start_new_session=True,
        )
        assert self._process.stdout is not None
        line = _read_line(self._process.stdout, SERVER_START_TIMEOUT_SECONDS)
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"moto server did not start: {line!r}")
        self.url = line.strip()
        if self._port and not self.url.endswith(f":{self._port}"):
            self.stop()
            raise RuntimeError(f"moto server listens at {line.strip()}, not on port {self._port}")
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            # Closing stdin is the server's signal to stop; terminate and kill only if it does not.
            with contextlib.suppress(OSError):
                if process.stdin:
                    process.stdin.close()
            try:
                process.wait(SERVER_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(SERVER_STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_line(stream: IO[str], timeout: float) -> str:
    """The first line of a child's output, or '' if none came within `timeout`."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


# -------------------------------------------------------------------------------------- provisioning


@dataclass(frozen=True)
class Resources:
    """What the stack provisioned on moto's server, by name, URL and ARN."""

    endpoint_url: str
    region: str
    queue_name: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_name: str
    dead_letter_queue_url: str
    dead_letter_queue_arn: str
    delivery_dead_letter_queue_url: str
    event_bus_name: str
    rule_name: str


def resource_names(settings: DeploySettings) -> dict[str, str]:
    """Names derived from the stack name, so that two local stacks can share one moto server."""
    prefix = settings.stack_name
    return {
        "queue": f"{prefix}-requests",
        "dead_letter_queue": f"{prefix}-dead-letters",
        "delivery_dead_letter_queue": f"{prefix}-delivery-dead-letters",
        "rule": f"{prefix}-revocation-requests",
    }


def provision(settings: DeploySettings, endpoint_url: str, region: str = DEFAULT_REGION) -> Resources:
    """Creates the queues, the event bus and the rule as the CDK stack defines them."""
    sqs = client("sqs", endpoint_url, region)
    events = client("events", endpoint_url, region)
    named = resource_names(settings)
    day = 24 * 60 * 60

    dlq_url, dlq_arn = _create_queue(
        sqs,
        named["dead_letter_queue"],
        {
            "MessageRetentionPeriod": str(settings.dead_letter_retention_days * day),
            "MaximumMessageSize": str(DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES),
            "SqsManagedSseEnabled": "true",
        },
    )
    delivery_dlq_url, delivery_dlq_arn = _create_queue(
        sqs,
        named["delivery_dead_letter_queue"],
        {
            "MessageRetentionPeriod": str(14 * day),
            "MaximumMessageSize": str(SQS_MAX_MESSAGE_BYTES),
            "SqsManagedSseEnabled": "true",
            # Nothing may name it as its DLQ: only EventBridge's dead-letter configs write to it.
            "RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"}),
        },
    )
    queue_url, queue_arn = _create_queue(
        sqs,
        named["queue"],
        {
            "VisibilityTimeout": str(settings.visibility_timeout_seconds),
            "MessageRetentionPeriod": str(settings.queue_retention_days * day),
            "MaximumMessageSize": str(SOURCE_QUEUE_MAX_MESSAGE_BYTES),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.max_receive_count}
            ),
        },
    )
    sqs.set_queue_attributes(
        QueueUrl=dlq_url,
        Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn]})},
    )

    bus = settings.event_bus_name
    if bus != "default":
        # A bus named in cdk.json but not created by the stack exists in the account already; here
        # nothing else would create it.
        with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
            events.create_event_bus(Name=bus)
    rule_arn = events.put_rule(
        Name=named["rule"],
        EventBusName=bus,
        EventPattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": [EVENT_DETAIL_TYPE]}),
        State="ENABLED",
        Description="Routes viewer-session revocation requests to the queue",
    )["RuleArn"]
    events.put_targets(
        Rule=named["rule"],
        EventBusName=bus,
        Targets=[
            {
                "Id": "RevocationQueue",
                "Arn": queue_arn,
                "DeadLetterConfig": {"Arn": delivery_dlq_arn},
                "RetryPolicy": {
                    "MaximumRetryAttempts": settings.delivery_retry_attempts,
                    "MaximumEventAgeInSeconds": settings.delivery_max_event_age_seconds,
                },
            }
        ],
    )
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": _events_may_send(queue_arn, rule_arn)})
    return Resources(
        endpoint_url=endpoint_url,
        region=region,
        queue_name=named["queue"],
        queue_url=queue_url,
        queue_arn=queue_arn,
        dead_letter_queue_name=named["dead_letter_queue"],
        dead_letter_queue_url=dlq_url,
        dead_letter_queue_arn=dlq_arn,
        delivery_dead_letter_queue_url=delivery_dlq_url,
        event_bus_name=bus,
        rule_name=named["rule"],
    )


def _create_queue(sqs: Any, name: str, attributes: Mapping[str, str]) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=name, Attributes=dict(attributes))["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _events_may_send(queue_arn: str, rule_arn: str) -> str:
    """The queue policy EventBridge needs to deliver the rule's events (moto does not enforce it)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowRevocationRule",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
    )


def function_environment(settings: DeploySettings, resources: Resources, ivs_endpoint_url: str) -> dict[str, str]:
    """The function's environment: what the CDK stack sets, plus the local endpoints and credentials.

    The endpoints reach the function through botocore's standard variables; the function has no
    branch of its own for running locally.
    """
    return {
        **settings.function_environment(
            dead_letter_queue_url=resources.dead_letter_queue_url, source_queue_url=resources.queue_url
        ),
        # X-Ray has no local daemon here.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_ENDPOINT_URL_IVS": ivs_endpoint_url,
        "AWS_ENDPOINT_URL_SQS": resources.endpoint_url,
        "AWS_REGION": resources.region,
        "AWS_DEFAULT_REGION": resources.region,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
    }


def client(service: str, endpoint_url: str, region: str = DEFAULT_REGION, **config: Any) -> Any:
    """A boto3 client for the local endpoint, in a session of its own (safe to use from any thread)."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, **config),
        **CREDENTIALS,
    )


# -------------------------------------------------------------------------------------- dead letters


@dataclass(frozen=True)
class DeadLetterEntry:
    """One message of the DLQ, as an operator reads it."""

    message_id: str
    body: str
    attributes: Mapping[str, str]
    receive_count: int
    sent_timestamp: int

    @property
    def code(self) -> str | None:
        """The function's error code; None for a message the queue's redrive policy moved bare."""
        return self.attributes.get(ATTR_ERROR_CODE)

    @property
    def reason(self) -> str | None:
        return self.attributes.get(ATTR_ERROR_MESSAGE)

    @property
    def source_message_id(self) -> str | None:
        return self.attributes.get(ATTR_SOURCE_MESSAGE_ID)

    @property
    def attempts(self) -> int | None:
        value = self.attributes.get(ATTR_ATTEMPTS)
        return int(value) if value is not None else None

    @property
    def message(self) -> DeadLetterMessage | None:
        """The failed pairs with their errors, when the function wrote this entry for failed pairs."""
        try:
            return DeadLetterMessage.model_validate_json(self.body)
        except ValueError:
            return None

    def failed_pairs(self) -> list[tuple[str, str, str | None, str | None]]:
        """(channelArn, viewerId, code, message) for each pair of a failed-pairs entry; [] otherwise."""
        message = self.message
        if message is None or not message.errors:
            return []
        return [(error.channel_arn, error.viewer_id, error.code, error.message) for error in message.errors]


def peek_dead_letters(sqs: Any, queue_url: str) -> list[DeadLetterEntry]:
    """Every message of the queue, oldest first, left in the queue and visible again afterwards.

    Messages are received with a visibility timeout (so that one pass sees each once) and then made
    visible again at once. Like the console's "poll for messages", this adds one to each message's
    receive count.
    """
    seen: dict[str, DeadLetterEntry] = {}
    handles: list[str] = []
    try:
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=SQS_BATCH,
                VisibilityTimeout=60,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages")
            if not messages:
                break
            for message in messages:
                handles.append(message["ReceiptHandle"])
                seen[message["MessageId"]] = _entry(message)
    finally:
        for chunk in _chunks(handles, SQS_BATCH):
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(chunk)],
            )
    return sorted(seen.values(), key=lambda entry: (entry.sent_timestamp, entry.message_id))


def _entry(message: Mapping[str, Any]) -> DeadLetterEntry:
    attributes = {
        name: value["StringValue"]
        for name, value in (message.get("MessageAttributes") or {}).items()
        if "StringValue" in value
    }
    system = message.get("Attributes") or {}
    return DeadLetterEntry(
        message_id=message["MessageId"],
        body=message["Body"],
        attributes=attributes,
        receive_count=int(system.get("ApproximateReceiveCount", 0)),
        sent_timestamp=int(system.get("SentTimestamp", 0)),
    )


@dataclass(frozen=True)
class RedriveResult:
    moved: int
    method: str  # "StartMessageMoveTask" or "receive-and-send"


# Codes with which an endpoint says it lacks an action (a stand-in SQS), rather than refusing this call.
_UNSUPPORTED_CODES = frozenset({"InvalidAction", "UnsupportedOperation", "NotImplemented"})
MOVE_TASK_POLL_SECONDS = 0.2


def redrive(sqs: Any, resources: Resources, timeout: float = 60.0) -> RedriveResult:
    """Moves every DLQ message back to the source queue, as the console's "Start DLQ redrive" to a
    custom destination (the source queue) does.

    The destination is always named: SQS moves a message back to "its source" only when its own
    redrive policy put it in the DLQ, and a task meeting one that the function wrote with SendMessage
    fails with CouldNotDetermineMessageSource. Against an endpoint that lacks StartMessageMoveTask,
    the messages are received, sent with the same body and message attributes, and deleted, ten at
    a time.
    """
    single_try = boto3.session.Session().client(
        "sqs",
        endpoint_url=resources.endpoint_url,
        region_name=resources.region,
        config=Config(retries={"total_max_attempts": 1}),
        **CREDENTIALS,
    )
    try:
        handle = single_try.start_message_move_task(
            SourceArn=resources.dead_letter_queue_arn, DestinationArn=resources.queue_arn
        )["TaskHandle"]
    except ClientError as error:
        if not _lacks_action(error):
            raise
        return RedriveResult(_move_by_hand(sqs, resources, timeout), "receive-and-send")
    return RedriveResult(_wait_for_move_task(sqs, resources, str(handle), timeout), "StartMessageMoveTask")


def _lacks_action(error: ClientError) -> bool:
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(error.response.get("Error", {}).get("Code"))
    # An answer that is no AWS error document leaves botocore only the HTTP status as its code.
    return status >= 500 or code in _UNSUPPORTED_CODES or code == str(status)


def _wait_for_move_task(sqs: Any, resources: Resources, handle: str, timeout: float) -> int:
    """Waits until the task started with `handle` ends; returns how many messages it moved."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=resources.dead_letter_queue_arn, MaxResults=10)["Results"]
        # SQS lists the handle only while the task runs; once it has ended, it is the most recent task
        # (one active task per queue: none can have started after it while it ran).
        task = next((t for t in tasks if t.get("TaskHandle") == handle), None) or (tasks[0] if tasks else {})
        status = task.get("Status")
        if status == "COMPLETED":
            return int(task.get("ApproximateNumberOfMessagesMoved", 0))
        if status in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"message move task ended {status}: {task.get('FailureReason', 'no reason given')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"message move task not done after {timeout:g} s")
        time.sleep(MOVE_TASK_POLL_SECONDS)


def _move_by_hand(sqs: Any, resources: Resources, timeout: float) -> int:
    """Moves the messages that are in the DLQ now; not those that arrive while it runs.

    A redriven message that fails again at once (an invalid one, say) is written to the DLQ anew
    while the move goes on; moving it again would go round in circles. Those stay hidden until the
    move is done, then are made visible again.
    """
    to_move = {entry.message_id for entry in peek_dead_letters(sqs, resources.dead_letter_queue_url)}
    moved: set[str] = set()
    newcomers: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while moved != to_move:
            if time.monotonic() > deadline:
                raise TimeoutError(f"redrive not done after {timeout:g} s ({len(moved)} of {len(to_move)} moved)")
            messages = sqs.receive_message(
                QueueUrl=resources.dead_letter_queue_url,
                MaxNumberOfMessages=SQS_BATCH,
                VisibilityTimeout=max(60, int(timeout) + 10),
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            ).get("Messages")
            if not messages:
                break
            newcomers += [m["ReceiptHandle"] for m in messages if m["MessageId"] not in to_move]
            batch = [m for m in messages if m["MessageId"] in to_move]
            if batch:
                _send_and_delete(sqs, resources, batch)
                moved.update(m["MessageId"] for m in batch)
    finally:
        for chunk in _chunks(newcomers, SQS_BATCH):
            sqs.change_message_visibility_batch(
                QueueUrl=resources.dead_letter_queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(chunk)],
            )
    return len(moved)


def _send_and_delete(sqs: Any, resources: Resources, messages: Sequence[Mapping[str, Any]]) -> None:
    entries = [
        {
            "Id": str(i),
            "MessageBody": message["Body"],
            "MessageAttributes": {
                name: {key: value[key] for key in ("DataType", "StringValue", "BinaryValue") if key in value}
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
        }
        for i, message in enumerate(messages)
    ]
    sent = sqs.send_message_batch(QueueUrl=resources.queue_url, Entries=entries)
    if sent.get("Failed"):
        raise RuntimeError(f"redrive: messages not sent: {sent['Failed']}")
    sqs.delete_message_batch(
        QueueUrl=resources.dead_letter_queue_url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
    )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -------------------------------------------------------------------------------------- local stack


class LocalStack:
    """IVS emulator + moto server (SQS, EventBridge) provisioned from settings + the function behind
    an event source mapping runner; a context manager that starts all of it and stops all of it.

    Options:
    - `ivs`: an IvsEmulator to use (its lifecycle stays with the caller); otherwise one is started with
      `ivs_options` (e.g. `unauthorized_channels=[...]`, `seed=1`, `faults=Faults(...)`).
    - `ivs_url`: another IVS endpoint for the function to call; then no emulator runs.
    - `moto`: a running MotoServer to provision on (several stacks with different stack names can
      share one); otherwise the stack starts its own.
    - `handler`: the function's handler ("module.function"); None runs no function at all, and
      `start_function=False` provisions everything but starts polling only on `start_function()`.
    - `environment`, `python_path`: extra function environment variables and import folders.
    - `log_dir`: where the function's logs (one file per instance) and moto's go; None discards them.
    """

    def __init__(
        self,
        settings: DeploySettings | None = None,
        *,
        region: str = DEFAULT_REGION,
        ivs: IvsEmulator | None = None,
        ivs_options: Mapping[str, Any] | None = None,
        ivs_url: str | None = None,
        moto: MotoServer | None = None,
        handler: str | None = names.HANDLER,
        start_function: bool = True,
        environment: Mapping[str, str] | None = None,
        python_path: Sequence[str] = (),
        log_dir: Path | None = None,
    ) -> None:
        self.settings = settings or DeploySettings.from_cdk_json()
        self.region = region
        self._given_ivs = ivs
        self._ivs_options = dict(ivs_options or {})
        self._ivs_url = ivs_url
        self._given_moto = moto
        self._handler = handler
        self._start_function = start_function
        self._extra_environment = dict(environment or {})
        self._python_path = tuple(python_path)
        self.log_dir = log_dir
        self._stack = contextlib.ExitStack()
        self._ivs: IvsEmulator | None = None
        self._moto: MotoServer | None = None
        self._resources: Resources | None = None
        self.runner: EventSourceMapping | None = None
        self.sqs: Any = None
        self.events: Any = None

    # --- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> Self:
        if self._given_ivs is not None:
            self._ivs = self._given_ivs
        elif self._ivs_url is None:
            self._ivs = self._stack.enter_context(IvsEmulator(**self._ivs_options))
        if self._given_moto is not None:
            self._moto = self._given_moto
        else:
            moto_log = self.log_dir / "moto.log" if self.log_dir else None
            self._moto = self._stack.enter_context(MotoServer(moto_log))
        self._resources = provision(self.settings, self._moto.url, self.region)
        self.sqs = client("sqs", self._moto.url, self.region)
        self.events = client("events", self._moto.url, self.region)
        if self._handler is not None:
            self.runner = self._make_runner(self._handler)
            if self._start_function:
                self.start_function()
        return self

    def stop(self) -> None:
        """Stops the function, then moto's server, then the IVS emulator; Ctrl-C cannot cut it short."""
        with _sigint_deferred():
            if self.runner is not None:
                # No grace for invocations in flight: the queues they would settle end with the stack.
                self.runner.stop(timeout=0)
            self._stack.close()

    def start_function(self) -> None:
        if self.runner is None:
            raise RuntimeError("this stack runs no function (handler=None)")
        self.runner.start()

    def stop_function(self) -> None:
        if self.runner is not None:
            self.runner.stop()

    def _make_runner(self, handler: str) -> EventSourceMapping:
        settings = self.settings
        resources = self.resources
        return EventSourceMapping(
            MappingConfig(
                queue_url=resources.queue_url,
                queue_arn=resources.queue_arn,
                batch_size=settings.batch_size,
                batching_window_seconds=settings.max_batching_window_seconds,
                max_concurrency=settings.max_concurrency,
            ),
            FunctionConfig(
                handler=handler,
                environment={**self.function_environment, **self._extra_environment},
                timeout_seconds=settings.function_timeout_seconds,
                region=self.region,
                account_id=ACCOUNT_ID,
                name=f"{settings.stack_name}-Function",
                memory_mb=settings.function_memory_mb,
                python_path=self._python_path,
                log_dir=self.log_dir,
            ),
            endpoint_url=resources.endpoint_url,
            credentials=CREDENTIALS,
        )

    # --- what it is made of ---------------------------------------------------------------------
    @property
    def resources(self) -> Resources:
        if self._resources is None:
            raise RuntimeError("the stack is not started")
        return self._resources

    @property
    def ivs(self) -> IvsEmulator:
        if self._ivs is None:
            raise RuntimeError("the stack is not started")
        return self._ivs

    @property
    def endpoint_url(self) -> str:
        return self.resources.endpoint_url

    @property
    def function_environment(self) -> dict[str, str]:
        return function_environment(self.settings, self.resources, self.ivs_url)

    @property
    def ivs_url(self) -> str:
        """The IVS endpoint the function calls: `ivs_url` if given (no emulator runs), else the emulator's."""
        return self._ivs_url or self.ivs.url

    @property
    def pids(self) -> list[int]:
        """Child processes of the stack: moto's server and the function instances."""
        pids = list(self.runner.pids) if self.runner else []
        if self._moto is not None and self._moto.pid is not None and self._given_moto is None:
            pids.append(self._moto.pid)
        return pids

    def client(self, service: str) -> Any:
        """A boto3 client for moto's endpoint (SQS, EventBridge, ...), with the stack's credentials."""
        return client(service, self.endpoint_url, self.region)

    # --- producers ------------------------------------------------------------------------------
    def send(self, *bodies: Any) -> list[str]:
        """Sends each body (a str as is, anything else as JSON) with SendMessageBatch; returns the ids."""
        ids: list[str] = []
        texts = [body if isinstance(body, str) else json.dumps(body) for body in bodies]
        for chunk in _chunks(texts, SQS_BATCH):
            response = self.sqs.send_message_batch(
                QueueUrl=self.resources.queue_url,
                Entries=[{"Id": str(i), "MessageBody": text} for i, text in enumerate(chunk)],
            )
            if response.get("Failed"):
                raise RuntimeError(f"messages not sent: {response['Failed']}")
            by_id = {entry["Id"]: entry["MessageId"] for entry in response["Successful"]}
            ids.extend(by_id[str(i)] for i in range(len(chunk)))
        return ids

    def put_event(self, detail: Any, *, source: str = EVENT_SOURCE, detail_type: str = EVENT_DETAIL_TYPE) -> str:
        """Puts one event on the stack's bus (PutEvents); the rule routes a revocation event to the queue."""
        response = self.events.put_events(
            Entries=[
                {
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": detail if isinstance(detail, str) else json.dumps(detail),
                    "EventBusName": self.resources.event_bus_name,
                }
            ]
        )
        entry = response["Entries"][0]
        if response.get("FailedEntryCount") or "EventId" not in entry:
            raise RuntimeError(f"event not put: {entry}")
        event_id: str = entry["EventId"]
        return event_id

    # --- observers ------------------------------------------------------------------------------
    def drain(self, timeout: float = 60.0, on_poll: Callable[[Mapping[str, int]], None] | None = None) -> float:
        """Waits until the queue is empty and the function idle; returns the seconds it took.

        Raises local.runner.DrainTimeout after `timeout` seconds.
        """
        if self.runner is None:
            raise RuntimeError("this stack runs no function (handler=None): nothing would drain the queue")
        return self.runner.wait_until_drained(timeout, on_poll=on_poll)

    def queue_counts(self, queue_url: str | None = None) -> dict[str, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.resources.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return {name.removeprefix("ApproximateNumberOf"): int(value) for name, value in attributes.items()}

    def dead_letters(self) -> list[DeadLetterEntry]:
        """The DLQ's messages, oldest first, without consuming them."""
        return peek_dead_letters(self.sqs, self.resources.dead_letter_queue_url)

    def redrive_dead_letters(self, timeout: float = 60.0) -> RedriveResult:
        return redrive(self.sqs, self.resources, timeout)

    def purge(self) -> None:
        """Empties the queues and clears the IVS ledger (not the faults): a clean slate between tests.

        Receives and deletes rather than PurgeQueue, which SQS (and moto) allow once a minute per queue.
        Drain first: a message the function holds is not visible here.
        """
        for url in (
            self.resources.queue_url,
            self.resources.dead_letter_queue_url,
            self.resources.delivery_dead_letter_queue_url,
        ):
            while messages := self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=SQS_BATCH, VisibilityTimeout=60, WaitTimeSeconds=0
            ).get("Messages"):
                self.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
        self.ivs.reset()


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Holds a Ctrl-C back while the stack shuts down, and raises it afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def temporary_log_dir(prefix: str = "ivs-revocation-") -> Path:
    """A fresh folder for the function's and moto's logs, kept after the run for reading."""
    return Path(tempfile.mkdtemp(prefix=prefix))
