"""moto's server mode in a process of its own: `python -m local.moto_server` prints its URL and serves.

The server binds an ephemeral port on 127.0.0.1 (no race between picking a free port and binding it),
or the one given with `--port`, and prints its URL as the first line of stdout. It serves until its
stdin closes: the parent closes the pipe to stop it, and a parent that dies for any reason (Ctrl-C,
SIGKILL) closes it too, so the server never outlives the stack that started it.

A process rather than moto's in-process thread: the server keeps its own interpreter (its CPU time
does not compete for the GIL with the runner and the IVS emulator), and its backends cannot be
touched by a `mock_aws` that a test elsewhere in the same interpreter starts or resets.

moto 5.2's SQS does work in proportion to the queue's length several times over for every message it
receives (each receive reads all queue attributes, message counts included, once per message, through
datetime arithmetic), which makes draining a queue of thousands of messages take minutes. The
patches below, applied in this process only, compute the same values with less work; they change no
behaviour (see `_patch_moto_sqs`). One does fix a behaviour: moto's delete can undo a concurrent send.

Where moto is more lenient than SQS, this process makes it answer as SQS does (the README lists how):
SQS's character set (`_refusal`), sizes in bytes (`_message_bytes`), the message move tasks, which moto
5.2 lacks (`_MoveTasks`), and a queue's RedriveAllowPolicy in GetQueueAttributes.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import functools
import json
import logging
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.core.utils import get_service_model
from moto.iam.models import iam_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.sqs import models as sqs_models
from moto.sqs.exceptions import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    InvalidBatchEntryId,
    InvalidParameterValue,
    ReceiptHandleIsInvalid,
    SQSException,
    TooManyEntriesInBatchRequest,
)
from moto.sqs.responses import SQSResponse
from moto.sts import models as sts_models
from moto.utilities.utils import get_partition

from ivs_revocation.models import (
    SQS_DISALLOWED_CHARACTER,
    SQS_MAX_BATCH_ENTRIES,
    SQS_MAX_MESSAGE_BYTES,
    sqs_message_bytes,
)


def _patch_moto_sqs() -> None:
    """Same results, less work: without freezegun (never used in server mode) moto's datetime-based
    clock is `time.time()`; the retention check reads the one attribute it needs instead of all of
    them; reading named attributes computes the queue's attributes once rather than three times each.
    """
    original_unix_time = sqs_models.unix_time  # type: ignore[attr-defined]

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else original_unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    # moto.sqs.models imported these names from moto.core.utils; rebinding them there is enough.
    setattr(sqs_models, "unix_time", unix_time)  # noqa: B010
    setattr(sqs_models, "unix_time_millis", unix_time_millis)  # noqa: B010

    backend = sqs_models.SQSBackend

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    original_get_queue_attributes = backend.get_queue_attributes

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        queue = self.get_queue(queue_name)
        valid = {*queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES}
        if "All" in attribute_names or not set(attribute_names) <= valid:
            return original_get_queue_attributes(self, queue_name, attribute_names)
        attributes = queue.attributes
        return {name: attributes[name] for name in attribute_names if attributes.get(name) is not None}

    setattr(backend, "is_message_valid_based_on_retention_period", is_message_valid_based_on_retention_period)  # noqa: B010
    setattr(backend, "get_queue_attributes", get_queue_attributes)  # noqa: B010

    def delete_message(self: Any, receipt_handle: str) -> None:
        # moto rebuilds the message list and assigns it, without a lock: a send, a move to the DLQ or
        # another delete that happens meanwhile is undone (a sent message lost, a deleted one back).
        # Removing in place is one atomic list operation.
        if receipt_handle in self.deleted_messages:
            return
        for message in list(self._messages):
            if message.had_receipt_handle(receipt_handle):
                self.pending_messages.discard(message)
                self.deleted_messages.update(message.all_receipt_handles)
                with contextlib.suppress(ValueError):  # a concurrent delete of it came first
                    self._messages.remove(message)
                return
        raise ReceiptHandleIsInvalid()

    setattr(sqs_models.Queue, "delete_message", delete_message)  # noqa: B010

    # SendMessage reads queue.attributes for ContentBasedDeduplication only, and moto's property
    # counts every message of the queue for ApproximateNumberOf*: each send costs the queue's length.
    # A queue that only receives (a consumer's, such as the outcome events' watch queue, thousands
    # deep after a drain) made every PutEvents to it slower than the last. During a send, the property
    # answers the attributes SendMessage reads, without counting.
    original_attributes = sqs_models.Queue.attributes
    sending = threading.local()

    def attributes(self: Any) -> dict[str, Any]:
        if getattr(sending, "active", False):
            if not self.fifo_queue:
                return {}
            value = getattr(self, "content_based_deduplication", False)
            return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}
        everything: dict[str, Any] = original_attributes.__get__(self, type(self))
        return everything

    original_send_message = backend.send_message

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        sending.active = True
        try:
            return original_send_message(self, *args, **kwargs)
        finally:
            sending.active = False

    setattr(sqs_models.Queue, "attributes", property(attributes))  # noqa: B010
    setattr(backend, "send_message", send_message)  # noqa: B010


# ------------------------------------------------------------------- what SQS refuses, moto accepts

# SQS's own wording (the message names the first character it refused).
_ALLOWED_CHARACTERS = "#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]"


class InvalidMessageContents(SQSException):
    code = "InvalidMessageContents"


def _message_bytes(body: str, attributes: Mapping[str, Mapping[str, Any]]) -> int:
    """The message's size as SQS counts it (ivs_revocation.models.sqs_message_bytes), for any attribute.

    The helper counts String attributes, whose type it takes to be "String"; here a Binary value
    counts as its bytes would as a string, and a custom type ("String.json", "Number.int") adds the
    length by which its name exceeds "String".
    """
    values: dict[str, str] = {}
    extra = 0
    for name, value in attributes.items():
        if "StringValue" in value:
            values[name] = str(value["StringValue"])
        else:
            binary = value.get("BinaryValue") or b""
            # One character per byte, so that the helper counts the bytes.
            values[name] = "x" * len(binary if isinstance(binary, bytes) else str(binary).encode())
        extra += len(str(value.get("DataType", "")).encode()) - len("String")
    return sqs_message_bytes(body, values) + extra


def _refusal(queue: Any, body: str, attributes: Mapping[str, Mapping[str, Any]]) -> SQSException | None:
    """What SQS answers to this message for this queue, or None when it takes it."""
    texts = [("the message body", body)] + [
        (f"the value of message attribute '{name}'", str(value.get("StringValue", "")))
        for name, value in attributes.items()
    ]
    for where, text in texts:
        found = SQS_DISALLOWED_CHARACTER.search(text)
        if found:
            return InvalidMessageContents(
                f"Invalid binary character '#x{ord(found.group()):X}' was found in {where}, "
                f"the set of allowed characters is {_ALLOWED_CHARACTERS}."
            )
    limit = int(queue.maximum_message_size)
    if _message_bytes(body, attributes) > limit:
        return InvalidParameterValue(
            f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
        )
    return None


def _patch_sqs_contents() -> None:
    """SendMessage and SendMessageBatch refuse what SQS refuses (moto checks neither the character
    set nor sizes in bytes).
    """
    backend = sqs_models.SQSBackend
    original_send_message = backend.send_message
    original_send_message_batch = backend.send_message_batch

    def send_message(self: Any, queue_name: str, message_body: str, *args: Any, **kwargs: Any) -> Any:
        refused = _refusal(self.get_queue(queue_name), message_body, kwargs.get("message_attributes") or {})
        if refused is not None:
            raise refused
        return original_send_message(self, queue_name, message_body, *args, **kwargs)

    def send_message_batch(
        self: Any, queue_name: str, entries: dict[str, dict[str, Any]]
    ) -> tuple[list[Any], list[dict[str, Any]]]:
        queue = self.get_queue(queue_name)
        # What concerns the request as a whole refuses all of it, before any entry is looked at.
        ids = [entry["Id"] for entry in entries.values()]
        # Only ASCII letters, digits, hyphens and underscores (moto's `\w` also takes other letters, and
        # its `$` a trailing newline).
        if any(not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", entry_id) for entry_id in ids):
            raise InvalidBatchEntryId()
        total = sum(_message_bytes(e["MessageBody"], e.get("MessageAttributes") or {}) for e in entries.values())
        if total > SQS_MAX_MESSAGE_BYTES:
            raise BatchRequestTooLong(total)
        repeated = self._get_first_duplicate_id(ids)
        if repeated is not None:
            raise BatchEntryIdsNotDistinct(repeated)
        if len(entries) > SQS_MAX_BATCH_ENTRIES:
            raise TooManyEntriesInBatchRequest(len(entries))
        # An entry SQS refuses fails alone; the others are sent.
        failed: list[dict[str, Any]] = []
        accepted: dict[str, dict[str, Any]] = {}
        for key, entry in entries.items():
            refused = _refusal(queue, entry["MessageBody"], entry.get("MessageAttributes") or {})
            if refused is None:
                accepted[key] = entry
            else:
                failed.append(
                    {"Id": entry["Id"], "SenderFault": True, "Code": refused.code, "Message": refused.message}
                )
        if not accepted:
            return [], failed
        sent, also_failed = original_send_message_batch(self, queue_name, accepted)
        return sent, failed + also_failed

    setattr(backend, "send_message", send_message)  # noqa: B010
    setattr(backend, "send_message_batch", send_message_batch)  # noqa: B010


# ------------------------------------------------------------------------------- message move tasks

# Set on each moto message: the ARN of the queue that holds it, and, once the queue's redrive policy
# has moved it to a DLQ, the ARN of the queue it came from (what SQS redrives it to by default).
_HELD_BY = "_held_by_queue_arn"
_DEAD_LETTER_SOURCE = "_dead_letter_source_arn"

RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED = "RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED"
MAX_MOVE_RATE = 500  # MaxNumberOfMessagesPerSecond, at most (SQS API reference)
MAX_LISTED_TASKS = 10
# SQS's failure reasons (SQS developer guide, "Troubleshooting DLQ redrive").
COULD_NOT_DETERMINE_MESSAGE_SOURCE = "CouldNotDetermineMessageSource"
NON_EXISTENT_QUEUE = "AWS.SimpleQueueService.NonExistentQueue"


def _patch_dead_letter_source() -> None:
    """moto's redrive policy moves the message object itself to the DLQ (`add_message`); a message sent
    with SendMessage is a new object. So a message added while another queue holds it is being moved
    there by that queue's redrive policy, and that queue is its source.
    """
    original_add_message = sqs_models.Queue.add_message

    def add_message(self: Any, message: Any) -> None:
        held_by = getattr(message, _HELD_BY, None)
        if held_by is not None and held_by != self.queue_arn:
            setattr(message, _DEAD_LETTER_SOURCE, held_by)
        setattr(message, _HELD_BY, self.queue_arn)
        original_add_message(self, message)

    setattr(sqs_models.Queue, "add_message", add_message)  # noqa: B010


def _patch_redrive_allow_policy() -> None:
    """moto keeps a queue's RedriveAllowPolicy but GetQueueAttributes never shows it; SQS does."""
    queue = sqs_models.Queue
    setattr(queue, "redrive_allow_policy", None)  # noqa: B010  (a queue that was given none)
    if "RedriveAllowPolicy" not in queue.BASE_ATTRIBUTES:
        queue.BASE_ATTRIBUTES.append("RedriveAllowPolicy")


