"""Alarms on what needs an operator, an SNS topic they notify, and a dashboard of the pipeline."""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants
from infra.constructs.queues import RevocationQueues
from infra.nag import acknowledge
from infra.settings import DeploySettings
from ivs_revocation import names

# Queue metrics arrive every minute; the function's own metrics once per invocation.
QUEUE_PERIOD = Duration.minutes(1)
FUNCTION_PERIOD = Duration.minutes(5)
SECONDS_PER_DAY = 86_400


class RevocationMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        queues: RevocationQueues,
        function: lambda_.IFunction,
        urgent_function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._queue = queues.queue
        self._urgent_queue = queues.urgent_queue
        self._dlq = queues.dead_letter_queue
        self._delivery_dlq = queues.delivery_dead_letter_queue
        self._function = function
        self._urgent_function = urgent_function
        self.topic = self._build_topic()
        self.alarms: dict[str, cw.Alarm] = {}
        self._build_alarms()
        self.dashboard = self._build_dashboard()

    # --- notifications -------------------------------------------------------------------------
    def _build_topic(self) -> sns.Topic:
        # CloudWatch can publish to an encrypted topic only through a customer-managed key whose
        # policy admits it; the AWS-managed aws/sns key's policy cannot be changed.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the revocation pipeline's alarm notifications",
            enable_key_rotation=True,
            # Nothing stays encrypted under this key (SNS stores no messages): it goes with the stack.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        # Only this account's alarms may publish (confused deputy).
        topic.grant_publish(
            iam.ServicePrincipal(
                "cloudwatch.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": Stack.of(self).format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        if self._settings.alarm_email:
            subscription = topic.add_subscription(subscriptions.EmailSubscription(self._settings.alarm_email))
            acknowledge(
                subscription,
                "Serverless-SNSRedrivePolicy",
                "An alarm e-mail that could not be delivered has nothing to replay later: the alarm's state "
                "and history in CloudWatch are the record, shown on the dashboard's alarm widget.",
            )
        return topic

    # --- alarms ------------------------------------------------------------------------------
    def _alarm(
        self,
        suffix: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        description: str,
        comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
    ) -> None:
        alarm = cw.Alarm(
            self,
            suffix,
            alarm_name=f"{Stack.of(self).stack_name}-{suffix}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            # No data means nothing happened: no messages, no invocations, no calls.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms[suffix] = alarm

    def _build_alarms(self) -> None:
        settings = self._settings
        at_least = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        # Visible messages, not NumberOfMessagesSent: a redrive's moves do not count as sent.
        self._alarm(
            constants.ALARM_DLQ_NOT_EMPTY,
            self._dlq.metric_approximate_number_of_messages_visible(period=QUEUE_PERIOD, statistic="Maximum"),
            threshold=0,
            description="Pairs could not be revoked and wait in the dead-letter queue with their reason.",
        )
        self._alarm(
            constants.ALARM_DELIVERY_DLQ_NOT_EMPTY,
            self._delivery_dlq.metric_approximate_number_of_messages_visible(period=QUEUE_PERIOD, statistic="Maximum"),
            threshold=0,
            description="EventBridge or Scheduler could not deliver requests to the queue.",
        )
        self._alarm(
            constants.ALARM_QUEUE_OLDEST_MESSAGE,
            self._queue.metric_approximate_age_of_oldest_message(period=QUEUE_PERIOD, statistic="Maximum"),
            threshold=settings.queue_age_alarm_seconds,
            description="Requests wait longer than expected: the backlog drains too slowly or not at all.",
        )
        # Seconds: a person waits on each urgent request, and the lane has no backlog by design.
        self._alarm(
            constants.ALARM_URGENT_QUEUE_OLDEST_MESSAGE,
            self._urgent_queue.metric_approximate_age_of_oldest_message(period=QUEUE_PERIOD, statistic="Maximum"),
            threshold=settings.urgent_queue_age_alarm_seconds,
            description="Urgent requests wait: the fast lane is throttled, failing, or sent more than it is for.",
        )
        self._alarm(
            constants.ALARM_DLQ_OLDEST_MESSAGE,
            self._dlq.metric_approximate_age_of_oldest_message(period=QUEUE_PERIOD, statistic="Maximum"),
            threshold=settings.dead_letter_age_alarm_days * SECONDS_PER_DAY,
            description="Dead-lettered pairs have waited for days: redrive or discard them before they expire.",
        )
        for errors, throttles, function, lane in (
            (constants.ALARM_FUNCTION_ERRORS, constants.ALARM_FUNCTION_THROTTLES, self._function, names.LANE_BULK),
            (
                constants.ALARM_URGENT_FUNCTION_ERRORS,
                constants.ALARM_URGENT_FUNCTION_THROTTLES,
                self._urgent_function,
                names.LANE_URGENT,
            ),
        ):
            self._alarm(
                errors,
                function.metric_errors(period=FUNCTION_PERIOD, statistic="Sum"),
                threshold=1,
                comparison=at_least,
                description=f"Invocations of the {lane} lane's function failed: a crash, a timeout, or a batch "
                "whose every record failed.",
            )
            self._alarm(
                throttles,
                function.metric_throttles(period=FUNCTION_PERIOD, statistic="Sum"),
                threshold=1,
                comparison=at_least,
                description=f"Lambda throttled invocations of the {lane} lane's function: the account's or the "
                "function's concurrency ran out.",
            )
        # One alarm per operation: the two have separate quotas, and if AWS counted them together the
        # single operation's throttles would say so first.
        for suffix, operation in (
            (constants.ALARM_IVS_THROTTLED_CALLS, names.OPERATION_BATCH),
            (constants.ALARM_IVS_THROTTLED_SINGLE_CALLS, names.OPERATION_SINGLE),
        ):
            self._alarm(
                suffix,
                self._operation_metric(names.METRIC_THROTTLED_CALLS, operation, period=FUNCTION_PERIOD),
                threshold=settings.throttled_calls_alarm_threshold,
                comparison=at_least,
                description=f"IVS throttled {operation} calls: something else uses this account's quota of that "
                "operation in the region.",
            )
        # Per minute, since one unwritten dead letter matters: its record is retried, and on its last
        # attempt SQS moves it to the DLQ without the reason the function could not write.
        self._alarm(
            constants.ALARM_DEAD_LETTERS_UNWRITTEN,
            self._app_metric(names.METRIC_DEAD_LETTERS_UNWRITTEN, period=QUEUE_PERIOD),
            threshold=0,
            description="The function could not write dead letters: their records are retried, and may reach the "
            "dead-letter queue without a reason. Check the function's logs and its access to the DLQ.",
        )
        # Per minute, as a dead letter unwritten: a producer waits on that event. The revocations are done;
        # the events are in the function's logs, whole, to be put again.
        self._alarm(
            constants.ALARM_OUTCOME_EVENTS_UNPUBLISHED,
            self._app_metric(names.METRIC_OUTCOME_EVENTS_UNPUBLISHED, period=QUEUE_PERIOD),
            threshold=0,
            description="The functions could not put outcome events: the revocations they report are done, but "
            "producers were not told. Each is logged whole ('outcome event not published'): put it again from there. "
            "Check the functions' access to the outcome bus and EventBridge's health.",
        )

    # --- dashboard ---------------------------------------------------------------------------
    def _app_metric(
        self,
        name: str,
        *,
        period: Duration = QUEUE_PERIOD,
        label: str | None = None,
        dimensions: dict[str, str] | None = None,
        statistic: str = "Sum",
    ) -> cw.Metric:
        """A metric the function emits in EMF, under its namespace and `service` dimension (and others given)."""
        return cw.Metric(
            namespace=names.METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": names.SERVICE_NAME, **(dimensions or {})},
            statistic=statistic,
            period=period,
            label=label,
        )

    def _operation_metric(
        self, name: str, operation: str, *, period: Duration = QUEUE_PERIOD, label: str | None = None
    ) -> cw.Metric:
        """IvsCalls or ThrottledIvsCalls of one IVS operation."""
        return self._app_metric(name, period=period, label=label, dimensions={names.DIMENSION_OPERATION: operation})

    def _calls_widget(
        self, title: str, operation: str, quota_per_second: float, quota_label: str, *, width: int
    ) -> cw.GraphWidget:
        """One IVS operation's accepted and throttled calls per minute, against its quota."""
        return cw.GraphWidget(
            title=title,
            left=[
                self._operation_metric(names.METRIC_IVS_CALLS, operation, label="calls"),
                self._operation_metric(names.METRIC_THROTTLED_CALLS, operation, label="throttled"),
            ],
            left_annotations=[cw.HorizontalAnnotation(value=quota_per_second * 60, label=quota_label)],
            width=width,
        )

    def _build_dashboard(self) -> cw.Dashboard:
        settings = self._settings
        queue, fn = self._queue, self._function
        dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{Stack.of(self).stack_name}-{Aws.REGION}",
            default_interval=Duration.hours(3),
        )
        dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24, height=3)
        )
        dashboard.add_widgets(
            _backlog_widget("Backlog", queue, width=12),
            cw.GraphWidget(
                title="Drain rate (per minute)",
                left=[
                    queue.metric_number_of_messages_sent(label="messages in", period=QUEUE_PERIOD, statistic="Sum"),
                    queue.metric_number_of_messages_deleted(
                        label="messages done", period=QUEUE_PERIOD, statistic="Sum"
                    ),
                ],
                right=[self._app_metric(names.METRIC_PAIRS_REVOKED, label="pairs revoked")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Pairs: received, revoked, dead-lettered (per minute)",
                left=[
                    self._app_metric(names.METRIC_PAIRS_RECEIVED, label="received"),
                    self._app_metric(names.METRIC_PAIRS_REVOKED, label="revoked"),
                    self._app_metric(names.METRIC_PAIRS_DEAD_LETTERED, label="dead-lettered"),
                    self._app_metric(names.METRIC_PAIRS_SENT_TO_BULK, label="urgent pairs sent to bulk"),
                ],
                right=[
                    self._dlq.metric_approximate_number_of_messages_visible(
                        label="DLQ messages", period=QUEUE_PERIOD, statistic="Maximum"
                    ),
                    self._delivery_dlq.metric_approximate_number_of_messages_visible(
                        label="delivery DLQ messages", period=QUEUE_PERIOD, statistic="Maximum"
                    ),
                ],
                width=12,
            ),
            self._calls_widget(
                "Batch calls and throttles (per minute)",
                names.OPERATION_BATCH,
                settings.account_quota_calls_per_second,
                "quota per minute",
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Errors",
                left=[
                    fn.metric_errors(label="function errors", period=QUEUE_PERIOD, statistic="Sum"),
                    fn.metric_throttles(label="function throttles", period=QUEUE_PERIOD, statistic="Sum"),
                    self._app_metric(names.METRIC_INVALID_MESSAGES, label="invalid messages"),
                    self._app_metric(names.METRIC_RECORDS_RETRIED, label="records retried"),
                    self._app_metric(names.METRIC_DEAD_LETTERS_UNWRITTEN, label="dead letters unwritten"),
                    self._app_metric(names.METRIC_OUTCOME_EVENTS_UNPUBLISHED, label="outcome events unpublished"),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Duration (ms)",
                left=[
                    fn.metric_duration(label="p50", period=QUEUE_PERIOD, statistic="p50"),
                    fn.metric_duration(label="p99", period=QUEUE_PERIOD, statistic="p99"),
                    fn.metric_duration(label="max", period=QUEUE_PERIOD, statistic="Maximum"),
                ],
                left_annotations=[
                    cw.HorizontalAnnotation(value=settings.function_timeout_seconds * 1000, label="timeout")
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Concurrent executions",
                left=[fn.metric("ConcurrentExecutions", label="concurrent", period=QUEUE_PERIOD, statistic="Maximum")],
                left_annotations=[cw.HorizontalAnnotation(value=settings.max_concurrency, label="maximum")],
                width=8,
            ),
        )
        dashboard.add_widgets(*self._urgent_lane_widgets())
        if settings.member_accounts:
            dashboard.add_widgets(*self._account_widgets())
        return dashboard

    def _account_widgets(self) -> list[cw.IWidget]:
        """IVS calls and throttles by account, both lanes together: the own account and each member,
        each against its own quota (docs/many-accounts.md)."""
        accounts = [Aws.ACCOUNT_ID, *self._settings.member_accounts]

        def by_account(name: str) -> list[cw.IMetric]:
            return [
                self._app_metric(
                    name,
                    label="own account" if account == Aws.ACCOUNT_ID else account,
                    dimensions={names.DIMENSION_ACCOUNT: account},
                )
                for account in accounts
            ]

        return [
            cw.GraphWidget(
                title="IVS calls by account (per minute)", left=by_account(names.METRIC_IVS_CALLS), width=12
            ),
            cw.GraphWidget(
                title="Throttled IVS calls by account (per minute)",
                left=by_account(names.METRIC_THROTTLED_CALLS),
                width=12,
            ),
        ]

    def _urgent_lane_widgets(self) -> list[cw.IWidget]:
        """The fast lane's row: its backlog, its calls against its quota, the wait of both lanes, its function."""
        settings = self._settings
        queue, fn = self._urgent_queue, self._urgent_function
        return [
            _backlog_widget(
                "Urgent backlog",
                queue,
                width=6,
                right_annotations=[
                    cw.HorizontalAnnotation(value=settings.urgent_queue_age_alarm_seconds, label="alarm (s)")
                ],
            ),
            self._calls_widget(
                "Single calls and throttles (per minute)",
                names.OPERATION_SINGLE,
                settings.urgent_calls_per_second,
                f"quota per minute ({settings.urgent_calls_per_second:g}/s)",
                width=6,
            ),
            cw.GraphWidget(
                title="Pair wait, send to accepted call (s)",
                left=[
                    self._app_metric(
                        names.METRIC_PAIR_WAIT_SECONDS,
                        label=f"{lane} (max)",
                        dimensions={names.DIMENSION_LANE: lane},
                        statistic="Maximum",
                    )
                    for lane in names.LANES
                ]
                + [
                    self._app_metric(
                        names.METRIC_PAIR_WAIT_SECONDS,
                        label=f"urgent, {'cold' if cold == 'true' else 'warm'} start (max)",
                        dimensions={names.DIMENSION_LANE: names.LANE_URGENT, names.DIMENSION_COLD_START: cold},
                        statistic="Maximum",
                    )
                    for cold in ("true", "false")
                ],
                width=6,
            ),
            cw.GraphWidget(
                title="Urgent function",
                left=[
                    fn.metric_errors(label="errors", period=QUEUE_PERIOD, statistic="Sum"),
                    fn.metric_throttles(label="throttles", period=QUEUE_PERIOD, statistic="Sum"),
                ],
                right=[fn.metric("ConcurrentExecutions", label="concurrent", period=QUEUE_PERIOD, statistic="Maximum")],
                right_annotations=[cw.HorizontalAnnotation(value=settings.urgent_max_concurrency, label="maximum")],
                width=6,
            ),
        ]


def _backlog_widget(
    title: str, queue: sqs.IQueue, *, width: int, right_annotations: list[cw.HorizontalAnnotation] | None = None
) -> cw.GraphWidget:
    """A queue's waiting and in-flight messages, with the age of its oldest on the right axis."""
    return cw.GraphWidget(
        title=title,
        left=[
            queue.metric_approximate_number_of_messages_visible(
                label="waiting", period=QUEUE_PERIOD, statistic="Maximum"
            ),
            queue.metric_approximate_number_of_messages_not_visible(
                label="in flight", period=QUEUE_PERIOD, statistic="Maximum"
            ),
        ],
        right=[
            queue.metric_approximate_age_of_oldest_message(
                label="oldest message (s)", period=QUEUE_PERIOD, statistic="Maximum"
            )
        ],
        right_annotations=right_annotations,
        width=width,
    )
