"""`make up` (`python -m local.up`): the local pipeline as a service for your own producers and tools.

Starts the local stack with the settings of cdk.json, prints what runs where and one `export NAME=value`
line per variable that points botocore, the AWS CLI and `ivs-revoke` at it (also written to
`.local-stack.env`, removed on exit), and serves with a status line until Ctrl-C or SIGTERM. One runs
per environment file: a second refuses, naming the first's PID (`.local-stack.pid`). A stop lets the
invocations in flight finish (`--grace`), then says what the local queues, which live in memory, still
held and are discarded; it exits 0. The README's walkthrough and docs/local-stack.md tell more.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shlex
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, Final
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from infra.settings import DeploySettings, DeploySettingsError
from ivs_revocation import names
from ivs_revocation.models import CHANNEL_ARN_MAX_LENGTH, CHANNEL_ARN_PATTERN, MAX_SESSIONS_PER_CALL
from ivs_revocation.settings import REGION_PATTERN
from ivs_revoke.targets import ENV_DLQ_URL, ENV_EVENT_BUS, ENV_OUTCOME_EVENT_BUS
from local.accounts import account_ids
from local.clients import CREDENTIALS
from local.demo import CLI_EXAMPLE_CHANNELS
from local.instance_supervisor import IDLE_SECONDS
from local.ivs_emulator.service import EmulatorConfigError, Faults, add_fault_options, faults_of
from local.moto_process import MOTO_LOG, MotoServer
from local.overview import Lane, emulator_note, header_lines, lanes
from local.stack import LocalStack, close_log_dir, instance_log_name, temporary_log_dir

ROOT: Final = Path(__file__).resolve().parents[1]
ENV_FILE: Final = ROOT / ".local-stack.env"
# Refused by default so that the walkthrough's pair of the AWS CLI documentation's example ends in the
# DLQ with "403" "not authorized", as that example's output shows (make demo refuses the same two).
DEFAULT_UNAUTHORIZED_CHANNELS: Final = CLI_EXAMPLE_CHANNELS
# The function's scope (IVS_REGIONS) when neither --ivs-region nor cdk.json names one: the local stack's
# own region is a detail of the local queues (see REGION), not where a team's channels are; this is the
# region of the example channels above and of the README's walkthrough.
DEFAULT_IVS_REGIONS: Final = ("us-west-2",)
# Long enough for an invocation's last IVS calls (about 1 s each at the quota) and its dead-letter writes,
# short enough that a stop is not a wait.
DEFAULT_GRACE_SECONDS: Final = 5.0
# On a terminal the status line is redrawn in place every second; elsewhere (a pipe, a log) one line
# every 10 s, so that a log of a day's run stays readable.
TERMINAL_STATUS_SECONDS: Final = 1.0
PLAIN_STATUS_SECONDS: Final = 10.0
RATE_WINDOW_SECONDS: Final = 60.0
# The region of the local queues and bus. AWS CLI v1 ignores AWS_ENDPOINT_URL_SQS (and any configured
# endpoint) in every region where SQS once had a legacy host name: it replaces the endpoint with
# https://queue.amazonaws.com and the like unless --endpoint-url is given (aws/aws-cli#8737). Regions
# opened since have none, so there `aws sqs ...` follows the exported endpoint as AWS CLI v2 does.
REGION: Final = "eu-central-2"


# ----------------------------------------------------------------------------------- what it serves


def environment(stack: LocalStack, served: Sequence[Lane]) -> dict[str, str]:
    """What botocore, the AWS CLI and `ivs-revoke` read, pointing at this stack."""
    return {
        "AWS_ENDPOINT_URL_SQS": stack.endpoint_url,
        # botocore names a service's endpoint variable after its service id: EventBridge, not events.
        "AWS_ENDPOINT_URL_EVENTBRIDGE": stack.endpoint_url,
        "AWS_ENDPOINT_URL_IVS": stack.ivs_url,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        # AWS_REGION for the SDKs and AWS CLI v2, AWS_DEFAULT_REGION for botocore and AWS CLI v1.
        "AWS_REGION": stack.region,
        "AWS_DEFAULT_REGION": stack.region,
        **{lane.env_name: lane.queue_url for lane in served},
        ENV_DLQ_URL: stack.resources.dead_letter_queue_url,
        ENV_EVENT_BUS: stack.resources.event_bus_name,
        **outcome_environment(stack),
    }


# The local queue that receives every outcome event through a rule on the outcome bus: watch it with
# aws sqs receive-message --queue-url "$OUTCOME_QUEUE_URL" (it is not part of the stack: a consumer's own).
ENV_OUTCOME_QUEUE_URL: Final = "OUTCOME_QUEUE_URL"


def outcome_environment(stack: LocalStack) -> dict[str, str]:
    """The outcome bus (for `submit --wait`) and the watch queue, when the stack puts outcome events."""
    resources = stack.resources
    if resources.outcome_event_bus_name is None or resources.outcome_queue_url is None:
        return {}
    return {
        ENV_OUTCOME_EVENT_BUS: resources.outcome_event_bus_name,
        ENV_OUTCOME_QUEUE_URL: resources.outcome_queue_url,
    }


def export_lines(values: Mapping[str, str]) -> list[str]:
    """One `export NAME=value` per variable, quoted so that a shell reads the value back unchanged."""
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


# ----------------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class QueueLeft:
    """What a queue holds: in the status line, and what a stop discards."""

    queue: str
    queued: int  # visible or delayed
    in_flight: int

    @classmethod
    def of(cls, queue: str, counts: Mapping[str, int]) -> QueueLeft:
        """From ivs_revoke.sqs.queue_counts."""
        return cls(queue, counts["Messages"] + counts["MessagesDelayed"], counts["MessagesNotVisible"])

    @property
    def messages(self) -> int:
        return self.queued + self.in_flight


@dataclass(frozen=True)
class LaneStatus:
    lane: str
    waiting: int  # messages in the queue, visible or delayed
    in_flight: int
    revoked: int
    rate: float  # pairs revoked per second over the last minute
    bound: float  # what IVS allows the lane: pairs per call x calls per second of its operation


@dataclass(frozen=True)
class Status:
    lanes: Sequence[LaneStatus]
    dead_letter_messages: int
    dead_lettered_by_code: Mapping[str, int]  # pairs (or invalid messages) the function dead-lettered
    # Outcome events the functions put, and could not put; the watch queue's messages (None: no outcomes).
    outcome_events: int = 0
    outcome_events_unpublished: int = 0
    outcome_queue_messages: int | None = None

    @property
    def revoked(self) -> int:
        return sum(lane.revoked for lane in self.lanes)


def format_status(status: Status) -> str:
    queues = ", ".join(f"{lane.lane} {lane.waiting} queued + {lane.in_flight} in flight" for lane in status.lanes)
    revoked = ", ".join(f"{lane.lane} {lane.revoked}" for lane in status.lanes)
    rates = ", ".join(f"{lane.lane} {lane.rate:.1f} of {lane.bound:g}" for lane in status.lanes)
    codes = ", ".join(f"{code} {count}" for code, count in sorted(status.dead_lettered_by_code.items()))
    dead = f"DLQ {status.dead_letter_messages} msg" + (f"; dead-lettered since start: {codes}" if codes else "")
    line = f"{queues} | revoked {status.revoked} ({revoked}) | last minute pairs/s {rates} | {dead}"
    if status.outcome_queue_messages is None:
        return line
    unpublished = f", {status.outcome_events_unpublished} unpublished" if status.outcome_events_unpublished else ""
    return (
        f"{line} | outcome events {status.outcome_events} put{unpublished}, "
        f"{status.outcome_queue_messages} in ${ENV_OUTCOME_QUEUE_URL}"
    )


@dataclass(frozen=True)
class MetricPoint:
    at: float  # seconds since the epoch
    name: str
    dimensions: Mapping[str, str]
    value: float


def metric_points(line: str) -> list[MetricPoint]:
    """The metrics of one line of the function's log, in CloudWatch's embedded metric format; [] for
    any other line."""
    if not line.startswith('{"_aws"'):
        return []
    try:
        entry = json.loads(line)
        directives = entry["_aws"]["CloudWatchMetrics"]
        at = entry["_aws"]["Timestamp"] / 1000
    except (ValueError, KeyError, TypeError):
        return []
    points = []
    for directive in directives:
        keys = {key for dimension_set in directive.get("Dimensions", []) for key in dimension_set}
        dimensions = {key: str(entry[key]) for key in keys if key in entry}
        for metric in directive.get("Metrics", []):
            values = entry.get(metric.get("Name"))
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, int | float):
                    points.append(MetricPoint(at, metric["Name"], dimensions, float(value)))
    return points


class FunctionMetrics:
    """The functions' own metrics, read from their logs as CloudWatch would: the same figures whatever
    IVS endpoint they call. Each lane's function writes logs of its own name (`instance_log_name`).

    The codes come from the function's metrics rather than from reading the DLQ: receiving its
    messages, even to put them back, would hide them from an operator's `ivs-revoke dlq list` meanwhile.
    """

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}
        self.revoked: Counter[str] = Counter()  # by lane
        self.dead_lettered_by_code: Counter[str] = Counter()
        self.outcome_events = 0
        self.outcome_events_unpublished = 0
        self._recent: dict[str, deque[tuple[float, float]]] = {lane: deque() for lane in names.LANES}

    def read(self) -> None:
        for path in sorted(self._log_dir.glob("*.log")):
            if path.name != MOTO_LOG:
                lane = _lane_of_log(path)
                for line in self._new_lines(path):
                    for point in metric_points(line):
                        self.add(point, lane)

    def add(self, point: MetricPoint, lane: str = names.LANE_BULK) -> None:
        if point.name == names.METRIC_PAIRS_REVOKED:
            self.revoked[lane] += int(point.value)
            self._recent[lane].append((point.at, point.value))
        elif point.name == names.METRIC_PAIRS_DEAD_LETTERED and names.DIMENSION_ERROR_CODE in point.dimensions:
            self.dead_lettered_by_code[point.dimensions[names.DIMENSION_ERROR_CODE]] += int(point.value)
        elif point.name == names.METRIC_OUTCOME_EVENTS_PUBLISHED:
            self.outcome_events += int(point.value)
        elif point.name == names.METRIC_OUTCOME_EVENTS_UNPUBLISHED:
            self.outcome_events_unpublished += int(point.value)

    def rate(self, lane: str, now: float, serving_since: float) -> float:
        """A lane's pairs revoked per second over the last minute (or since serving began, if less)."""
        recent = self._recent[lane]
        while recent and recent[0][0] < now - RATE_WINDOW_SECONDS:
            recent.popleft()
        window = min(RATE_WINDOW_SECONDS, max(now - serving_since, 1.0))
        return sum(value for _, value in recent) / window

    def _new_lines(self, path: Path) -> Iterator[str]:
        try:
            with path.open("rb") as log:
                log.seek(self._offsets.get(path, 0))
                data = log.read()
        except OSError:
            return
        self._offsets[path] = self._offsets.get(path, 0) + len(data)
        *lines, rest = (self._partial.pop(path, b"") + data).split(b"\n")
        if rest:
            self._partial[path] = rest
        for line in lines:
            yield line.decode(errors="replace")


