"""The stack: composes one construct per capability and names its outputs."""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Stack
from constructs import Construct

from infra.constructs.function import RevocationFunction
from infra.constructs.monitoring import RevocationMonitoring
from infra.constructs.queues import RevocationQueues
from infra.constructs.routing import RevocationRouting
from infra.constructs.schemas import OutcomeEventSchemas
from infra.settings import DeploySettings
from ivs_revocation import names


class RevocationStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=settings.stack_name,
            description="IVS viewer-session revocation: SQS-buffered, drained at the API's quota",
        )
        self.settings = settings
        self.queues = RevocationQueues(self, "Queues", settings=settings)
        self.function = RevocationFunction(
            self,
            "Revocation",
            settings=settings,
            queue=self.queues.queue,
            dead_letter_queue=self.queues.dead_letter_queue,
        )
        self.urgent_function = RevocationFunction(
            self,
            "UrgentRevocation",
            settings=settings,
            lane=names.LANE_URGENT,
            queue=self.queues.urgent_queue,
            dead_letter_queue=self.queues.dead_letter_queue,
            bulk_queue=self.queues.queue,
        )
        self.routing = RevocationRouting(
            self,
            "Routing",
            settings=settings,
            queues=self.queues,
            publishers=(self.function.role, self.urgent_function.role),
        )
        # Where consumers of the outcome events find their schema (and download code bindings).
        self.schemas = OutcomeEventSchemas(self, "Schemas") if settings.outcome_events else None
        self.monitoring = RevocationMonitoring(
            self,
            "Monitoring",
            settings=settings,
            queues=self.queues,
            function=self.function.function,
            urgent_function=self.urgent_function.function,
        )
        # After routing, which creates the scheduler's role: the pipeline's own senders to each queue.
        # The urgent function sends the rest of a large urgent message to the bulk queue.
        bulk_senders = (self.function.role, self.urgent_function.role, self.routing.scheduler_role)
        self.queues.admit_only_producers(self.queues.queue, *(role for role in bulk_senders if role is not None))
        self.queues.admit_only_producers(self.queues.urgent_queue, self.urgent_function.role)
        self._outputs()

    def _outputs(self) -> None:
        queues = self.queues
        dashboard_name = self.monitoring.dashboard.dashboard_name
        for name, value, description in (
            (names.OUTPUT_QUEUE_URL, queues.queue.queue_url, "Where producers send revocation requests"),
            (names.OUTPUT_QUEUE_ARN, queues.queue.queue_arn, "The revocation queue's ARN"),
            (
                names.OUTPUT_URGENT_QUEUE_URL,
                queues.urgent_queue.queue_url,
                "Where producers send the few revocations a person waits on (fast lane)",
            ),
            (names.OUTPUT_URGENT_QUEUE_ARN, queues.urgent_queue.queue_arn, "The urgent queue's ARN"),
            (names.OUTPUT_DLQ_URL, queues.dead_letter_queue.queue_url, "Failed pairs, with their reasons"),
            (names.OUTPUT_DLQ_ARN, queues.dead_letter_queue.queue_arn, "The dead-letter queue's ARN"),
            (
                names.OUTPUT_DELIVERY_DLQ_URL,
                queues.delivery_dead_letter_queue.queue_url,
                "Events and schedule payloads EventBridge could not deliver to the queue",
            ),
            (names.OUTPUT_BUS_NAME, self.routing.event_bus.event_bus_name, "The bus the rule listens on"),
            (names.OUTPUT_FUNCTION_NAME, self.function.function.function_name, "The revocation function"),
            (
                names.OUTPUT_URGENT_FUNCTION_NAME,
                self.urgent_function.function.function_name,
                "The fast lane's revocation function",
            ),
            (
                names.OUTPUT_DASHBOARD_URL,
                f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
                f"#dashboards:name={dashboard_name}",
                "The pipeline's CloudWatch dashboard",
            ),
            (names.OUTPUT_ALARM_TOPIC_ARN, self.monitoring.topic.topic_arn, "Where the alarms notify"),
            (names.OUTPUT_REVOKER_ROLE_ARN, self.function.role.role_arn, "The function's role: member roles trust it"),
            (
                names.OUTPUT_URGENT_REVOKER_ROLE_ARN,
                self.urgent_function.role.role_arn,
                "The fast lane function's role: member roles trust it",
            ),
        ):
            CfnOutput(self, name, value=value, description=description)
        if self.settings.outcome_event_bus_name is not None:
            CfnOutput(
                self,
                names.OUTPUT_OUTCOME_BUS_NAME,
                value=self.settings.outcome_event_bus_name,
                description="The bus the functions put their outcome events on (Viewer Session Revocation Settled)",
            )
