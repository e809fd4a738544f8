"""The outcome events' JSON Schema: the file in the repository is the one made from the model, and
every event the function actually puts (through the real handler and botocore's serializer) is valid
against it, detail and whole event alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ivs_revocation.adapters.events import EventBridgePublisher
from ivs_revocation.models import (
    EVENT_SOURCE,
    OUTCOME_EVENT_DETAIL_TYPE,
    OUTCOME_EVENT_SCHEMA_FILE,
    outcome_detail_schema,
    outcome_event_schema,
)
from ivs_revocation.service import RevocationService
from tests.unit.fakes import (
    FakeClock,
    FakeContext,
    FakeGateway,
    FakeQueueWriter,
    channel,
    denied_pairs,
    settings,
    sqs_event,
    sqs_record,
)
from tests.unit.test_outcome_events import RawEvents, accept

SCHEMA_FILE = (
    Path(__file__).resolve().parents[2] / "lambda_src" / "ivs_revocation" / "schemas" / OUTCOME_EVENT_SCHEMA_FILE
)


def test_the_schema_in_the_repository_is_the_one_made_from_the_model() -> None:
    # To update it: python -c "from ivs_revocation.models import outcome_detail_schema as s; import json;
    # print(json.dumps(s(), indent=2))" > lambda_src/ivs_revocation/schemas/<OUTCOME_EVENT_SCHEMA_FILE>
    assert json.loads(SCHEMA_FILE.read_text()) == outcome_detail_schema()


def test_the_schemas_are_draft_4() -> None:
    jsonschema.Draft4Validator.check_schema(outcome_detail_schema())
    jsonschema.Draft4Validator.check_schema(outcome_event_schema())


def _put_details() -> list[dict[str, Any]]:
    """The details the function puts for a batch of every outcome: revoked, 403, invalid, no request id."""
    clock = FakeClock()
    gateway = FakeGateway(clock=clock, call_seconds=0.05)
    gateway.default = denied_pairs("refused")
    wire = RawEvents(accept)
    service = RevocationService(
        settings(OUTCOME_EVENT_BUS_NAME="outcomes"),
        gateway,
        FakeQueueWriter(),
        events=EventBridgePublisher(wire.client, clock=clock, sleep=clock.sleep),
        clock=clock,
        sleep=clock.sleep,
    )
    bodies: list[Any] = [
        {"viewerSessions": [{"channelArn": channel(), "viewerId": "ok"}], "requestId": "r1"},
        {"viewerSessions": [{"channelArn": channel(), "viewerId": v} for v in ("ok2", "refused")], "requestId": "r2"},
        {"channelArn": channel(), "viewerId": "née-\u00e9"},
        "not json",
        {"id": "e1", "source": EVENT_SOURCE, "detail-type": "Viewer Session Revocation Requested", "detail": {}},
    ]
    records = [SQSRecord(r) for r in sqs_event(*(sqs_record(b) for b in bodies))["Records"]]
    service.settle_batch(records, FakeContext(clock, 30))
    entries = [entry for request in wire.requests for entry in request]
    assert {(e["Source"], e["DetailType"], e["EventBusName"]) for e in entries} == {
        (EVENT_SOURCE, OUTCOME_EVENT_DETAIL_TYPE, "outcomes")
    }
    return [json.loads(e["Detail"]) for e in entries]


def test_every_event_the_function_puts_is_valid_against_the_schema() -> None:
    details = _put_details()
    assert {d["status"] for d in details} == {"REVOKED", "PARTIALLY_REVOKED", "FAILED"}
    assert sum(1 for d in details if "invalidMessage" in d) == 2
    validator = jsonschema.Draft4Validator(json.loads(SCHEMA_FILE.read_text()))
    for detail in details:
        validator.validate(detail)
    event_validator = jsonschema.Draft4Validator(outcome_event_schema())
    for detail in details:
        event_validator.validate(
            {
                "version": "0",
                "id": "x",
                "detail-type": OUTCOME_EVENT_DETAIL_TYPE,
                "source": EVENT_SOURCE,
                "account": "123456789012",
                "time": "2026-12-07T15:00:00Z",
                "region": "us-west-2",
                "resources": [],
                "detail": detail,
            }
        )


@pytest.mark.parametrize(
    "broken",
    [
        {"status": "DONE"},
        {"lane": "fast"},
        {"revoked": [{"channelArn": "a"}]},
        {"failed": [{"channelArn": "a", "viewerId": "v", "viewerSessionVersionsLessThanOrEqualTo": 0}]},
        {"version": "2"},
    ],
)
def test_the_schema_refuses_what_the_contract_does_not_allow(broken: dict[str, Any]) -> None:
    detail = {**_put_details()[0], **broken}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(detail, outcome_detail_schema(), cls=jsonschema.Draft4Validator)
    assert jsonschema.Draft4Validator(outcome_detail_schema()).is_valid({**_put_details()[0], "newField": 1})
