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
DIMENSION_ERROR_CODE: Final = "ErrorCode"

HANDLER: Final = "revocation.handler.lambda_handler"
