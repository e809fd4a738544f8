"""Hypothesis strategies of hostile JSON, and the function's log of one invocation, shared by the
invariant tests.

A JSON value here is a tree of plain values, `Obj` (an object as its key-value pairs, so that a key
may be repeated) and `Lit` (JSON text written as is: what `json.dumps` refuses or cannot say, such as
an integer literal longer than Python's int-string limit, a lone surrogate's escape, a deep nest).
`render` writes a tree as the text a producer or a server would send.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from ivs_revocation import names

# Python refuses to convert a decimal string of more digits than this to an int (sys.get_int_max_str_digits).
INT_MAX_STR_DIGITS = 4300
# Python's recursion limit: nesting beyond it makes `json.loads` raise RecursionError (on 3.11).
NESTING_PAST_LIMIT = 1001


@dataclass(frozen=True)
class Lit:
    """JSON text written as it is."""

    text: str


@dataclass(frozen=True)
class Obj:
    """A JSON object as its (key, value) pairs in order, repeated keys kept."""

    pairs: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, *pairs: tuple[str, Any]) -> Obj:
        return cls(tuple(pairs))


def render(value: Any, *, spaced: bool = False) -> str:
    """The JSON text of a tree; `spaced` puts a space after each comma and colon, as `json.dumps` does."""
    comma, colon = (", ", ": ") if spaced else (",", ":")
    if isinstance(value, Lit):
        return value.text
    if isinstance(value, dict):
        value = Obj(tuple(value.items()))
    if isinstance(value, Obj):
        items = comma.join(json.dumps(key) + colon + render(item, spaced=spaced) for key, item in value.pairs)
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + comma.join(render(item, spaced=spaced) for item in value) + "]"
    # ensure_ascii (the default): a lone surrogate or a control character is written as its escape.
    return json.dumps(value)


def huge_integer(digits: int, negative: bool = False) -> Lit:
    """An integer literal of `digits` digits: more than INT_MAX_STR_DIGITS makes `json.loads` raise ValueError."""
    return Lit(("-" if negative else "") + "1" + "0" * (digits - 1))


def deep_nest(levels: int, kind: str = "list") -> Lit:
    if kind == "list":
        return Lit("[" * levels + "]" * levels)
    return Lit('{"a":' * levels + "0" + "}" * levels)


huge_integers = st.builds(huge_integer, st.integers(INT_MAX_STR_DIGITS + 1, INT_MAX_STR_DIGITS + 1500), st.booleans())
deep_nests = st.builds(
    deep_nest, st.integers(NESTING_PAST_LIMIT, 4 * NESTING_PAST_LIMIT), st.sampled_from(["list", "object"])
)
# Characters that are valid in a Python str but odd in a message or a JSON string: lone surrogates
# (written as escapes), noncharacters, controls, a byte order mark, the replacement character.
odd_characters = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "\uffff", "\ufffe", "\x00", "\x01", "\x1f",
                                  "\x7f", "\ufeff", "\ufffd", "\u2028", "\U0001f600"])  # fmt: skip
odd_texts = st.lists(st.one_of(odd_characters, st.characters()), min_size=1, max_size=8).map("".join)
# Keys of the request formats, beside any text, so that random objects come near the accepted shapes.
KNOWN_KEYS = (
    "channelArn",
    "viewerId",
    "viewerSessionVersionsLessThanOrEqualTo",
    "viewerSessions",
    "requestId",
    "priority",
    "errors",
    "detail-type",
    "detail",
    "source",
    "id",
    "channel_arn",
    "viewer_id",
    "version",
    "request_id",
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=10), odd_texts)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    odd_texts,
    huge_integers,
)
# Any JSON value without a valid channel ARN (random text never is one): as a message body, never a
# valid request, whatever its shape.
json_trees = st.recursive(
    st.one_of(scalars, deep_nests),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        # A list of pairs, so that a key is now and then repeated.
        st.lists(st.tuples(keys, children), max_size=5).map(lambda pairs: Obj(tuple(pairs))),
    ),
    max_leaves=15,
)
# Random bytes as a producer's library might have decoded them into a message body.
decoded_bytes = st.one_of(
    st.binary(min_size=1, max_size=64).map(lambda raw: raw.decode("utf-8", "replace")),
    st.binary(min_size=1, max_size=64).map(lambda raw: raw.decode("latin-1")),
)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def service_log() -> Iterator[list[logging.LogRecord]]:
    """The function's log records while the block runs (its structured keys as attributes), kept from
    pytest's capture: a property that shrinks a failure runs thousands of invocations, whose records
    pytest would hold until the test ends."""
    collect = _Collect()
    service_logger = logging.getLogger(names.SERVICE_NAME)
    service_logger.addHandler(collect)
    propagate, service_logger.propagate = service_logger.propagate, False
    try:
        yield collect.records
    finally:
        service_logger.propagate = propagate
        service_logger.removeHandler(collect)
