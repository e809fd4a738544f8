"""No lane counts what IVS did not confirm: arbitrary 2xx answers to both operations, as properties.

Each answer (any status from 200 to 299, any content type or none, any bytes: the operation's success,
near misses of it, other JSON, HTML, text, other encodings) goes through a real boto3 client whose HTTP
exchange is replaced by those raw bytes (tests/unit/raw_ivs.py), so botocore's own parser reads them,
then through the real handler on the record's last attempt, where every pair ends revoked or
dead-lettered with its code.

The oracle is the documented success, written here from the API reference, not from the function:
- BatchStartViewerSessionRevocation: a 200 whose JSON object has `errors`, a list of objects naming
  (channelArn, viewerId) pairs that were sent (other members beside it let through, as SDKs let new
  output members through), or is `{}` (`errors` absent or null, and nothing else); the pairs revoked
  are exactly those not named.
- StartViewerSessionRevocation: a 200 with an empty body (no media type, or a JSON one), or exactly `{}`.
Anything else is MalformedResponse and nothing of it counts. Where the answer is a lax form of the
success (a byte order mark, UTF-16, whitespace, a JSON body declared as text), either reading is
allowed: refusing it, or reading it as that success; never a third one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ivs_revocation import names
from ivs_revocation.adapters.ivs import CODE_MALFORMED_RESPONSE, Boto3IvsGateway, Boto3IvsSingleGateway
from ivs_revocation.service import RevocationService
from tests.unit import fakes
from tests.unit.fakes import FakeClock, FakeContext, FakeQueueWriter, sqs_event, sqs_record
from tests.unit.raw_ivs import Raw, RawIvs
from tests.unit.strategies import Obj, decoded_bytes, huge_integers, json_trees, render, service_log

pytestmark = pytest.mark.unit

MAX_RECEIVE_COUNT = 3
A = fakes.channel("abcdABCDefgh")
B = fakes.channel("efghEFGHijkl")
SENT: tuple[tuple[str, str], ...] = ((A, "alice"), (A, "bob"), (B, "carol"))
SENT_SINGLE: tuple[tuple[str, str], ...] = ((A, "alice"), (A, "bob"))
BULK_QUEUE_URL = f"https://sqs.us-west-2.amazonaws.com/{fakes.ACCOUNT}/revocations"
# The scope setting (names.ENV_IVS_REGIONS), written out so that this also runs on code older than it.
SCOPE = {"IVS_REGIONS": "us-west-2", "MAX_RECEIVE_COUNT": MAX_RECEIVE_COUNT, "IVS_MAX_ATTEMPTS": 1}

MALFORMED = "malformed"
Outcome = str | frozenset[tuple[str, str]]


# --- The oracle ---------------------------------------------------------------------------------

_NOT_JSON = object()


def _refuse_repeated(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("repeated key")
    return value


def _parsed(data: str | bytes) -> Any:
    try:
        return json.loads(data, object_pairs_hook=_refuse_repeated)
    except (ValueError, RecursionError):
        return _NOT_JSON


def strict_json(body: bytes) -> Any:
    """The body as JSON text exchanged between systems must be: UTF-8, no byte order mark."""
    try:
        return _parsed(body.decode("utf-8"))  # a leading U+FEFF makes json.loads refuse a str
    except UnicodeDecodeError:
        return _NOT_JSON


def lax_json(body: bytes) -> Any:
    """The body as Python's json reads bytes: UTF-8, -16 or -32, with or without a byte order mark."""
    return _parsed(body)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def declared_not_json(content_type: str | None) -> bool:
    kind = media_type(content_type)
    return bool(kind) and not (
        kind == "application/json" or kind.endswith("+json") or kind.startswith("application/x-amz-json")
    )


def batch_reading(value: Any, sent: Sequence[tuple[str, str]]) -> tuple[frozenset[tuple[str, str]], bool] | None:
    """The pairs a batch answer says were revoked, and whether every entry's code and message are
    strings (or absent); None when the value is not the operation's answer."""
    if not isinstance(value, dict):
        return None
    errors = value.get("errors")
    if errors is None:
        # No output member set: nothing else may be there either (`{"message": "Forbidden"}` is a proxy's).
        return (frozenset(sent), True) if value.keys() <= {"errors"} else None
    if not isinstance(errors, list):
        return None
    named = set()
    typed = True
    for entry in errors:
        if not isinstance(entry, dict):
            return None
        key = (entry.get("channelArn"), entry.get("viewerId"))
        if key not in sent:
            return None
        named.add(key)
        typed = typed and all(
            entry.get(member) is None or isinstance(entry[member], str) for member in ("code", "message")
        )
    return frozenset(sent) - named, typed


