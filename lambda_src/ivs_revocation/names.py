"""Names the function shares with the stack that deploys it: environment keys and metrics.

The stack (infra/) imports these, so an alarm or an environment variable cannot drift from the code.
"""

from typing import Final

SERVICE_NAME: Final = "ivs-revocation"
METRICS_NAMESPACE: Final = "IvsRevocation"

# Environment variables the function reads once, at cold start (see settings.py).
ENV_DEAD_LETTER_QUEUE_URL: Final = "DEAD_LETTER_QUEUE_URL"
ENV_SOURCE_QUEUE_URL: Final = "SOURCE_QUEUE_URL"
ENV_MAX_RECEIVE_COUNT: Final = "MAX_RECEIVE_COUNT"
ENV_IVS_CALLS_PER_SECOND: Final = "IVS_CALLS_PER_SECOND"
ENV_IVS_MAX_ATTEMPTS: Final = "IVS_MAX_ATTEMPTS"
ENV_IVS_CALL_TIMEOUT_SECONDS: Final = "IVS_CALL_TIMEOUT_SECONDS"
ENV_TIME_SAFETY_MARGIN_SECONDS: Final = "TIME_SAFETY_MARGIN_SECONDS"
# Which lane this deployment is: LANE_BULK (the default) or LANE_URGENT. Both run the same handler.
ENV_LANE: Final = "REVOCATION_LANE"
# Urgent lane only: the pairs of one message it sends itself, and where the rest of the message goes.
ENV_MAX_PAIRS_PER_MESSAGE: Final = "MAX_PAIRS_PER_MESSAGE"
ENV_BULK_QUEUE_URL: Final = "BULK_QUEUE_URL"
# The deployment's scope: the comma-separated regions the function may revoke in (the stack's
# ivsRegions, else the regions of its channelArns, else its own region). Pairs of other regions, or
# of an account other than the function's own, are dead-lettered before any call.
ENV_IVS_REGIONS: Final = "IVS_REGIONS"
# Member accounts: the comma-separated account ids, other than the function's own, whose channels it
# revokes, and the name of the role it assumes in each (arn:<partition>:iam::<account>:role/<name>).
ENV_IVS_ACCOUNTS: Final = "IVS_ACCOUNTS"
ENV_IVS_MEMBER_ROLE_NAME: Final = "IVS_MEMBER_ROLE_NAME"
DEFAULT_MEMBER_ROLE_NAME: Final = "IvsRevocationMember"
# The bus the outcome events ("Viewer Session Revocation Settled") go to; unset: none are put.
ENV_OUTCOME_EVENT_BUS_NAME: Final = "OUTCOME_EVENT_BUS_NAME"
# Powertools' own, read by Powertools.
ENV_POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
ENV_POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
ENV_POWERTOOLS_LOG_LEVEL: Final = "POWERTOOLS_LOG_LEVEL"

# Metrics, emitted in EMF under METRICS_NAMESPACE with the dimension `service` = SERVICE_NAME.
METRIC_PAIRS_RECEIVED: Final = "PairsReceived"  # pairs in valid records, before merging
METRIC_PAIRS_REVOKED: Final = "PairsRevoked"  # distinct pairs the service accepted
METRIC_PAIRS_DEAD_LETTERED: Final = "PairsDeadLettered"  # also emitted with dimension ErrorCode
METRIC_INVALID_MESSAGES: Final = "InvalidMessages"
METRIC_IVS_CALLS: Final = "IvsCalls"
METRIC_THROTTLED_CALLS: Final = "ThrottledIvsCalls"
METRIC_RECORDS_RETRIED: Final = "RecordsRetried"
METRIC_PAIRS_REQUEUED: Final = "PairsRequeued"  # not started in time, put back on the queue
# Dead-letter messages the function could not write (their records are retried, and reach the DLQ
# bare through SQS's redrive on their last attempt): alarmed on, since their reasons are lost.
METRIC_DEAD_LETTERS_UNWRITTEN: Final = "DeadLettersUnwritten"
# Pairs of an urgent message beyond its bound, sent on to the bulk queue as a request.
METRIC_PAIRS_SENT_TO_BULK: Final = "PairsSentToBulk"
# Per invocation, the longest time from a record's SQS SentTimestamp to the accepted call of its pairs.
METRIC_PAIR_WAIT_SECONDS: Final = "PairWaitSeconds"
# Outcome events put, and those that could not be (logged whole at WARNING; alarmed on).
METRIC_OUTCOME_EVENTS_PUBLISHED: Final = "OutcomeEventsPublished"
METRIC_OUTCOME_EVENTS_UNPUBLISHED: Final = "OutcomeEventsUnpublished"
DIMENSION_ERROR_CODE: Final = "ErrorCode"
# IvsCalls and ThrottledIvsCalls are also emitted with this dimension: the IVS operation's name.
DIMENSION_OPERATION: Final = "Operation"
# IvsCalls and ThrottledIvsCalls are also emitted with this dimension: the account whose channels the
# calls were for (the function's own or a listed member: a bounded set).
DIMENSION_ACCOUNT: Final = "Account"
# The values of DIMENSION_OPERATION (the bulk lane's, the urgent lane's), and (prefixed with "ivs:")
# the IAM actions each lane is granted.
OPERATION_BATCH: Final = "BatchStartViewerSessionRevocation"
OPERATION_SINGLE: Final = "StartViewerSessionRevocation"
# PairWaitSeconds is emitted with this dimension: LANE_BULK or LANE_URGENT.
DIMENSION_LANE: Final = "Lane"
# The urgent lane's PairWaitSeconds is also emitted with Lane and this one: "true" on an instance's
# first invocation (Powertools' cold-start flag), "false" after.
DIMENSION_COLD_START: Final = "ColdStart"

LANE_BULK: Final = "bulk"
LANE_URGENT: Final = "urgent"
LANES: Final = (LANE_BULK, LANE_URGENT)

# Stack outputs: stable names that operators, the CLI (ivs_revoke, installed without the CDK app) and
# scripts read; the stack (infra/) writes them.
OUTPUT_QUEUE_URL: Final = "QueueUrl"
OUTPUT_QUEUE_ARN: Final = "QueueArn"
OUTPUT_URGENT_QUEUE_URL: Final = "UrgentQueueUrl"
OUTPUT_URGENT_QUEUE_ARN: Final = "UrgentQueueArn"
OUTPUT_DLQ_URL: Final = "DeadLetterQueueUrl"
OUTPUT_DLQ_ARN: Final = "DeadLetterQueueArn"
OUTPUT_DELIVERY_DLQ_URL: Final = "DeliveryDeadLetterQueueUrl"
OUTPUT_BUS_NAME: Final = "EventBusName"
OUTPUT_OUTCOME_BUS_NAME: Final = "OutcomeEventBusName"
OUTPUT_FUNCTION_NAME: Final = "FunctionName"
OUTPUT_URGENT_FUNCTION_NAME: Final = "UrgentFunctionName"
OUTPUT_DASHBOARD_URL: Final = "DashboardUrl"
OUTPUT_ALARM_TOPIC_ARN: Final = "AlarmTopicArn"
# The functions' roles: what each member account's role trusts (docs/many-accounts.md).
OUTPUT_REVOKER_ROLE_ARN: Final = "RevokerRoleArn"
OUTPUT_URGENT_REVOKER_ROLE_ARN: Final = "UrgentRevokerRoleArn"

HANDLER: Final = "ivs_revocation.handler.lambda_handler"
