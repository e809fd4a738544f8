"""The DLQ commands' promise, as a property: whatever the dead-letter queue holds, `ivs-revoke dlq list`,
`stats` and `redrive` run to the end, and every message is accounted for.

Messages are arbitrary (bodies of any shape and size: not JSON, integers past Python's 4,300-digit limit,
nesting past the recursion limit, wrong shapes, repeated keys, odd Unicode within SQS's character set,
EventBridge envelopes around any of these; attributes of any name, type and value) mixed with real dead
letters built with ivs_revocation's own models. Each is listed (as failed pairs or as an invalid message
with its reason), counted, and moved or left in the DLQ with the reason: InvalidMessage letters unless
--include-invalid, and letters too large for the destination.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivs_revocation.models import (
    ATTR_ATTEMPTS,
    ATTR_ERROR_CODE,
    ATTR_ERROR_MESSAGE,
    ATTR_REQUEST_ID,
    ATTR_SOURCE_MESSAGE_ID,
    CODE_INVALID_MESSAGE,
    RevocationRequest,
    ViewerSession,
    sqs_safe,
)
from ivs_revoke import redrive
from tests.unit.cli_support import FakeAws, Reply, channel, queue_attributes
from tests.unit.test_cli_dlq import OTHER_URL, FakeQueue, _dlq, dead_letter

pytestmark = pytest.mark.unit

# The destination's MaximumMessageSize. Every generated body is either well under it (all attributes
# included) or at least BIG bytes, so that which letters are too large for it is known without sizing.
DESTINATION_MAX_BYTES = 262_144
BIG = 300_000
HUGE_INTEGER_DIGITS = st.integers(4_301, 6_000)

# Text SQS takes in a body or an attribute: what it refuses, escaped as a producer's JSON would.
sqs_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30).map(sqs_safe)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | sqs_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(sqs_text, children, max_size=4),
    max_leaves=15,
)
# Any text a viewer ID may be (the function's JSON escapes what SQS refuses).
viewers = st.lists(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12), min_size=1, max_size=4, unique=True
)


def _pair(version: str = "1", viewer: str = "v") -> str:
    return (
        f'{{"channelArn": "{channel()}", "viewerId": "{viewer}", "viewerSessionVersionsLessThanOrEqualTo": {version}}}'
    )


def _event(detail: str) -> str:
    return f'{{"version": "0", "id": "e-1", "detail-type": "Revoke", "source": "producer", "detail": {detail}}}'


# A body with an integer literal past the limit, in a place of each kind: a field, an ignored one, an id.
huge_integer_bodies = st.builds(
    lambda digits, template: template.replace("N", "7" * digits),
    HUGE_INTEGER_DIGITS,
    st.sampled_from(
        [
            _pair("N"),
            f'{{"viewerSessions": [{_pair()}], "errors": [{{"code": N}}]}}',
            _event(_pair()).replace('"e-1"', "N"),
            "[N]",
        ]
    ),
)
deep_bodies = st.one_of(
    st.integers(900, 10_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(900, 5_000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.integers(900, 5_000).map(lambda depth: '{"viewerSessions":' * depth + "[]" + "}" * depth),
    st.integers(900, 10_000).map(lambda depth: "[" * depth),
)
repeated_key_bodies = st.builds(
    lambda viewer, where: where.replace(
        "PAIR", f'{{"channelArn": "{channel()}", "viewerId": {json.dumps(viewer)}, "viewerId": "x"}}'
    ),
    viewers.map(lambda names: names[0]),
    st.sampled_from(["PAIR", "[PAIR]", '{"viewerSessions": [PAIR]}', _event("PAIR")]),
)
wrong_shapes = st.one_of(
    st.builds(lambda value: {"viewerSessions": value}, json_values),
    st.builds(lambda arn, viewer: {"channelArn": arn, "viewerId": viewer}, json_values, json_values),
    st.builds(lambda value: [value], json_values),
    json_values,
).map(lambda value: json.dumps(value, ensure_ascii=False))
big_bodies = st.builds(
    lambda size, wrapped: json.dumps({"viewerSessions": [], "pad": "x" * size}) if wrapped else "x" * size,
    st.integers(BIG, 1_000_000),
    st.booleans(),
)
valid_requests = viewers.map(
    lambda names: RevocationRequest(
        viewer_sessions=[ViewerSession(channel_arn=channel(), viewer_id=name, version=2) for name in names]
    ).to_json()
)
hostile_bodies = st.one_of(sqs_text, huge_integer_bodies, deep_bodies, repeated_key_bodies, wrong_shapes, big_bodies)
bodies = st.one_of(hostile_bodies, hostile_bodies.map(_event), valid_requests)

attribute_names = st.sampled_from(
    [ATTR_ERROR_CODE, ATTR_ERROR_MESSAGE, ATTR_ATTEMPTS, ATTR_SOURCE_MESSAGE_ID, ATTR_REQUEST_ID]
) | st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True)
string_values = st.one_of(
    sqs_text, st.sampled_from([CODE_INVALID_MESSAGE, "403", "²", "١٢", "9" * 5_000, ""]), st.integers().map(str)
)
attribute_values = st.one_of(
    string_values.map(lambda value: {"DataType": "String", "StringValue": value}),
    string_values.map(lambda value: {"DataType": "Number", "StringValue": value}),
    st.binary(max_size=20).map(lambda data: {"DataType": "Binary", "BinaryValue": base64.b64encode(data).decode()}),
    st.builds(
        lambda kind, value: {"DataType": f"String.{kind}", "StringValue": value},
        st.from_regex(r"[a-z]{1,8}", fullmatch=True),
        string_values,
    ),
)
# Each message with the viewers `dlq list` must show for it: None where any reading will do.
Letter = tuple[dict[str, Any], list[str] | None]
hostile_messages: st.SearchStrategy[Letter] = st.builds(
    lambda body, attributes: ({"Body": body, "MessageAttributes": attributes}, None),
    bodies,
    st.dictionaries(attribute_names, attribute_values, max_size=4),
)
# As the function writes them: the failed pairs with their errors, and its attributes.
real_dead_letters: st.SearchStrategy[Letter] = st.builds(
    lambda names, code, attempts: (dead_letter(names, code, "why", attempts=attempts), names),
    viewers,
    st.sampled_from(["403", "503", "ValidationException", CODE_INVALID_MESSAGE]),
    st.integers(1, 5),
)
queues = st.lists(st.one_of(hostile_messages, real_dead_letters), min_size=1, max_size=12)


def _queue(letters: list[Letter]) -> tuple[FakeQueue, FakeAws]:
    queue = FakeQueue([message for message, _ in letters])
    fake = FakeAws()
    queue.attach(fake, other_queues=queue_attributes(maximum_message_size=DESTINATION_MAX_BYTES))
    fake.on("StartMessageMoveTask", [Reply({"TaskHandle": "task-1"})])
    return queue, fake


def _wire(attributes: dict[str, Any]) -> dict[str, Any]:
    """A message's attributes as SQS answers and takes them."""
    return {
        name: value if isinstance(value, dict) else {"DataType": "String", "StringValue": value}
        for name, value in attributes.items()
    }