def batch_outcomes(raw: Raw, sent: Sequence[tuple[str, str]]) -> set[Outcome]:
    """What BatchStartViewerSessionRevocation's answer may come to: MALFORMED, or the pairs revoked."""
    if raw.status != 200:
        return {MALFORMED}
    strict = strict_json(raw.body)
    reading = None if strict is _NOT_JSON else batch_reading(strict, sent)
    if reading is not None:
        revoked, typed = reading
        if declared_not_json(raw.content_type) or not typed:
            return {MALFORMED, revoked}
        return {revoked}
    lax = lax_json(raw.body)
    lax_reading = None if lax is _NOT_JSON else batch_reading(lax, sent)
    if lax_reading is not None:
        return {MALFORMED, lax_reading[0]}
    return {MALFORMED}


def single_outcomes(raw: Raw, sent: Sequence[tuple[str, str]]) -> set[Outcome]:
    """What StartViewerSessionRevocation's answer may come to: MALFORMED, or every pair revoked (one per call)."""
    revoked = frozenset(sent)
    if raw.status != 200:
        return {MALFORMED}
    # Whitespace alone (Python's, which also strips vertical tab and form feed) is a lax empty body.
    blank = raw.body.strip() == b""
    empty_object = any(value == {} and isinstance(value, dict) for value in (strict_json(raw.body), lax_json(raw.body)))
    if declared_not_json(raw.content_type):
        return {MALFORMED, revoked} if empty_object and not blank else {MALFORMED}
    if raw.body in (b"", b"{}"):
        return {revoked}
    if blank or empty_object:
        return {MALFORMED, revoked}
    return {MALFORMED}


# --- Answers: near misses first, then anything ----------------------------------------------------

statuses = st.one_of(st.just(200), st.just(200), st.integers(200, 299))
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/x-amz-json-1.1",
        "application/problem+json",
        "",
        "text/html",
        "text/html; charset=utf-8",
        "text/plain",
        "application/octet-stream",
        "application/xml",
    ]
)
# JSON between systems is UTF-8 without a byte order mark (RFC 8259); a server may still send others.
OTHER_ENCODINGS = ["utf-8-sig", "utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32"]
HTML = b"<!DOCTYPE html><html><body><h1>Forbidden</h1></body></html>"


def named_entries(sent: Sequence[tuple[str, str]]) -> st.SearchStrategy[Obj]:
    """An `errors` entry as IVS writes it, about a pair that was sent."""
    return st.builds(
        lambda key, code: Obj.of(("channelArn", key[0]), ("viewerId", key[1]), ("code", code), ("message", "m")),
        st.sampled_from(sent),
        st.sampled_from(["403", "404", "429", "500"]),
    )


def near_entries(sent: Sequence[tuple[str, str]]) -> st.SearchStrategy[Obj]:
    """An `errors` entry near one: another spelling of a pair sent, another pair, members of other types."""
    channels = sorted({channel_arn for channel_arn, _ in sent})
    viewers = sorted({viewer for _, viewer in sent})
    members = st.fixed_dictionaries(
        {
            "channelArn": st.one_of(st.sampled_from([*channels, A.upper(), A + " ", B]), st.none(), st.just(7)),
            "viewerId": st.one_of(st.sampled_from([*viewers, "Alice", " alice", "dave"]), st.none(), st.just(7)),
        },
        optional={
            "code": st.one_of(st.sampled_from(["403", "429", "", "SomethingNew"]), st.none(), st.just(403)),
            "message": st.one_of(st.sampled_from(["not authorized", ""]), st.none(), st.just(1)),
            "extra": st.integers(),
        },
    )
    return members.map(lambda entry: Obj(tuple(entry.items())))


def errors_values(sent: Sequence[tuple[str, str]]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(named_entries(sent), min_size=1, max_size=3),
        st.lists(st.one_of(named_entries(sent), near_entries(sent)), max_size=3),
        st.none(),
        st.sampled_from(["junk", 0, True, {}, [1, 2], [None], [[]]]),
        json_trees,
        huge_integers,
    )


