"""All layers: how `make test` spreads the tests over processes (pytest-xdist, `--dist loadscope`).

A module's tests stay together in one worker, so that a module-scoped fixture (a local stack, a fault
matrix) starts once. The template tests are one scope: their session fixture synthesizes the CDK app,
about 15 s of CPU, which each worker would otherwise pay again.

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


class ModuleScopes(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    return ModuleScopes(config, log) if config.getvalue("dist") == "loadscope" else None
