"""The queues, the event bus and the rules on moto's server, as the CDK stack defines them from the same
settings (tests/integration/test_pipeline.py compares them with the synthesized template), and the
environments of the two functions (bulk and urgent lane)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ivs_revoke.sqs
from infra.settings import DeploySettings
from ivs_revocation import names
from ivs_revocation.models import (
    DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES,
    EVENT_DETAIL_TYPE,
    EVENT_SOURCE,
    OUTCOME_EVENT_DETAIL_TYPE,
    PRIORITY_URGENT,
    SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    SQS_MAX_MESSAGE_BYTES,
)
from local.clients import CREDENTIALS, DEFAULT_REGION, client

# Both rules take the stack's revocation events; `detail.priority` chooses the lane. An event without
# one is bulk: `anything-but` alone would not match a missing field.
_REVOCATION_EVENTS = {"source": [EVENT_SOURCE], "detail-type": [EVENT_DETAIL_TYPE]}
BULK_EVENT_PATTERN = {
    **_REVOCATION_EVENTS,
    "detail": {"priority": [{"anything-but": [PRIORITY_URGENT]}, {"exists": False}]},
}
URGENT_EVENT_PATTERN = {**_REVOCATION_EVENTS, "detail": {"priority": [PRIORITY_URGENT]}}
# The watch queue's rule: every outcome event on the outcome bus (a consumer's rule would narrow it,
# e.g. by detail.requestId or detail.status; docs/outcome-events.md).
OUTCOME_EVENT_PATTERN = {"source": [EVENT_SOURCE], "detail-type": [OUTCOME_EVENT_DETAIL_TYPE]}


@dataclass(frozen=True)
class Resources:
    """What the stack provisioned on moto's server, by name, URL and ARN."""

    endpoint_url: str
    region: str
    queue_name: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    dead_letter_queue_arn: str
    delivery_dead_letter_queue_url: str
    delivery_dead_letter_queue_arn: str
    event_bus_name: str
    rule_name: str
    urgent_queue_name: str
    urgent_queue_url: str
    urgent_queue_arn: str
    urgent_rule_name: str
    # Where the functions put their outcome events (None: outcomeEvents is false), and the local queue
    # that receives them through a rule, for watching (not part of the CDK stack: a consumer's own).
    outcome_event_bus_name: str | None = None
    outcome_queue_url: str | None = None
    outcome_rule_name: str | None = None


def resource_names(settings: DeploySettings) -> dict[str, str]:
    """Names derived from the stack name, so that two local stacks can share one moto server."""
    prefix = settings.stack_name
    return {
        "queue": settings.source_queue_name,
        "urgent_queue": settings.urgent_queue_name,
        "dead_letter_queue": f"{prefix}-dead-letters",
        "delivery_dead_letter_queue": f"{prefix}-delivery-dead-letters",
        "rule": f"{prefix}-revocation-requests",
        "urgent_rule": f"{prefix}-urgent-revocation-requests",
        "outcome_queue": f"{prefix}-outcome-events",
        "outcome_rule": f"{prefix}-outcome-events",
    }