def _lane_of_log(path: Path) -> str:
    urgent = instance_log_name(names.LANE_URGENT)
    return names.LANE_URGENT if path.name.startswith(urgent + "-") else names.LANE_BULK


def current_status(stack: LocalStack, served: Sequence[Lane], metrics: FunctionMetrics, since: float) -> Status:
    metrics.read()
    settings = stack.settings
    # Pairs per second each lane's operation allows this deployment: 20 per batch call, one per single call.
    bounds = {
        names.LANE_BULK: settings.account_quota_calls_per_second * MAX_SESSIONS_PER_CALL,
        names.LANE_URGENT: settings.urgent_calls_per_second,
    }
    now = time.time()
    lanes = []
    for lane in served:
        held = QueueLeft.of(lane.name, stack.queue_counts(lane.queue_url))
        lanes.append(
            LaneStatus(
                lane=lane.name,
                waiting=held.queued,
                in_flight=held.in_flight,
                revoked=metrics.revoked[lane.name],
                rate=metrics.rate(lane.name, now, since),
                bound=bounds[lane.name],
            )
        )
    dead = stack.queue_counts(stack.resources.dead_letter_queue_url)
    watch = stack.resources.outcome_queue_url
    watched = stack.queue_counts(watch) if watch is not None else None
    return Status(
        lanes=lanes,
        dead_letter_messages=dead["Messages"] + dead["MessagesNotVisible"],
        dead_lettered_by_code=dict(metrics.dead_lettered_by_code),
        outcome_events=metrics.outcome_events,
        outcome_events_unpublished=metrics.outcome_events_unpublished,
        outcome_queue_messages=None if watched is None else watched["Messages"] + watched["MessagesNotVisible"],
    )


