"""A stand-in function for testing the event source mapping runner on its own terms.

Each record's body says what to do with it: {"do": "ok" | "fail" | "raise" | "sleep" | "exit" |
"bad-identifier", "seconds": s}. Every invocation is written to the journal file named by
STAND_IN_JOURNAL when it starts (the process id, this process's invocation number, which is module
state that a warm instance keeps, the context's remaining time, the records as received) and again
when it ends, so that an invocation cut short by a timeout or a crash is in the journal too.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

INVOCATIONS = 0  # module level: kept across the invocations of one instance, reset by a cold start


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global INVOCATIONS
    INVOCATIONS += 1
    _journal(
        {
            "request_id": context.aws_request_id,
            "pid": os.getpid(),
            "invocation": INVOCATIONS,
            "started": time.time(),
            "remaining_ms": context.get_remaining_time_in_millis(),
            "function_name": context.function_name,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "environment": {key: os.environ.get(key) for key in ("AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "HOME")},
            "records": event["Records"],
        }
    )
    failures = []
    try:
        for record in event["Records"]:
            action = json.loads(record["body"])
            kind = action.get("do", "ok")
            if kind == "fail":
                failures.append({"itemIdentifier": record["messageId"]})
            elif kind == "bad-identifier":
                failures.append({"itemIdentifier": "not-a-message-of-this-batch"})
            elif kind == "sleep":
                time.sleep(action["seconds"])
            elif kind == "exit":
                os._exit(3)
            elif kind == "raise":
                raise RuntimeError("the stand-in was told to raise")
    finally:
        _journal({"request_id": context.aws_request_id, "ended": time.time()})
    return {"batchItemFailures": failures}


def _journal(entry: dict[str, Any]) -> None:
    with open(os.environ["STAND_IN_JOURNAL"], "a") as journal:
        journal.write(json.dumps(entry) + "\n")
