"""`submit --direct`: the pairs straight to BatchStartViewerSessionRevocation, 20 a call, paced to the quota.

Each call's `viewerSessions` are the items exactly as parsed from the command line, so a call carries
the body `aws ivs batch-start-viewer-session-revocation` would send for those items. For that parity the
pairs go as given, in order and duplicates kept (`plan_calls_in_order`), where the function merges them.

The rest is the function's: the quota policy (ivs_revocation.call_policy: the limiter, the backoff, which
call errors are worth another attempt) and the answer checks (ivs_revocation.adapters.ivs: a malformed
answer is retried as a 5xx is; see README). A call's deadline is its client's connect timeout plus its
read timeout, since the read timeout alone bounds each socket read, not the answer.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import ClientError

from ivs_revocation.adapters.ivs import (
    CODE_MALFORMED_RESPONSE,
    CallDeadlineExceeded,
    MalformedAnswer,
    call_failed,
    call_within,
    check_answers,
    confirmed_errors,
)
from ivs_revocation.call_policy import BATCH_CALLS_PER_SECOND, RETRIED_KINDS, RateLimiter, backoff_seconds
from ivs_revocation.plan import cut_calls
from ivs_revoke.errors import EXIT_INTERRUPTED, EXIT_OTHER
from ivs_revoke.inputs import OPERATION_NAME, SESSIONS_MEMBER, Pair
from ivs_revoke.senders import CONNECTION_ERRORS, DEFAULT_MAX_ATTEMPTS, Clock, SendFailure, Sleep, index_ranges

Progress = Callable[[int, int], None]

_ERRORS_MEMBER: Final = "errors"  # the response's list of pairs that were not revoked
# What a call raises about itself (not about this command, such as missing credentials): retried or
# not as the domain's kind of it says.
_CALL_ERRORS: Final = (ClientError, MalformedAnswer, CallDeadlineExceeded, *CONNECTION_ERRORS)


@dataclass(frozen=True)
class Call:
    region: str
    indexes: tuple[int, ...]  # of the pairs as given


def plan_calls_in_order(pairs: Sequence[Pair]) -> list[Call]:
    """AWS CLI parity: every pair as given, none merged, in input order within its region, cut as the
    function cuts (ivs_revocation.plan.cut_calls); regions take turns, as their quotas are separate."""
    per_region = cut_calls(range(len(pairs)), lambda index: pairs[index].session.region)
    turns = itertools.zip_longest(*([Call(region, call) for call in calls] for region, calls in per_region.items()))
    return [call for turn in turns for call in turn if call is not None]


@dataclass
class DirectReport:
    """The responses of every call made, merged, and what was left if the run stopped early."""

    failure: SendFailure | None = None
    # What the AWS CLI prints for one call's response, for all calls together: the members of the
    # responses in their order, `errors` concatenated, the others (the HTTP headers the model names,
    # such as `cacheControl`) as the latest response had them. Empty when no call was answered.
    output: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.output.get(_ERRORS_MEMBER, [])
        return errors

    def add(self, response: Mapping[str, Any]) -> None:
        for key, value in response.items():
            if key == "ResponseMetadata":  # never printed by the AWS CLI
                continue
            if key == _ERRORS_MEMBER:
                self.output.setdefault(key, []).extend(value)
            else:
                self.output[key] = value


class DirectSender:
    """BatchStartViewerSessionRevocation, 20 pairs a call, paced to the quota, retrying what may pass."""

    def __init__(
        self,
        client_for_region: Callable[[str], Any],
        *,
        calls_per_second: float = BATCH_CALLS_PER_SECOND,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        progress: Progress | None = None,
    ) -> None:
        # One client per region, made on first use, each checking its answers.
        self._client = functools.cache(lambda region: check_answers(client_for_region(region)))
        self._limiters: defaultdict[str, RateLimiter] = defaultdict(lambda: RateLimiter(calls_per_second))
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._clock = clock
        self._progress = progress

    def send(self, pairs: Sequence[Pair]) -> DirectReport:
        calls = plan_calls_in_order(pairs)
        report = DirectReport()
        for number, call in enumerate(calls):
            try:
                response = self._call(call, [pairs[index] for index in call.indexes])
            except ClientError as error:
                report.failure = SendFailure(_client_error_text(error))
            except MalformedAnswer as error:
                report.failure = SendFailure(
                    f"{CODE_MALFORMED_RESPONSE}: the answer to {OPERATION_NAME} is not the operation's: {error} "
                    "(nothing of it was counted)"
                )
            except (*CONNECTION_ERRORS, CallDeadlineExceeded) as error:
                report.failure = SendFailure(str(error), EXIT_OTHER)
            except KeyboardInterrupt:
                report.failure = SendFailure("interrupted", EXIT_INTERRUPTED)
            if report.failure is not None:
                report.failure.message += self._unsent_text(calls[number:])
                break
            report.add(response)
            if self._progress is not None:
                self._progress(number + 1, len(calls))
        return report

    def _call(self, call: Call, pairs: list[Pair]) -> Any:
        client = self._client(call.region)
        sessions = [pair.raw for pair in pairs]
        deadline = _call_deadline(client)
        limiter = self._limiters[call.region]
        not_before = -math.inf
        for attempt in range(1, self._max_attempts + 1):
            delay = max(limiter.ready_at(), not_before) - self._clock()
            if delay > 0:
                self._sleep(delay)
            sent = self._clock()
            limiter.take(sent)
            try:
                response = call_within(
                    deadline, lambda: client.batch_start_viewer_session_revocation(**{SESSIONS_MEMBER: sessions})
                )
                confirmed_errors(response, (pair.session.key for pair in pairs))
                return response
            except _CALL_ERRORS as error:
                # A revocation repeated is harmless, so a call whose failure may pass is simply made again.
                if call_failed(error).kind not in RETRIED_KINDS or attempt == self._max_attempts:
                    raise
            finally:
                limiter.observe(sent, self._clock())
            not_before = self._clock() + backoff_seconds(attempt, limiter.interval, random.random())
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _unsent_text(calls: Sequence[Call]) -> str:
        indexes = sorted(index for call in calls for index in call.indexes)
        return (
            f" ({OPERATION_NAME}: {len(calls)} call(s) not completed, {len(indexes)} pairs not sent: "
            f"{index_ranges(indexes)})"
        )


def _call_deadline(client: Any) -> float | None:
    """The time a whole call may take: the client's connect timeout plus its read timeout."""
    config = client.meta.config
    if config.connect_timeout is None or config.read_timeout is None:
        return None
    return float(config.connect_timeout) + float(config.read_timeout)


def _client_error_text(error: ClientError) -> str:
    """The AWS CLI's wording for a service error, without botocore's retry count: with botocore's
    retries off, the attempts are ours and its "(reached max retries: 0)" would mislead."""
    detail = error.response.get("Error", {})
    return (
        f"An error occurred ({detail.get('Code', 'Unknown')}) when calling the {error.operation_name} operation: "
        f"{detail.get('Message', '')}"
    )
