"""Logger, Tracer and Metrics: created once here and imported everywhere.

The Tracer's X-Ray SDK is imported only where Powertools would trace (on Lambda, unless
POWERTOOLS_TRACE_DISABLED): elsewhere, and where the stack turns tracing off, a no-op provider spares
a cold start the SDK's import (about 150 ms) that a disabled Tracer would pay for nothing.
"""

from __future__ import annotations

import numbers
import traceback
from collections.abc import AsyncGenerator, Generator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from ivs_revocation import names


class _NoSegment(BaseSegment):
    """A segment that records nothing."""

    def close(self, end_time: int | None = None) -> None: ...

    def add_subsegment(self, subsegment: Any) -> None: ...

    def remove_subsegment(self, subsegment: Any) -> None: ...

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None: ...

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...

    def add_exception(
        self, exception: BaseException, stack: list[traceback.StackSummary], remote: bool = False
    ) -> None: ...


class NoTracing(BaseProvider):
    """The Tracer's provider where tracing is off: what the disabled X-Ray SDK does, without importing it."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _NoSegment()

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncGenerator[BaseSegment, None]:
        yield _NoSegment()

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None: ...

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...

    def patch(self, modules: Sequence[str]) -> None: ...

    def patch_all(self) -> None: ...


def make_tracer(disabled: bool) -> Tracer:
    if disabled:
        return Tracer(service=names.SERVICE_NAME, disabled=True, provider=NoTracing())
    return Tracer(service=names.SERVICE_NAME)


logger = Logger(service=names.SERVICE_NAME)
# Powertools' own rule for whether to trace, so that behaviour is its own where it does.
tracer = make_tracer(disabled=bool(Tracer._is_tracer_disabled()))
metrics = Metrics(namespace=names.METRICS_NAMESPACE, service=names.SERVICE_NAME)
