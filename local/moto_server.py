"""moto's server mode in a process of its own: `python -m local.moto_server` prints its URL and serves.

The server binds an ephemeral port on 127.0.0.1 (no race between picking a free port and binding it)
and prints its URL as the first line of stdout. It serves until its stdin closes: the parent closes
the pipe to stop it, and a parent that dies for any reason (Ctrl-C, SIGKILL) closes it too, so the
server never outlives the stack that started it.

A process rather than moto's in-process thread: the server keeps its own interpreter (its CPU time
does not compete for the GIL with the runner and the IVS emulator), and its backends cannot be
touched by a `mock_aws` that a test elsewhere in the same interpreter starts or resets.
"""

from __future__ import annotations

import logging
import signal
import sys

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def main() -> int:
    # Ctrl-C reaches the whole process group; the parent stops us in order instead (closing stdin).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"http://{host}:{port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