def _is_invalid(message: dict[str, Any]) -> bool:
    """The function's ErrorCode says InvalidMessage: what a redrive leaves unless --include-invalid."""
    return _wire(message["MessageAttributes"]).get(ATTR_ERROR_CODE, {}).get("StringValue") == CODE_INVALID_MESSAGE


SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(letters=queues)
def test_list_and_stats_read_every_letter_whatever_it_holds(letters: list[Letter]) -> None:
    queue, fake = _queue(letters)
    every = dict(queue.messages)

    listed = _dlq(["list"], fake)
    assert listed.code == 0, listed.stderr
    output = listed.json()
    assert output["messages"] == len(every)
    pair_ids = {row["messageId"] for row in output["failedPairs"]}
    invalid_ids = [row["messageId"] for row in output["invalidMessages"]]
    # Each letter once: as its failed pairs, or as one invalid message with its reason and its body.
    assert pair_ids.isdisjoint(invalid_ids) and len(invalid_ids) == len(set(invalid_ids))
    assert pair_ids | set(invalid_ids) == set(every)
    for row in output["invalidMessages"]:
        assert isinstance(row["message"], str) and row["message"], row
        assert row["body"] == every[row["messageId"]]["Body"]
    # A real dead letter is read as its pairs, whatever else the queue holds.
    for message_id, (_, expected) in zip(every, letters, strict=True):
        if expected is not None:
            assert [row["viewerId"] for row in output["failedPairs"] if row["messageId"] == message_id] == expected
    assert queue.hidden == set() and queue.messages == every

    counted = _dlq(["stats"], fake)
    assert counted.code == 0, counted.stderr
    stats = counted.json()
    assert stats["messagesScanned"] == len(every)
    assert (stats["failedPairs"], stats["invalidMessages"]) == (len(output["failedPairs"]), len(invalid_ids))
    assert sum(row["pairs"] for row in stats["byCode"]) == stats["failedPairs"]
    assert sum(row["invalidMessages"] for row in stats["byCode"]) == stats["invalidMessages"]
    assert queue.hidden == set() and queue.messages == every


