"""Redrive: the dead-letter queue's messages back to a queue, by SQS's move task or from here.

A dead letter the function wrote reached the DLQ with SendMessage, so SQS does not know where it came
from: a StartMessageMoveTask without DestinationArn fails for it with CouldNotDetermineMessageSource
(SQS developer guide, "Troubleshooting DLQ redrive"). Every redrive here therefore names its destination.

An InvalidMessage letter (the function found its body no request) can only fail again if it is moved
back unchanged, so a redrive leaves those in the DLQ unless asked to move them (`include_invalid`).
StartMessageMoveTask cannot do that: it has no filter (SourceArn, DestinationArn and a rate are all it
takes) and moves every message of the queue. So when the DLQ holds InvalidMessage letters, the others
are moved from here instead (`move_messages`), which leaves them where they are. Moving them aside to a
holding queue around the task was the other way: it needs a queue the stack does not have and two more
moves of each of them, each one more chance to leave a letter behind in the wrong queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from ivs_revocation.models import SQS_MAX_BATCH_ENTRIES, SQS_MAX_MESSAGE_BYTES
from ivs_revoke.dlq import (
    DEFAULT_SCAN_VISIBILITY_SECONDS,
    MAX_RECEIVES_WITHOUT_NEW,
    SCAN_WAIT_SECONDS,
    DeadLetter,
    scan,
)
from ivs_revoke.errors import ConfigurationError, ServiceError
from ivs_revoke.senders import Clock, Sleep, pack, queue_max_message_bytes
from ivs_revoke.sqs import delete, make_visible, queue_arn, queue_url_of, receive

Note = Callable[[str], None]

TASK: Final = "StartMessageMoveTask"
CLIENT_SIDE: Final = "MessageMove"
MOVE_TASK_POLL_SECONDS: Final = 2.0
TERMINAL_TASK_STATES: Final = frozenset({"COMPLETED", "CANCELLED", "FAILED"})
# Polls in a row that do not list the task just started before the wait gives up on it.
MAX_POLLS_UNLISTED: Final = 5
# Why a client-side move left a message where it was: the destination's MaximumMessageSize.
CODE_TOO_LARGE: Final = "TooLargeForDestination"
# Codes an endpoint answers when it does not implement an action (SQS's query and JSON protocols).
# Not UnsupportedOperation: that is one of StartMessageMoveTask's own errors, SQS refusing this call
# (e.g. for a FIFO queue), which a move from here would do regardless.
_UNSUPPORTED_CODES: Final = frozenset({"InvalidAction", "UnknownOperationException", "NotImplemented"})
# Statuses of an answer without an error document that still mean "no such action" (not a transient fault).
_UNSUPPORTED_STATUSES: Final = frozenset({400, 404, 405, 500, 501})
# Endpoints of AWS itself (commercial, China, dual-stack), where a missing action is never the answer.
_AWS_DOMAINS: Final = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


@dataclass(frozen=True)
class Destination:
    """Where a redrive sends the messages; `url` is None when only the ARN is known (a stack output)."""

    arn: str
    url: str | None = None


@dataclass(frozen=True)
class RedriveResult:
    """What a redrive did: `output` is what `ivs-revoke dlq redrive` prints, titled `method`; `moved` is
    None for a task not waited for; `problem` says why not everything moved."""

    method: str
    output: dict[str, Any]
    moved: int | None = None
    problem: str | None = None


def holds_invalid_letters(sqs: Any, dlq_url: str) -> bool:
    """The DLQ holds an InvalidMessage letter: read as `dlq list` reads it (nothing consumed), up to the
    first one. Only the ErrorCode attribute the function wrote counts, not a reading of the body here: a
    letter SQS's redrive policy moved bare (the function failed on its batch) has never been judged and
    may well pass once the cause is fixed."""
    return any(letter.invalid for letter in scan(sqs, dlq_url, stop_at=lambda letter: letter.invalid))


def only_source_queue(sqs: Any, dlq_url: str, preferred_url: str | None = None) -> Destination:
    """The DLQ's one source queue; a ConfigurationError naming what was found when there is not one.

    When several queues share the DLQ (the bulk and the urgent lane), `preferred_url` (the bulk queue the
    command is configured with) settles it if it is one of them: a dead letter of either lane is tried
    again in the bulk lane.
    """
    pages = sqs.get_paginator("list_dead_letter_source_queues").paginate(QueueUrl=dlq_url)
    urls = [str(url) for page in pages for url in page.get("queueUrls", [])]
    if preferred_url is not None and len(urls) > 1 and preferred_url in urls:
        urls = [preferred_url]
    if not urls:
        raise ConfigurationError(
            f"no queue names {dlq_url} as its dead-letter queue (ListDeadLetterSourceQueues found none), "
            "so there is no source queue to move its messages back to: name the queue with --destination-url"
        )
    if len(urls) > 1:
        raise ConfigurationError(
            f"{len(urls)} queues name {dlq_url} as their dead-letter queue ({', '.join(urls)}): "
            "choose the one to move its messages to with --destination-url (or set IVS_REVOKE_QUEUE_URL to one of them)"
        )
    return Destination(arn=queue_arn(sqs, urls[0]), url=urls[0])


def is_aws_endpoint(url: str) -> bool:
    """The endpoint is AWS's own (a regional, FIPS or VPC endpoint), not a local stand-in."""
    host = (urlparse(url).hostname or "").lower()
    return host.endswith(_AWS_DOMAINS)


