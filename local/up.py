"""`make up` (`python -m local.up`): the local pipeline as a service for your own producers and tools.

Starts the local stack with the settings of cdk.json, prints what runs where and one `export NAME=value`
line per variable that points botocore, the AWS CLI and `ivs-revoke` at it (also written to
`.local-stack.env`, removed on exit), and serves with a status line until Ctrl-C (exit 130) or SIGTERM
(exit 0); README.md ("Run it locally for your own producers") tells more.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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
from typing import IO, Final
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from infra.settings import DeploySettings
from ivs_revoke.errors import EXIT_INTERRUPTED
from ivs_revoke.targets import ENV_DLQ_URL, ENV_EVENT_BUS
from local.clients import CREDENTIALS
from local.ivs_emulator.service import EmulatorConfigError, Faults, add_fault_options, faults_of
from local.moto_process import MOTO_LOG, MotoServer
from local.overview import Lane, emulator_note, header_lines, lanes
from local.stack import LocalStack, instance_log_name, temporary_log_dir
from revocation import names
from revocation.models import CHANNEL_ARN_MAX_LENGTH, CHANNEL_ARN_PATTERN, MAX_SESSIONS_PER_CALL

ROOT: Final = Path(__file__).resolve().parents[1]
ENV_FILE: Final = ROOT / ".local-stack.env"
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
    }


def export_lines(values: Mapping[str, str]) -> list[str]:
    """One `export NAME=value` per variable, quoted so that a shell reads the value back unchanged."""
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


# ----------------------------------------------------------------------------------------- status


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

    @property
    def revoked(self) -> int:
        return sum(lane.revoked for lane in self.lanes)


def format_status(status: Status) -> str:
    queues = ", ".join(f"{lane.lane} {lane.waiting} queued + {lane.in_flight} in flight" for lane in status.lanes)
    revoked = ", ".join(f"{lane.lane} {lane.revoked}" for lane in status.lanes)
    rates = ", ".join(f"{lane.lane} {lane.rate:.1f} of {lane.bound:g}" for lane in status.lanes)
    codes = ", ".join(f"{code} {count}" for code, count in sorted(status.dead_lettered_by_code.items()))
    dead = f"DLQ {status.dead_letter_messages} msg" + (f"; dead-lettered since start: {codes}" if codes else "")
    return f"{queues} | revoked {status.revoked} ({revoked}) | last minute pairs/s {rates} | {dead}"


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
        counts = stack.queue_counts(lane.queue_url)
        lanes.append(
            LaneStatus(
                lane=lane.name,
                waiting=counts["Messages"] + counts["MessagesDelayed"],
                in_flight=counts["MessagesNotVisible"],
                revoked=metrics.revoked[lane.name],
                rate=metrics.rate(lane.name, now, since),
                bound=bounds[lane.name],
            )
        )
    dead = stack.queue_counts(stack.resources.dead_letter_queue_url)
    return Status(
        lanes=lanes,
        dead_letter_messages=dead["Messages"] + dead["MessagesNotVisible"],
        dead_lettered_by_code=dict(metrics.dead_lettered_by_code),
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


def serve(stack: LocalStack, served: Sequence[Lane], metrics: FunctionMetrics, line: StatusLine | None) -> None:
    """Until interrupted: shows the status every `line.interval` seconds, or only waits (--quiet)."""
    since = time.time()
    try:
        while True:
            if line is not None:
                show_status(stack, served, metrics, since, line)
            time.sleep(line.interval if line is not None else 3600)
    finally:
        # The last word before the stack stops: what was done, as of now.
        if line is not None:
            show_status(stack, served, metrics, since, line)
            line.end()


def show_status(
    stack: LocalStack, served: Sequence[Lane], metrics: FunctionMetrics, since: float, line: StatusLine
) -> None:
    try:
        line.show(format_status(current_status(stack, served, metrics, since)))
    except (BotoCoreError, ClientError) as error:
        line.show(f"status not available: {error}")


# ------------------------------------------------------------------------------------ environment file


def write_env_file(path: Path, lines: Sequence[str]) -> str:
    text = "# The local stack of `make up`, for a second terminal: source .local-stack.env\n" + "".join(
        f"{line}\n" for line in lines
    )
    path.write_text(text)
    return text


def remove_env_file(path: Path, text: str) -> None:
    """Removes the file if it is still the one written: another `make up` may have replaced it since."""
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            path.unlink()


# ----------------------------------------------------------------------------------------- running


class Terminated(Exception):
    """SIGTERM: stop in order, as on Ctrl-C, and exit 0 (a supervisor asked for it)."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def _shutting_down() -> None:
    # One stop is enough: a second SIGTERM must not cut the shutdown short (Ctrl-C is held back by
    # the stack itself while it stops).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def run(args: argparse.Namespace, faults: Faults, out: IO[str]) -> None:
    settings = DeploySettings.from_cdk_json()
    log_dir = temporary_log_dir("ivs-revocation-up-")
    with contextlib.ExitStack() as running:
        moto = running.enter_context(MotoServer(log_dir / MOTO_LOG, port=args.port))
        stack = running.enter_context(
            LocalStack(
                settings,
                region=REGION,
                ivs_options={"unauthorized_channels": args.unauthorized_channel, "faults": faults},
                ivs_url=args.ivs_url,
                moto=moto,
                log_dir=log_dir,
            )
        )
        # Callbacks run last first: from here on, the shutdown is not cut short by a SIGTERM.
        running.callback(_shutting_down)
        if args.ivs_url:
            ivs_note = f"the endpoint at {args.ivs_url} (--ivs-url)"
        else:
            ivs_note = f"emulator at {stack.ivs_url}: {emulator_note(args.unauthorized_channel, faults)}"
        served = lanes(stack)
        exports = export_lines(environment(stack, served))
        text = write_env_file(ENV_FILE, exports)
        running.callback(remove_env_file, ENV_FILE, text)

        out.write("\n".join(header_lines(stack, "the local pipeline, serving on 127.0.0.1", ivs_note)) + "\n\n")
        out.write(f"Point your SDK, the AWS CLI and ivs-revoke at it (or, in another terminal: source {ENV_FILE}):\n")
        out.write("\n".join(exports) + "\n\n")
        out.write(
            f"Ready: serving (lanes: {', '.join(lane.name for lane in served)}) at {stack.endpoint_url}; "
            "Ctrl-C stops everything.\n"
        )
        out.flush()
        line = None if args.quiet else StatusLine(out, out.isatty())
        serve(stack, served, FunctionMetrics(log_dir), line)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local.up", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ivs-url", type=_http_url, metavar="URL", help="send the function's IVS calls here instead of the emulator"
    )
    parser.add_argument(
        "--port", type=_port, default=0, help="port of the SQS and EventBridge endpoint (default: a free one)"
    )
    parser.add_argument(
        "--unauthorized-channel",
        type=_channel_arn,
        action="append",
        default=[],
        metavar="ARN",
        help='emulator: pairs of this channel get the per-pair error "403" (repeatable)',
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
    if args.ivs_url and (args.unauthorized_channel or faults != Faults()):
        parser.error("--unauthorized-channel and the fault options are the emulator's: not with --ivs-url")
    signal.signal(signal.SIGTERM, _terminate)
    # Ctrl-C stops the service even when a script started it in the background, which starts it with
    # SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    out = sys.stdout
    try:
        run(args, faults, out)
    except KeyboardInterrupt:
        out.write("Interrupted: the stack is stopped, nothing left running.\n")
        return EXIT_INTERRUPTED
    except Terminated:
        out.write("Terminated: the stack is stopped, nothing left running.\n")
        return 0
    except RuntimeError as error:
        sys.stderr.write(f"python -m local.up: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
