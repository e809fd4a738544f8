"""`ivs-revoke`: the command line, its options, and what each command does with them.

    ivs-revoke [global options] submit --viewer-sessions VALUE [VALUE ...]
                                       [--queue-url URL | --event-bus [NAME] | --direct]
    ivs-revoke [global options] dlq list | stats | redrive

Global options may stand before or after the command, as with `aws`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Final, NoReturn
from urllib.parse import urlparse

from awscli.clidriver import LOG_FORMAT
from botocore.exceptions import (
    ClientError,
    ConfigNotFound,
    ConfigParseError,
    CredentialRetrievalError,
    InvalidConfigError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)

from ivs_revoke import __version__, dlq, inputs
from ivs_revoke.aws import Aws, AwsOptions, SessionFactory, default_session
from ivs_revoke.errors import (
    EXIT_CONFIGURATION,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OTHER,
    EXIT_PAIRS_FAILED,
    EXIT_SERVICE,
    EXIT_USAGE,
    CliError,
    InputError,
    ServiceError,
    UsageError,
)
from ivs_revoke.output import COLOR_CHOICES, OUTPUT_FORMATS, OutputOptions, render
from ivs_revoke.senders import (
    DEFAULT_CALLS_PER_SECOND,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PAIRS_PER_MESSAGE,
    BusSender,
    DirectSender,
    QueueSender,
    SendReport,
)
from ivs_revoke.targets import (
    ENV_DLQ_URL,
    ENV_EVENT_BUS,
    ENV_QUEUE_URL,
    ENV_STACK_NAME,
    OUTPUT_DLQ_URL,
    OUTPUT_EVENT_BUS_NAME,
    OUTPUT_QUEUE_ARN,
    OUTPUT_QUEUE_URL,
    Environment,
    StackOutputs,
    resolve,
)
from revocation.models import EVENTBRIDGE_MAX_ENTRY_BYTES, SQS_MAX_MESSAGE_BYTES

PROG: Final = "ivs-revoke"
# `--event-bus` given without a name: the bus comes from the environment or the stack.
_BUS_FROM_STACK: Final = ""
# Redrive progress: how often a running move task is polled.
MOVE_TASK_POLL_SECONDS: Final = 2.0
ENV_REGION: Final = "AWS_REGION"
EXIT_CODES_HELP: Final = (
    f"Exit codes, as the AWS CLI documents them: {EXIT_OK} success; {EXIT_PAIRS_FAILED} some pairs came back in the "
    f"API's errors (--direct; the AWS CLI exits 0 then); {EXIT_USAGE} invalid command line or input, nothing sent; "
    f"{EXIT_CONFIGURATION} configuration (region, credentials, profile, stack, queue); {EXIT_SERVICE} a service "
    f"error; {EXIT_OTHER} anything else (e.g. the endpoint cannot be reached); {EXIT_INTERRUPTED} Ctrl-C."
)
_DEBUG_LOGGERS: Final = ("ivs_revoke", "botocore", "boto3", "urllib3", "awscli")

_CONFIGURATION_ERRORS: Final = (
    NoRegionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ConfigNotFound,
    ConfigParseError,
    InvalidConfigError,
    CredentialRetrievalError,
    TokenRetrievalError,
)

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error raised as exit code 252 (the AWS CLI's) rather than argparse's 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}", usage=self.format_usage())


def _add_global_options(parser: argparse.ArgumentParser, *, with_defaults: bool) -> None:
    """The AWS CLI's global options that mean something here. Added to the top-level parser with their
    defaults and to every command without, so that a value given after the command is kept and an
    absent one does not overwrite a value given before it."""

    def default(value: Any) -> Any:
        return value if with_defaults else argparse.SUPPRESS

    group = parser.add_argument_group("global options (as in the AWS CLI)")
    group.add_argument("--region", default=default(None), help="region of the queue, bus or stack")
    group.add_argument("--profile", default=default(None), help="a profile from your AWS config files")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        default=default(None),
        help="send every request of this command to this URL (e.g. a local stack); "
        "AWS_ENDPOINT_URL_<SERVICE> separates services",
    )
    group.add_argument(
        "--output",
        choices=OUTPUT_FORMATS,
        default=default(None),
        help="output format (default: the profile's `output`, else json)",
    )
    group.add_argument("--query", default=default(None), help="a JMESPath query applied to the output")
    group.add_argument("--debug", action="store_true", default=default(False), help="log requests to stderr")
    group.add_argument(
        "--no-verify-ssl",
        dest="verify_ssl",
        action="store_false",
        default=default(True),
        help="do not verify TLS certificates",
    )
    group.add_argument("--ca-bundle", default=default(None), help="CA bundle to verify TLS certificates with")
    group.add_argument(
        "--cli-read-timeout", type=int, default=default(None), metavar="SECONDS", help="socket read timeout; 0 = none"
    )
    group.add_argument(
        "--cli-connect-timeout",
        type=int,
        default=default(None),
        metavar="SECONDS",
        help="socket connect timeout; 0 = none",
    )
    group.add_argument("--color", choices=COLOR_CHOICES, default=default("auto"), help="color in table output")
    group.add_argument(
        "--no-cli-pager",
        action="store_true",
        default=default(False),
        help="accepted for compatibility: this command never pages its output",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0 (got {value})")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 (got {text})")
    return value


def _move_rate(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"must be 1 to 500 (got {value})")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Revoke Amazon IVS viewer sessions through the revocation pipeline: submit any number of "
        "pairs to its queue or event bus (or to the API directly), and inspect and redrive its DLQ.",
        epilog=EXIT_CODES_HELP,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_global_options(parser, with_defaults=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    submit = commands.add_parser(
        "submit",
        help="submit revocations (the options of aws ivs batch-start-viewer-session-revocation)",
        description="Takes what `aws ivs batch-start-viewer-session-revocation` takes, with any number of pairs, "
        "and sends them to the pipeline's queue (default), its event bus, or the API itself (--direct). "
        "Every pair is validated before anything is sent.",
        epilog=EXIT_CODES_HELP,
        allow_abbrev=False,
    )
    submit.add_argument(
        inputs.SESSIONS_OPTION,
        dest="viewer_sessions",
        nargs="*",
        metavar="VALUE",
        help="shorthand (channelArn=ARN,viewerId=ID,viewerSessionVersionsLessThanOrEqualTo=N ...), JSON, or file://PATH",
    )
    source = submit.add_mutually_exclusive_group()
    source.add_argument("--cli-input-json", metavar="JSON", help="the request as JSON, or file://PATH")
    source.add_argument("--cli-input-yaml", metavar="YAML", help="the request as YAML, or file://PATH")
    submit.add_argument(
        "--generate-cli-skeleton",
        nargs="?",
        const=inputs.SKELETON_INPUT,
        choices=inputs.SKELETON_CHOICES,
        help="print a skeleton (input, yaml-input, or output: a sample response) and send nothing",
    )
    where = submit.add_mutually_exclusive_group()
    where.add_argument(
        "--queue-url", metavar="URL", help=f"the pipeline's queue (default: ${ENV_QUEUE_URL}, or the stack)"
    )
    where.add_argument(
        "--event-bus",
        nargs="?",
        const=_BUS_FROM_STACK,
        metavar="NAME",
        help=f"send as events on this bus (no NAME: ${ENV_EVENT_BUS}, or the stack's bus)",
    )
    where.add_argument(
        "--direct",
        action="store_true",
        help="call BatchStartViewerSessionRevocation from here, 20 pairs a call, paced to the quota",
    )
    submit.add_argument(
        "--stack-name", help=f"the deployed stack whose outputs name the queue and bus (${ENV_STACK_NAME})"
    )
    submit.add_argument(
        "--pairs-per-message",
        type=_non_negative_int,
        default=DEFAULT_PAIRS_PER_MESSAGE,
        metavar="N",
        help=f"pairs per queue message or event (default {DEFAULT_PAIRS_PER_MESSAGE}; 0: as many as fit, "
        f"in the queue's MaximumMessageSize (at most {SQS_MAX_MESSAGE_BYTES:,} bytes) "
        f"or in an event ({EVENTBRIDGE_MAX_ENTRY_BYTES:,} bytes per PutEvents))",
    )
    submit.add_argument(
        "--calls-per-second",
        type=_positive_float,
        default=DEFAULT_CALLS_PER_SECOND,
        metavar="RATE",
        help=f"--direct: API calls per second per region (default {DEFAULT_CALLS_PER_SECOND:g}, the account quota)",
    )
    submit.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help=f"attempts per call or batch, retrying throttling and server errors (default {DEFAULT_MAX_ATTEMPTS})",
    )
    _add_global_options(submit, with_defaults=False)

    dlq_parser = commands.add_parser(
        "dlq", help="inspect and redrive the dead-letter queue", description="The pipeline's dead-letter queue."
    )
    dlq_commands = dlq_parser.add_subparsers(dest="dlq_command", metavar="COMMAND", required=True, parser_class=_Parser)
    _add_global_options(dlq_parser, with_defaults=False)

    def dlq_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = dlq_commands.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        command.add_argument(
            "--dlq-url", metavar="URL", help=f"the dead-letter queue (default: ${ENV_DLQ_URL}, or the stack)"
        )
        command.add_argument(
            "--stack-name", help=f"the deployed stack whose outputs name the queues (${ENV_STACK_NAME})"
        )
        return command

    for name, help_text in (
        ("list", "show the failed pairs with code, message, source message and attempts; consumes nothing"),
        ("stats", "count the failed pairs and invalid messages by error code"),
    ):
        command = dlq_command(name, help_text)
        command.add_argument("--max-items", type=_positive_int, metavar="N", help="read at most N messages")
        command.add_argument(
            "--visibility-timeout",
            type=_non_negative_int,
            default=dlq.DEFAULT_SCAN_VISIBILITY_SECONDS,
            metavar="SECONDS",
            help="how long each message is hidden while the queue is read; all are made visible again at the end "
            f"(default {dlq.DEFAULT_SCAN_VISIBILITY_SECONDS})",
        )
        _add_global_options(command, with_defaults=False)

    redrive = dlq_command(
        "redrive",
        "move the messages back to their source queue to be tried again (StartMessageMoveTask, always "
        "with the destination named: SQS cannot tell where a message the function wrote came from)",
    )
    redrive.add_argument(
        "--destination-url",
        metavar="URL",
        help="the queue to move them to (default: the DLQ's one source queue, from ListDeadLetterSourceQueues, "
        "or the stack's QueueArn when the DLQ is the stack's)",
    )
    redrive.add_argument(
        "--max-number-of-messages-per-second",
        "--rate",
        dest="rate",
        type=_move_rate,
        metavar="N",
        help="move at most N messages a second (1-500; default: as fast as SQS moves them)",
    )
    redrive.add_argument(
        "--wait",
        action="store_true",
        help="show progress until the move is done, then the messages moved; a task that fails exits non-zero",
    )
    redrive.add_argument(
        "--client-side",
        action="store_true",
        help="move the messages from here (receive, send, delete) instead of StartMessageMoveTask; "
        "used on its own when a local endpoint does not implement the task",
    )
    _add_global_options(redrive, with_defaults=False)
    return parser


# --- Running a command -------------------------------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    aws: Aws
    env: Environment
    output: OutputOptions
    stdout: IO[str]
    stderr: IO[str]
    sleep: Callable[[float], None]
    clock: Callable[[], float]

    def stack(self) -> StackOutputs:
        return StackOutputs(self.args.stack_name or self.env.stack_name, lambda: self.aws.client("cloudformation"))

    def render(self, data: Mapping[str, Any], title: str) -> None:
        render(data, self.output, self.stdout, title)

    def note(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()


def run(
    argv: Sequence[str],
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
    session_factory: SessionFactory = default_session,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Runs one command line; returns its exit code. Everything it touches is a parameter, for tests."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    debug_handler: logging.Handler | None = None
    try:
        try:
            args = build_parser().parse_args(list(argv))
        except SystemExit as exit_:  # --help and --version print and exit 0
            return int(exit_.code or 0)
        if args.debug:
            debug_handler = _start_debug_log(err)
        if args.endpoint_url:
            endpoint = urlparse(args.endpoint_url)
            if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
                raise UsageError(
                    f'Bad value for --endpoint-url "{args.endpoint_url}": '
                    "must be of the form http://<hostname>/ or https://<hostname>/"
                )
        environment = os.environ if environ is None else environ
        options = AwsOptions(
            # AWS_REGION, read by AWS CLI v2 and the SDKs before AWS_DEFAULT_REGION; botocore reads only the latter.
            region=args.region or environment.get(ENV_REGION) or None,
            profile=args.profile,
            endpoint_url=args.endpoint_url,
            verify_ssl=args.verify_ssl,
            ca_bundle=args.ca_bundle,
            read_timeout=args.cli_read_timeout,
            connect_timeout=args.cli_connect_timeout,
        )
        aws = Aws(options, session_factory)
        output = OutputOptions(output=args.output or _configured_output(aws), query=args.query, color=args.color)
        output.compiled_query()  # a bad --query is a usage error, found before anything is sent
        context = Context(
            args=args,
            aws=aws,
            env=Environment.from_environ(environment),
            output=output,
            stdout=out,
            stderr=err,
            sleep=sleep,
            clock=clock,
        )
        handler = _submit if args.command == "submit" else _DLQ_COMMANDS[args.dlq_command]
        return handler(context)
    except InputError as error:
        err.write(f"{PROG}: invalid input, nothing was sent:\n")
        err.writelines(f"  {problem}\n" for problem in error.problems)
        return error.exit_code
    except UsageError as error:
        if error.usage:
            err.write(error.usage)
            err.write(f"{error.message}\n")
        else:
            err.write(f"{PROG}: error: {error.message}\n")
        return error.exit_code
    except CliError as error:
        err.write(f"\n{error.message}\n")
        return error.exit_code
    except NoRegionError:
        err.write(
            f"\nYou must specify a region: --region, {ENV_REGION} or AWS_DEFAULT_REGION, or the profile's `region`.\n"
        )
        return EXIT_CONFIGURATION
    except _CONFIGURATION_ERRORS as error:
        err.write(f"\n{error}\n")
        return EXIT_CONFIGURATION
    except ParamValidationError as error:
        err.write(f"\n{error}\n")
        return EXIT_USAGE
    except ClientError as error:
        err.write(f"\n{error}\n")
        return EXIT_SERVICE
    except KeyboardInterrupt:
        out.write("\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK  # the reader of our output went away (e.g. `| head`): nothing left to say
    except Exception as error:
        log.debug("exception caught in run()", exc_info=True)
        err.write(f"\n{error}\n")
        return EXIT_OTHER
    finally:
        if debug_handler is not None:
            _stop_debug_log(debug_handler)


def _configured_output(aws: Aws) -> str:
    # As the AWS CLI: --output, else the profile's (or AWS_DEFAULT_OUTPUT's) `output`, else json.
    configured = aws.configured_output()
    if configured is not None and configured not in OUTPUT_FORMATS:
        raise UsageError(f"Unknown output type: {configured} (from the profile or AWS_DEFAULT_OUTPUT)")
    return configured or "json"


def _start_debug_log(stream: IO[str]) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    for name in _DEBUG_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    log.debug("%s %s, arguments: %s", PROG, __version__, sys.argv[1:])
    return handler


def _stop_debug_log(handler: logging.Handler) -> None:
    for name in _DEBUG_LOGGERS:
        logger = logging.getLogger(name)
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


# --- submit ------------------------------------------------------------------------------------


def _submit(context: Context) -> int:
    args = context.args
    if args.generate_cli_skeleton == inputs.SKELETON_INPUT:
        context.stdout.write(inputs.input_skeleton())
        return EXIT_OK
    if args.generate_cli_skeleton == inputs.SKELETON_YAML_INPUT:
        context.stdout.write(inputs.yaml_input_skeleton())
        return EXIT_OK

    parameters = inputs.call_parameters(args.viewer_sessions, args.cli_input_json, args.cli_input_yaml)
    pairs = inputs.validate(parameters)
    if args.generate_cli_skeleton == inputs.SKELETON_OUTPUT:
        # As the AWS CLI: the input is validated, then a sample response is printed; nothing is sent.
        context.render(inputs.output_skeleton(), inputs.OPERATION_NAME)
        return EXIT_OK

    pairs_per_message = args.pairs_per_message or None
    if args.direct:
        return _submit_direct(context, pairs)
    if args.event_bus is not None:
        bus = resolve(
            what="event bus",
            explicit=args.event_bus or None,
            option="--event-bus NAME",
            env_value=context.env.event_bus,
            env_name=ENV_EVENT_BUS,
            stack=context.stack(),
            output_key=OUTPUT_EVENT_BUS_NAME,
        )
        sender: QueueSender | BusSender = BusSender(
            context.aws.client("events"),
            bus,
            pairs_per_message=pairs_per_message,
            max_attempts=args.max_attempts,
            sleep=context.sleep,
        )
        return _finish(context, sender.send(pairs), "PutEvents")
    queue_url = resolve(
        what="queue URL",
        explicit=args.queue_url,
        option="--queue-url",
        env_value=context.env.queue_url,
        env_name=ENV_QUEUE_URL,
        stack=context.stack(),
        output_key=OUTPUT_QUEUE_URL,
    )
    sender = QueueSender(
        context.aws.client("sqs"),
        queue_url,
        pairs_per_message=pairs_per_message,
        max_attempts=args.max_attempts,
        sleep=context.sleep,
    )
    return _finish(context, sender.send(pairs), "SendMessageBatch")


def _finish(context: Context, report: SendReport, title: str) -> int:
    context.render(report.output, title)
    if report.failure is None:
        return EXIT_OK
    context.note(f"\n{report.failure.message}")
    return report.failure.exit_code


def _submit_direct(context: Context, pairs: Sequence[inputs.Pair]) -> int:
    args = context.args

    def client_for_region(region: str) -> Any:
        # Every attempt is one of ours, so that each passes the pacer: botocore retries nothing.
        return context.aws.client("ivs", region=region, max_attempts=1)

    progress = _call_progress(context.stderr) if context.stderr.isatty() else None
    sender = DirectSender(
        client_for_region,
        calls_per_second=args.calls_per_second,
        max_attempts=args.max_attempts,
        sleep=context.sleep,
        clock=context.clock,
        progress=progress,
    )
    report = sender.send(pairs)
    if progress is not None:
        context.stderr.write("\n")
    context.render(report.output, inputs.OPERATION_NAME)
    if report.failure is not None:
        context.note(f"\n{report.failure.message}")
        return report.failure.exit_code
    return EXIT_PAIRS_FAILED if report.errors else EXIT_OK


def _call_progress(stream: IO[str]) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        stream.write(f"\r{inputs.OPERATION_NAME}: {done}/{total} calls")
        stream.flush()

    return show


# --- dlq ---------------------------------------------------------------------------------------


def _dlq_url(context: Context) -> str:
    return resolve(
        what="dead-letter queue URL",
        explicit=context.args.dlq_url,
        option="--dlq-url",
        env_value=context.env.dlq_url,
        env_name=ENV_DLQ_URL,
        stack=context.stack(),
        output_key=OUTPUT_DLQ_URL,
    )


def _dlq_list(context: Context) -> int:
    url = _dlq_url(context)
    sqs = context.aws.client("sqs")
    letters = dlq.scan(sqs, url, max_items=context.args.max_items, visibility_timeout=context.args.visibility_timeout)
    context.render(dlq.list_output(url, letters), "DeadLetterQueue")
    return EXIT_OK


def _dlq_stats(context: Context) -> int:
    url = _dlq_url(context)
    sqs = context.aws.client("sqs")
    counts = dlq.queue_counts(sqs, url)  # before the scan hides messages from the count
    letters = dlq.scan(sqs, url, max_items=context.args.max_items, visibility_timeout=context.args.visibility_timeout)
    context.render(dlq.stats_output(url, counts, letters), "DeadLetterQueueStats")
    return EXIT_OK


def _redrive_destination(context: Context, sqs: Any, dlq_url: str) -> dlq.Destination:
    """--destination-url; else, for the stack's DLQ, the stack's queue; else the DLQ's one source queue."""
    args = context.args
    if args.destination_url:
        return dlq.Destination(arn=dlq.queue_arn(sqs, args.destination_url), url=args.destination_url)
    if not args.dlq_url and not context.env.dlq_url:
        # The DLQ came from the stack's outputs, and the stack names the queue it serves.
        stack = context.stack()
        arn, url = stack.get(OUTPUT_QUEUE_ARN), stack.get(OUTPUT_QUEUE_URL)
        if arn:
            return dlq.Destination(arn=arn, url=url)
        if url:
            return dlq.Destination(arn=dlq.queue_arn(sqs, url), url=url)
    return dlq.only_source_queue(sqs, dlq_url)