def is_unsupported(error: ClientError) -> bool:
    """The endpoint does not implement the action (a local stand-in), rather than refusing this call."""
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    # An answer that is no AWS error document (moto's server answers an action it lacks with an HTML
    # page and a 500) leaves botocore only the HTTP status as the code.
    return code in _UNSUPPORTED_CODES or (status in _UNSUPPORTED_STATUSES and code == str(status))


def redrive(
    sqs: Any,
    dlq_url: str,
    destination: Destination,
    *,
    rate: int | None = None,
    client_side: bool = False,
    include_invalid: bool = True,
    wait: bool = True,
    poll_seconds: float = MOVE_TASK_POLL_SECONDS,
    timeout: float | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    note: Note = lambda text: None,
) -> RedriveResult:
    """Moves the DLQ's messages to `destination` with StartMessageMoveTask, or from here (`client_side`,
    and on its own where an endpoint that is not AWS's lacks the task). Without `include_invalid`,
    InvalidMessage letters stay in the DLQ (moved from here when there are any, see the module's
    docstring) and the output says how many were left. With `wait`, `note` gets the progress; it always
    hears of a fallback and of letters left."""
    # Said only where letters were looked at: with include_invalid, none is left on purpose.
    left_key = {} if include_invalid else {"invalidMessagesLeft": 0}
    if not client_side and not include_invalid and holds_invalid_letters(sqs, dlq_url):
        note(
            "the dead-letter queue holds InvalidMessage letters, which StartMessageMoveTask would move with the "
            "rest (it cannot filter): moving the others from here instead (--include-invalid moves them all)"
        )
        client_side = True
    if not client_side:
        # Checked just before: an InvalidMessage letter the function writes after the check moves with the
        # rest. Tried again, it comes back with its reason, as before this check; nothing is lost.
        source_arn = queue_arn(sqs, dlq_url)
        parameters: dict[str, Any] = {"SourceArn": source_arn, "DestinationArn": destination.arn}
        if rate is not None:
            parameters["MaxNumberOfMessagesPerSecond"] = rate
        try:
            handle = str(sqs.start_message_move_task(**parameters)["TaskHandle"])
        except ClientError as error:
            # Only a stand-in endpoint may lack the task; against AWS, its answer is the answer.
            if is_aws_endpoint(sqs.meta.endpoint_url) or not is_unsupported(error):
                raise
            note(
                f"{sqs.meta.endpoint_url} does not implement StartMessageMoveTask: "
                "moving the messages from here instead (--client-side)"
            )
        else:
            output: dict[str, Any] = {
                "taskHandle": handle,
                "sourceArn": source_arn,
                "destinationArn": destination.arn,
                **left_key,
            }
            if not wait:
                return RedriveResult(TASK, output)
            task = wait_for_move_task(
                sqs, source_arn, handle, poll_seconds=poll_seconds, timeout=timeout, sleep=sleep, clock=clock, note=note
            )
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            problem = None
            if task.get("Status") != "COMPLETED":
                problem = (
                    f"the move task ended {task.get('Status')}: {task.get('FailureReason', 'no reason given')} "
                    f"({moved} messages moved; the rest stay in the dead-letter queue)"
                )
            return RedriveResult(TASK, output | {"messagesMoved": moved, "task": task}, moved, problem)

    destination_url = destination.url or queue_url_of(sqs, destination.arn)
    progress = (lambda moved: note(f"RUNNING: {moved} messages moved")) if wait else None
    result = move_messages(
        sqs,
        dlq_url,
        destination_url,
        rate=rate,
        include_invalid=include_invalid,
        sleep=sleep,
        clock=clock,
        progress=progress,
    )
    output = {"deadLetterQueueUrl": dlq_url, "destinationUrl": destination_url, "messagesMoved": result.moved}
    if not include_invalid:
        output["invalidMessagesLeft"] = result.invalid_left
    if result.invalid_left:
        note(
            f"{result.invalid_left} InvalidMessage dead letters left in the dead-letter queue: their bodies are no "
            "request, so tried again they can only fail again (ivs-revoke dlq list shows why; "
            "--include-invalid moves them too)"
        )
    if not result.failed:
        return RedriveResult(CLIENT_SIDE, output, result.moved)
    problem = f"{len(result.failed)} messages could not be moved; they stay in the dead-letter queue"
    return RedriveResult(CLIENT_SIDE, output | {"failed": result.failed}, result.moved, problem)