class ResourceNotFoundException(SQSException):
    code = "ResourceNotFoundException"


def _not_found(parameter: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"The resource that you specified for the {parameter} parameter doesn't exist.")


def _queue_by_arn(arn: str) -> Any | None:
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        return None
    _, _, _, region, account, name = parts
    if account not in sqs_models.sqs_backends or region not in sqs_models.sqs_backends[account]:
        return None
    return sqs_models.sqs_backends[account][region].queues.get(name)


def _backend_of(queue: Any) -> Any:
    return sqs_models.sqs_backends[queue.account_id][queue.region]


def _is_dead_letter_queue(queue: Any) -> bool:
    return any(
        (other.redrive_policy or {}).get("deadLetterTargetArn") == queue.queue_arn
        for other in _backend_of(queue).queues.values()
    )


@dataclass
class _MoveTask:
    """One message move task, as ListMessageMoveTasks shows it, and the worker that moves its messages."""

    task_id: str
    source_arn: str
    destination_arn: str | None
    rate: int | None
    started_ms: int
    to_move: list[Any]  # the messages visible in the source when the task started, oldest first
    status: str = RUNNING
    moved: int = 0
    failure_reason: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def handle(self) -> str:
        # SQS's handle is base64 of this JSON (the API reference's examples decode to it).
        text = json.dumps({"taskId": self.task_id, "sourceArn": self.source_arn}, separators=(",", ":"))
        return base64.b64encode(text.encode()).decode()

    def result_entry(self) -> dict[str, Any]:
        # As SQS answers: the handle only while the task runs, the rest only when there is one.
        optional = {
            "TaskHandle": self.handle if self.status == RUNNING else None,
            "DestinationArn": self.destination_arn,
            "MaxNumberOfMessagesPerSecond": self.rate,
            "FailureReason": self.failure_reason,
        }
        return {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": len(self.to_move),
            "StartedTimestamp": self.started_ms,
            **{name: value for name, value in optional.items() if value is not None},
        }


