"""One Lambda execution environment: a process that imports the handler once and serves invocations.

`python -m local.function_instance --fd N --handler module.function` is started by the runner
(local/instance_supervisor.py) with the function's environment and nothing else, as Lambda gives a function only
its configured variables and its own reserved ones. Like Lambda:
- the handler module is imported once, at start (the cold start); module-level state, such as the
  function's rate limiter, lives on across the invocations this process serves;
- every invocation gets a context whose remaining time counts down from the function timeout;
- the event and the response cross the boundary as JSON;
- a handler that raises produces an error response (errorType, errorMessage, stackTrace);
- stdout and stderr are the function's log stream, with START / END / REPORT lines around each
  invocation.

The runner talks to this process over an inherited socket (length-prefixed frames), so the function
may print whatever it likes. A closed socket, whether the runner stopped or died, ends the process;
so does the runner's death in the middle of an invocation (a watchdog sees the process re-parented).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


class LambdaContext:
    """The attributes of the Python runtime's context object that functions and Powertools read."""

    def __init__(self, invocation: dict[str, Any], deadline: float) -> None:
        self.function_name: str = invocation["function_name"]
        self.function_version: str = invocation["function_version"]
        self.invoked_function_arn: str = invocation["invoked_function_arn"]
        self.memory_limit_in_mb: int = invocation["memory_limit_in_mb"]
        self.aws_request_id: str = invocation["aws_request_id"]
        self.log_group_name: str = invocation["log_group_name"]
        self.log_stream_name: str = invocation["log_stream_name"]
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(error: BaseException) -> dict[str, Any]:
    """The shape of the Python runtime's error response."""
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _load(handler: str) -> Callable[[Any, Any], Any]:
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name)
    function: Callable[[Any, Any], Any] = getattr(module, function_name)
    return function


def serve(connection: Connection, handler_path: str) -> None:
    started = time.monotonic()
    try:
        handler = _load(handler_path)
    except BaseException as error:  # an init failure is reported, as Lambda reports it, then the process ends
        traceback.print_exc()
        connection.send_bytes(json.dumps({"init_error": _error(error)}).encode())
        return
    init_ms = (time.monotonic() - started) * 1000
    connection.send_bytes(json.dumps({"ready": True, "init_ms": init_ms}).encode())

    first = True
    while True:
        try:
            frame = connection.recv_bytes()
        except (EOFError, OSError):
            return
        received = time.monotonic()
        invocation = json.loads(frame)
        request_id = invocation["aws_request_id"]
        context = LambdaContext(invocation, deadline=received + invocation["timeout_ms"] / 1000)
        print(f"START RequestId: {request_id} Version: {context.function_version}", flush=True)
        try:
            result = handler(invocation["event"], context)
            # Lambda serializes the response; one that cannot be serialized is an error of its own.
            reply = {"result": json.loads(json.dumps(result))}
        except Exception as error:
            traceback.print_exc()
            reply = {"error": _error(error)}
        duration_ms = (time.monotonic() - received) * 1000
        sys.stdout.flush()
        sys.stderr.flush()
        print(f"END RequestId: {request_id}", flush=True)
        report = f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
        if first:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        print(report, flush=True)
        first = False
        try:
            connection.send_bytes(json.dumps(reply).encode())
        except OSError:
            return


def _exit_when_orphaned(parent: int) -> None:
    """Ends the process when the runner is gone, even while the handler is busy: nothing is left."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="orphan-watchdog", daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="inherited socket to the runner")
    parser.add_argument("--handler", required=True, help="module.function")
    args = parser.parse_args()
    # Ctrl-C goes to the runner, which stops its instances in order; a runner that dies closes the socket.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_when_orphaned(os.getppid())
    connection = Connection(args.fd)
    try:
        serve(connection, args.handler)
    finally:
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