# --- The move task -------------------------------------------------------------------------------


def move_task(sqs: Any, source_arn: str, task_handle: str) -> dict[str, Any] | None:
    """The task's latest state, None when it is not listed. SQS lists the most recent task first and
    names its handle only while it runs; only one task at a time may move from a queue."""
    results = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10).get("Results", [])
    for result in results:
        if result.get("TaskHandle") == task_handle:
            return dict(result)
    finished = [result for result in results if result.get("Status") in TERMINAL_TASK_STATES]
    return dict(finished[0]) if finished and results[0] is finished[0] else None


def wait_for_move_task(
    sqs: Any,
    source_arn: str,
    task_handle: str,
    *,
    poll_seconds: float,
    timeout: float | None,
    sleep: Sleep,
    clock: Clock,
    note: Note,
) -> dict[str, Any]:
    """Polls until the task ends; `note` hears each change of its progress."""
    deadline = None if timeout is None else clock() + timeout
    unlisted = 0
    shown: tuple[Any, ...] | None = None
    while True:
        task = move_task(sqs, source_arn, task_handle)
        if task is None:
            unlisted += 1
            if unlisted >= MAX_POLLS_UNLISTED:
                raise ServiceError(f"ListMessageMoveTasks does not list the move task {task_handle} from {source_arn}")
        else:
            unlisted = 0
            state = (
                task.get("Status"),
                task.get("ApproximateNumberOfMessagesMoved"),
                task.get("ApproximateNumberOfMessagesToMove"),
            )
            if state != shown:
                shown = state
                to_move = state[2] if state[2] is not None else "?"
                note(f"{state[0]}: {state[1] or 0} of {to_move} messages moved")
            if task.get("Status") in TERMINAL_TASK_STATES:
                return task
        if deadline is not None and clock() > deadline:
            raise ServiceError(f"the move task {task_handle} is not done after {timeout:g} s")
        sleep(poll_seconds)


# --- Redrive from here, for endpoints without the move task --------------------------------------


@dataclass
class MoveResult:
    moved: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    invalid_left: int = 0  # InvalidMessage letters left in the DLQ on purpose (not failures)


