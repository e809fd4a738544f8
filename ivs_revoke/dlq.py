"""The dead-letter queue, as an operator sees it: what failed and why, and counts by code.

Reading never consumes: messages are received, never deleted, and made visible again at the end. They
are hidden (a short visibility timeout) while the scan pages through the queue, because with a timeout
of 0 every receive may return the same few messages and the rest would never be seen.

A DLQ message is a request for the failed pairs with their `errors`, or a body that was no request,
both written by the function with attributes; or a body SQS's redrive policy moved bare (see README,
"Dead-letter messages"). A DLQ holds what nothing else could read, so any body and any attributes may
be here: reading one letter never raises (`read_letter`), and one that cannot be read is shown as such.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, NamedTuple

from ivs_revocation.intake import ValidRequest, read_request
from ivs_revocation.models import (
    ATTR_ATTEMPTS,
    ATTR_ERROR_CODE,
    ATTR_ERROR_MESSAGE,
    ATTR_REQUEST_ID,
    ATTR_SOURCE_MESSAGE_ID,
    CODE_INVALID_MESSAGE,
    DeadLetterMessage,
    RevocationError,
    ViewerSession,
    loads_unambiguous,
    sqs_message_bytes,
)
from ivs_revoke.sqs import make_visible, receive, whole_number

# Long enough to page through a large queue, short enough that a scan cut short (a crash, Ctrl-C before
# the visibility is restored) leaves the messages hidden only briefly.
DEFAULT_SCAN_VISIBILITY_SECONDS: Final = 30
# A long poll waits for every SQS server; an empty answer then means no visible message is left.
SCAN_WAIT_SECONDS: Final = 1
# Receives in a row that bring nothing new (messages reappearing) before a scan stops.
MAX_RECEIVES_WITHOUT_NEW: Final = 3
NO_CODE: Final = "(none)"
# An exception's own text in the reason of a letter that could not be read: enough to name the limit.
MAX_UNREADABLE_DETAIL_CHARS: Final = 300


@dataclass(frozen=True)
class Reading:
    """A letter's pairs with their errors, or why its body is not a request; `dead_letter` is the body
    when the function wrote it as a dead letter for failed pairs."""

    sessions: tuple[ViewerSession, ...] = ()
    errors: tuple[RevocationError, ...] = ()
    request_id: str | None = None
    invalid_reason: str | None = None
    dead_letter: DeadLetterMessage | None = None


def read_letter(body: str) -> Reading:
    """What one letter's body says, whatever it is; never raises.

    This is where the DLQ commands' isolation is: one letter's reading ends here, in a Reading, whatever
    its body holds. `list`, `stats` and `redrive` go through every letter of the queue, and a DLQ is
    where the bodies nothing else could read end up (an integer past Python's 4,300-digit limit, nesting
    past the recursion limit, a shape no model expected): an exception out of one letter would hide all
    the others from the operator. So every exception of the read is caught, not a list of those seen
    so far; `read_request` means never to raise too, but the CLI does not depend on the version of the
    function that wrote a letter, nor on what a future parser may raise.
    """
    try:
        return _read(body)
    except Exception as error:  # the boundary of one letter, see above
        detail = f"{type(error).__name__}: {error}"
        if len(detail) > MAX_UNREADABLE_DETAIL_CHARS:
            detail = detail[: MAX_UNREADABLE_DETAIL_CHARS - 3] + "..."
        return Reading(invalid_reason=f"body: unreadable ({detail})")


def _read(body: str) -> Reading:
    message = _dead_letter_message(body)
    if message is not None:
        return Reading(tuple(message.viewer_sessions), tuple(message.errors), message.request_id, dead_letter=message)
    # Not written by the function as a dead letter: read it as the function reads any message.
    intake = read_request(body)
    if isinstance(intake, ValidRequest):
        return Reading(intake.sessions, (), intake.request_id)
    return Reading(invalid_reason=intake.reason, request_id=intake.request_id)


def _dead_letter_message(body: str) -> DeadLetterMessage | None:
    """The body as the function writes a dead letter for failed pairs, else None (read_request then says
    what it is). Read without guessing: a body with a repeated key is no request, whatever pydantic would
    keep."""
    try:
        return DeadLetterMessage.model_validate(loads_unambiguous(body))
    except (ValueError, RecursionError):  # not JSON, a repeated key, too deep, not this model (ValidationError)
        return None


class FailedPair(NamedTuple):
    """One pair of a letter, with its own error's code and message, else the letter's."""

    channel_arn: str
    viewer_id: str
    code: str | None
    message: str | None


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str] = field(default_factory=dict)  # message attributes with a string value
    raw_attributes: dict[str, Any] = field(default_factory=dict)  # as received, to send on unchanged
    sent_timestamp_ms: int | None = None
    receive_count: int = 0

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> DeadLetter:
        raw = message.get("MessageAttributes") or {}
        system = message.get("Attributes") or {}
        sent, received = system.get("SentTimestamp", ""), system.get("ApproximateReceiveCount", "")
        return cls(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            attributes={name: value["StringValue"] for name, value in raw.items() if "StringValue" in value},
            raw_attributes=raw,
            sent_timestamp_ms=whole_number(sent),
            receive_count=whole_number(received) or 0,
        )

    @property
    def code(self) -> str | None:
        """The function's error code; None for a message the queue's redrive policy moved bare."""
        return self.attributes.get(ATTR_ERROR_CODE)

    @property
    def invalid(self) -> bool:
        """The function found the body no request: tried again unchanged, it can only fail again."""
        return self.code == CODE_INVALID_MESSAGE

    @property
    def reason(self) -> str | None:
        return self.attributes.get(ATTR_ERROR_MESSAGE)

    @property
    def source_message_id(self) -> str | None:
        return self.attributes.get(ATTR_SOURCE_MESSAGE_ID)

    @property
    def attempts(self) -> int | str | None:
        value = self.attributes.get(ATTR_ATTEMPTS)
        if value is None:
            return None
        number = whole_number(value)
        # Any other text (a producer's own attribute of the same name) is shown as it is.
        return value if number is None else number

    @property
    def message(self) -> DeadLetterMessage | None:
        """The failed pairs with their errors, when the function wrote this letter for failed pairs."""
        return self.reading.dead_letter

    @cached_property
    def reading(self) -> Reading:
        return read_letter(self.body)

    def failed_sessions(self) -> list[tuple[ViewerSession, str | None, str | None]]:
        """Each pair of a letter that is a request, with its code and message: the pair's own error's,
        else the letter's attributes (none for a letter the redrive policy moved bare)."""
        by_key = {(error.channel_arn, error.viewer_id): error for error in self.reading.errors}
        failed = []
        for session in self.reading.sessions:
            error = by_key.get(session.key)
            code = error.code if error is not None and error.code is not None else self.code
            message = error.message if error is not None and error.message is not None else self.reason
            failed.append((session, code, message))
        return failed

    def failed_pairs(self) -> list[FailedPair]:
        return [FailedPair(s.channel_arn, s.viewer_id, code, message) for s, code, message in self.failed_sessions()]

    def size(self) -> int:
        """The letter's size as SQS counts it against MaximumMessageSize: body and every attribute."""
        strings = {name: str(value.get("StringValue", "")) for name, value in self.raw_attributes.items()}
        size = sqs_message_bytes(self.body, strings)
        for value in self.raw_attributes.values():
            # sqs_message_bytes counts each attribute as a String: a binary value or a custom type adds to that.
            size += len(str(value.get("DataType", "String"))) - len("String") + len(value.get("BinaryValue", b""))
        return size


