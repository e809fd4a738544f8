"""All layers: how `make test` spreads the tests over processes (pytest-xdist, `--dist loadscope`).

A module's tests stay together in one worker, so that a module-scoped fixture (a local stack, a fault
matrix) starts once. The template tests are one scope: their session fixture synthesizes the CDK app,
about 15 s of CPU, which each worker would otherwise pay again.

Tests marked `timed` hold a bound in seconds (a quota's rate, a call's deadline): `make test` runs them
after the others, alone on the machine, where a bound measures the code rather than the load beside it
(from tests/unit and tests/integration: the template tests hold no bound in seconds).

The scopes are drawn by a scheduler of our own rather than by `xdist_group` marks: pytest-xdist 3.8
groups marked tests by a suffix it writes to `item._nodeid`, which pytest 9.2 no longer reads, so
under `--dist loadgroup` every test was scheduled alone and a module's fixture started in both workers.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

INFRA_SCOPE = "tests/infra/"


def scope_of(nodeid: str) -> str:
    """The work unit of a test: its module, or tests/infra for the template tests."""
    return INFRA_SCOPE if nodeid.startswith(INFRA_SCOPE) else nodeid.split("::", 1)[0]


def priority(scope: str, tests: int) -> tuple[int, int]:
    """Which unit a worker takes first: the integration modules (they wait on stacks and timeouts,
    seconds to minutes each), then the template tests, then the unit modules (seconds in all), which
    fill the workers' ends; within a layer, the larger first. Longest first evens the workers' ends."""
    layer = 2 if scope.startswith("tests/integration/") else 1 if scope == INFRA_SCOPE else 0
    return layer, tests


class ModuleScopes(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)

    def _assign_work_unit(self, node: Any) -> None:
        first = max(self.workqueue, key=lambda scope: priority(scope, len(self.workqueue[scope])))
        self.workqueue.move_to_end(first, last=False)
        super()._assign_work_unit(node)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    return ModuleScopes(config, log) if config.getvalue("dist") == "loadscope" else None
