"""`submit --wait`: the outcome events of this submit's own request, received through a temporary queue.

Before anything is sent, a queue and a rule on the outcome bus are made for this submit alone: the rule
matches the outcome events whose `detail.requestId` is the id every body of this submit carries, and
delivers them to the queue. The pairs are then ticked off as their events come: revoked, or failed with
their dead letter's code and message. The rule and the queue are removed afterwards, whatever happens
(an error, Ctrl-C). The result is the API response's shape, `{"errors": [...]}`, as --direct prints it.

Permissions (beside sending): sqs:CreateQueue, sqs:GetQueueAttributes, sqs:SetQueueAttributes,
sqs:ReceiveMessage, sqs:DeleteMessage and sqs:DeleteQueue on queues named ivs-revoke-wait-*;
events:PutRule, events:PutTargets, events:RemoveTargets and events:DeleteRule on rules named
ivs-revoke-wait-* on the outcome bus.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from ivs_revocation.models import EVENT_SOURCE, OUTCOME_EVENT_DETAIL_TYPE
from ivs_revoke.inputs import Pair
from ivs_revoke.sqs import rule_may_send

WAIT_PREFIX: Final = "ivs-revoke-wait-"
DEFAULT_WAIT_SECONDS: Final = 120.0
# The code of a pair whose outcome event did not come in time (it may still be revoked later).
CODE_NO_OUTCOME: Final = "NoOutcome"
# SQS's longest long poll.
MAX_POLL_SECONDS: Final = 20

PairKey = tuple[str, str]


def new_request_id() -> str:
    """The id every body of one submit carries, and its rule matches."""
    return f"{WAIT_PREFIX}{uuid.uuid4()}"


@dataclass
class Outcomes:
    """What the events said of each pair so far."""

    expected: dict[PairKey, Pair]
    revoked: set[PairKey] = field(default_factory=set)
    failed: dict[PairKey, tuple[str, str]] = field(default_factory=dict)

    @property
    def pending(self) -> list[PairKey]:
        return [key for key in self.expected if key not in self.revoked and key not in self.failed]

    def read(self, detail: Any, request_id: str) -> None:
        if not isinstance(detail, dict) or detail.get("requestId") != request_id:
            return
        for pair in detail.get("revoked") or []:
            key = (pair.get("channelArn"), pair.get("viewerId"))
            if key in self.expected:
                # Revoked at last (a later delivery, or a redrive): no longer failed.
                self.revoked.add(key)
                self.failed.pop(key, None)
        for pair in detail.get("failed") or []:
            key = (pair.get("channelArn"), pair.get("viewerId"))
            if key in self.expected and key not in self.revoked:
                self.failed[key] = (str(pair.get("code") or ""), str(pair.get("message") or ""))

    def errors(self, seconds: float) -> list[dict[str, Any]]:
        """The API's `errors`: each failed pair with its code and message, then the pairs not heard of."""
        errors: list[dict[str, Any]] = []
        for key in self.expected:
            if key in self.failed:
                code, message = self.failed[key]
                errors.append({"channelArn": key[0], "viewerId": key[1], "code": code, "message": message})
            elif key not in self.revoked:
                errors.append(
                    {
                        "channelArn": key[0],
                        "viewerId": key[1],
                        "code": CODE_NO_OUTCOME,
                        "message": f"no outcome event within {seconds:g} s (it may still be revoked)",
                    }
                )
        return errors


class OutcomeWatch:
    """The temporary queue and rule of one submit; `with` removes them, whatever happens inside."""

    def __init__(self, sqs: Any, events: Any, event_bus: str, request_id: str) -> None:
        self._sqs = sqs
        self._events = events
        self._bus = event_bus
        self.request_id = request_id
        self._name = f"{WAIT_PREFIX}{uuid.uuid4().hex[:16]}"
        self.queue_url: str | None = None
        self._rule_made = False
        self._target_made = False

    def __enter__(self) -> OutcomeWatch:
        try:
            self._make()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.remove()

    def _make(self) -> None:
        self.queue_url = self._sqs.create_queue(
            QueueName=self._name, Attributes={"MessageRetentionPeriod": "3600", "SqsManagedSseEnabled": "true"}
        )["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        pattern = {
            "source": [EVENT_SOURCE],
            "detail-type": [OUTCOME_EVENT_DETAIL_TYPE],
            "detail": {"requestId": [self.request_id]},
        }
        rule_arn = self._events.put_rule(
            Name=self._name,
            EventBusName=self._bus,
            EventPattern=json.dumps(pattern),
            State="ENABLED",
            Description="ivs-revoke submit --wait: this submit's outcome events (removed when it ends)",
        )["RuleArn"]
        self._rule_made = True
        policy = rule_may_send(queue_arn, rule_arn, "OutcomeEventsOfThisSubmit")
        self._sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": policy})
        self._events.put_targets(Rule=self._name, EventBusName=self._bus, Targets=[{"Id": "Wait", "Arn": queue_arn}])
        self._target_made = True

    def remove(self) -> None:
        """Removes what was made (each step alone: one that fails does not keep the others)."""
        if self._target_made:
            with _quietly():
                self._events.remove_targets(Rule=self._name, EventBusName=self._bus, Ids=["Wait"])
            self._target_made = False
        if self._rule_made:
            with _quietly():
                self._events.delete_rule(Name=self._name, EventBusName=self._bus)
            self._rule_made = False
        if self.queue_url is not None:
            with _quietly():
                self._sqs.delete_queue(QueueUrl=self.queue_url)
            self.queue_url = None

    def collect(
        self,
        pairs: Sequence[Pair],
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> Outcomes:
        """Reads events until every pair is settled or `seconds` have passed; returns what they said."""
        outcomes = Outcomes({(pair.session.channel_arn, pair.session.viewer_id): pair for pair in pairs})
        started = clock()
        while outcomes.pending:
            left = seconds - (clock() - started)
            if left <= 0:
                break
            answer = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=max(0, min(MAX_POLL_SECONDS, int(left))),
            )
            messages = answer.get("Messages", [])
            for message in messages:
                with contextlib.suppress(ValueError):
                    event = json.loads(message["Body"])
                    outcomes.read(event.get("detail") if isinstance(event, dict) else None, self.request_id)
            if messages:
                self._sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
        return outcomes


@contextlib.contextmanager
def _quietly() -> Iterator[None]:
    # A clean-up step that fails leaves its resource behind (named ivs-revoke-wait-*), never the command's
    # own result unprinted.
    with contextlib.suppress(ClientError, BotoCoreError):
        yield
