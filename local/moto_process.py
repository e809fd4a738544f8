"""moto's server (local/moto_server.py) as a child process of this one: started, its URL read, stopped."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Final, Self

from local.instance_supervisor import end_process

# The server's log, in the folder a stack keeps its logs in.
MOTO_LOG: Final = "moto.log"
SERVER_START_TIMEOUT_SECONDS: Final = 30.0
SERVER_STOP_TIMEOUT_SECONDS: Final = 5.0


class MotoServer:
    """moto's server mode in a child process (local/moto_server.py), on a free 127.0.0.1 port."""

    def __init__(self, log_path: Path | None = None, port: int = 0) -> None:
        self._log_path = log_path
        self._port = port  # 0: a free port, picked by the server as it binds
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self.url = ""

    def start(self) -> Self:
        if self._process is not None:
            raise RuntimeError("moto server already started")
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._log_path.open("a")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local.moto_server", *(["--port", str(self._port)] if self._port else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log if self._log is not None else subprocess.DEVNULL,
            text=True,
            # Out of the terminal's process group: Ctrl-C reaches us, and we stop the server in order.
            start_new_session=True,
        )
        assert self._process.stdout is not None
        line = _read_line(self._process.stdout, SERVER_START_TIMEOUT_SECONDS)
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"moto server did not start: {line!r}")
        self.url = line.strip()
        if self._port and not self.url.endswith(f":{self._port}"):
            self.stop()
            raise RuntimeError(f"moto server listens at {line.strip()}, not on port {self._port}")
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            # Closing stdin is the server's signal to stop; terminate and kill only if it does not.
            with contextlib.suppress(OSError):
                if process.stdin:
                    process.stdin.close()
            try:
                process.wait(SERVER_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                end_process(process, SERVER_STOP_TIMEOUT_SECONDS)
            if process.stdout:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_line(stream: IO[str], timeout: float) -> str:
    """The first line of a child's output, or '' if none came within `timeout`."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""
