"""HTTP serving of `IvsService`: a standard-library threading server that can be stopped cleanly.

``ThreadingHTTPServer`` alone leaves a thread behind for every idle keep-alive connection (botocore keeps
its connections open), and ``server_close`` does not wait for daemon threads. This server tracks its
connections, shuts their sockets down on stop so that blocked reads return, and joins their threads.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self, Unpack

from local.ivs_emulator.service import (
    CONTROL_PREFIX,
    EmulatorConfigError,
    Faults,
    IvsService,
    Ledger,
    Reply,
    ServiceOptions,
)

HOST: Final = "127.0.0.1"
_IDLE_CONNECTION_SECONDS: Final = 60.0
_STOP_JOIN_SECONDS: Final = 5.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects
    server_version = "ivs-emulator"
    timeout = _IDLE_CONNECTION_SECONDS
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            # The body's end is unknown, so this connection cannot carry another request.
            self.close_connection = True
            self._send(Reply(status=400, body={"message": "invalid Content-Length"}))
            return
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.service.handle(self.command, self.path, headers, body)
        if self.server.verbose:
            self.log_message('"%s" %s', self.requestline, "dropped" if reply.drop else reply.status)
        if reply.drop:
            self._drop()
            return
        # Interrupted early when the server stops, so that stopping never waits for injected latency.
        if reply.delay_seconds > 0 and self.server.stopping.wait(reply.delay_seconds):
            self._drop()
            return
        self._send(reply)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def _send(self, reply: Reply) -> None:
        payload = reply.raw if reply.raw is not None else b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if reply.content_type is not None:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if reply.trickle_seconds > 0:
            self._trickle(payload, reply.trickle_seconds)
        else:
            self.wfile.write(payload)

    def _trickle(self, payload: bytes, interval: float) -> None:
        """The body one byte at a time: every socket read of the client gets something, so a read
        timeout never fires, however long the whole answer takes."""
        self.wfile.flush()
        for index in range(len(payload)):
            if self.server.stopping.wait(interval):
                self._drop()
                return
            try:
                self.wfile.write(payload[index : index + 1])
                self.wfile.flush()
            except OSError:  # the client gave up on the answer
                self.close_connection = True
                return

    def _drop(self) -> None:
        """Close the connection without a response, as a failed load balancer or network would."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone away first
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a safety net only: stop() joins every connection thread

    def __init__(self, port: int, service: IvsService, verbose: bool) -> None:
        self.service = service
        self.verbose = verbose
        self.stopping = threading.Event()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"ivs-emulator-connection-{client_address[1]}",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up, or a connection cut by stop(), is not an emulator failure.
        if not self.stopping.is_set():
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        self.stopping.set()
        with self._connections_lock:
            connections = dict(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):  # its thread may have closed it already
                sock.shutdown(socket.SHUT_RDWR)
        for thread in connections.values():
            thread.join(_STOP_JOIN_SECONDS)


class IvsEmulator(IvsService):
    """The IVS emulator (`IvsService`) served on 127.0.0.1 from a background thread; a context manager.

    ``port`` 0 picks a free port; `url` tells which. See the package docstring for the other options.
    """

    def __init__(self, *, port: int = 0, verbose: bool = False, **options: Unpack[ServiceOptions]) -> None:
        super().__init__(**options)
        self._port = port
        self._verbose = verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() or use it in a with block")
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._server = _Server(self._port, self, self._verbose)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="ivs-emulator-server"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection, join every thread and free the port."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join()
        server.close_connections()
        server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmulatorControl:
    """The same control API as `IvsEmulator`, over HTTP, for an emulator run by ``python -m``."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout

    def ledger(self) -> Ledger:
        return Ledger.from_json(self._request("GET", "ledger"))

    def reset(self) -> None:
        self._request("POST", "reset")

    def faults(self) -> Faults:
        return Faults(**self._request("GET", "faults"))

    def set_faults(self, **changes: float | str) -> Faults:
        return Faults(**self._request("PUT", "faults", changes))

    def clear_faults(self) -> Faults:
        return Faults(**self._request("DELETE", "faults"))

    def _request(self, method: str, name: str, body: Mapping[str, object] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{CONTROL_PREFIX}{name}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            detail = f"{method} {CONTROL_PREFIX}{name}: {error.code} {error.read().decode(errors='replace')}"
            if error.code == 400:
                raise EmulatorConfigError(detail) from error
            raise RuntimeError(detail) from error