@st.composite
def operation_objects(draw: st.DrawFn, sent: Sequence[tuple[str, str]], encodings: Sequence[str] = ("utf-8",)) -> bytes:
    """A JSON object near the batch operation's answer, in one of the encodings a server might use."""
    items: list[tuple[str, Any]] = []
    if draw(st.integers(0, 4)):
        items.append(("errors", draw(errors_values(sent))))
    if draw(st.integers(0, 3)) == 0:
        extra = [("message", "Forbidden"), ("Errors", []), ("__type", "AccessDeniedException"), ("errors", [])]
        items.append(draw(st.sampled_from(extra)))  # a second "errors" repeats the key
    text = render(Obj(tuple(items)), spaced=draw(st.booleans()))
    text = draw(st.sampled_from(["", " ", "\n"])) + text + draw(st.sampled_from(["", "\n", "  "]))
    return text.encode(draw(st.sampled_from(encodings)))


NEAR_MISSES = [
    b"",
    b" ",
    b"\n",
    b"{}",
    b"{ }",
    b"{}\n",
    b"{}{}",
    b"{} x",
    b"null",
    b"[]",
    b'""',
    b"0",
    b'"revoked"',
    b'{"message": "Forbidden"}',
    b'{"Message": "Forbidden"}',
    b'{"errors": []}',
    b'{"errors": null}',
    b'{"errors": "junk"}',
    b'{"errors": {}}',
    b'{"errors": [1, 2]}',
    b'{"a": 1, "a": 2}',
    b'{"errors": [], "errors": []}',
    b"\xef\xbb\xbf{}",
    "{}".encode("utf-16"),
    "{}".encode("utf-16-le"),
    b"\xff\xfe\x00",
    HTML,
    b"OK",
]


def answers(sent: Sequence[tuple[str, str]]) -> st.SearchStrategy[Raw]:
    bodies = st.one_of(
        st.sampled_from(NEAR_MISSES),
        operation_objects(sent),
        operation_objects(sent),
        operation_objects(sent),
        json_trees.map(lambda tree: render(tree).encode()),
        decoded_bytes.map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.binary(max_size=40),
    )
    return st.builds(Raw, body=bodies, status=statuses, content_type=content_types)


# --- The lanes over raw answers -------------------------------------------------------------------


# One client for every example: making a boto3 client costs more than a hundred answers.
IVS = RawIvs()


def outcome_of_answer(handler_module: ModuleType, raw: Raw, operation: str) -> Outcome:
    """Sends the pairs once through the lane of `operation`, on their record's last attempt, every call
    answered `raw`; returns MALFORMED when every pair was dead-lettered as such, else the pairs revoked."""
    IVS.script(raw)
    IVS.requests.clear()
    clock = FakeClock()
    dead_letters = FakeQueueWriter()
    if operation == names.OPERATION_SINGLE:
        sent = SENT_SINGLE
        service = RevocationService(
            fakes.settings(**SCOPE, REVOCATION_LANE=names.LANE_URGENT, BULK_QUEUE_URL=BULK_QUEUE_URL),
            Boto3IvsSingleGateway(5.0, clients={"us-west-2": IVS.client}),
            dead_letters,
            overflow=FakeQueueWriter(),
            pairs_per_call=1,
            operation=operation,
            clock=clock,
            sleep=clock.sleep,
        )
    else:
        sent = SENT
        service = RevocationService(
            fakes.settings(**SCOPE),
            Boto3IvsGateway(5.0, clients={"us-west-2": IVS.client}),
            dead_letters,
            clock=clock,
            sleep=clock.sleep,
        )
    message = sqs_record(
        {"viewerSessions": [{"channelArn": c, "viewerId": v} for c, v in sent]}, receive_count=MAX_RECEIVE_COUNT
    )

    with service_log() as logs:
        response = handler_module.make_handler(service)(sqs_event(message), FakeContext(clock, 60.0))

    assert response == {"batchItemFailures": []}, "on the last attempt every pair is settled"
    assert sorted((p["channelArn"], p["viewerId"]) for r in IVS.sessions_per_call for p in r) == sorted(sent)
    codes: dict[tuple[str, str], str] = {}
    for letter in dead_letters.written:
        for error in json.loads(letter.body)["errors"]:
            codes[(error["channelArn"], error["viewerId"])] = error["code"]
    revoked = frozenset(sent) - codes.keys()
    [batch] = [line for line in logs if line.getMessage() == "batch settled"]
    assert batch.pairs_revoked == len(revoked), "a pair neither revoked nor dead-lettered"  # type: ignore[attr-defined]
    if not revoked and set(codes.values()) == {CODE_MALFORMED_RESPONSE}:
        return MALFORMED
    return revoked