class StatusLine:
    """Redrawn in place on a terminal; a plain, timestamped line otherwise."""

    def __init__(self, out: IO[str], terminal: bool) -> None:
        self._out = out
        self.terminal = terminal
        self._drawn = False
        self.interval = TERMINAL_STATUS_SECONDS if terminal else PLAIN_STATUS_SECONDS

    def show(self, text: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {text}"
        if self.terminal:
            self._out.write(f"\r{line}\x1b[K")
            self._drawn = True
        else:
            self._out.write(line + "\n")
        self._out.flush()

    def end(self) -> None:
        """Leaves the line drawn in place, so that what comes next starts on a line of its own."""
        if self._drawn:
            self._out.write("\n")
            self._drawn = False


def serve(stack: LocalStack, served: Sequence[Lane], metrics: FunctionMetrics, line: StatusLine | None) -> str:
    """Until Ctrl-C or SIGTERM: shows the status every `line.interval` seconds, or only waits (--quiet);
    returns which of the two stopped it."""
    since = time.time()
    try:
        while True:
            if line is not None:
                show_status(stack, served, metrics, since, line)
            time.sleep(line.interval if line is not None else 3600)
    except KeyboardInterrupt:
        how = STOP_CTRL_C
    except Terminated:
        how = STOP_SIGTERM
    hold_signals()
    # The last word before the stack stops: what was done, as of now.
    if line is not None:
        show_status(stack, served, metrics, since, line)
        line.end()
    return how


def show_status(
    stack: LocalStack, served: Sequence[Lane], metrics: FunctionMetrics, since: float, line: StatusLine
) -> None:
    try:
        line.show(format_status(current_status(stack, served, metrics, since)))
    except (BotoCoreError, ClientError) as error:
        line.show(f"status not available: {error}")


# ------------------------------------------------------------------------------------ environment file


def write_env_file(path: Path, lines: Sequence[str]) -> str:
    comment = f"# The local stack of `make up` (PID {os.getpid()}), for a second terminal: source {path.name}"
    text = "".join(f"{line}\n" for line in [comment, *lines])
    path.write_text(text)
    return text


def remove_env_file(path: Path, text: str) -> None:
    """Removes the file if it is still the one written: another `make up` may have replaced it since."""
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            path.unlink()


def lock_path(env_file: Path) -> Path:
    """Where the PID of the `make up` that writes `env_file` is kept: `.local-stack.pid` beside
    `.local-stack.env`."""
    return env_file.with_suffix(".pid")


class AlreadyServing(RuntimeError):
    """Another `make up` holds the lock of this environment file."""

    def __init__(self, lock: Path, env_file: Path, pid: int | None) -> None:
        self.pid = pid
        who = f"PID {pid}" if pid is not None else f"its PID not yet in {lock}"
        stop = f"kill {pid}" if pid is not None else f"kill the PID in {lock}"
        super().__init__(
            f"another `make up` ({who}) is serving with {env_file}: use it (source {env_file.name}), or stop it "
            f"first with Ctrl-C in its terminal or {stop}"
        )


class ServiceLock:
    """The PID file beside the environment file, held with flock while `make up` runs.

    The kernel lets go of an flock when its process ends, however it ends: a file left by a process
    that was killed is taken over (`stale_pid` names that process), while a live holder makes
    `acquire` raise AlreadyServing with its PID.
    """

    def __init__(self, path: Path, env_file: Path) -> None:
        self.path = path
        self._env_file = env_file
        self._fd: int | None = None
        self.stale_pid: int | None = None

    def acquire(self) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _pid_in(fd)
                os.close(fd)
                raise AlreadyServing(self.path, self._env_file, holder) from None
            # Its holder may have removed the file between our open and our lock: then the lock is on a
            # file nobody else will look at, and the one at the path is what counts.
            try:
                current = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(fd)
        self.stale_pid = _pid_in(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            # Removed while still locked, so that whoever opened it meanwhile sees it gone and starts over.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            os.close(fd)

    def __enter__(self) -> ServiceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _pid_in(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


# ----------------------------------------------------------------------------------------- stopping


STOP_CTRL_C: Final = "Ctrl-C"
STOP_SIGTERM: Final = "SIGTERM"


class Terminated(Exception):
    """SIGTERM: stop in order, as on Ctrl-C."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def hold_signals() -> None:
    # One stop is enough: a second Ctrl-C or SIGTERM must not cut the grace or the shutdown short (the
    # stack holds a Ctrl-C back while it stops, and raises it afterwards).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass
class Stop:
    """How the service stopped, and what it found as it did."""

    how: str | None = None  # STOP_CTRL_C or STOP_SIGTERM, once a stop began
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    held_batches: int = 0  # batches the functions held (gathered, invoked or settling) when the stop came
    grace_used: float | None = None  # None: the function was not running yet
    left: Sequence[QueueLeft] | None = None  # None: not counted (the stack was not serving yet, or no answer)
    count_error: str | None = None
    function_failed: bool = False


def left_in_queues(stack: LocalStack, served: Sequence[Lane]) -> list[QueueLeft]:
    resources = stack.resources
    queues = [(lane.name, lane.queue_url) for lane in served] + [
        ("DLQ", resources.dead_letter_queue_url),
        ("EventBridge delivery DLQ", resources.delivery_dead_letter_queue_url),
    ]
    return [QueueLeft.of(name, stack.queue_counts(url)) for name, url in queues]


def grace_note(stop: Stop) -> str:
    if stop.grace_used is None or not stop.held_batches:
        return ""
    if stop.grace_used < stop.grace_seconds:
        return f"The invocations in flight finished within the grace ({stop.grace_used:.1f} s).\n"
    return (
        f"Invocations still running after the {stop.grace_seconds:g} s grace were ended; their messages "
        "are counted as in flight.\n"
    )


def stop_report(stop: Stop) -> str:
    """The last line: what the stop discarded. Never that all is well when the queues held something."""
    how = f" ({stop.how})" if stop.how else ""
    if stop.count_error is not None:
        return (
            f"Stopped{how}. The queues could not be counted ({stop.count_error}): whatever they held is "
            "discarded with them (they live in memory)."
        )
    if stop.left is None:
        return f"Stopped{how} before serving: nothing was queued; nothing left running."
    discarded = sum(queue.messages for queue in stop.left)
    if not discarded:
        return f"Stopped{how}: every queue was empty, nothing discarded; nothing left running."
    held = ", ".join(
        f"{queue.queue} {queue.queued} queued" + (f" + {queue.in_flight} in flight" if queue.in_flight else "")
        for queue in stop.left
        if queue.messages
    )
    return (
        f"Stopped{how}. Discarded {discarded} message{'' if discarded == 1 else 's'} that the local queues "
        f"still held (they live in memory and end with the stack): {held}."
    )


def _function_failed(stack: LocalStack) -> bool:
    """Whether an invocation raised, timed out or crashed, or an instance failed its cold start."""
    return any(runner.stats.batches_failed or runner.stats.init_errors for runner in stack.runners.values())


# ----------------------------------------------------------------------------------------- running


def refused_lines(channels: Sequence[str], chosen: bool) -> list[str]:
    """The header's word on which channels the emulator refuses, and why those."""
    label = f"  {'refused channels':<19} "
    if not channels:
        return [label + "none (--authorize-all)"]
    why = (
        "--unauthorized-channel"
        if chosen
        else "by default: the AWS CLI documentation's example channels; --unauthorized-channel ARN names "
        "others, --authorize-all none"
    )
    return [
        label + ", ".join(channels),
        f'  {"":<19} the emulator answers their pairs "403" "not authorized" ({why})',
    ]


def run(args: argparse.Namespace, faults: Faults, out: IO[str]) -> int:
    """Serves until a stop; 0 after a clean stop, 1 when the queues could not be counted as it stopped.

    Raises AlreadyServing when another `make up` has the environment file, RuntimeError when the
    stack does not start.
    """
    env_file: Path = args.env_file
    with ServiceLock(lock_path(env_file), env_file) as lock:
        if lock.stale_pid is not None:
            out.write(
                f"{lock.path} named PID {lock.stale_pid}, which no longer serves (it did not stop cleanly): "
                f"taken over; {env_file.name} is written anew.\n"
            )
        log_dir = temporary_log_dir("ivs-revocation-up-")
        stop = Stop(grace_seconds=args.grace)
        failure: str | None = "make up did not stop cleanly"
        try:
            try:
                _run_stack(args, faults, log_dir, stop, out)
            except (KeyboardInterrupt, Terminated) as signalled:
                # While the stack was starting, or again while it stopped: it is stopped all the same.
                if stop.how is None:
                    stop.how = STOP_SIGTERM if isinstance(signalled, Terminated) else STOP_CTRL_C
            if stop.function_failed:
                failure = "an invocation raised, timed out or crashed"
            elif stop.count_error is not None:
                failure = "the queues could not be counted"
            else:
                failure = None
        finally:
            out.write(close_log_dir(log_dir, failure) + "\n")
        out.write(stop_report(stop) + "\n")
        return 1 if stop.count_error is not None else 0


def _run_stack(args: argparse.Namespace, faults: Faults, log_dir: Path, stop: Stop, out: IO[str]) -> None:
    settings, scope = deploy_settings(args.ivs_region, args.member_accounts)
    with contextlib.ExitStack() as running:
        moto = running.enter_context(MotoServer(log_dir / MOTO_LOG, port=args.port))
        stack = running.enter_context(
            LocalStack(
                settings,
                region=REGION,
                ivs_options={"unauthorized_channels": unauthorized_channels(args), "faults": faults},
                ivs_url=args.ivs_url,
                moto=moto,
                log_dir=log_dir,
                instance_idle_seconds=args.instance_idle_seconds,
            )
        )
        served = lanes(stack)
        try:
            exports = export_lines(environment(stack, served))
            text = write_env_file(args.env_file, exports)
            running.callback(remove_env_file, args.env_file, text)
            out.write(introduction(args, faults, scope, stack, served, exports))
            out.flush()
            line = None if args.quiet else StatusLine(out, out.isatty())
            stop.how = serve(stack, served, FunctionMetrics(log_dir), line)
        except KeyboardInterrupt:
            stop.how = STOP_CTRL_C
        except Terminated:
            stop.how = STOP_SIGTERM
        hold_signals()
        # Before the grace: an invocation it ends is no failure of the function's.
        stop.function_failed = _function_failed(stack)
        stop.held_batches = sum(runner.in_flight for runner in stack.runners.values())
        out.write(
            f"Stopping ({stop.how}): no new batches; up to {stop.grace_seconds:g} s for the invocations in flight "
            "to finish.\n"
        )
        out.flush()
        began = time.monotonic()
        stack.stop_function(timeout=stop.grace_seconds)
        stop.grace_used = time.monotonic() - began
        out.write(grace_note(stop))
        try:
            stop.left = left_in_queues(stack, served)
        except (BotoCoreError, ClientError) as error:
            stop.count_error = str(error)


def introduction(
    args: argparse.Namespace,
    faults: Faults,
    scope: str,
    stack: LocalStack,
    served: Sequence[Lane],
    exports: Sequence[str],
) -> str:
    """What runs where, how to stop it, the export lines, and Ready."""
    env_file: Path = args.env_file
    pid = os.getpid()
    if args.ivs_url:
        ivs_note, refused = f"the endpoint at {args.ivs_url} (--ivs-url)", []
    else:
        ivs_note = f"emulator at {stack.ivs_url}: {emulator_note((), faults)}"
        chosen = bool(args.unauthorized_channel or args.authorize_all)
        refused = refused_lines(unauthorized_channels(args), chosen)
    title = "the local pipeline, serving on 127.0.0.1"
    header = header_lines(stack, title, ivs_note, [*refused, scope_line(stack.settings, scope)])
    header.append(
        f"  {'process':<19} PID {pid} (lock {lock_path(env_file)}): stop it with Ctrl-C here or kill {pid}; "
        f"invocations in flight get {args.grace:g} s to finish, then what the queues still hold is counted "
        "and discarded (they live in memory)"
    )
    lanes_served = ", ".join(lane.name for lane in served)
    return "".join(
        [
            "\n".join(header) + "\n\n",
            f"Point your SDK, the AWS CLI and ivs-revoke at it (or, in another terminal: source {env_file}):\n",
            "\n".join(exports) + "\n\n",
            *watch_lines(stack),
            f"Ready: serving (lanes: {lanes_served}) at {stack.endpoint_url} as PID {pid}; Ctrl-C or kill {pid} "
            "stops it.\n",
        ]
    )


def watch_lines(stack: LocalStack) -> list[str]:
    """How to watch the outcome events (docs/outcome-events.md), when the stack puts them."""
    if stack.resources.outcome_queue_url is None:
        return []
    return [
        f"Outcome events (Viewer Session Revocation Settled, on bus {stack.resources.outcome_event_bus_name}) "
        f"reach ${ENV_OUTCOME_QUEUE_URL} through a rule; watch them with:\n",
        f'  aws sqs receive-message --queue-url "${ENV_OUTCOME_QUEUE_URL}" --wait-time-seconds 10 '
        "--max-number-of-messages 10\n",
        "or wait for your own: ivs-revoke submit ... --wait\n\n",
    ]


def deploy_settings(
    ivs_regions: Sequence[str] | None, member_accounts: Sequence[str] | None = None
) -> tuple[DeploySettings, str]:
    """cdk.json's settings, the function's scope from `ivs_regions` (--ivs-region), else cdk.json's
    ivsRegions or channelArns, else DEFAULT_IVS_REGIONS; and where the scope came from. Member
    accounts (--member-accounts) replace cdk.json's memberAccounts."""
    members: dict[str, Any] = {"memberAccounts": list(member_accounts)} if member_accounts else {}
    if ivs_regions:
        return DeploySettings.from_cdk_json(overrides={"ivsRegions": list(ivs_regions), **members}), "--ivs-region"
    settings = DeploySettings.from_cdk_json(overrides=members or None)
    if settings.ivs_regions or settings.channel_arns:
        return settings, "from cdk.json"
    default = DeploySettings.from_cdk_json(overrides={"ivsRegions": list(DEFAULT_IVS_REGIONS), **members})
    return default, "by default; --ivs-region REGION names others"


def scope_line(settings: DeploySettings, source: str) -> str:
    regions = ", ".join(settings.revocation_regions(REGION))
    return (
        f"  {'IVS regions':<19} {regions} (IVS_REGIONS, {source}): the function dead-letters pairs of other "
        "regions as OutOfScope"
    )


def unauthorized_channels(args: argparse.Namespace) -> tuple[str, ...]:
    """The channels whose pairs the emulator refuses: those named, none with --authorize-all or another
    IVS endpoint, else the default ones."""
    if args.ivs_url or args.authorize_all:
        return ()
    if args.unauthorized_channel:
        return tuple(args.unauthorized_channel)
    return DEFAULT_UNAUTHORIZED_CHANNELS


def _channel_arn(text: str) -> str:
    if len(text) > CHANNEL_ARN_MAX_LENGTH or not re.match(CHANNEL_ARN_PATTERN, text):
        raise argparse.ArgumentTypeError(f"not an IVS channel ARN: {text!r}")
    return text


def _http_url(text: str) -> str:
    url = urlparse(text)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text.rstrip("/")


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port: {port}")
    return port


def _region(text: str) -> str:
    if not re.fullmatch(REGION_PATTERN, text):
        raise argparse.ArgumentTypeError(f"not a region name such as us-east-1: {text!r}")
    return text


def _seconds(text: str) -> float:
    seconds = float(text)
    if not 0 <= seconds <= 600:
        raise argparse.ArgumentTypeError(f"must be 0 to 600 seconds (got {text})")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local.up", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ivs-url", type=_http_url, metavar="URL", help="send the function's IVS calls here instead of the emulator"
    )
    parser.add_argument(
        "--port", type=_port, default=0, help="port of the SQS and EventBridge endpoint (default: a free one)"
    )
    refusing = parser.add_mutually_exclusive_group()
    refusing.add_argument(
        "--unauthorized-channel",
        type=_channel_arn,
        action="append",
        metavar="ARN",
        help='emulator: pairs of this channel get the per-pair error "403" "not authorized" (repeatable; '
        f"default: {', '.join(DEFAULT_UNAUTHORIZED_CHANNELS)})",
    )
    refusing.add_argument(
        "--authorize-all", action="store_true", help="emulator: refuse no channel (not even the default ones)"
    )
    parser.add_argument(
        "--ivs-region",
        type=_region,
        action="append",
        metavar="REGION",
        help="a region whose channels the function revokes in (IVS_REGIONS; repeatable; default: cdk.json's "
        f"ivsRegions or channelArns' regions, else {', '.join(DEFAULT_IVS_REGIONS)})",
    )
    parser.add_argument(
        "--member-accounts",
        type=account_ids,
        metavar="A,B,C",
        help="member accounts whose channels the function revokes in too (memberAccounts, IVS_ACCOUNTS): each "
        "gets its role in moto's IAM, assumed through moto's STS, and the emulator attributes each call to the "
        "account of its credentials (default: cdk.json's memberAccounts)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=ENV_FILE,
        metavar="PATH",
        help="where to write the export lines; its lock, the PID file, is beside it with the suffix .pid "
        f"(default: {ENV_FILE})",
    )
    parser.add_argument(
        "--grace",
        type=_seconds,
        default=DEFAULT_GRACE_SECONDS,
        metavar="SECONDS",
        help=f"on Ctrl-C or SIGTERM, how long invocations in flight may run on (default {DEFAULT_GRACE_SECONDS:g})",
    )
    parser.add_argument(
        "--instance-idle-seconds",
        type=_seconds,
        default=IDLE_SECONDS,
        metavar="SECONDS",
        help="how long a function instance may sit idle before it is ended, as Lambda reclaims an idle "
        f"environment; the next batch then waits for a cold start (default {IDLE_SECONDS:g})",
    )
    parser.add_argument("--quiet", action="store_true", help="no status line")
    # The emulator's own options, so that every fault it has is offered here.
    add_fault_options(parser, "emulator faults, as `python -m local.ivs_emulator` takes them; rates are 0 to 1")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        faults = faults_of(args)
    except EmulatorConfigError as error:
        parser.error(str(error))
    if args.ivs_url and (args.unauthorized_channel or args.authorize_all or faults != Faults()):
        parser.error(
            "--unauthorized-channel, --authorize-all and the fault options are the emulator's: not with --ivs-url"
        )
    args.env_file = args.env_file.absolute()
    signal.signal(signal.SIGTERM, _terminate)
    # Ctrl-C stops the service even when a script started it in the background, which starts it with
    # SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # A clean stop exits 0, on Ctrl-C too: make reports any other status as an error.
        return run(args, faults, sys.stdout)
    except (RuntimeError, DeploySettingsError) as error:  # AlreadyServing among them
        sys.stderr.write(f"python -m local.up: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
