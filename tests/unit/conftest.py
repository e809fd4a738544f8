"""Unit layer: no network, no AWS; side effects are in-memory fakes of the two ports (fakes.py)."""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Iterator
from types import ModuleType

import botocore.session
import pytest
from pytest_socket import disable_socket, enable_socket

from ivs_revocation import names
from tests.unit.fakes import FUNCTION_ENVIRONMENT, FakeClock


@pytest.fixture(scope="session", autouse=True)
def _one_service_model_loader() -> Iterator[None]:
    """One botocore data loader for every session the tests make: each command under test makes its own
    session, and each new session would read and parse the same service models again (most of a CLI
    test's time). The loader only caches what it reads from botocore's own data files."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", functools.cache(botocore.session.create_loader))
        yield


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Credentials in the environment, or botocore would look for them on the network (IMDS).
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, FUNCTION_ENVIRONMENT[key])
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def handler_module() -> Iterator[ModuleType]:
    """The handler module, imported (cold start) with a valid function environment."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in FUNCTION_ENVIRONMENT.items():
            patch.setenv(key, value)
        yield importlib.import_module("ivs_revocation.handler")


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def service_logs() -> Iterator[list[logging.LogRecord]]:
    """Every record the function logs during the test, with its structured keys as attributes."""
    records: list[logging.LogRecord] = []
    collect = _Collect(records)
    service_logger = logging.getLogger(names.SERVICE_NAME)
    service_logger.addHandler(collect)
    yield records
    service_logger.removeHandler(collect)
