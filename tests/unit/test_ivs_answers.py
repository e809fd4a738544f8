"""The handler over the real IVS gateway and botocore's real parser, fed answers that are not IVS's.

A 200 whose body is HTML, text, nothing, `{"errors": "junk"}` or `{"errors": [1, 2]}`, or whose
`errors` names a pair that was not sent: no pair is counted revoked, nothing but the documented
all-records-failed BatchProcessingError leaves the handler, and on the last attempt every pair is in
the dead-letter queue with a reason naming what was wrong with the answer.
"""

from __future__ import annotations

import json
import logging
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from ivs_revocation.adapters.ivs import CODE_MALFORMED_RESPONSE, Boto3IvsGateway
from ivs_revocation.models import viewer_reference
from ivs_revocation.service import RevocationService
from tests.unit.fakes import FakeClock, FakeContext, FakeQueueWriter, channel, settings, sqs_event, sqs_record
from tests.unit.raw_ivs import Raw, RawIvs, answer

pytestmark = pytest.mark.unit

A = channel("abcdABCDefgh")
MAX_RECEIVE_COUNT = 3


class Harness:
    def __init__(self, handler: ModuleType, clock: FakeClock, ivs: RawIvs, logs: list[logging.LogRecord]) -> None:
        self.clock = clock
        self.ivs = ivs
        self.dead_letters = FakeQueueWriter()
        self.logs = logs
        gateway = Boto3IvsGateway(5.0, clients={"us-west-2": ivs.client})
        service = RevocationService(
            settings(MAX_RECEIVE_COUNT=MAX_RECEIVE_COUNT, IVS_MAX_ATTEMPTS=2),
            gateway,
            self.dead_letters,
            clock=clock,
            sleep=clock.sleep,
        )
        self.lambda_handler = handler.make_handler(service)

    def invoke(self, *records: dict[str, Any]) -> Any:
        return self.lambda_handler(sqs_event(*records), FakeContext(self.clock, 60.0))

    def pairs_revoked(self) -> int:
        return sum(
            record.pairs_revoked  # type: ignore[attr-defined]
            for record in self.logs
            if record.getMessage() == "batch settled"
        )


@pytest.fixture
def harness(handler_module: ModuleType, clock: FakeClock, service_logs: list[logging.LogRecord]) -> Harness:
    return Harness(handler_module, clock, RawIvs(), service_logs)


def _unknown_pair(request: dict[str, Any]) -> Raw:
    first = request["viewerSessions"][0]
    entry = {"channelArn": first["channelArn"], "viewerId": first["viewerId"].strip().lower(), "code": "500"}
    return answer({"errors": [entry]})


ANSWERS = {
    "html": (Raw(b"<html><body>Welcome</body></html>", content_type="text/html"), "200 with a text/html body"),
    "text": (Raw(b"OK", content_type="text/plain"), "200 with a text/plain body"),
    "empty": (Raw(b""), "200 with an empty body"),
    "errors junk": (Raw(b'{"errors": "junk"}'), "200 whose errors is not a list (got string)"),
    "errors [1, 2]": (Raw(b'{"errors": [1, 2]}'), "200 whose errors[0] is not an object (got integer)"),
    "unknown pair": (
        _unknown_pair,
        f"errors[0] names a pair that was not sent: channelArn {A!r}, viewerId {viewer_reference('alice')}",
    ),
}


def _records(receive_count: int) -> list[dict[str, Any]]:
    return [
        sqs_record({"channelArn": A, "viewerId": " Alice "}, receive_count),
        sqs_record([{"channelArn": A, "viewerId": "bob"}, {"channelArn": A, "viewerId": "carol"}], receive_count),
    ]


@pytest.mark.parametrize("name", ANSWERS)
def test_a_malformed_answer_counts_nothing_and_the_records_come_back(harness: Harness, name: str) -> None:
    reply, _ = ANSWERS[name]
    harness.ivs.script(reply)

    with pytest.raises(BatchProcessingError):
        harness.invoke(*_records(receive_count=1))

    assert len(harness.ivs.requests) == 2  # the call, then its retry
    assert harness.pairs_revoked() == 0
    assert harness.dead_letters.written == []


@pytest.mark.parametrize("name", ANSWERS)
def test_a_malformed_answer_on_the_last_attempt_dead_letters_every_pair_with_the_reason(
    harness: Harness, name: str
) -> None:
    reply, problem = ANSWERS[name]
    harness.ivs.script(reply)

    response = harness.invoke(*_records(receive_count=MAX_RECEIVE_COUNT))

    assert response == {"batchItemFailures": []}
    assert harness.pairs_revoked() == 0
    reasons = {}
    for letter in harness.dead_letters.written:
        assert letter.code == CODE_MALFORMED_RESPONSE
        assert letter.attributes["ErrorMessage"] == f"{problem} (after 2 attempts)"
        for error in json.loads(letter.body)["errors"]:
            reasons[error["viewerId"]] = (error["code"], error["message"])
    assert reasons == {
        viewer: (CODE_MALFORMED_RESPONSE, f"{problem} (after 2 attempts)") for viewer in (" Alice ", "bob", "carol")
    }


def test_the_real_answer_after_a_malformed_one_is_counted(harness: Harness) -> None:
    harness.ivs.script(Raw(b"", content_type=None), answer({"errors": []}))

    response = harness.invoke(*_records(receive_count=1))

    assert response == {"batchItemFailures": []}
    assert harness.pairs_revoked() == 3


def test_no_viewer_id_in_logs_or_dead_letter_attributes_for_an_answer_naming_an_unsent_pair(
    harness: Harness,
) -> None:
    """The reason is the function's own: it names the unsent pair's viewer by a short hash."""
    harness.ivs.script(_unknown_pair)

    harness.invoke(*_records(receive_count=MAX_RECEIVE_COUNT))

    assert harness.dead_letters.written and harness.logs
    for letter in harness.dead_letters.written:
        assert not [value for value in letter.attributes.values() if "alice" in value.lower()]
        assert viewer_reference("alice") in letter.attributes["ErrorMessage"]
    assert not [record for record in harness.logs if "alice" in repr(vars(record)).lower()]