def _decode_handle(handle: str) -> tuple[str, str]:
    try:
        decoded = json.loads(base64.b64decode(handle, validate=True))
        return str(decoded["taskId"]), str(decoded["sourceArn"])
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise InvalidParameterValue("Value for parameter TaskHandle is invalid.") from error


class _MoveTasks:
    """StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask with SQS's documented rules.

    - The source must exist and be a dead-letter queue: some queue's redrive policy names it.
    - One active (RUNNING or CANCELLING) task per source queue.
    - The task moves the messages that are visible in the source when it starts, oldest first; a
      message that arrives later (a redriven message that failed again, say) waits for the next task,
      and one that is in flight when its turn comes is left where it is.
    - Each is sent to the destination as a new message (new ID, enqueue time and receive count; body
      and message attributes kept), then deleted from the source.
    - Without a destination, each goes back to the queue whose redrive policy moved it to the DLQ. A
      message that got there otherwise (SendMessage) has no such queue: the task stops FAILED with
      `CouldNotDetermineMessageSource`; what was moved stays moved, the rest stays in the DLQ. A
      destination that no longer exists fails it with `AWS.SimpleQueueService.NonExistentQueue`.
    - `MaxNumberOfMessagesPerSecond` (1 to 500) paces the moves; without it, messages move at once.
    - Cancelling a RUNNING task makes it CANCELLING, then CANCELLED before its next message.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_source: dict[str, list[_MoveTask]] = {}  # most recent first

    def start_task(self, source_arn: str, destination_arn: str | None, rate: int | None) -> str:
        source = _queue_by_arn(source_arn)
        if source is None:
            raise _not_found("SourceArn")
        if not _is_dead_letter_queue(source):
            raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
        if destination_arn is not None and _queue_by_arn(destination_arn) is None:
            raise _not_found("DestinationArn")
        if rate is not None and not 1 <= rate <= MAX_MOVE_RATE:
            raise InvalidParameterValue(
                f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. "
                f"Reason: must be between 1 and {MAX_MOVE_RATE}."
            )
        with self._lock:
            tasks = self._by_source.setdefault(source_arn, [])
            if any(task.status in (RUNNING, CANCELLING) for task in tasks):
                raise InvalidParameterValue(
                    "There is already a task running. Only one active task is allowed for a source queue arn "
                    "at a given time."
                )
            task = _MoveTask(
                task_id=str(uuid.uuid4()),
                source_arn=source_arn,
                destination_arn=destination_arn,
                rate=rate,
                started_ms=int(time.time() * 1000),
                to_move=[m for m in list(source._messages) if m.visible and not m.delayed],
            )
            tasks.insert(0, task)
        threading.Thread(target=self._run, args=(task, source), name=f"move-task-{task.task_id}", daemon=True).start()
        return task.handle

    def list_tasks(self, source_arn: str, max_results: int | None) -> list[dict[str, Any]]:
        if _queue_by_arn(source_arn) is None:
            raise _not_found("SourceArn")
        count = 1 if max_results is None else max_results
        if not 1 <= count <= MAX_LISTED_TASKS:
            raise InvalidParameterValue(
                f"Value {count} for parameter MaxResults is invalid. Reason: must be between 1 and {MAX_LISTED_TASKS}."
            )
        with self._lock:
            return [task.result_entry() for task in self._by_source.get(source_arn, [])[:count]]

    def cancel_task(self, handle: str) -> int:
        task_id, source_arn = _decode_handle(handle)
        if _queue_by_arn(source_arn) is None:
            raise _not_found("SourceArn")
        with self._lock:
            task = next((t for t in self._by_source.get(source_arn, []) if t.task_id == task_id), None)
            # Only a running task can be cancelled; its handle is given only while it runs.
            if task is None or task.status != RUNNING:
                raise ResourceNotFoundException("Task does not exist.")
            task.status = CANCELLING
            task.cancelled.set()
            return task.moved

    def _end(self, task: _MoveTask, status: str, reason: str | None = None) -> None:
        with self._lock:
            task.status = status
            task.failure_reason = reason

    def _run(self, task: _MoveTask, source: Any) -> None:
        interval = 1.0 / task.rate if task.rate else 0.0
        for message in task.to_move:
            if task.cancelled.is_set():
                return self._end(task, CANCELLED)
            if not message.visible or message.delayed:
                continue  # in flight: a consumer holds it
            destination_arn = task.destination_arn or getattr(message, _DEAD_LETTER_SOURCE, None)
            if destination_arn is None:
                return self._end(task, FAILED, COULD_NOT_DETERMINE_MESSAGE_SOURCE)
            destination = _queue_by_arn(destination_arn)
            if destination is None:
                return self._end(task, FAILED, NON_EXISTENT_QUEUE)
            try:
                source._messages.remove(message)  # claimed: no receive can hand it out any more
            except ValueError:
                continue  # deleted meanwhile
            try:
                _backend_of(destination).send_message(
                    destination.name,
                    message.body,
                    message_attributes=copy.deepcopy(message.message_attributes),
                    group_id=message.group_id,
                    deduplication_id=message.deduplication_id,
                    system_attributes=copy.deepcopy(message.system_attributes),
                )
            except SQSException as error:
                source._messages.insert(0, message)  # not moved: back in the DLQ
                return self._end(task, FAILED, error.code)
            source.pending_messages.discard(message)
            with self._lock:
                task.moved += 1
            if interval and task.cancelled.wait(interval):
                return self._end(task, CANCELLED)
        self._end(task, CANCELLED if task.cancelled.is_set() else COMPLETED)


def _install_move_tasks() -> None:
    """Serves the three actions through moto's SQS responder, which parses the request and writes the
    answer for both protocols (JSON, `X-Amz-Target: AmazonSQS.<Action>`, and query, `Action=<Action>`)
    from botocore's SQS model.
    """
    tasks = _MoveTasks()
    Action = Callable[[Any], dict[str, Any]]

    def serve(action: Action) -> Action:
        """Makes `action` (the answer, read from moto's responder) the responder's method of its name."""

        # Errors keep moto's 400: the SQS API reference gives ResourceNotFoundException of these actions 400 too.
        def respond(response: Any) -> Any:
            return ActionResult(action(response))

        setattr(SQSResponse, action.__name__, respond)
        return action

    @serve
    def start_message_move_task(response: Any) -> dict[str, Any]:
        rate = response._get_param("MaxNumberOfMessagesPerSecond")
        source, destination = response._get_param("SourceArn"), response._get_param("DestinationArn") or None
        return {"TaskHandle": tasks.start_task(source, destination, None if rate is None else int(rate))}

    @serve
    def list_message_move_tasks(response: Any) -> dict[str, Any]:
        max_results = response._get_param("MaxResults")
        count = None if max_results is None else int(max_results)
        return {"Results": tasks.list_tasks(response._get_param("SourceArn"), count)}

    @serve
    def cancel_message_move_task(response: Any) -> dict[str, Any]:
        return {"ApproximateNumberOfMessagesMoved": tasks.cancel_task(response._get_param("TaskHandle"))}

    # moto's own additions to botocore's SQS model, which name the query protocol's XML elements, lack
    # these actions; without them the query answers are not SQS's (`<ListMessageMoveTasksResult>`
    # holding `<ListMessageMoveTasksResultEntry>` elements), and a query client reads nothing.
    model = get_service_model("sqs")._service_description
    for operation in ("StartMessageMoveTask", "ListMessageMoveTasks", "CancelMessageMoveTask"):
        model["operations"][operation]["output"]["resultWrapper"] = f"{operation}Result"
    model["shapes"]["ListMessageMoveTasksResultEntryList"]["member"]["locationNameForQueryCompatibility"] = (
        "ListMessageMoveTasksResultEntry"
    )


class _AccessDenied(ServiceException):
    code = "AccessDenied"


def _patch_event_delivery() -> None:
    """A rule's delivery without an input transformer fills moto's default template, whose eight JSON
    paths moto parses anew for every event and target (a parser built each time: most of a PutEvents'
    cost). The parsed paths are kept; what is delivered is the same."""
    import jsonpath_ng.ext

    parse = getattr(jsonpath_ng.ext, "parse")  # noqa: B009
    setattr(jsonpath_ng.ext, "parse", functools.lru_cache(maxsize=256)(parse))  # noqa: B010


def _patch_sts_assume_role() -> None:
    """AssumeRole of a role that does not exist is refused, as STS refuses it (AccessDenied, 403);
    moto's own assumes any ARN, which would let the local stack pass where AWS fails. The role's trust
    policy is not read: any caller may assume a role that exists (docs/many-accounts.md)."""
    original = sts_models.STSBackend.assume_role

    def assume_role(self: Any, **kwargs: Any) -> Any:
        role_arn = str(kwargs.get("role_arn") or "")
        parts = role_arn.split(":", 5)
        account = parts[4] if len(parts) == 6 else ""
        try:
            iam_backends[account][get_partition(kwargs.get("region_name") or "us-east-1")].get_role_by_arn(role_arn)
        except Exception:
            # STS answers 403; moto's serializer takes the status from the model, which has no
            # AccessDenied shape, so here it is 400 (the code is what clients read).
            raise _AccessDenied(f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}") from None
        return original(self, **kwargs)

    sts_models.STSBackend.assume_role = assume_role  # type: ignore[method-assign,assignment]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.moto_server")
    parser.add_argument("--port", type=int, default=0, help="the port to bind (default: a free one)")
    args = parser.parse_args(argv)
    # Ctrl-C reaches the whole process group; the parent stops us in order instead (closing stdin).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _patch_moto_sqs()
    _patch_sqs_contents()
    _patch_dead_letter_source()
    _patch_redrive_allow_policy()
    _install_move_tasks()
    _patch_sts_assume_role()
    _patch_event_delivery()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"http://{host}:{port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
