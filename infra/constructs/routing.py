"""How requests reach the queue besides SendMessage: an EventBridge rule and EventBridge Scheduler."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.queues import RevocationQueues, allow_to_send
from infra.settings import DeploySettings, Schedule
from ivs_revocation.models import EVENT_DETAIL_TYPE, EVENT_SOURCE, PRIORITY_URGENT

# Where an event's detail says which lane it asks for.
PRIORITY_FIELD = "priority"


class RevocationRouting(Construct):
    """Two rules on the configured bus, one per lane, and the configured schedules (bulk lane), each
    with a retry policy and a DLQ.

    Every revocation event whose priority is absent or a single value matches exactly one rule:
    `priority: "urgent"` the urgent rule, anything else (no priority, "bulk", or a value the function will
    refuse as invalid) the bulk rule. A list (`["urgent", "bulk"]`) matches both, as EventBridge matches
    an array when any element does; both lanes then dead-letter it as invalid, so nothing is revoked twice.

    Each source queue's policy ends up naming exactly: this account (or, with producerPrincipals, the
    listed producers) and EventBridge for its lane's rule only; the bulk queue's also the scheduler's role.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        queues: RevocationQueues,
        publishers: Sequence[iam.IRole] = (),
    ) -> None:
        """`publishers`: the functions' roles, which put the outcome events (on this bus, by default)."""
        super().__init__(scope, construct_id)
        self._settings = settings
        self._publishers = tuple(publishers)
        self._queue = queues.queue
        self._delivery_dlq = queues.delivery_dead_letter_queue
        self.event_bus = self._build_event_bus()
        self.rule = self._build_rule(
            "RevocationRequestedRule",
            "Sends revocation requests to the revocation queue (bulk lane)",
            # anything-but matches only events that have the field: without exists:false, an event
            # without a priority (the default, bulk) would match neither rule.
            events.Match.any_of(events.Match.anything_but(PRIORITY_URGENT), events.Match.does_not_exist()),
            queues.queue,
        )
        self.urgent_rule = self._build_rule(
            "UrgentRevocationRequestedRule",
            "Sends urgent revocation requests to the urgent queue (fast lane)",
            [PRIORITY_URGENT],
            queues.urgent_queue,
        )
        self.scheduler_role: iam.Role | None = None
        if settings.schedules:
            group = self._build_schedule_group()
            self.scheduler_role = self._build_scheduler_role(group)
            for schedule in settings.schedules:
                self._build_schedule(schedule, group, self.scheduler_role)

    def _build_event_bus(self) -> events.IEventBus:
        name = self._settings.event_bus_name
        if self._settings.create_event_bus:
            bus = events.EventBus(self, "EventBus", event_bus_name=name)
            self._admit_only_producers_to(bus)
            return bus
        # A bus this stack does not own keeps its policy: whoever may put events on it reaches the rule.
        return events.EventBus.from_event_bus_name(self, "EventBus", name)

    def _admit_only_producers_to(self, bus: events.EventBus) -> None:
        """With producerPrincipals set, only they may put events on the bus the stack creates.

        As on the queue, a Deny: in its own account an identity policy allowing events:PutEvents
        would be enough without one. When the outcome events go to this bus, the functions put them
        here too: they are admitted beside the producers (their own policy lets them put outcome
        events only, which no request rule matches).
        """
        producers = list(self._settings.producer_principals)
        if not producers:
            return
        if self._settings.outcome_event_bus_name == self._settings.event_bus_name:
            producers += [role.role_arn for role in self._publishers]
        bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowProducersToPutEvents",
                principals=[iam.ArnPrincipal(arn) for arn in producers],
                actions=["events:PutEvents"],
                resources=[bus.event_bus_arn],
            )
        )
        bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyPutEventsFromOthers",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["events:PutEvents"],
                resources=[bus.event_bus_arn],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": list(producers)}},
            )
        )

    def _build_rule(self, construct_id: str, description: str, priority: list[str], queue: sqs.IQueue) -> events.Rule:
        return events.Rule(
            self,
            construct_id,
            event_bus=self.event_bus,
            description=description,
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE], detail_type=[EVENT_DETAIL_TYPE], detail={PRIORITY_FIELD: priority}
            ),
            # The whole event is the message body: the function accepts an EventBridge event as is.
            targets=[
                events_targets.SqsQueue(
                    queue,
                    dead_letter_queue=self._delivery_dlq,
                    retry_attempts=self._settings.delivery_retry_attempts,
                    max_event_age=Duration.seconds(self._settings.delivery_max_event_age_seconds),
                )
            ],
        )

    def _build_schedule_group(self) -> scheduler.ScheduleGroup:
        # A group per stack, so that schedule names need only be unique within this deployment.
        return scheduler.ScheduleGroup(
            self,
            "ScheduleGroup",
            schedule_group_name=Stack.of(self).stack_name,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _build_scheduler_role(self, group: scheduler.ScheduleGroup) -> iam.Role:
        # Only the scheduler, for this account's schedules in this group, may assume it (confused deputy).
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnEquals": {"aws:SourceArn": group.schedule_group_arn},
                },
            ),
        )
        # Named in the queue's policy as well as granted by its own: the policy lists who may send.
        allow_to_send(self._queue, "AllowSchedulerRoleToSend", [iam.ArnPrincipal(role.role_arn)])
        return role

    def _build_schedule(self, schedule: Schedule, group: scheduler.ScheduleGroup, role: iam.Role) -> None:
        scheduler.Schedule(
            self,
            f"Schedule-{schedule.name}",
            schedule_name=schedule.name,
            schedule_group=group,
            description=schedule.description,
            enabled=schedule.enabled,
            schedule=scheduler.ScheduleExpression.expression(schedule.expression, TimeZone.of(schedule.timezone)),
            time_window=scheduler.TimeWindow.off(),
            target=scheduler_targets.SqsSendMessage(
                self._queue,
                input=scheduler.ScheduleTargetInput.from_text(schedule.payload()),
                role=role,
                dead_letter_queue=self._delivery_dlq,
                retry_attempts=self._settings.delivery_retry_attempts,
                max_event_age=Duration.seconds(self._settings.delivery_max_event_age_seconds),
            ),
        )
