"""The backlogs the benchmarks drain: message bodies in three mixes, and SQS events made from them.

Mixes (every pair in one region, so that one account-and-region quota bounds the whole backlog):
- `one-pair`: every message carries one pair (the common producer: one ban, one message);
- `five-pair`: every message carries five pairs in the API's request shape;
- `repeats-30`: one-pair and five-pair messages (half of the pairs in each), and 30% of the pairs
  repeat a pair sent shortly before, with another version (a producer re-sending a wave of bans).
  Repeats point back at most `REPEAT_REACH` pairs, so that most of them share a batch with the
  pair they repeat, as a re-sent burst would.

A backlog of N pairs holds N pair entries; after merging, `expected` holds one version per
(channel, viewer): the highest sent, which is what the service must end up having revoked.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from local import sqs_event as lambda_event

ACCOUNT = "123456789012"
REGION = "us-west-2"
MIXES = ("one-pair", "five-pair", "repeats-30")
DEFAULT_MIX = "repeats-30"
PAIRS_PER_CALL = 20
REPEAT_SHARE = 0.30
REPEAT_REACH = 60
CHANNELS = 16
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:revocations"

PairKey = tuple[str, str]


def channel_arn(index: int) -> str:
    return f"arn:aws:ivs:{REGION}:{ACCOUNT}:channel/bench{index:04d}"


@dataclass(frozen=True)
class Backlog:
    mix: str
    bodies: tuple[str, ...]
    pair_lists: tuple[tuple[tuple[str, str, int], ...], ...]
    """Per message, its (channelArn, viewerId, version) entries."""
    expected: dict[PairKey, int]
    """The highest version sent per (channel, viewer)."""

    @property
    def entries(self) -> int:
        return sum(len(pairs) for pairs in self.pair_lists)

    @property
    def unique_pairs(self) -> int:
        return len(self.expected)

    def batches(self, size: int) -> Iterator[range]:
        """Message indexes, in order, cut into batches of `size` records."""
        for start in range(0, len(self.bodies), size):
            yield range(start, min(start + size, len(self.bodies)))

    def floor_calls(self, batch_size: int | None = None) -> int:
        """The fewest calls that can revoke the backlog: ceil(n / 20) after merging duplicates.

        With `batch_size`, the floor of an invocation of that many records, summed over the backlog
        in order: what a function can reach that sees one batch at a time.
        """
        if batch_size is None:
            return math.ceil(self.unique_pairs / PAIRS_PER_CALL)
        return sum(math.ceil(self.unique_in(batch) / PAIRS_PER_CALL) for batch in self.batches(batch_size))

    def unique_in(self, messages: range) -> int:
        return len({(arn, viewer) for index in messages for arn, viewer, _ in self.pair_lists[index]})


def make_backlog(mix: str, pairs: int, seed: int = 7) -> Backlog:
    if mix not in MIXES:
        raise ValueError(f"unknown mix {mix!r}; one of {', '.join(MIXES)}")
    rng = random.Random(f"{mix}/{pairs}/{seed}")
    sizes = _message_sizes(mix, pairs)
    total = sum(sizes)
    repeat_at: set[int] = set()
    if mix == "repeats-30":
        # Exactly 30% of the entries, never in the first message (there is nothing to repeat yet).
        first = sizes[0]
        repeat_at = set(rng.sample(range(first, total), round(REPEAT_SHARE * total)))

    introduced: list[PairKey] = []
    pair_lists: list[tuple[tuple[str, str, int], ...]] = []
    position = 0
    for size in sizes:
        message: list[tuple[str, str, int]] = []
        in_message: set[PairKey] = set()
        for _ in range(size):
            key: PairKey | None = None
            if position in repeat_at:
                # A pair of an earlier message: one message never names the same pair twice.
                recent = [k for k in introduced[-REPEAT_REACH:] if k not in in_message]
                if recent:
                    key = rng.choice(recent)
            if key is None:
                index = len(introduced)
                key = (channel_arn(index % CHANNELS), f"viewer-{index:07d}")
                introduced.append(key)
            in_message.add(key)
            message.append((key[0], key[1], rng.randrange(0, 1_000_000)))
            position += 1
        pair_lists.append(tuple(message))

    expected: dict[PairKey, int] = {}
    for listed in pair_lists:
        for arn, viewer, version in listed:
            expected[(arn, viewer)] = max(version, expected.get((arn, viewer), -1))
    return Backlog(mix, tuple(_body(message) for message in pair_lists), tuple(pair_lists), expected)


def _message_sizes(mix: str, pairs: int) -> list[int]:
    if mix == "one-pair":
        return [1] * pairs
    if mix == "five-pair":
        return [5] * (pairs // 5) + ([pairs % 5] if pairs % 5 else [])
    # Five one-pair messages, then one five-pair message: half of the pairs in each kind.
    sizes: list[int] = []
    left = pairs
    while left:
        ones = min(5, left)
        sizes.extend([1] * ones)
        left -= ones
        if left:
            sizes.append(min(5, left))
            left -= sizes[-1]
    return sizes


def _body(message: Sequence[tuple[str, str, int]]) -> str:
    sessions = [
        {"channelArn": arn, "viewerId": viewer, "viewerSessionVersionsLessThanOrEqualTo": version}
        for arn, viewer, version in message
    ]
    # One pair as the bare session (shape 1), more as the API's request (shape 3). Written as a
    # producer writes them, without the function's models: the peer's process, whose memory and CPU
    # are measured, must not load the function's package (and pydantic) for its input.
    body: Any = sessions[0] if len(sessions) == 1 else {"viewerSessions": sessions}
    return json.dumps(body, separators=(",", ":"))


def sqs_event(bodies: Sequence[str], first_number: int = 1) -> dict[str, Any]:
    """The event Lambda's mapping would pass for these bodies, numbered from `first_number`."""
    messages = [lambda_event.received_message(body, first_number + offset) for offset, body in enumerate(bodies)]
    return lambda_event.sqs_event(messages, QUEUE_ARN, REGION)


def message_bodies(mix: str, records: int) -> tuple[str, ...]:
    """The first `records` message bodies of a backlog of the mix (for per-record measurements)."""
    per_message = {"one-pair": 1, "five-pair": 5}.get(mix, 2)
    return make_backlog(mix, records * per_message).bodies[:records]
