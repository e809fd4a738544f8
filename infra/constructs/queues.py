"""The two lanes' source queues, their dead-letter queue, and the queue for deliveries EventBridge could not make."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge
from infra.settings import DeploySettings, LaneSettings
from ivs_revocation import names
from ivs_revocation.models import (
    DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES,
    SOURCE_QUEUE_MAX_MESSAGE_BYTES,
    SQS_MAX_MESSAGE_BYTES,
)

# Longest retention SQS allows: messages that failed delivery wait here until someone looks.
DELIVERY_DLQ_RETENTION = Duration.days(14)


class RevocationQueues(Construct):
    """Buffer and dead-letter queues, encrypted with SSE-SQS and reachable over TLS only.

    SSE-SQS, not SSE-KMS: AWS services (EventBridge, Scheduler) write to a KMS-encrypted queue only
    through a customer-managed key whose policy admits them. The source queues' MaximumMessageSize
    leaves room below the DLQ's for the attributes the function adds to a dead-letter copy. Both
    lanes' source queues, `queue` (bulk) and `urgent_queue`, redrive to the one DLQ, so that every
    failed pair is found in one place, in one format.
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.dead_letter_queue = self._build_dead_letter_queue()
        self.queue = self._build_source_queue("Queue", settings.lane(names.LANE_BULK))
        self.urgent_queue = self._build_source_queue("UrgentQueue", settings.lane(names.LANE_URGENT))
        self.delivery_dead_letter_queue = self._build_delivery_dead_letter_queue()
        for queue in (self.queue, self.urgent_queue):
            self._allow_producers_to_send(queue)

    def _build_dead_letter_queue(self) -> sqs.Queue:
        # Only the source queues may use this queue as their DLQ, and so be the destinations a redrive
        # returns messages to. A source queue's RedrivePolicy refers to this queue's ARN; a reference
        # back from here would be a cycle CloudFormation refuses. So the source queues have names fixed
        # in advance and their ARNs are built from them: this queue is created first, naming queues
        # that do not exist yet (SQS allows that), then the source queues, which SQS checks against
        # this policy.
        stack = Stack.of(self)
        source_queues = [
            sqs.Queue.from_queue_arn(self, construct_id, stack.format_arn(service="sqs", resource=name))
            for construct_id, name in (
                ("SourceQueueByName", self._settings.source_queue_name),
                ("UrgentQueueByName", self._settings.urgent_queue_name),
            )
        ]
        # A standard queue keeps a message's first enqueue time when it moves here: the DLQ must keep
        # messages longer than the source queue, or they would expire early.
        queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(self._settings.dead_letter_retention_days),
            max_message_size_bytes=DEAD_LETTER_QUEUE_MAX_MESSAGE_BYTES,
            redrive_allow_policy=sqs.RedriveAllowPolicy(
                redrive_permission=sqs.RedrivePermission.BY_QUEUE, source_queues=source_queues
            ),
        )
        _acknowledge_end_of_line(queue)
        return queue

    def _build_source_queue(self, construct_id: str, lane: LaneSettings) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            queue_name=lane.queue_name,
            max_message_size_bytes=SOURCE_QUEUE_MAX_MESSAGE_BYTES,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(lane.visibility_timeout_seconds),
            retention_period=Duration.days(self._settings.queue_retention_days),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=self._settings.max_receive_count
            ),
        )

    def _build_delivery_dead_letter_queue(self) -> sqs.Queue:
        # Kept apart from the pipeline's DLQ, whose every message is a request the function wrote or
        # SQS moved; here land the events and schedule payloads that never reached the queue.
        queue = sqs.Queue(
            self,
            "DeliveryDeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DELIVERY_DLQ_RETENTION,
            # A failed delivery is the event or schedule input (at most 256 KB) plus the attributes
            # EventBridge adds to say why: the largest message SQS takes holds both.
            max_message_size_bytes=SQS_MAX_MESSAGE_BYTES,
            redrive_allow_policy=sqs.RedriveAllowPolicy(redrive_permission=sqs.RedrivePermission.DENY_ALL),
        )
        _acknowledge_end_of_line(queue)
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is a dead-letter queue: the EventBridge rule's and the schedules' DeadLetterConfig "
            "point at it, which cdk-nag cannot see because no SQS redrive policy names it.",
        )
        return queue

    def _allow_producers_to_send(self, queue: sqs.Queue) -> None:
        if producers := self._settings.producer_principals:
            # The listed producers send without an identity policy of their own (another account's too).
            allow_to_send(queue, "AllowProducersToSend", [iam.ArnPrincipal(arn) for arn in producers])
        else:
            # Delegates to IAM within this account: producers of this account send when their own
            # policy lets them. No other account is named; EventBridge and the scheduler are added by
            # routing.
            allow_to_send(queue, "AllowThisAccountToSend", [iam.AccountRootPrincipal()])

    def admit_only_producers(self, queue: sqs.Queue, *pipeline_roles: iam.IRole) -> None:
        """With producerPrincipals set, denies SendMessage on a source queue to every other principal.

        An allow list alone would not do: in its own account, an identity policy that allows
        sqs:SendMessage is enough, whatever the queue policy says. The pipeline's own roles that send
        to this queue stay admitted, and so do AWS service principals, which only an Allow of this
        policy lets in: EventBridge, for this stack's rule alone.
        """
        producers = self._settings.producer_principals
        if not producers:
            return
        queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenySendersOtherThanProducers",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn],
                conditions={
                    "ArnNotEquals": {"aws:PrincipalArn": [*producers, *(role.role_arn for role in pipeline_roles)]},
                    "Bool": {"aws:PrincipalIsAWSService": "false"},
                },
            )
        )


def allow_to_send(queue: sqs.IQueue, sid: str, principals: list[iam.IPrincipal]) -> None:
    """Names principals in the queue's policy as allowed to send to it."""
    queue.add_to_resource_policy(
        iam.PolicyStatement(sid=sid, principals=principals, actions=["sqs:SendMessage"], resources=[queue.queue_arn])
    )


def _acknowledge_end_of_line(queue: sqs.Queue) -> None:
    acknowledge(
        queue,
        "Serverless-SQSRedrivePolicy",
        "This queue is itself a dead-letter queue, the end of the line: a redrive policy would move "
        "failures on to another queue that no alarm watches. Its messages stay until an operator "
        "redrives or discards them, and the DLQ alarms fire while any are visible.",
    )
