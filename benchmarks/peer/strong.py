"""The stronger peer: what a capable engineer makes of Powertools' SQS example in a day.

Its mapping (benchmarks/sections/drain.py, `strong_peer_settings`): batch size 20 with the function's batching
window, maximum concurrency 2. The handler merges the pairs of the whole batch, one per channel and
viewer at its highest version, into calls of 20, with botocore's `standard` retries; it does not pace
its calls, which go out as fast as the answers come back. A record fails (SQS delivers it again) when
any of its pairs was not revoked: a per-pair error, a call that failed after its retries, or a body it
cannot read.

Nothing of the function's package is imported (its memory and CPU would be the function's).
"""

from __future__ import annotations

import json
from typing import Any, Final

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from benchmarks.peer.bodies import viewer_sessions

PAIRS_PER_CALL: Final = 20
VERSION: Final = "viewerSessionVersionsLessThanOrEqualTo"

logger = Logger()
# botocore's standard retry mode: ThrottlingException and 5xx retried with jittered backoff, 3 attempts.
ivs = boto3.client("ivs", config=Config(retries={"mode": "standard"}))

PairKey = tuple[str, str]


def _key(session: dict[str, Any]) -> PairKey:
    return (str(session.get("channelArn")), str(session.get("viewerId")))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    merged: dict[PairKey, dict[str, Any]] = {}
    owners: dict[PairKey, list[str]] = {}
    failed: set[str] = set()
    records = list(SQSEvent(event).records)
    for record in records:
        try:
            sessions = viewer_sessions(json.loads(record.body))
        except (ValueError, TypeError, AttributeError):
            logger.warning("unreadable body", message_id=record.message_id)
            failed.add(record.message_id)
            continue
        for session in sessions:
            key = _key(session)
            owners.setdefault(key, []).append(record.message_id)
            if key not in merged or session.get(VERSION, 0) > merged[key].get(VERSION, 0):
                merged[key] = session

    pairs = list(merged.values())
    for start in range(0, len(pairs), PAIRS_PER_CALL):
        chunk = pairs[start : start + PAIRS_PER_CALL]
        try:
            response = ivs.batch_start_viewer_session_revocation(viewerSessions=chunk)
        except (ClientError, BotoCoreError) as error:
            logger.warning("call failed", error=str(error), pairs=len(chunk))
            failed.update(owner for session in chunk for owner in owners[_key(session)])
            continue
        for pair_error in response.get("errors", []):
            failed.update(owners.get(_key(pair_error), []))
    return {"batchItemFailures": [{"itemIdentifier": r.message_id} for r in records if r.message_id in failed]}
