"""The quota policy of IVS calls, defined once: pacing, backoff, and which errors are worth another attempt.

The function (revoke.py, adapters/ivs.py) and `ivs-revoke submit --direct` both use it. Nothing here
names an operation: a limiter takes the rate of whichever quota it paces, so a lane calling
StartViewerSessionRevocation at its own quota paces, backs off and classifies with the same rules.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

from ivs_revocation.models import CallErrorKind

# BatchStartViewerSessionRevocation's quota: calls per second per account and region, not adjustable.
BATCH_CALLS_PER_SECOND: Final = 2.0
# StartViewerSessionRevocation's quota: calls per second per account and region (the quota table's row).
SINGLE_CALLS_PER_SECOND: Final = 10.0
# Calls are spaced 2% wider than the quota strictly allows, so that a little network jitter between
# two clients does not put one call more into one second of the service's window.
SPACING_HEADROOM: Final = 1.02
BACKOFF_CAP_SECONDS: Final = 8.0


class RateLimiter:
    """Paces the calls of one quota (one operation in one region) at `calls_per_second`.

    Two rules, both kept:
    - calls start evenly spaced, one interval (1/rate, with the headroom) apart;
    - a call starts one window (the calls a second allows, at least one, times the interval) after the
      latest possible arrival of the call that many places earlier. The service counts a call when it
      arrives, somewhere between sending and the answer: a call slower than the fastest seen (a new
      connection, a retransmission) may have arrived late by the difference, and with nothing seen yet
      by all of its latency. Without this, the call after a slow one lands within its window and is
      throttled.

    Kept across invocations of a warm instance. `take` and `observe` are told the time: the limiter
    never sleeps, its caller waits until `ready_at`.
    """

    def __init__(self, calls_per_second: float) -> None:
        if calls_per_second <= 0:
            raise ValueError("calls per second must be positive")
        self.interval = SPACING_HEADROOM / calls_per_second
        per_window = max(1, int(calls_per_second))
        self._window = per_window * self.interval
        self._last_start = -math.inf
        # The latest possible arrival of each of the last `per_window` calls.
        self._arrivals: deque[float] = deque(maxlen=per_window)
        self._fastest = math.inf

    def ready_at(self) -> float:
        """The earliest moment the next call may start."""
        ready = self._last_start + self.interval
        if len(self._arrivals) == self._arrivals.maxlen:
            ready = max(ready, self._arrivals[0] + self._window)
        return ready

    def take(self, now: float) -> None:
        """A call starts `now`."""
        self._last_start = now
        self._arrivals.append(now)

    def observe(self, sent: float, answered: float) -> None:
        """The call started last was sent at `sent` and answered (or given up on) at `answered`."""
        latency = answered - sent
        extra = latency - (self._fastest if self._fastest != math.inf else 0.0)
        self._fastest = min(self._fastest, latency)
        if extra > 0 and self._arrivals:
            self._arrivals[-1] = max(self._arrivals[-1], sent + extra)


def backoff_seconds(attempt: int, base: float, jitter: float) -> float:
    """The wait after the `attempt`-th failed attempt (1-based): capped exponential backoff, full jitter.

    `base` is the scale (a limiter's interval for a paced call), `jitter` a draw from [0, 1).
    """
    return jitter * min(BACKOFF_CAP_SECONDS, base * 2.0**attempt)


# The call-level error codes of both operations (ivs-api.md), by kind.
_KIND_BY_CODE: Final = {
    "ThrottlingException": CallErrorKind.THROTTLED,
    "ValidationException": CallErrorKind.INVALID,
    # A channel that does not exist is about a pair of the call, as a rejected one is: split to find it.
    "ResourceNotFoundException": CallErrorKind.INVALID,
    "AccessDeniedException": CallErrorKind.DENIED,
    "PendingVerification": CallErrorKind.DENIED,
    "InternalServerException": CallErrorKind.SERVER,
}

# A single-pair call's errors that are about its one pair (its channel), not about the call or the
# account: that pair's per-pair code, as the batch operation writes a pair it may not revoke. The
# codes are 4xx, so `pair_error_is_retryable` dead-letters the pair at once.
_PAIR_CODE_BY_SINGLE_CALL_ERROR: Final = {
    "AccessDeniedException": "403",
    "ResourceNotFoundException": "404",
}

# Worth another attempt within one run (an invocation, a command). Not INVALID: the call is split to find
# the rejected pairs, or refused; not DENIED: an account or policy problem does not pass within seconds.
RETRIED_KINDS: Final = frozenset(
    {CallErrorKind.THROTTLED, CallErrorKind.SERVER, CallErrorKind.CONNECTION, CallErrorKind.MALFORMED}
)


def call_error_kind(code: str, status: int) -> CallErrorKind:
    """The kind of an error answer: by the code the operation names, else 429 is a throttle and
    anything else (5xx, a code not documented) is treated as a server error, so it costs a retry."""
    kind = _KIND_BY_CODE.get(code)
    if kind is None:
        kind = CallErrorKind.THROTTLED if status == 429 else CallErrorKind.SERVER
    return kind


def single_call_pair_code(code: str) -> str | None:
    """The per-pair code a single-pair call's error `code` stands for, or None for a call-level error."""
    return _PAIR_CODE_BY_SINGLE_CALL_ERROR.get(code)


def pair_error_is_retryable(code: str | None) -> bool:
    """A per-pair code is an HTTP status as a string: 429 and 5xx may pass later, other 4xx never.

    Codes are opaque: anything that does not parse as a 4xx status is treated as retryable, so an
    unknown code costs a retry rather than a lost revocation.
    """
    try:
        status = int(code or "")
    except ValueError:
        return True
    return not (400 <= status < 500) or status == 429
