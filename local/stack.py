"""The whole pipeline on one machine: IVS emulator, SQS and EventBridge on moto's server, the function.

    from infra.settings import DeploySettings
    from local.stack import LocalStack

    settings = DeploySettings.from_cdk_json(overrides={"functionTimeoutSeconds": 5, ...})
    with LocalStack(settings) as stack:
        stack.send({"channelArn": ..., "viewerId": ...})      # SQS SendMessage to the bulk queue
        stack.send_urgent({"channelArn": ..., "viewerId": ...})  # ... to the urgent queue
        stack.put_event({"viewerSessions": [...]})             # EventBridge PutEvents, through the rules
        stack.drain(timeout=60)                                # until both queues are empty
        stack.ivs.ledger().revoked                             # what IVS revoked
        stack.dead_letters()                                   # the DLQ, read without consuming it

What is provisioned (local/provision.py) comes from the same `DeploySettings` (cdk.json) that the CDK
stack deploys. Each lane's function runs behind an event source mapping runner (local/runner.py, the
same code for both) with its lane's settings (`DeploySettings.lane`). The DLQ is read and redriven by
the operator's own code (ivs_revoke.dlq, ivs_revoke.redrive).

Nothing outlives the stack: moto's server (local/moto_process.py) and the function instances are child
processes that end with it (also when this process is interrupted or killed), and the IVS emulator is
a thread.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from infra.settings import DeploySettings
from ivs_revocation import names
from ivs_revocation.models import EVENT_DETAIL_TYPE, EVENT_SOURCE
from ivs_revoke.dlq import DeadLetter, scan
from ivs_revoke.redrive import Destination, RedriveResult, redrive
from ivs_revoke.sqs import batches, delete, queue_counts, receive
from local.accounts import StsAccounts, provision_member_roles
from local.clients import ACCOUNT_ID, DEFAULT_REGION, client
from local.instance_supervisor import IDLE_SECONDS, FunctionConfig
from local.ivs_emulator import IvsEmulator
from local.moto_process import MOTO_LOG, MotoServer
from local.provision import Resources, function_environment, provision
from local.runner import EventSourceMapping, MappingConfig, wait_until_drained

# The local move task ends in moments: poll it often.
MOVE_TASK_POLL_SECONDS: Final = 0.2


class LocalStack:
    """IVS emulator + moto server (SQS, EventBridge) provisioned from settings + each lane's function
    behind an event source mapping runner; a context manager that starts all of it and stops all of it.

    Options:
    - `ivs`: an IvsEmulator to use (its lifecycle stays with the caller); otherwise one is started with
      `ivs_options` (e.g. `unauthorized_channels=[...]`, `seed=1`, `faults=Faults(...)`).
    - `ivs_url`: another IVS endpoint for the function to call; then no emulator runs.
    - `moto`: a running MotoServer to provision on (several stacks with different stack names can
      share one); otherwise the stack starts its own.
    - `handler`: the function's handler ("module.function"); None runs no function at all, and
      `start_function=False` provisions everything but starts polling only on `start_function()`.
    - `lanes`: the lanes whose function runs (default both; `("bulk",)` is the single queue of old).
    - `environment`, `python_path`: extra function environment variables and import folders.
    - `log_dir`: where the function's logs (one file per instance) and moto's go; None discards them.
    - `instance_idle_seconds`: how long a function instance may sit idle before it is ended, as Lambda
      reclaims an idle execution environment (the next batch then waits for a cold start).
    """

    def __init__(
        self,
        settings: DeploySettings | None = None,
        *,
        region: str = DEFAULT_REGION,
        ivs: IvsEmulator | None = None,
        ivs_options: Mapping[str, Any] | None = None,
        ivs_url: str | None = None,
        moto: MotoServer | None = None,
        handler: str | None = names.HANDLER,
        start_function: bool = True,
        lanes: Sequence[str] = names.LANES,
        environment: Mapping[str, str] | None = None,
        python_path: Sequence[str] = (),
        log_dir: Path | None = None,
        instance_idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.settings = settings or DeploySettings.from_cdk_json()
        self._instance_idle_seconds = instance_idle_seconds
        self.region = region
        self._ivs_options = dict(ivs_options or {})
        self._ivs_url = ivs_url
        self._given_moto = moto
        self._handler = handler
        self._start_function = start_function
        unknown = set(lanes) - set(names.LANES)
        if unknown:
            raise ValueError(f"lanes must be among {names.LANES}, not {sorted(unknown)}")
        self._lanes = tuple(lanes)
        self._extra_environment = dict(environment or {})
        self._python_path = tuple(python_path)
        self.log_dir = log_dir
        self._stack = contextlib.ExitStack()
        self._ivs = ivs
        self._moto: MotoServer | None = None
        self._resources: Resources | None = None
        self.runners: dict[str, EventSourceMapping] = {}
        self.sqs: Any = None
        self.events: Any = None

    # --- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> Self:
        if self._ivs is None and self._ivs_url is None:
            self._ivs = self._stack.enter_context(IvsEmulator(**self._ivs_options))
        if self._given_moto is not None:
            self._moto = self._given_moto
        else:
            moto_log = self.log_dir / MOTO_LOG if self.log_dir else None
            self._moto = self._stack.enter_context(MotoServer(moto_log))
        self._resources = provision(self.settings, self._moto.url, self.region)
        if self.settings.member_accounts:
            # Each member's role in its account, and IVS calls attributed to their credentials' account.
            provision_member_roles(self._moto.url, self.settings.member_accounts, self.settings.member_role_name)
            if self._ivs is not None:
                self._ivs.resolve_accounts(StsAccounts(self._moto.url, self.region))
        self.sqs = client("sqs", self._moto.url, self.region)
        self.events = client("events", self._moto.url, self.region)
        if self._handler is not None:
            self.runners = {lane: self._make_runner(self._handler, lane) for lane in self._lanes}
            if self._start_function:
                self.start_function()
        return self

    def stop(self) -> None:
        """Stops the function, then moto's server, then the IVS emulator; Ctrl-C cannot cut it short."""
        with _sigint_deferred():
            for runner in self.runners.values():
                # No grace for invocations in flight: the queues they would settle end with the stack.
                runner.stop(timeout=0)
            self._stack.close()

    def start_function(self) -> None:
        """Starts every lane's function (their cold starts in parallel), then their polling."""
        if not self.runners:
            raise RuntimeError("this stack runs no function (handler=None)")
        starters = [threading.Thread(target=runner.start) for runner in self.runners.values()]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()

    def stop_function(self, timeout: float = 5.0) -> None:
        """Stops every lane's polling at once; an invocation still running gets `timeout` seconds to
        finish, then its instance is ended."""
        stoppers = [threading.Thread(target=runner.stop, args=(timeout,)) for runner in self.runners.values()]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()

    @property
    def runner(self) -> EventSourceMapping | None:
        """The bulk lane's runner (None when it runs no function)."""
        return self.runners.get(names.LANE_BULK)

    @property
    def urgent_runner(self) -> EventSourceMapping | None:
        """The urgent lane's runner (None when it runs no function)."""
        return self.runners.get(names.LANE_URGENT)

    def _make_runner(self, handler: str, lane: str) -> EventSourceMapping:
        settings = self.settings
        resources = self.resources
        deployed = settings.lane(lane)
        urgent = lane == names.LANE_URGENT
        return EventSourceMapping(
            MappingConfig(
                queue_url=resources.urgent_queue_url if urgent else resources.queue_url,
                queue_arn=resources.urgent_queue_arn if urgent else resources.queue_arn,
                batch_size=deployed.batch_size,
                batching_window_seconds=deployed.max_batching_window_seconds,
                max_concurrency=deployed.max_concurrency,
            ),
            FunctionConfig(
                handler=handler,
                environment={**self.lane_environment(lane), **self._extra_environment},
                timeout_seconds=deployed.function_timeout_seconds,
                region=self.region,
                account_id=ACCOUNT_ID,
                name=f"{settings.stack_name}-{'UrgentFunction' if urgent else 'Function'}",
                memory_mb=settings.function_memory_mb,
                python_path=self._python_path,
                log_dir=self.log_dir,
                log_name=instance_log_name(lane),
                idle_seconds=self._instance_idle_seconds,
            ),
            endpoint_url=resources.endpoint_url,
        )

    # --- what it is made of ---------------------------------------------------------------------
    @property
    def resources(self) -> Resources:
        if self._resources is None:
            raise RuntimeError("the stack is not started")
        return self._resources

    @property
    def ivs(self) -> IvsEmulator:
        if self._ivs is None:
            raise RuntimeError("the stack is not started")
        return self._ivs

    @property
    def endpoint_url(self) -> str:
        return self.resources.endpoint_url

    @property
    def function_environment(self) -> dict[str, str]:
        """The bulk lane's function environment."""
        return self.lane_environment(names.LANE_BULK)

    def lane_environment(self, lane: str) -> dict[str, str]:
        """A lane's function environment, as the stack deploys it, pointing at the local endpoints."""
        return function_environment(self.settings, self.resources, self.ivs_url, lane=lane)

    @property
    def urgent_queue_url(self) -> str:
        return self.resources.urgent_queue_url

    @property
    def ivs_url(self) -> str:
        """The IVS endpoint the function calls: `ivs_url` if given (no emulator runs), else the emulator's."""
        return self._ivs_url or self.ivs.url

    @property
    def pids(self) -> list[int]:
        """Child processes of the stack: moto's server and the function instances."""
        pids = [pid for runner in self.runners.values() for pid in runner.pids]
        if self._moto is not None and self._moto.pid is not None and self._given_moto is None:
            pids.append(self._moto.pid)
        return pids

    # --- producers ------------------------------------------------------------------------------
    def send(self, *bodies: Any) -> list[str]:
        """Sends each body (a str as is, anything else as JSON) to the bulk queue, one with SendMessage,
        more with SendMessageBatch; returns the ids."""
        return self._send(self.resources.queue_url, bodies)

    def send_urgent(self, *bodies: Any) -> list[str]:
        """As `send`, to the urgent queue."""
        return self._send(self.resources.urgent_queue_url, bodies)

    def _send(self, queue_url: str, bodies: Sequence[Any]) -> list[str]:
        ids: list[str] = []
        texts = [body if isinstance(body, str) else json.dumps(body) for body in bodies]
        if len(texts) == 1:
            # One body, as a producer sends one request: SendMessage.
            message_id: str = self.sqs.send_message(QueueUrl=queue_url, MessageBody=texts[0])["MessageId"]
            return [message_id]
        for chunk in batches(texts):
            response = self.sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "MessageBody": text} for i, text in enumerate(chunk)],
            )
            if response.get("Failed"):
                raise RuntimeError(f"messages not sent: {response['Failed']}")
            by_id = {entry["Id"]: entry["MessageId"] for entry in response["Successful"]}
            ids.extend(by_id[str(i)] for i in range(len(chunk)))
        return ids

    def put_event(self, detail: Any, *, source: str = EVENT_SOURCE, detail_type: str = EVENT_DETAIL_TYPE) -> str:
        """Puts one event on the stack's bus (PutEvents); the rules route a revocation event to the queue
        of its lane (`"priority": "urgent"` in the detail: the urgent queue)."""
        response = self.events.put_events(
            Entries=[
                {
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": detail if isinstance(detail, str) else json.dumps(detail),
                    "EventBusName": self.resources.event_bus_name,
                }
            ]
        )
        entry = response["Entries"][0]
        if response.get("FailedEntryCount") or "EventId" not in entry:
            raise RuntimeError(f"event not put: {entry}")
        event_id: str = entry["EventId"]
        return event_id

    # --- observers ------------------------------------------------------------------------------
    def drain(self, timeout: float = 60.0, on_poll: Callable[[], None] | None = None) -> float:
        """Waits until every lane's queue is empty and its function idle; returns the seconds it took.

        `on_poll` is called at every look. Raises local.runner.DrainTimeout after `timeout` seconds.
        """
        if not self.runners:
            raise RuntimeError("this stack runs no function (handler=None): nothing would drain the queue")
        # The urgent lane first: it sends what exceeds its bound on to the bulk queue, never the reverse,
        # so an urgent lane seen idle before the bulk lane cannot fill the bulk queue behind the look.
        ordered = sorted(self.runners.values(), key=lambda runner: runner is not self.urgent_runner)
        return wait_until_drained(ordered, timeout, on_poll)

    def queue_counts(self, queue_url: str | None = None) -> dict[str, int]:
        """Messages, MessagesNotVisible and MessagesDelayed of the queue (by default the bulk queue)."""
        return queue_counts(self.sqs, queue_url or self.resources.queue_url)

    def dead_letters(self) -> list[DeadLetter]:
        """The DLQ's messages, oldest first, read as `ivs-revoke dlq list` reads them: none consumed."""
        letters = scan(self.sqs, self.resources.dead_letter_queue_url)
        return sorted(letters, key=lambda letter: (letter.sent_timestamp_ms or 0, letter.message_id))

    def redrive_dead_letters(self, timeout: float = 60.0, lane: str = names.LANE_BULK) -> RedriveResult:
        """Moves the DLQ's messages back to the bulk queue as `ivs-revoke dlq redrive --wait` does, with
        the bulk queue named as the destination; a move that leaves messages behind raises. `lane`
        names the urgent queue instead, for a stack that runs only the urgent lane's function."""
        resources = self.resources
        urgent = lane == names.LANE_URGENT
        result = redrive(
            self.sqs,
            resources.dead_letter_queue_url,
            Destination(
                arn=resources.urgent_queue_arn if urgent else resources.queue_arn,
                url=resources.urgent_queue_url if urgent else resources.queue_url,
            ),
            poll_seconds=MOVE_TASK_POLL_SECONDS,
            timeout=timeout,
        )
        if result.problem is not None:
            raise RuntimeError(f"redrive: {result.problem}")
        return result

    def purge(self) -> None:
        """Empties every queue and clears the IVS ledger (not the faults): a clean slate between tests.

        Receives and deletes rather than PurgeQueue, which SQS (and moto) allow once a minute per queue.
        Drain first: a message the function holds is not visible here.
        """
        for url in (
            self.resources.queue_url,
            self.resources.urgent_queue_url,
            self.resources.dead_letter_queue_url,
            self.resources.delivery_dead_letter_queue_url,
        ):
            while messages := receive(self.sqs, url, visibility_timeout=60, wait_seconds=0):
                delete(self.sqs, url, [message["ReceiptHandle"] for message in messages])
        self.ivs.reset()


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Holds a Ctrl-C back while the stack shuts down, and raises it afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def instance_log_name(lane: str) -> str:
    """The name of a lane's function logs, `<name>-<slot>.log`: the bulk lane's keep the one they had."""
    return "instance" if lane == names.LANE_BULK else f"{lane}-instance"


def temporary_log_dir(prefix: str = "ivs-revocation-") -> Path:
    """A fresh folder for the function's and moto's logs; `close_log_dir` ends it."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def close_log_dir(log_dir: Path, failure: str | None) -> str:
    """A run's log folder at its end: removed when nothing failed (`failure` None), else kept for reading.
    Returns the line that says which."""
    if failure is None:
        shutil.rmtree(log_dir, ignore_errors=True)
        return f"Logs removed ({log_dir}): nothing failed."
    return f"Logs kept in {log_dir}: {failure}."