def provision(settings: DeploySettings, endpoint_url: str, region: str = DEFAULT_REGION) -> Resources:
    """Creates the queues, the event bus and the rule as the CDK stack defines them."""
    sqs = client("sqs", endpoint_url, region)
    events = client("events", endpoint_url, region)
    named = resource_names(settings)
    day = 24 * 60 * 60

    dlq_url, dlq_arn = _create_queue(
        sqs,
        named["dead_letter_queue"],
        {
            "MessageRetentionPeriod": str(settings.dead_letter_retention_days * day),
            "MaximumMessageSize": str(DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES),
            "SqsManagedSseEnabled": "true",
        },
    )
    delivery_dlq_url, delivery_dlq_arn = _create_queue(
        sqs,
        named["delivery_dead_letter_queue"],
        {
            "MessageRetentionPeriod": str(14 * day),
            "MaximumMessageSize": str(SQS_MAX_MESSAGE_BYTES),
            "SqsManagedSseEnabled": "true",
            # Nothing may name it as its DLQ: only EventBridge's dead-letter configs write to it.
            "RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"}),
        },
    )

    def source_queue(name: str, visibility_timeout_seconds: int) -> tuple[str, str]:
        # The two lanes' queues differ in their visibility timeout only.
        return _create_queue(
            sqs,
            name,
            {
                "VisibilityTimeout": str(visibility_timeout_seconds),
                "MessageRetentionPeriod": str(settings.queue_retention_days * day),
                "MaximumMessageSize": str(SOURCE_QUEUE_MAX_MESSAGE_BYTES),
                "SqsManagedSseEnabled": "true",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.max_receive_count}
                ),
            },
        )

    queue_url, queue_arn = source_queue(named["queue"], settings.visibility_timeout_seconds)
    urgent_url, urgent_arn = source_queue(named["urgent_queue"], settings.urgent_visibility_timeout_seconds)
    sqs.set_queue_attributes(
        QueueUrl=dlq_url,
        Attributes={
            "RedriveAllowPolicy": json.dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn, urgent_arn]}
            )
        },
    )

    bus = settings.event_bus_name
    if bus != "default":
        # A bus named in cdk.json but not created by the stack exists in the account already; here
        # nothing else would create it.
        with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
            events.create_event_bus(Name=bus)
    rules = (
        (named["rule"], BULK_EVENT_PATTERN, queue_arn, queue_url, "Routes revocation requests to the bulk queue"),
        (named["urgent_rule"], URGENT_EVENT_PATTERN, urgent_arn, urgent_url, "Routes urgent ones to the urgent queue"),
    )
    for rule_name, pattern, target_arn, target_url, description in rules:
        rule_arn = events.put_rule(
            Name=rule_name,
            EventBusName=bus,
            EventPattern=json.dumps(pattern),
            State="ENABLED",
            Description=description,
        )["RuleArn"]
        events.put_targets(
            Rule=rule_name,
            EventBusName=bus,
            Targets=[
                {
                    "Id": "RevocationQueue",
                    "Arn": target_arn,
                    "DeadLetterConfig": {"Arn": delivery_dlq_arn},
                    "RetryPolicy": {
                        "MaximumRetryAttempts": settings.delivery_retry_attempts,
                        "MaximumEventAgeInSeconds": settings.delivery_max_event_age_seconds,
                    },
                }
            ],
        )
        sqs.set_queue_attributes(
            QueueUrl=target_url,
            Attributes={"Policy": ivs_revoke.sqs.rule_may_send(target_arn, rule_arn, "AllowRevocationRule")},
        )
    outcome_bus = settings.outcome_event_bus_name
    outcome_url = None
    if outcome_bus is not None:
        if outcome_bus not in ("default", bus):
            with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
                events.create_event_bus(Name=outcome_bus)
        outcome_url, outcome_arn = _create_queue(
            sqs, named["outcome_queue"], {"MessageRetentionPeriod": str(day), "SqsManagedSseEnabled": "true"}
        )
        outcome_rule_arn = events.put_rule(
            Name=named["outcome_rule"],
            EventBusName=outcome_bus,
            EventPattern=json.dumps(OUTCOME_EVENT_PATTERN),
            State="ENABLED",
            Description="Outcome events, for watching (make up's OUTCOME_QUEUE_URL)",
        )["RuleArn"]
        events.put_targets(
            Rule=named["outcome_rule"], EventBusName=outcome_bus, Targets=[{"Id": "OutcomeQueue", "Arn": outcome_arn}]
        )
        sqs.set_queue_attributes(
            QueueUrl=outcome_url,
            Attributes={"Policy": ivs_revoke.sqs.rule_may_send(outcome_arn, outcome_rule_arn, "AllowRevocationRule")},
        )
    return Resources(
        endpoint_url=endpoint_url,
        region=region,
        queue_name=named["queue"],
        queue_url=queue_url,
        queue_arn=queue_arn,
        dead_letter_queue_url=dlq_url,
        dead_letter_queue_arn=dlq_arn,
        delivery_dead_letter_queue_url=delivery_dlq_url,
        delivery_dead_letter_queue_arn=delivery_dlq_arn,
        event_bus_name=bus,
        rule_name=named["rule"],
        urgent_queue_name=named["urgent_queue"],
        urgent_queue_url=urgent_url,
        urgent_queue_arn=urgent_arn,
        urgent_rule_name=named["urgent_rule"],
        outcome_event_bus_name=outcome_bus,
        outcome_queue_url=outcome_url,
        outcome_rule_name=named["outcome_rule"] if outcome_bus is not None else None,
    )


def _create_queue(sqs: Any, name: str, attributes: Mapping[str, str]) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=name, Attributes=dict(attributes))["QueueUrl"]
    return url, ivs_revoke.sqs.queue_arn(sqs, url)


def function_environment(
    settings: DeploySettings, resources: Resources, ivs_endpoint_url: str, lane: str = names.LANE_BULK
) -> dict[str, str]:
    """A lane's function environment: what the CDK stack sets, plus the local endpoints and credentials.

    The endpoints reach the function through botocore's standard variables; the function has no
    branch of its own for running locally. Its own region is the local stack's, as a stack's is the
    region it is deployed in: IVS_REGIONS falls back to it where the settings name no scope.
    """
    urgent = lane == names.LANE_URGENT
    return {
        **settings.function_environment(
            dead_letter_queue_url=resources.dead_letter_queue_url,
            source_queue_url=resources.urgent_queue_url if urgent else resources.queue_url,
            region=resources.region,
            lane=lane,
            bulk_queue_url=resources.queue_url if urgent else None,
        ),
        # X-Ray has no local daemon here.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_ENDPOINT_URL_IVS": ivs_endpoint_url,
        "AWS_ENDPOINT_URL_SQS": resources.endpoint_url,
        # moto's server is STS too: member accounts' roles are assumed there (local/accounts.py).
        "AWS_ENDPOINT_URL_STS": resources.endpoint_url,
        # botocore names it by the service id, EventBridge (not the endpoint prefix, events).
        "AWS_ENDPOINT_URL_EVENTBRIDGE": resources.endpoint_url,
        "AWS_REGION": resources.region,
        "AWS_DEFAULT_REGION": resources.region,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
    }