def move_messages(
    sqs: Any,
    dlq_url: str,
    destination_url: str,
    *,
    rate: int | None,
    include_invalid: bool = True,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    progress: Callable[[int], None] | None = None,
) -> MoveResult:
    """What StartMessageMoveTask does, done here: receive, send to the destination with the same body
    and attributes, delete from the DLQ only what the destination accepted.

    Nothing is consumed that was not sent: a message the destination cannot take (too large for its
    MaximumMessageSize, refused by SendMessageBatch, or a call that failed) stays in the DLQ, hidden
    until the move ends so that it is not tried again in a loop, then visible again.

    Only messages already in the DLQ when the move started are moved: a redriven pair that fails again
    comes back as a new message, which is left for the next redrive instead of going round forever.
    Without `include_invalid`, InvalidMessage letters are left too, like those, and counted.
    """
    started_ms = int(time.time() * 1000)
    started = clock()
    limit = queue_max_message_bytes(sqs, destination_url)
    result = MoveResult()
    handles: dict[str, str] = {}  # message id -> latest receipt handle, of every message received, not deleted
    kept: set[str] = set()  # the ids of the messages left in the DLQ
    without_new = 0
    try:
        while True:
            messages = receive(
                sqs, dlq_url, visibility_timeout=DEFAULT_SCAN_VISIBILITY_SECONDS, wait_seconds=SCAN_WAIT_SECONDS
            )
            if not messages:
                break
            due: list[DeadLetter] = []
            for letter in map(DeadLetter.from_message, messages):
                handles[letter.message_id] = letter.receipt_handle
                if letter.message_id in kept or (letter.sent_timestamp_ms or 0) > started_ms:
                    kept.add(letter.message_id)
                elif letter.invalid and not include_invalid:
                    kept.add(letter.message_id)
                    result.invalid_left += 1
                else:
                    due.append(letter)
            without_new = 0 if due else without_new + 1
            if without_new >= MAX_RECEIVES_WITHOUT_NEW:
                break
            fitting: list[DeadLetter] = []
            for letter in due:
                size = letter.size()
                if size > limit:
                    kept.add(letter.message_id)
                    reason = f"{size} bytes with its attributes, over the destination's MaximumMessageSize of {limit}"
                    result.failed.append(_failure(letter, CODE_TOO_LARGE, reason))
                else:
                    fitting.append(letter)
            sizes = [letter.size() for letter in fitting]
            for group in pack(sizes, max_items=SQS_MAX_BATCH_ENTRIES, max_bytes=SQS_MAX_MESSAGE_BYTES, separator=0):
                _move_batch(sqs, dlq_url, destination_url, fitting[group.start : group.stop], result, handles, kept)
            if due and progress is not None:
                progress(result.moved)
            if rate:
                # Paced by messages moved: at most `rate` a second on average since the start.
                ahead = result.moved / rate - (clock() - started)
                if ahead > 0:
                    sleep(ahead)
    finally:
        # Whatever was not deleted is made visible again, also when the move was cut short.
        make_visible(sqs, dlq_url, handles.values())
    return result


def _move_batch(
    sqs: Any,
    dlq_url: str,
    destination_url: str,
    letters: list[DeadLetter],
    result: MoveResult,
    handles: dict[str, str],
    kept: set[str],
) -> None:
    entries = [
        {
            "Id": str(number),
            "MessageBody": letter.body,
            **({"MessageAttributes": _sendable(letter.raw_attributes)} if letter.raw_attributes else {}),
        }
        for number, letter in enumerate(letters)
    ]
    response = sqs.send_message_batch(QueueUrl=destination_url, Entries=entries)
    sent = [letters[int(entry["Id"])] for entry in response.get("Successful", [])]
    sent_ids = {letter.message_id for letter in sent}
    for entry in response.get("Failed", []):
        result.failed.append(_failure(letters[int(entry["Id"])], entry.get("Code"), entry.get("Message")))
    for letter in letters:
        if letter.message_id not in sent_ids:
            kept.add(letter.message_id)  # neither sent nor answered for: it stays
    if not sent:
        return
    deleted = delete(sqs, dlq_url, [letter.receipt_handle for letter in sent])
    for entry in deleted.get("Successful", []):
        del handles[sent[int(entry["Id"])].message_id]
        result.moved += 1
    for entry in deleted.get("Failed", []):
        letter = sent[int(entry["Id"])]
        kept.add(letter.message_id)
        # Sent and still in the DLQ: it is in both queues, which a redrive of an idempotent request allows.
        reason = f"sent, but not deleted from the dead-letter queue: {entry.get('Message')}"
        result.failed.append(_failure(letter, entry.get("Code"), reason))


def _failure(letter: DeadLetter, code: str | None, reason: str | None) -> dict[str, Any]:
    return {"messageId": letter.message_id, "code": code, "reason": reason}


def _sendable(attributes: dict[str, Any]) -> dict[str, Any]:
    keys = ("DataType", "StringValue", "BinaryValue")
    return {name: {key: value[key] for key in keys if key in value} for name, value in attributes.items()}