def scan(
    sqs: Any,
    queue_url: str,
    *,
    max_items: int | None = None,
    visibility_timeout: int = DEFAULT_SCAN_VISIBILITY_SECONDS,
    stop_at: Callable[[DeadLetter], bool] | None = None,
) -> list[DeadLetter]:
    """The queue's messages, each once, oldest receive first; none deleted, all visible again after.
    With `stop_at`, the scan ends after the receive that brought a letter it holds for."""
    seen: dict[str, DeadLetter] = {}
    handles: dict[str, str] = {}  # the latest receipt handle of each message: only it can change visibility
    without_new = 0
    try:
        while max_items is None or len(seen) < max_items:
            messages = receive(sqs, queue_url, visibility_timeout=visibility_timeout, wait_seconds=SCAN_WAIT_SECONDS)
            if not messages:
                break
            new: list[DeadLetter] = []
            for message in messages:
                handles[message["MessageId"]] = message["ReceiptHandle"]
                if message["MessageId"] not in seen:
                    seen[message["MessageId"]] = DeadLetter.from_message(message)
                    new.append(seen[message["MessageId"]])
            if stop_at is not None and any(map(stop_at, new)):
                break
            without_new = 0 if new else without_new + 1
            if without_new >= MAX_RECEIVES_WITHOUT_NEW:
                break
    finally:
        if visibility_timeout > 0:
            make_visible(sqs, queue_url, handles.values())
    letters = list(seen.values())
    return letters if max_items is None else letters[:max_items]


