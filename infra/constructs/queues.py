"""The source queue, its dead-letter queue, and the queue for deliveries EventBridge could not make."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge
from infra.settings import DeploySettings

# Longest retention SQS allows: messages that failed delivery wait here until someone looks.
DELIVERY_DLQ_RETENTION = Duration.days(14)


class RevocationQueues(Construct):
    """Buffer and dead-letter queues, encrypted with SSE-SQS and reachable over TLS only.

    SSE-SQS rather than SSE-KMS: EventBridge and EventBridge Scheduler write to these queues, and an
    AWS service can only write to a KMS-encrypted queue through a customer-managed key whose policy
    admits it; SSE-SQS needs no key policy and no KMS permission for the function.
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.dead_letter_queue = self._build_dead_letter_queue()
        self.queue = self._build_queue()
        self.delivery_dead_letter_queue = self._build_delivery_dead_letter_queue()
        self._allow_account_to_send()

    def _build_dead_letter_queue(self) -> sqs.Queue:
        # A standard queue keeps a message's first enqueue time when it moves here: the DLQ must keep
        # messages longer than the source queue, or they would expire early.
        queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(self._settings.dead_letter_retention_days),
        )
        _acknowledge_end_of_line(queue)
        return queue

    def _build_queue(self) -> sqs.Queue:
        return sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(self._settings.visibility_timeout_seconds),
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

    def _allow_account_to_send(self) -> None:
        # Delegates to IAM within this account: producers of this account send when their own policy
        # lets them. No other account is named; EventBridge and the scheduler are added by routing.
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountToSend",
                principals=[iam.AccountRootPrincipal()],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
            )
        )


def _acknowledge_end_of_line(queue: sqs.Queue) -> None:
    acknowledge(
        queue,
        "Serverless-SQSRedrivePolicy",
        "This queue is itself a dead-letter queue, the end of the line: a redrive policy would move "
        "failures on to another queue that no alarm watches. Its messages stay until an operator "
        "redrives or discards them, and the DLQ alarms fire while any are visible.",
    )
