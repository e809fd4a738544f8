"""The dead-letter queue, as an operator sees it: what failed and why, counts by code, and redrive.

Reading never consumes: messages are received, never deleted, and made visible again at the end. They
are hidden (a short visibility timeout) while the scan pages through the queue, because with a timeout
of 0 every receive may return the same few messages and the rest would never be seen.

A DLQ message is one of (see README, "Dead-letter messages"):
- written by the function: a valid request for the failed pairs, `errors` beside them (the API's
  per-pair shape), attributes ErrorCode, ErrorMessage, SourceMessageId, Attempts, RequestId;
- written by the function for a message that was not a valid request: the original body, verbatim,
  with the same attributes;
- moved by SQS's redrive policy (the function crashed or timed out): the original body, no attributes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlparse

from botocore.exceptions import ClientError
from pydantic import ValidationError

from ivs_revoke.errors import ConfigurationError, ServiceError
from ivs_revoke.senders import pack, queue_max_message_bytes
from revocation.intake import ValidRequest, read_request
from revocation.models import (
    ATTR_ATTEMPTS,
    ATTR_ERROR_CODE,
    ATTR_ERROR_MESSAGE,
    ATTR_REQUEST_ID,
    ATTR_SOURCE_MESSAGE_ID,
    SQS_MAX_BATCH_ENTRIES,
    SQS_MAX_MESSAGE_BYTES,
    DeadLetterMessage,
    RevocationError,
    ViewerSession,
    loads_unambiguous,
    sqs_message_bytes,
)

Sleep = Callable[[float], None]
Clock = Callable[[], float]

MAX_MESSAGES_PER_RECEIVE: Final = 10
# Long enough to page through a large queue, short enough that a scan cut short (a crash, Ctrl-C before
# the visibility is restored) leaves the messages hidden only briefly.
DEFAULT_SCAN_VISIBILITY_SECONDS: Final = 30
# A long poll waits for every SQS server; an empty answer then means no visible message is left.
SCAN_WAIT_SECONDS: Final = 1
# Receives in a row that bring nothing new (messages reappearing) before a scan stops.
MAX_RECEIVES_WITHOUT_NEW: Final = 3
NO_CODE: Final = "(none)"
TERMINAL_TASK_STATES: Final = frozenset({"COMPLETED", "CANCELLED", "FAILED"})
# Polls in a row that do not list the task just started before the wait gives up on it.
MAX_POLLS_UNLISTED: Final = 5
# Why a client-side move left a message where it was: the destination's MaximumMessageSize.
CODE_TOO_LARGE: Final = "TooLargeForDestination"
# Codes an endpoint answers when it does not implement an action (SQS's query and JSON protocols).
_UNSUPPORTED_CODES: Final = frozenset(
    {
        "InvalidAction",
        "UnknownOperationException",
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        "NotImplemented",
    }
)
# Statuses of an answer without an error document that still mean "no such action" (not a transient fault).
_UNSUPPORTED_STATUSES: Final = frozenset({400, 404, 405, 500, 501})
# Endpoints of AWS itself (commercial, China, dual-stack), where a missing action is never the answer.
_AWS_DOMAINS: Final = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str] = field(default_factory=dict)  # message attributes with a string value
    raw_attributes: dict[str, Any] = field(default_factory=dict)  # as received, to send on unchanged
    sent_timestamp_ms: int | None = None

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> DeadLetter:
        raw = message.get("MessageAttributes") or {}
        sent = (message.get("Attributes") or {}).get("SentTimestamp")
        return cls(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            attributes={name: value["StringValue"] for name, value in raw.items() if "StringValue" in value},
            raw_attributes=raw,
            sent_timestamp_ms=int(sent) if sent and sent.isdigit() else None,
        )


def _receive(sqs: Any, queue_url: str, visibility_timeout: int) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=MAX_MESSAGES_PER_RECEIVE,
        VisibilityTimeout=visibility_timeout,
        WaitTimeSeconds=SCAN_WAIT_SECONDS,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    )
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages


def _make_visible(sqs: Any, queue_url: str, receipt_handles: Sequence[str]) -> None:
    for start in range(0, len(receipt_handles), MAX_MESSAGES_PER_RECEIVE):
        entries = [
            {"Id": str(number), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for number, handle in enumerate(receipt_handles[start : start + MAX_MESSAGES_PER_RECEIVE])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def scan(
    sqs: Any,
    queue_url: str,
    *,
    max_items: int | None = None,
    visibility_timeout: int = DEFAULT_SCAN_VISIBILITY_SECONDS,
) -> list[DeadLetter]:
    """The queue's messages, each once, oldest receive first; none deleted, all visible again after."""
    seen: dict[str, DeadLetter] = {}
    handles: dict[str, str] = {}  # the latest receipt handle of each message: only it can change visibility
    without_new = 0
    try:
        while max_items is None or len(seen) < max_items:
            messages = _receive(sqs, queue_url, visibility_timeout)
            if not messages:
                break
            new = 0
            for message in messages:
                handles[message["MessageId"]] = message["ReceiptHandle"]
                if message["MessageId"] not in seen:
                    seen[message["MessageId"]] = DeadLetter.from_message(message)
                    new += 1
            without_new = 0 if new else without_new + 1
            if without_new >= MAX_RECEIVES_WITHOUT_NEW:
                break
    finally:
        if visibility_timeout > 0:
            _make_visible(sqs, queue_url, list(handles.values()))
    letters = list(seen.values())
    return letters if max_items is None else letters[:max_items]


