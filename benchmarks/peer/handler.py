"""The straightforward peer: Powertools' documented SQS pattern with one IVS call per record.

What a team would write first from the Powertools documentation: a module-level BatchProcessor, a
record handler that sends the record's pairs in one `BatchStartViewerSessionRevocation` call and raises
to fail the record, and botocore's `standard` retry mode for throttling. It neither merges records nor
paces its calls; the benchmarks run it on the same harness, backlog and settings as the function.

It reads the same message bodies as the function, without the function's validation (a record the
service rejects simply fails and comes back from SQS), and assumes at most 20 pairs per message, which
holds for every benchmark mix.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from benchmarks.peer.bodies import viewer_sessions

processor = BatchProcessor(event_type=EventType.SQS)
tracer = Tracer()
logger = Logger()
# Created once per execution environment, as the documentation recommends; botocore's standard retry
# mode retries ThrottlingException with jittered backoff (3 attempts in all).
ivs = boto3.client("ivs", config=Config(retries={"mode": "standard"}))


class RevocationFailed(Exception):
    """Some pairs of the record were not revoked: SQS delivers the record again."""


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    response = ivs.batch_start_viewer_session_revocation(viewerSessions=viewer_sessions(record.json_body))
    if response.get("errors"):
        raise RevocationFailed(f"{len(response['errors'])} pairs not revoked, first: {response['errors'][0]}")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