@SETTINGS
@given(letters=queues, client_side=st.booleans(), include_invalid=st.booleans())
def test_redrive_moves_or_leaves_every_letter_and_deletes_none_before_it_is_sent(
    letters: list[Letter], client_side: bool, include_invalid: bool
) -> None:
    queue, fake = _queue(letters)
    every = dict(queue.messages)
    args = ["redrive", "--destination-url", OTHER_URL]
    args += ["--client-side"] * client_side + ["--include-invalid"] * include_invalid
    result = _dlq(args, fake)

    invalid = {key for key, message in every.items() if _is_invalid(message)}
    left = set() if include_invalid else invalid
    if not client_side and not left:
        # The move task moves them all (here: a task that was started, nothing moved by this process).
        assert result.code == 0, result.stderr
        assert len(fake.of("StartMessageMoveTask")) == 1
        assert fake.of("SendMessageBatch") == [] and fake.of("DeleteMessageBatch") == []
        assert result.json().get("invalidMessagesLeft") == (None if include_invalid else 0)
        assert queue.messages == every and queue.hidden == set()
        return

    # Moved from here: every letter is moved, left as InvalidMessage, or left as too large, with the reason.
    assert fake.of("StartMessageMoveTask") == []
    too_large = {key for key, message in every.items() if len(message["Body"]) >= BIG} - left
    moved = set(every) - left - too_large
    assert result.code == (254 if too_large else 0), result.stderr
    output = result.json()
    assert output["messagesMoved"] == len(moved)
    assert output.get("invalidMessagesLeft") == (None if include_invalid else len(left))
    if left:
        assert f"{len(left)} InvalidMessage dead letters left" in result.stderr
    failed = {row["messageId"]: row for row in output.get("failed", [])}
    assert set(failed) == too_large
    assert all(row["code"] == redrive.CODE_TOO_LARGE and row["reason"] for row in failed.values())
    assert set(queue.messages) == left | too_large and queue.hidden == set()

    # What was sent is each moved letter, body and attributes; a letter is deleted only after it was sent.
    sent: Counter[str] = Counter()
    for request in fake.sent:
        if request.operation == "SendMessageBatch":
            for entry in request.json()["Entries"]:
                sent[json.dumps([entry["MessageBody"], entry.get("MessageAttributes", {})], sort_keys=True)] += 1
        elif request.operation == "DeleteMessageBatch":
            for entry in request.json()["Entries"]:
                message = every[entry["ReceiptHandle"].split("#")[0]]
                key = json.dumps([message["Body"], _wire(message["MessageAttributes"])], sort_keys=True)
                assert sent[key] > 0, "deleted before it was sent"
    expected = Counter(
        json.dumps([every[key]["Body"], _wire(every[key]["MessageAttributes"])], sort_keys=True) for key in moved
    )
    assert sent == expected
