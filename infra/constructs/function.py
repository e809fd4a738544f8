"""A lane's revocation function, its log group, its role, and the event source mapping from its queue."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import constants
from infra.channels import channel_arns
from infra.nag import acknowledge, nag_form
from infra.settings import DeploySettings
from ivs_revocation import names
from ivs_revocation.models import EVENT_SOURCE, OUTCOME_EVENT_DETAIL_TYPE

# arm64 (Graviton): the function is pure Python and I/O-bound, and arm64 costs less per GB-second.
ARCHITECTURE = lambda_.Architecture.ARM_64
RUNTIME = lambda_.Runtime.PYTHON_3_13
# Each lane is granted its own operation only: the bulk lane merges pairs into batch calls, the
# urgent lane sends one pair per call.
IVS_REVOKE_ACTIONS = {
    names.LANE_BULK: f"ivs:{names.OPERATION_BATCH}",
    names.LANE_URGENT: f"ivs:{names.OPERATION_SINGLE}",
}
DESCRIPTIONS = {
    names.LANE_BULK: "Revokes IVS viewer sessions from the queue at this instance's share of the API quota",
    names.LANE_URGENT: "Revokes urgent IVS viewer sessions one call each, at this instance's share of the quota",
}


class RevocationFunction(Construct):
    """Python 3.13 on arm64 with the Powertools v3 public layer, fed by its lane's queue at a bounded concurrency.

    One construct for both lanes: the same code asset, handler, layer, runtime and tracing; the lane
    decides the queue, the IVS operation, the timeout, the rate and the mapping. The urgent lane also
    sends the pairs of a message beyond its bound to the bulk queue (`bulk_queue`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        lane: str = names.LANE_BULK,
        bulk_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._lane = settings.lane(lane)
        self._queue = queue
        self._dead_letter_queue = dead_letter_queue
        self._bulk_queue = bulk_queue
        self.log_group = self._build_log_group()
        self.role = self._build_role()
        self.function = self._build_function()
        self.alias = self._build_alias()
        self._grant_revocation()
        self._grant_member_roles()
        self._grant_queue_writes()
        self._grant_outcome_events()
        self.event_source = self._build_event_source()
        self._drop_redundant_role_dependency()
        self._acknowledge_findings()

    def _build_log_group(self) -> logs.LogGroup:
        # Kept when the stack is deleted: the logs are the record of what was revoked, and they expire anyway.
        log_group = logs.LogGroup(self, "LogGroup", removal_policy=RemovalPolicy.RETAIN)
        # Set on the CloudFormation resource: the settings hold the number of days, already checked
        # against the values CloudWatch Logs accepts.
        cfn_log_group = log_group.node.default_child
        assert isinstance(cfn_log_group, logs.CfnLogGroup)
        cfn_log_group.retention_in_days = self._settings.log_retention_days
        return log_group

    def _build_role(self) -> iam.Role:
        # A role of its own, without AWSLambdaBasicExecutionRole: that managed policy would let the
        # function create and write any log group; this one writes only to its own.
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogGroup",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        return role

    def _powertools_layer(self) -> lambda_.ILayerVersion:
        arn = self._settings.powertools_layer_arn or ssm.StringParameter.value_for_string_parameter(
            self,
            constants.POWERTOOLS_LAYER_SSM_PARAMETER.format(
                architecture=ARCHITECTURE.name,
                runtime=RUNTIME.name,
                version=self._settings.powertools_version,
            ),
        )
        return lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", arn)

    def _build_function(self) -> lambda_.Function:
        settings, lane = self._settings, self._lane
        return lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=names.HANDLER,
            code=lambda_.Code.from_asset(str(constants.LAMBDA_SRC), exclude=constants.ASSET_EXCLUDE),
            layers=[self._powertools_layer()],
            memory_size=settings.function_memory_mb,
            timeout=Duration.seconds(lane.function_timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
            environment=settings.function_environment(
                dead_letter_queue_url=self._dead_letter_queue.queue_url,
                source_queue_url=self._queue.queue_url,
                region=Stack.of(self).region,
                lane=lane.lane,
                bulk_queue_url=self._bulk_queue.queue_url if self._bulk_queue else None,
            ),
            # Never below the mapping's maximum concurrency (the settings reject that): the poller would
            # keep receiving, invocations would be throttled, and messages would reach the DLQ unread.
            reserved_concurrent_executions=lane.reserved_concurrency,
            description=DESCRIPTIONS[lane.lane],
            # A snapshot of the initialised function, taken when a version is published, restored on a
            # cold start instead of importing and initialising again.
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if self._warm_path_snap_start else None,
        )

    @property
    def _warm_path_snap_start(self) -> bool:
        return self._lane.lane == names.LANE_URGENT and self._settings.urgent_snap_start

    def _build_alias(self) -> lambda_.Alias | None:
        """The urgent lane's alias on a published version, when it runs warm on request: the mapping
        invokes it, since provisioned concurrency and SnapStart apply to published versions only."""
        settings = self._settings
        if self._lane.lane != names.LANE_URGENT or not settings.urgent_published:
            return None
        return lambda_.Alias(
            self,
            "Alias",
            alias_name=constants.URGENT_ALIAS,
            version=self.function.current_version,
            provisioned_concurrent_executions=settings.urgent_provisioned_concurrency or None,
        )

    def _channel_arns(self) -> list[str]:
        if self._settings.channel_arns:
            return list(self._settings.channel_arns)
        stack = Stack.of(self)
        return channel_arns(stack, self._settings.revocation_regions(stack.region))

    def _grant_revocation(self) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="RevokeViewerSessions",
                actions=[IVS_REVOKE_ACTIONS[self._lane.lane]],
                resources=self._channel_arns(),
            )
        )

    def _grant_member_roles(self) -> None:
        # Exactly the listed member accounts' roles (docs/many-accounts.md): nothing else of STS.
        if not self._settings.member_accounts:
            return
        stack = Stack.of(self)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeMemberRoles",
                actions=["sts:AssumeRole"],
                resources=[
                    stack.format_arn(
                        service="iam",
                        region="",
                        account=account,
                        resource="role",
                        resource_name=self._settings.member_role_name,
                    )
                    for account in self._settings.member_accounts
                ],
            )
        )

    def _grant_queue_writes(self) -> None:
        # SendMessageBatch is authorized as sqs:SendMessage; SSE-SQS needs no KMS permission. The
        # lane's queue takes back the pairs an invocation had no time to start; the bulk queue takes
        # the pairs of an urgent message beyond the urgent lane's bound.
        queues = [self._dead_letter_queue, self._queue, *([self._bulk_queue] if self._bulk_queue else [])]
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteDeadLettersAndRequeue",
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn for queue in queues],
            )
        )

    def _grant_outcome_events(self) -> None:
        """PutEvents on the outcome bus only, and only the outcome events: a function cannot put a request."""
        bus = self._settings.outcome_event_bus_name
        if bus is None:
            return
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PutOutcomeEvents",
                actions=["events:PutEvents"],
                resources=[outcome_event_bus_arn(self, bus)],
                conditions={
                    "StringEquals": {"events:source": EVENT_SOURCE, "events:detail-type": OUTCOME_EVENT_DETAIL_TYPE}
                },
            )
        )

    def _build_event_source(self) -> event_sources.SqsEventSource:
        lane = self._lane
        source = event_sources.SqsEventSource(
            self._queue,
            batch_size=lane.batch_size,
            max_batching_window=Duration.seconds(lane.max_batching_window_seconds),
            report_batch_item_failures=True,
            max_concurrency=lane.max_concurrency,
        )
        # The alias when there is one: a mapping on the function would invoke $LATEST, cold.
        (self.alias or self.function).add_event_source(source)
        return source

    def _drop_redundant_role_dependency(self) -> None:
        # The CDK lists the role in DependsOn although `Role: Fn::GetAtt` already orders it (cfn-lint
        # W3005). Only the role's policy must be listed: the function must not start without it.
        policy = self._role_policy()
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_policy = policy.node.default_child
        assert isinstance(cfn_policy, iam.CfnPolicy)
        cfn_function.add_override("DependsOn", [Stack.of(self).get_logical_id(cfn_policy)])

    @property
    def event_source_mapping(self) -> lambda_.CfnEventSourceMapping:
        mappings = [child for child in self.node.find_all() if isinstance(child, lambda_.CfnEventSourceMapping)]
        assert len(mappings) == 1, "the function has exactly one event source mapping, from its queue"
        return mappings[0]

    def _acknowledge_findings(self) -> None:
        policy = self._role_policy()
        for arn in self._channel_arns():
            if arn.endswith("/*"):
                acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[Resource::{nag_form(Stack.of(self), arn)}]",
                    "Revocation targets any channel of this account in the listed regions, and channels "
                    f"are created at run time; the one action granted is {IVS_REVOKE_ACTIONS[self._lane.lane]}. "
                    "Narrow it with the channelArns setting.",
                )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments and PutTelemetryRecords, added for active tracing, support no "
            "resource-level permissions: '*' is the only resource they accept.",
        )
        for finding in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
            acknowledge(
                self.function,
                finding,
                "Python 3.13 on purpose: a supported Lambda runtime, chosen together with the pinned "
                "Powertools layer build for it (python313). A newer runtime means a new layer build "
                "too, so it is a change of its own, tested as such, not a side effect of a CDK upgrade.",
            )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Only the SQS event source mapping invokes this function, synchronously; a function DLQ "
            "applies to asynchronous invocations only. Failed messages reach the DLQ through the "
            "queue's redrive policy, and failed pairs through the function's own dead-letter writes.",
        )
        acknowledge(
            self.event_source_mapping,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS event source mappings do not support OnFailure destinations; the source queue's "
            "redrive policy (maxReceiveCount from the settings) is the mapping's dead-letter path.",
        )

    def _role_policy(self) -> iam.Policy:
        policy = self.role.node.try_find_child("DefaultPolicy")
        assert isinstance(policy, iam.Policy), "the role's statements are in its default policy"
        return policy


def outcome_event_bus_arn(scope: Construct, bus: str) -> str:
    """The outcome bus's ARN, in the stack's account and region (a created bus has the same)."""
    arn: str = Stack.of(scope).format_arn(
        service="events", resource="event-bus", resource_name=bus, arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )
    return arn
