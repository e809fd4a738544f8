"""All layers: how `make test` spreads the tests over processes (pytest-xdist, `--dist loadgroup`).

A module's tests stay together in one worker, so that a module-scoped fixture (a local stack, a fault
matrix) starts once. The template tests are one group: their session fixture synthesizes the CDK app,
about 15 s of CPU, which each worker would otherwise pay again.
"""

from __future__ import annotations

import pytest

INFRA_GROUP = "infra"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.as_posix()
        group = INFRA_GROUP if "/tests/infra/" in path else path
        item.add_marker(pytest.mark.xdist_group(group))
