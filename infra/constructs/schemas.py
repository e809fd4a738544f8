"""The outcome events' schema in an EventBridge schema registry, so that consumers can download code
bindings for them (the schema is made from the model that builds the detail: ivs_revocation.models)."""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_eventschemas as eventschemas
from constructs import Construct

from ivs_revocation.models import EVENT_SOURCE, OUTCOME_EVENT_DETAIL_TYPE, outcome_event_schema

# EventBridge's own convention for a schema's name: source@DetailTypeInPascalCase.
OUTCOME_EVENT_SCHEMA_NAME = f"{EVENT_SOURCE}@{OUTCOME_EVENT_DETAIL_TYPE.title().replace(' ', '')}"
SCHEMA_TYPE = "JSONSchemaDraft4"


class OutcomeEventSchemas(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.registry = eventschemas.CfnRegistry(
            self,
            "Registry",
            registry_name=Stack.of(self).stack_name,
            description="The events the IVS revocation pipeline puts (its outcome events)",
        )
        self.schema = eventschemas.CfnSchema(
            self,
            "OutcomeEventSchema",
            registry_name=self.registry.attr_registry_name,
            schema_name=OUTCOME_EVENT_SCHEMA_NAME,
            type=SCHEMA_TYPE,
            content=json.dumps(outcome_event_schema()),
            description=f'"{OUTCOME_EVENT_DETAIL_TYPE}": what became of the pairs of one message of a request',
        )