def described(outcome: Outcome) -> str:
    return outcome if isinstance(outcome, str) else f"revoked {sorted(outcome)}"


# --- The properties -------------------------------------------------------------------------------

ANSWERS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORBIDDEN_403 = json.dumps(
    {"errors": [{"channelArn": A, "viewerId": "alice", "code": "403", "message": "not authorized"}]}
).encode()


@ANSWERS
@given(raw=answers(SENT))
@example(raw=Raw(FORBIDDEN_403, content_type="application/json"))
@example(raw=Raw(b'{"errors": [{"channelArn": "x", "viewerId": "y", "code": "500"}]}'))
@example(raw=Raw(b'{"message": "Forbidden"}'))
@example(raw=Raw(b'{"errors": []}', status=202))
@example(raw=Raw(b'{"errors": null}'))
def test_bulk_lane_counts_only_the_pairs_the_batch_answer_confirms(handler_module: ModuleType, raw: Raw) -> None:
    allowed = batch_outcomes(raw, SENT)

    outcome = outcome_of_answer(handler_module, raw, names.OPERATION_BATCH)

    assert outcome in allowed, f"{raw!r} came to {described(outcome)}; allowed: {[described(o) for o in allowed]}"


@ANSWERS
@given(raw=st.builds(Raw, body=operation_objects(SENT, OTHER_ENCODINGS), status=statuses, content_type=content_types))
@example(raw=Raw(FORBIDDEN_403.decode().encode("utf-8-sig"), content_type="application/json"))
@example(raw=Raw(FORBIDDEN_403.decode().encode("utf-16-le"), content_type="application/json"))
def test_bulk_lane_counts_only_what_a_batch_answer_in_another_encoding_confirms(
    handler_module: ModuleType, raw: Raw
) -> None:
    """Refused, or read as what it says: never the pairs that botocore's reading of other text leaves."""
    allowed = batch_outcomes(raw, SENT)

    outcome = outcome_of_answer(handler_module, raw, names.OPERATION_BATCH)

    assert outcome in allowed, f"{raw!r} came to {described(outcome)}; allowed: {[described(o) for o in allowed]}"


@ANSWERS
@given(raw=answers(SENT_SINGLE))
@example(raw=Raw(b'{"message": "Forbidden"}'))
@example(raw=Raw(FORBIDDEN_403))
@example(raw=Raw(b'{"errors": []}'))
@example(raw=Raw(b"{}", status=202))
@example(raw=Raw(b"", content_type="text/html"))
@example(raw=Raw(HTML, content_type="text/html"))
def test_urgent_lane_counts_a_pair_only_on_the_single_operations_documented_success(
    handler_module: ModuleType, raw: Raw
) -> None:
    allowed = single_outcomes(raw, SENT_SINGLE)

    outcome = outcome_of_answer(handler_module, raw, names.OPERATION_SINGLE)

    assert outcome in allowed, f"{raw!r} came to {described(outcome)}; allowed: {[described(o) for o in allowed]}"


# --- Regressions: found by the second adversarial round, named --------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(Raw(b'{"message": "Forbidden"}'), id="message Forbidden"),
        pytest.param(Raw(FORBIDDEN_403), id="batch-shaped errors 403"),
    ],
)
def test_urgent_lane_revokes_nothing_on_a_single_answer_that_is_not_its_success(
    handler_module: ModuleType, raw: Raw
) -> None:
    """Measured before: both counted as revoked, the pairs in no ledger, queue or dead-letter queue."""
    assert outcome_of_answer(handler_module, raw, names.OPERATION_SINGLE) == MALFORMED


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(Raw(b""), id="documented: empty, no media type"),
        pytest.param(Raw(b"", content_type="application/json"), id="empty, JSON"),
        pytest.param(Raw(b"{}"), id="empty object"),
    ],
)
def test_urgent_lane_counts_the_single_operations_documented_success(handler_module: ModuleType, raw: Raw) -> None:
    assert outcome_of_answer(handler_module, raw, names.OPERATION_SINGLE) == frozenset(SENT_SINGLE)


def test_bulk_lane_counts_the_pairs_a_batch_answer_does_not_name_in_errors(handler_module: ModuleType) -> None:
    assert outcome_of_answer(handler_module, Raw(FORBIDDEN_403), names.OPERATION_BATCH) == frozenset(SENT) - {
        (A, "alice")
    }