# --- What the commands print -------------------------------------------------------------------


def _compact(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if value is not None}


def failed_pair_rows(letters: Iterable[DeadLetter]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One row per failed pair (its code and message, source message, attempts), and one per letter
    whose body is not a request."""
    pairs: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    for letter in letters:
        reading = letter.reading
        common = {
            "sourceMessageId": letter.source_message_id,
            "attempts": letter.attempts,
            "requestId": letter.attributes.get(ATTR_REQUEST_ID) or reading.request_id,
            "messageId": letter.message_id,
        }
        if reading.invalid_reason is not None:
            row = {"code": letter.code, "message": letter.reason or reading.invalid_reason, **common}
            invalid.append(_compact({**row, "body": letter.body}))
            continue
        for session, code, message in letter.failed_sessions():
            pairs.append(_compact({**session.to_api(), "code": code, "message": message, **common}))
    return pairs, invalid


def list_output(queue_url: str, letters: Sequence[DeadLetter]) -> dict[str, Any]:
    pairs, invalid = failed_pair_rows(letters)
    return {"deadLetterQueueUrl": queue_url, "messages": len(letters), "failedPairs": pairs, "invalidMessages": invalid}


def stats_output(
    queue_url: str, counts: dict[str, int], letters: Sequence[DeadLetter], *, by_account: bool = False
) -> dict[str, Any]:
    """`counts` are ivs_revoke.sqs.queue_counts', taken before the scan hides messages from them.
    `by_account`: also the failed pairs by the account their channel ARN names (member accounts)."""
    pairs, invalid = failed_pair_rows(letters)
    by_pairs = Counter(row.get("code", NO_CODE) for row in pairs)
    invalid_by_code = Counter(row.get("code", NO_CODE) for row in invalid)
    total = by_pairs + invalid_by_code
    by_code = [
        {"code": code, "pairs": by_pairs[code], "invalidMessages": invalid_by_code[code]}
        for code in sorted(total, key=lambda code: (-total[code], code))
    ]
    return {
        "deadLetterQueueUrl": queue_url,
        "approximateNumberOfMessages": counts["Messages"],
        "approximateNumberOfMessagesNotVisible": counts["MessagesNotVisible"],
        "messagesScanned": len(letters),
        "failedPairs": len(pairs),
        "invalidMessages": len(invalid),
        "byCode": by_code,
        **({"byAccount": _by_account(letters)} if by_account else {}),
    }


def _by_account(letters: Iterable[DeadLetter]) -> list[dict[str, Any]]:
    """The failed pairs of the letters that are requests, by account, most first, then by code."""
    pairs: Counter[str] = Counter()
    codes: dict[str, Counter[str]] = {}
    for letter in letters:
        if letter.reading.invalid_reason is not None:
            continue
        for session, code, _ in letter.failed_sessions():
            pairs[session.account] += 1
            codes.setdefault(session.account, Counter())[code or NO_CODE] += 1
    return [
        {"account": account, "pairs": pairs[account], "byCode": dict(sorted(codes[account].items()))}
        for account in sorted(pairs, key=lambda account: (-pairs[account], account))
    ]