# --- What a letter holds -----------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """A letter's pairs with their errors, or why its body is not a request."""

    sessions: tuple[ViewerSession, ...] = ()
    errors: tuple[RevocationError, ...] = ()
    request_id: str | None = None
    invalid_reason: str | None = None


def read_letter(letter: DeadLetter) -> Reading:
    try:
        # Read without guessing: a body with a repeated key is no request, whatever pydantic would keep.
        message = DeadLetterMessage.model_validate(loads_unambiguous(letter.body))
        return Reading(tuple(message.viewer_sessions), tuple(message.errors), message.request_id)
    except (ValueError, ValidationError):
        pass
    # Not written by the function as a dead letter: read it as the function reads any message.
    intake = read_request(letter.body)
    if isinstance(intake, ValidRequest):
        return Reading(intake.sessions, (), intake.request_id)
    return Reading(invalid_reason=intake.reason, request_id=intake.request_id)


def _attempts(letter: DeadLetter) -> int | str | None:
    value = letter.attributes.get(ATTR_ATTEMPTS)
    return int(value) if value is not None and value.isdigit() else value


def _compact(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if value is not None}


def failed_pairs(letters: Iterable[DeadLetter]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One row per failed pair (its code and message, source message, attempts), and one per letter
    whose body is not a request."""
    pairs: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    for letter in letters:
        reading = read_letter(letter)
        common = {
            "sourceMessageId": letter.attributes.get(ATTR_SOURCE_MESSAGE_ID),
            "attempts": _attempts(letter),
            "requestId": letter.attributes.get(ATTR_REQUEST_ID) or reading.request_id,
            "messageId": letter.message_id,
        }
        if reading.invalid_reason is not None:
            invalid.append(
                _compact(
                    {
                        "code": letter.attributes.get(ATTR_ERROR_CODE),
                        "message": letter.attributes.get(ATTR_ERROR_MESSAGE) or reading.invalid_reason,
                        **common,
                        "body": letter.body,
                    }
                )
            )
            continue
        by_key = {(error.channel_arn, error.viewer_id): error for error in reading.errors}
        for session in reading.sessions:
            error = by_key.get(session.key)
            code = (
                error.code if error is not None and error.code is not None else letter.attributes.get(ATTR_ERROR_CODE)
            )
            message = (
                error.message
                if error is not None and error.message is not None
                else letter.attributes.get(ATTR_ERROR_MESSAGE)
            )
            pairs.append(_compact({**session.to_api(), "code": code, "message": message, **common}))
    return pairs, invalid


def list_output(queue_url: str, letters: Sequence[DeadLetter]) -> dict[str, Any]:
    pairs, invalid = failed_pairs(letters)
    return {"deadLetterQueueUrl": queue_url, "messages": len(letters), "failedPairs": pairs, "invalidMessages": invalid}


def queue_counts(sqs: Any, queue_url: str) -> dict[str, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names).get("Attributes", {})
    return {name[0].lower() + name[1:]: int(attributes.get(name, 0)) for name in names}


def stats_output(queue_url: str, counts: dict[str, int], letters: Sequence[DeadLetter]) -> dict[str, Any]:
    pairs, invalid = failed_pairs(letters)
    by_pairs = Counter(row.get("code", NO_CODE) for row in pairs)
    by_messages: Counter[str] = Counter()
    for letter in letters:
        by_messages[letter.attributes.get(ATTR_ERROR_CODE, NO_CODE)] += 1
    codes = set(by_pairs) | {row.get("code", NO_CODE) for row in invalid}
    invalid_by_code = Counter(row.get("code", NO_CODE) for row in invalid)
    by_code = [
        {"code": code, "pairs": by_pairs[code], "invalidMessages": invalid_by_code[code]}
        for code in sorted(codes, key=lambda code: (-by_pairs[code] - invalid_by_code[code], code))
    ]
    return {
        "deadLetterQueueUrl": queue_url,
        **counts,
        "messagesScanned": len(letters),
        "failedPairs": len(pairs),
        "invalidMessages": len(invalid),
        "byCode": by_code,
    }


# --- Redrive -----------------------------------------------------------------------------------
#
# A dead letter the function wrote reached the DLQ with SendMessage, so SQS does not know where it came
# from: a StartMessageMoveTask without DestinationArn fails for it with CouldNotDetermineMessageSource
# (SQS developer guide, "Troubleshooting DLQ redrive"). Every redrive here therefore names its destination.


@dataclass(frozen=True)
class Destination:
    """Where a redrive sends the messages; `url` is None when only the ARN is known (a stack output)."""

    arn: str
    url: str | None = None


def queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])


def queue_url_of(sqs: Any, arn: str) -> str:
    """A queue's URL from its ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ConfigurationError(f"{arn} is not the ARN of an SQS queue")
    return str(sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"])


def source_queue_urls(sqs: Any, dlq_url: str) -> list[str]:
    """The queues whose redrive policy names this DLQ (ListDeadLetterSourceQueues, every page)."""
    pages = sqs.get_paginator("list_dead_letter_source_queues").paginate(QueueUrl=dlq_url)
    return [str(url) for page in pages for url in page.get("queueUrls", [])]


def only_source_queue(sqs: Any, dlq_url: str) -> Destination:
    """The DLQ's one source queue; a ConfigurationError naming what was found when there is not one."""
    urls = source_queue_urls(sqs, dlq_url)
    if not urls:
        raise ConfigurationError(
            f"no queue names {dlq_url} as its dead-letter queue (ListDeadLetterSourceQueues found none), "
            "so there is no source queue to move its messages back to: name the queue with --destination-url"
        )
    if len(urls) > 1:
        raise ConfigurationError(
            f"{len(urls)} queues name {dlq_url} as their dead-letter queue ({', '.join(urls)}): "
            "choose the one to move its messages to with --destination-url"
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


def start_move_task(sqs: Any, source_arn: str, destination_arn: str, rate: int | None) -> str:
    parameters: dict[str, Any] = {"SourceArn": source_arn, "DestinationArn": destination_arn}
    if rate is not None:
        parameters["MaxNumberOfMessagesPerSecond"] = rate
    return str(sqs.start_message_move_task(**parameters)["TaskHandle"])


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
    sleep: Sleep,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    unlisted = 0
    while True:
        task = move_task(sqs, source_arn, task_handle)
        if task is None:
            unlisted += 1
            if unlisted >= MAX_POLLS_UNLISTED:
                raise ServiceError(f"ListMessageMoveTasks does not list the move task {task_handle} from {source_arn}")
        else:
            unlisted = 0
            if progress is not None:
                progress(task)
            if task.get("Status") in TERMINAL_TASK_STATES:
                return task
        sleep(poll_seconds)


# --- Redrive from here, for endpoints without the move task --------------------------------------


@dataclass
class MoveResult:
    moved: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)


def letter_bytes(letter: DeadLetter) -> int:
    """The letter's size as SQS counts it against MaximumMessageSize: body and every attribute."""
    strings = {name: str(value.get("StringValue", "")) for name, value in letter.raw_attributes.items()}
    size = sqs_message_bytes(letter.body, strings)
    for value in letter.raw_attributes.values():
        # sqs_message_bytes counts each attribute as a String: a binary value or a custom type adds to that.
        size += len(str(value.get("DataType", "String"))) - len("String") + len(value.get("BinaryValue", b""))
    return size


def move_messages(
    sqs: Any,
    dlq_url: str,
    destination_url: str,
    *,
    rate: int | None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    progress: Callable[[int], None] | None = None,
) -> MoveResult:
    """What StartMessageMoveTask does, done here: receive, send to the destination with the same body
    and attributes, delete from the DLQ only what the destination accepted.

    Nothing is consumed that was not sent: a message the destination cannot take (too large for its
    MaximumMessageSize, refused by SendMessageBatch, or a call that failed) stays in the DLQ, hidden
    until the move ends so that it is not tried again in a loop, then visible again.

    Only messages already in the DLQ when the move started are moved: a redriven pair that fails again
    comes back as a new message, which is left for the next redrive instead of going round forever.
    """
    started_ms = wall_clock_ms()
    started = clock()
    limit = queue_max_message_bytes(sqs, destination_url)
    result = MoveResult()
    kept: dict[str, str] = {}  # message id -> latest receipt handle, of every message left in the DLQ
    in_flight: dict[str, str] = {}  # received, neither deleted nor kept yet
    without_new = 0
    try:
        while True:
            messages = _receive(sqs, dlq_url, DEFAULT_SCAN_VISIBILITY_SECONDS)
            if not messages:
                break
            letters = [DeadLetter.from_message(message) for message in messages]
            due: list[DeadLetter] = []
            for letter in letters:
                if letter.message_id in kept or (letter.sent_timestamp_ms or 0) > started_ms:
                    kept[letter.message_id] = letter.receipt_handle
                else:
                    due.append(letter)
                    in_flight[letter.message_id] = letter.receipt_handle
            without_new = 0 if due else without_new + 1
            if without_new >= MAX_RECEIVES_WITHOUT_NEW:
                break
            fitting: list[DeadLetter] = []
            for letter in due:
                size = letter_bytes(letter)
                if size > limit:
                    _keep(letter, in_flight, kept)
                    result.failed.append(
                        {
                            "messageId": letter.message_id,
                            "code": CODE_TOO_LARGE,
                            "reason": f"{size} bytes with its attributes, over the destination's "
                            f"MaximumMessageSize of {limit}",
                        }
                    )
                else:
                    fitting.append(letter)
            sizes = [letter_bytes(letter) for letter in fitting]
            for group in pack(
                sizes, max_items=SQS_MAX_BATCH_ENTRIES, max_bytes=SQS_MAX_MESSAGE_BYTES, overhead=0, separator=0
            ):
                _move_batch(sqs, dlq_url, destination_url, fitting[group.start : group.stop], result, in_flight, kept)
            if due and progress is not None:
                progress(result.moved)
            if rate:
                # Paced by messages moved: at most `rate` a second on average since the start.
                ahead = result.moved / rate - (clock() - started)
                if ahead > 0:
                    sleep(ahead)
    finally:
        # Whatever was not deleted is made visible again, also when the move was cut short.
        _make_visible(sqs, dlq_url, [*kept.values(), *in_flight.values()])
    return result


def _keep(letter: DeadLetter, in_flight: dict[str, str], kept: dict[str, str]) -> None:
    kept[letter.message_id] = in_flight.pop(letter.message_id, letter.receipt_handle)


def _move_batch(
    sqs: Any,
    dlq_url: str,
    destination_url: str,
    letters: list[DeadLetter],
    result: MoveResult,
    in_flight: dict[str, str],
    kept: dict[str, str],
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
        result.failed.append(
            {
                "messageId": letters[int(entry["Id"])].message_id,
                "code": entry.get("Code"),
                "reason": entry.get("Message"),
            }
        )
    for letter in letters:
        if letter.message_id not in sent_ids:
            _keep(letter, in_flight, kept)  # neither sent nor answered for: it stays
    if not sent:
        return
    deleted = sqs.delete_message_batch(
        QueueUrl=dlq_url,
        Entries=[{"Id": str(number), "ReceiptHandle": letter.receipt_handle} for number, letter in enumerate(sent)],
    )
    for entry in deleted.get("Successful", []):
        in_flight.pop(sent[int(entry["Id"])].message_id, None)
        result.moved += 1
    for entry in deleted.get("Failed", []):
        letter = sent[int(entry["Id"])]
        _keep(letter, in_flight, kept)
        # Sent and still in the DLQ: it is in both queues, which a redrive of an idempotent request allows.
        result.failed.append(
            {
                "messageId": letter.message_id,
                "code": entry.get("Code"),
                "reason": f"sent, but not deleted from the dead-letter queue: {entry.get('Message')}",
            }
        )


def _sendable(attributes: dict[str, Any]) -> dict[str, Any]:
    keys = ("DataType", "StringValue", "BinaryValue")
    return {name: {key: value[key] for key in keys if key in value} for name, value in attributes.items()}
