"""The package as `pip install .` builds it: only packages whose names say what they are, and a working
`ivs-revoke` without the repository's own rooms (the local stack, the CDK app, benchmarks, tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import install_project

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built and installed (not editable) into a folder of its own; the dependencies are
    the test environment's."""
    target = tmp_path_factory.mktemp("site")
    installed = install_project(target)
    assert installed.returncode == 0, installed.stderr
    return target


def test_the_wheel_holds_only_the_command_and_the_function_package(installed: Path) -> None:
    packages = {path.name for path in installed.iterdir() if (path / "__init__.py").exists()}

    assert packages == {"ivs_revoke", "ivs_revocation"}


def test_ivs_revoke_runs_from_the_wheel_alone(installed: Path, tmp_path: Path) -> None:
    # From an empty folder, with the installed copy first on the path: nothing of the repository's
    # rooms (infra, local) can be imported, so the command must not need them.
    environment = {**os.environ, "PYTHONPATH": str(installed)}
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ivs_revoke.__main__, sys; sys.argv[1:] = ['--help']; ivs_revoke.__main__.main()",
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    where = subprocess.run(
        [sys.executable, "-c", "import ivs_revoke, infra"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )

    assert ran.returncode == 0, ran.stderr
    assert "usage: ivs-revoke" in ran.stdout
    assert "No module named 'infra'" in where.stderr
