"""Names and fixed choices the stack and its tests share, defined once.

Names that the function shares (environment keys, metrics, handler) live in `ivs_revocation.names`;
the message contract (event source and detail-type) in `ivs_revocation.models`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
# The Lambda asset: the whole function package, nothing from the rest of the repository.
LAMBDA_SRC: Final = PROJECT_ROOT / "lambda_src"
ASSET_EXCLUDE: Final = ["**/__pycache__", "**/*.pyc", ".mypy_cache", ".pytest_cache", ".ruff_cache"]

# Powertools for AWS Lambda (Python) v3 public layer; its ARN per release and region is published in SSM.
POWERTOOLS_LAYER_SSM_PARAMETER: Final = "/aws/service/powertools/python/{architecture}/{runtime}/{version}"

# The alias the urgent mapping invokes when the lane runs a published version (provisioned concurrency
# or SnapStart).
URGENT_ALIAS: Final = "live"

# Alarm names are "<stack name>-<suffix>", so that a notification says which deployment it is about.
ALARM_DLQ_NOT_EMPTY: Final = "DeadLetterQueueNotEmpty"
ALARM_DELIVERY_DLQ_NOT_EMPTY: Final = "DeliveryDeadLetterQueueNotEmpty"
ALARM_QUEUE_OLDEST_MESSAGE: Final = "QueueOldestMessageAge"
ALARM_URGENT_QUEUE_OLDEST_MESSAGE: Final = "UrgentQueueOldestMessageAge"
ALARM_DLQ_OLDEST_MESSAGE: Final = "DeadLetterQueueOldestMessageAge"
ALARM_FUNCTION_ERRORS: Final = "FunctionErrors"
ALARM_FUNCTION_THROTTLES: Final = "FunctionThrottles"
ALARM_URGENT_FUNCTION_ERRORS: Final = "UrgentFunctionErrors"
ALARM_URGENT_FUNCTION_THROTTLES: Final = "UrgentFunctionThrottles"
# Throttled calls per IVS operation: the batch operation's (bulk lane) and the single one's (urgent lane).
ALARM_IVS_THROTTLED_CALLS: Final = "IvsThrottledCalls"
ALARM_IVS_THROTTLED_SINGLE_CALLS: Final = "IvsThrottledSingleCalls"
ALARM_DEAD_LETTERS_UNWRITTEN: Final = "DeadLettersUnwritten"
ALARM_OUTCOME_EVENTS_UNPUBLISHED: Final = "OutcomeEventsUnpublished"
ALARM_SUFFIXES: Final = (
    ALARM_DLQ_NOT_EMPTY,
    ALARM_DELIVERY_DLQ_NOT_EMPTY,
    ALARM_QUEUE_OLDEST_MESSAGE,
    ALARM_URGENT_QUEUE_OLDEST_MESSAGE,
    ALARM_DLQ_OLDEST_MESSAGE,
    ALARM_FUNCTION_ERRORS,
    ALARM_FUNCTION_THROTTLES,
    ALARM_URGENT_FUNCTION_ERRORS,
    ALARM_URGENT_FUNCTION_THROTTLES,
    ALARM_IVS_THROTTLED_CALLS,
    ALARM_IVS_THROTTLED_SINGLE_CALLS,
    ALARM_DEAD_LETTERS_UNWRITTEN,
    ALARM_OUTCOME_EVENTS_UNPUBLISHED,
)