def _dlq_redrive(context: Context) -> int:
    args = context.args
    url = _dlq_url(context)
    sqs = context.aws.client("sqs")
    destination = _redrive_destination(context, sqs, url)
    if not args.client_side:
        source_arn = dlq.queue_arn(sqs, url)
        try:
            handle = dlq.start_move_task(sqs, source_arn, destination.arn, args.rate)
        except ClientError as error:
            # Only a stand-in endpoint may lack the task; against AWS, its answer is the answer.
            if dlq.is_aws_endpoint(sqs.meta.endpoint_url) or not dlq.is_unsupported(error):
                raise
            context.note(
                f"{sqs.meta.endpoint_url} does not implement StartMessageMoveTask: "
                "moving the messages from here instead (--client-side)"
            )
        else:
            return _redrive_task(context, sqs, source_arn, destination.arn, handle)
    return _redrive_client_side(context, sqs, url, destination)


def _redrive_task(context: Context, sqs: Any, source_arn: str, destination_arn: str, handle: str) -> int:
    output: dict[str, Any] = {"taskHandle": handle, "sourceArn": source_arn, "destinationArn": destination_arn}
    if not context.args.wait:
        context.render(output, "StartMessageMoveTask")
        return EXIT_OK
    shown: list[tuple[Any, ...]] = []

    def progress(task: dict[str, Any]) -> None:
        state = (
            task.get("Status"),
            task.get("ApproximateNumberOfMessagesMoved"),
            task.get("ApproximateNumberOfMessagesToMove"),
        )
        if not shown or shown[-1] != state:
            shown.append(state)
            context.note(f"{state[0]}: {state[1] or 0} of {state[2] if state[2] is not None else '?'} messages moved")

    task = dlq.wait_for_move_task(
        sqs, source_arn, handle, poll_seconds=MOVE_TASK_POLL_SECONDS, sleep=context.sleep, progress=progress
    )
    moved = task.get("ApproximateNumberOfMessagesMoved", 0)
    context.render(output | {"messagesMoved": moved, "task": task}, "StartMessageMoveTask")
    if task.get("Status") != "COMPLETED":
        raise ServiceError(
            f"the move task ended {task.get('Status')}: {task.get('FailureReason', 'no reason given')} "
            f"({moved} messages moved; the rest stay in the dead-letter queue)"
        )
    return EXIT_OK


def _redrive_client_side(context: Context, sqs: Any, url: str, target: dlq.Destination) -> int:
    args = context.args
    destination = target.url or dlq.queue_url_of(sqs, target.arn)

    def progress(moved: int) -> None:
        if args.wait:
            context.note(f"RUNNING: {moved} messages moved")

    result = dlq.move_messages(sqs, url, destination, rate=args.rate, sleep=context.sleep, progress=progress)
    output: dict[str, Any] = {"deadLetterQueueUrl": url, "destinationUrl": destination, "messagesMoved": result.moved}
    if result.failed:
        output["failed"] = result.failed
    context.render(output, "MessageMove")
    if result.failed:
        raise ServiceError(f"{len(result.failed)} messages could not be moved; they stay in the dead-letter queue")
    return EXIT_OK


_DLQ_COMMANDS: Final[dict[str, Callable[[Context], int]]] = {
    "list": _dlq_list,
    "stats": _dlq_stats,
    "redrive": _dlq_redrive,
}
