"""moto's server mode in a process of its own: `python -m local.moto_server` prints its URL and serves.

The server binds an ephemeral port on 127.0.0.1 (no race between picking a free port and binding it)
and prints its URL as the first line of stdout. It serves until its stdin closes: the parent closes
the pipe to stop it, and a parent that dies for any reason (Ctrl-C, SIGKILL) closes it too, so the
server never outlives the stack that started it.

A process rather than moto's in-process thread: the server keeps its own interpreter (its CPU time
does not compete for the GIL with the runner and the IVS emulator), and its backends cannot be
touched by a `mock_aws` that a test elsewhere in the same interpreter starts or resets.

moto 5.2's SQS does work in proportion to the queue's length several times over for every message it
receives (each receive reads all queue attributes, message counts included, once per message, through
datetime arithmetic), which makes draining a queue of thousands of messages take minutes. The
patches below, applied in this process only, compute the same values with less work; they change no
behaviour (see `_patch_moto_sqs`). One does fix a behaviour: moto's delete can undo a concurrent send.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import time
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.sqs import models as sqs_models
from moto.sqs.exceptions import ReceiptHandleIsInvalid


def _patch_moto_sqs() -> None:
    """Same results, less work: without freezegun (never used in server mode) moto's datetime-based
    clock is `time.time()`; the retention check reads the one attribute it needs instead of all of
    them; reading named attributes computes the queue's attributes once rather than three times each.
    """
    original_unix_time = sqs_models.unix_time  # type: ignore[attr-defined]

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else original_unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    # moto.sqs.models imported these names from moto.core.utils; rebinding them there is enough.
    setattr(sqs_models, "unix_time", unix_time)  # noqa: B010
    setattr(sqs_models, "unix_time_millis", unix_time_millis)  # noqa: B010

    backend = sqs_models.SQSBackend

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    original_get_queue_attributes = backend.get_queue_attributes

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        queue = self.get_queue(queue_name)
        valid = {*queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES}
        if "All" in attribute_names or not set(attribute_names) <= valid:
            return original_get_queue_attributes(self, queue_name, attribute_names)
        attributes = queue.attributes
        return {name: attributes[name] for name in attribute_names if attributes.get(name) is not None}

    setattr(backend, "is_message_valid_based_on_retention_period", is_message_valid_based_on_retention_period)  # noqa: B010
    setattr(backend, "get_queue_attributes", get_queue_attributes)  # noqa: B010

    def delete_message(self: Any, receipt_handle: str) -> None:
        # moto rebuilds the message list and assigns it, without a lock: a send, a move to the DLQ or
        # another delete that happens meanwhile is undone (a sent message lost, a deleted one back).
        # Removing in place is one atomic list operation.
        if receipt_handle in self.deleted_messages:
            return
        for message in list(self._messages):
            if message.had_receipt_handle(receipt_handle):
                self.pending_messages.discard(message)
                self.deleted_messages.update(message.all_receipt_handles)
                with contextlib.suppress(ValueError):  # a concurrent delete of it came first
                    self._messages.remove(message)
                return
        raise ReceiptHandleIsInvalid()

    setattr(sqs_models.Queue, "delete_message", delete_message)  # noqa: B010


def main() -> int:
    # Ctrl-C reaches the whole process group; the parent stops us in order instead (closing stdin).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _patch_moto_sqs()
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
