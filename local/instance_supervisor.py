"""The runner's side of one Lambda execution environment: a process of local.function_instance.

It starts the process with the function's variables and Lambda's reserved ones (no shared AWS config
or credentials of the developer's), waits for its cold start, sends it one invocation at a time, and
ends it when an invocation runs past the function timeout (like a timed-out environment: the next
invocation gets a fresh cold start) or when the process died. The runner starts it on demand, for the
batch that needs it, and ends it once it has been idle for `FunctionConfig.idle_seconds`, as Lambda
reclaims an idle execution environment: the next batch then waits for a cold start, as on AWS. Each
instance slot writes the function's log stream to a file of its own.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

# Time allowed for a new instance's cold start (importing the handler) before it counts as failed.
INIT_TIMEOUT_SECONDS = 60.0
# Slack between the context's deadline and the kill: the time a response needs to cross the socket.
TIMEOUT_GRACE_SECONDS = 0.25
# How long an instance may sit idle before it is ended. Lambda does not publish its figure; an idle
# execution environment is commonly reclaimed after some minutes, so a few minutes here.
IDLE_SECONDS = 300.0


@dataclass(frozen=True)
class FunctionConfig:
    """The function as the stack deploys it: handler, environment, timeout, memory, name."""

    handler: str
    environment: Mapping[str, str]
    timeout_seconds: float
    region: str
    account_id: str
    name: str = "IvsRevocationFunction"
    memory_mb: int = 512
    # Folders the handler's modules are imported from, besides the installed packages.
    python_path: Sequence[str] = ()
    # One log file per instance slot (the function's log streams), `<log_name>-<slot>.log`; None discards them.
    log_dir: Path | None = None
    log_name: str = "instance"
    # Idle time after which an instance is ended (reaped); the next invocation gets a cold start.
    idle_seconds: float = IDLE_SECONDS

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"


@dataclass(frozen=True)
class Outcome:
    """How one invocation ended: a response, or why there is none."""

    result: Any = None
    error: Mapping[str, Any] | None = None  # errorType, errorMessage, stackTrace
    failure: str | None = None  # "timeout", "crash" or "init": no response at all


class FunctionInstance:
    """The runner's handle on one execution environment (a process running local.function_instance)."""

    def __init__(self, config: FunctionConfig, slot: int) -> None:
        self._config = config
        self._slot = slot
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None
        self._log: IO[bytes] | None = None
        self._closed = False
        self.log_stream_name = ""
        self._last_active = time.monotonic()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def idle_seconds(self) -> float:
        """Seconds since the instance last finished its cold start or an invocation."""
        return time.monotonic() - self._last_active

    def start(self) -> Outcome | None:
        """Starts the process and waits for its cold start; returns an Outcome when it failed."""
        if self._closed:
            # The mapping is stopping: a poller that raced the stop must not start a process nobody ends.
            return Outcome(failure="init", error={"errorType": "Stopped", "errorMessage": "the mapping is stopping"})
        parent_end, child_end = socket.socketpair()
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        environment = {**self._runtime_environment(), **self._config.environment}
        environment["AWS_LAMBDA_LOG_STREAM_NAME"] = self.log_stream_name
        if self._log is None and self._config.log_dir is not None:
            self._config.log_dir.mkdir(parents=True, exist_ok=True)
            self._log = (self._config.log_dir / f"{self._config.log_name}-{self._slot}.log").open("ab", buffering=0)
        output: IO[bytes] | int = self._log if self._log is not None else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "local.function_instance",
                    "--fd",
                    str(child_end.fileno()),
                    "--handler",
                    self._config.handler,
                ],
                env=environment,
                pass_fds=[child_end.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # Out of the terminal's process group: Ctrl-C reaches the runner, which stops us in order.
                start_new_session=True,
            )
        finally:
            child_end.close()
        self._connection = Connection(parent_end.detach())
        if not self._connection.poll(INIT_TIMEOUT_SECONDS):
            self.stop()
            return Outcome(failure="init", error={"errorType": "InitTimeout", "errorMessage": "cold start too long"})
        try:
            ready = json.loads(self._connection.recv_bytes())
        except (EOFError, OSError):
            self.stop()
            return Outcome(failure="init", error={"errorType": "Runtime.ExitError", "errorMessage": "exited in init"})
        if "init_error" in ready:
            self.stop()
            return Outcome(failure="init", error=ready["init_error"])
        self._last_active = time.monotonic()
        return None

    def invoke(self, event: Mapping[str, Any], request_id: str) -> Outcome:
        assert self._connection is not None, "start() first"
        timeout = self._config.timeout_seconds
        invocation = {
            "event": event,
            "aws_request_id": request_id,
            "timeout_ms": int(timeout * 1000),
            "function_name": self._config.name,
            "function_version": "$LATEST",
            "invoked_function_arn": self._config.arn,
            "memory_limit_in_mb": self._config.memory_mb,
            "log_group_name": f"/aws/lambda/{self._config.name}",
            "log_stream_name": self.log_stream_name,
        }
        try:
            self._connection.send_bytes(json.dumps(invocation).encode())
            if not self._connection.poll(timeout + TIMEOUT_GRACE_SECONDS):
                self._write_log(f"{_now()} {request_id} Task timed out after {timeout:.2f} seconds\n")
                self.stop()
                return Outcome(failure="timeout")
            reply = json.loads(self._connection.recv_bytes())
            self._last_active = time.monotonic()
        except (EOFError, OSError):
            code = self._process.poll() if self._process else None
            self._write_log(f"{_now()} {request_id} Runtime exited with status {code}\n")
            self.stop()
            return Outcome(failure="crash")
        if "error" in reply:
            return Outcome(error=reply["error"])
        return Outcome(result=reply["result"])

    def stop(self, wait_seconds: float = 2.0) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            end_process(process, wait_seconds)

    def close(self) -> None:
        self._closed = True
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _write_log(self, line: str) -> None:
        if self._log is not None:
            self._log.write(line.encode())

    def _runtime_environment(self) -> dict[str, str]:
        """What any Lambda environment has besides the function's own variables."""
        config = self._config
        python_path = [*config.python_path, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "_HANDLER": config.handler,
            # No shared config or credentials files in Lambda: a developer's ~/.aws must not leak in.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if python_path:
            environment["PYTHONPATH"] = os.pathsep.join(python_path)
        return environment


def end_process(process: subprocess.Popen[Any], wait_seconds: float) -> None:
    """Terminates the process, and kills it if it has not ended within `wait_seconds`."""
    process.terminate()
    try:
        process.wait(wait_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
