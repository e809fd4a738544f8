"""The Lambda entry point for SQS events from a mapping with ReportBatchItemFailures.

Thin on purpose: observability decorators, one call into the service, the partial-batch response out.
Both lanes run this entry point; the lane (REVOCATION_LANE) picks the service's ports: the bulk lane's
batch gateway, or the urgent lane's single-pair gateway with its overflow to the bulk queue.
Settings are parsed here, once, at cold start; a missing or invalid one fails the cold start with a
message that names it. `make_handler` builds the entry point around any service (tests pass one with
in-memory ports); `lambda_handler` is the one built around the service of this environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ivs_revocation import names
from ivs_revocation.adapters.events import EventBridgePublisher
from ivs_revocation.adapters.ivs import Boto3IvsGateway, Boto3IvsSingleGateway
from ivs_revocation.adapters.member_credentials import MemberCredentials
from ivs_revocation.adapters.queue_writer import SqsMessageWriter
from ivs_revocation.observability import logger, metrics, tracer
from ivs_revocation.processor import WholeBatchProcessor
from ivs_revocation.service import RevocationService
from ivs_revocation.settings import FunctionSettings

LambdaHandler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]


def build_service(settings: FunctionSettings) -> RevocationService:
    gateway: Boto3IvsGateway | Boto3IvsSingleGateway
    overflow = None
    # Member accounts' calls are signed with their role's credentials, assumed on first use.
    members = MemberCredentials(settings.ivs_accounts, settings.ivs_member_role_name) if settings.ivs_accounts else None
    if settings.lane == names.LANE_URGENT and settings.bulk_queue_url is not None:
        gateway = Boto3IvsSingleGateway(settings.ivs_call_timeout_seconds, members=members)
        overflow = SqsMessageWriter(settings.bulk_queue_url)
    else:
        gateway = Boto3IvsGateway(settings.ivs_call_timeout_seconds, members=members)
    if members is not None:
        # Member roles assumed and their clients made beside the cold start, not in the first calls.
        gateway.warm(settings.ivs_regions)
    return RevocationService(
        settings,
        gateway=gateway,
        dead_letters=SqsMessageWriter(settings.dead_letter_queue_url),
        requeue=SqsMessageWriter(settings.source_queue_url) if settings.source_queue_url else None,
        overflow=overflow,
        events=EventBridgePublisher() if settings.outcome_event_bus_name else None,
        pairs_per_call=gateway.pairs_per_call,
        operation=gateway.operation,
    )


def make_handler(service: RevocationService) -> LambdaHandler:
    processor = WholeBatchProcessor(logger=logger)

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        # A direct invocation (no "Records") raises UnexpectedBatchTypeError: every producer must come
        # through the queue, or nothing would account for its pairs.
        return process_partial_response(
            event=event, record_handler=service.settle_batch, processor=processor, context=context
        )

    # Powertools' decorators are untyped; the entry point keeps the signature Lambda calls.
    handler: LambdaHandler = lambda_handler
    return handler


settings = FunctionSettings.from_environ(os.environ)
lambda_handler = make_handler(build_service(settings))
