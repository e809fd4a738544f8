"""`ivs-revoke submit`: validated pairs to the pipeline's queue (default), its event bus, or the API itself.

`--urgent` chooses the urgent lane: its own queue, or events whose detail says `"priority": "urgent"`
(the stack's second rule routes them to that queue). It does not combine with `--direct`, which calls
the batch operation from here and waits behind no queue: there is no lane to choose, and a flag that
changed nothing would let an operator believe the pairs went the fast way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ivs_revocation.call_policy import BATCH_CALLS_PER_SECOND as DEFAULT_CALLS_PER_SECOND
from ivs_revocation.models import EVENTBRIDGE_MAX_ENTRY_BYTES, PRIORITY_URGENT, SQS_MAX_MESSAGE_BYTES
from ivs_revoke import inputs
from ivs_revoke.direct import DirectReport, DirectSender
from ivs_revoke.errors import EXIT_CODES_HELP, EXIT_OK, EXIT_PAIRS_FAILED, ConfigurationError, UsageError
from ivs_revoke.invocation import Invocation
from ivs_revoke.parser import add_global_options, non_negative_int, positive_float, positive_int
from ivs_revoke.senders import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PAIRS_PER_MESSAGE,
    URGENT_PAIRS_PER_MESSAGE,
    BusSender,
    QueueSender,
    SendReport,
)
from ivs_revoke.targets import (
    ENV_EVENT_BUS,
    ENV_OUTCOME_EVENT_BUS,
    ENV_QUEUE_URL,
    ENV_STACK_NAME,
    ENV_URGENT_QUEUE_URL,
    EVENT_BUS,
    OUTCOME_EVENT_BUS,
    OUTPUT_URGENT_QUEUE_URL,
    QUEUE,
    URGENT_QUEUE,
)
from ivs_revoke.wait import DEFAULT_WAIT_SECONDS, OutcomeWatch, new_request_id

# The skeletons printed as text, before any input is read.
_PRINTED_SKELETONS: Final = {
    inputs.SKELETON_INPUT: inputs.input_skeleton,
    inputs.SKELETON_YAML_INPUT: inputs.yaml_input_skeleton,
}


def add_command(commands: Any) -> None:
    """`commands`: the top-level parser's subparsers."""
    submit = commands.add_parser(
        "submit",
        help="submit revocations (the options of aws ivs batch-start-viewer-session-revocation)",
        description="Takes what `aws ivs batch-start-viewer-session-revocation` takes, with any number of pairs, "
        "and sends them to the pipeline's queue (default), its event bus, or the API itself (--direct). "
        "Every pair is validated before anything is sent. The default lane is for waves and sweeps, drained "
        "at the batch operation's quota behind whatever waits; --urgent is for the few pairs a person waits "
        "on (a moderator's ban), revoked within about a second even behind a backlog, at most 10 pairs a "
        "second for the whole account.",
        epilog=EXIT_CODES_HELP,
        allow_abbrev=False,
    )
    submit.set_defaults(handler=submit_pairs)
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
        const="",  # no NAME: the bus comes from the environment or the stack
        metavar="NAME",
        help=f"send as events on this bus (no NAME: ${ENV_EVENT_BUS}, or the stack's bus)",
    )
    where.add_argument(
        "--urgent-queue-url",
        metavar="URL",
        help=f"with --urgent: the urgent queue (default: ${ENV_URGENT_QUEUE_URL}, "
        f"or the stack's {OUTPUT_URGENT_QUEUE_URL})",
    )
    where.add_argument(
        "--direct",
        action="store_true",
        help="call BatchStartViewerSessionRevocation from here, 20 pairs a call, paced to the quota",
    )
    submit.add_argument(
        "--urgent",
        action="store_true",
        help="the urgent lane: to the urgent queue, or with --event-bus as events whose detail says "
        f'"priority": "{PRIORITY_URGENT}"; each body says it too. For the few pairs a person waits on, '
        "not for sweeps (the lane sends 10 pairs a second in all). Not with --direct",
    )
    submit.add_argument(
        "--wait",
        nargs="?",
        const=DEFAULT_WAIT_SECONDS,
        type=positive_float,
        metavar="SECONDS",
        help="wait, up to SECONDS (default %(const)g), for the outcome events of these pairs and print the result "
        'as --direct does ({"errors": [...]}: the pairs that failed, with their dead letter\'s code and message; '
        "exit 1 when there are any). Makes a temporary queue and rule on the outcome bus, removed when it ends. "
        "Not with --direct",
    )
    submit.add_argument(
        "--outcome-event-bus",
        metavar="NAME",
        help=f"with --wait: the bus the outcome events go to (default: ${ENV_OUTCOME_EVENT_BUS}, the stack's "
        "OutcomeEventBusName, else the event bus)",
    )
    submit.add_argument(
        "--stack-name", help=f"the deployed stack whose outputs name the queue and bus (${ENV_STACK_NAME})"
    )
    submit.add_argument(
        "--pairs-per-message",
        type=non_negative_int,
        metavar="N",
        help=f"pairs per queue message or event (default {DEFAULT_PAIRS_PER_MESSAGE}, with --urgent "
        f"{URGENT_PAIRS_PER_MESSAGE}: the urgent lane sends a bounded number of pairs of one message and the "
        "rest through the bulk queue; 0: as many as fit, "
        f"in the queue's MaximumMessageSize (at most {SQS_MAX_MESSAGE_BYTES:,} bytes) "
        f"or in an event (under {EVENTBRIDGE_MAX_ENTRY_BYTES:,} bytes per PutEvents))",
    )
    submit.add_argument(
        "--calls-per-second",
        type=positive_float,
        default=DEFAULT_CALLS_PER_SECOND,
        metavar="RATE",
        help=f"--direct: API calls per second per region (default {DEFAULT_CALLS_PER_SECOND:g}, the account quota)",
    )
    submit.add_argument(
        "--max-attempts",
        type=positive_int,
        default=DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help=f"attempts per call or batch, retrying throttling and server errors (default {DEFAULT_MAX_ATTEMPTS})",
    )
    add_global_options(submit)


def _check_lane(args: Any) -> None:
    """The lane's options, checked before any input is read (usage errors, exit 252)."""
    if not args.urgent and args.urgent_queue_url is not None:
        raise UsageError("argument --urgent-queue-url: only with --urgent")
    if args.urgent and args.direct:
        raise UsageError(
            "argument --urgent: not allowed with argument --direct (--direct calls the "
            "API from here and waits behind no queue; --urgent chooses the pipeline's urgent queue)"
        )
    if args.wait is not None and args.direct:
        raise UsageError("argument --wait: not allowed with argument --direct (which waits for the API itself)")
    if args.outcome_event_bus is not None and args.wait is None:
        raise UsageError("argument --outcome-event-bus: only with --wait")
    if args.urgent and args.queue_url is not None:
        raise UsageError(
            "argument --urgent: not allowed with argument --queue-url (the bulk queue); "
            "the urgent queue is --urgent-queue-url"
        )


def submit_pairs(invocation: Invocation) -> int:
    args = invocation.args
    _check_lane(args)
    if args.generate_cli_skeleton in _PRINTED_SKELETONS:
        invocation.stdout.write(_PRINTED_SKELETONS[args.generate_cli_skeleton]())
        return EXIT_OK

    parameters = inputs.call_parameters(args.viewer_sessions, args.cli_input_json, args.cli_input_yaml)
    pairs = inputs.validate(parameters)
    if args.generate_cli_skeleton == inputs.SKELETON_OUTPUT:
        # As the AWS CLI: the input is validated, then a sample response is printed; nothing is sent.
        invocation.render(inputs.output_skeleton(), inputs.OPERATION_NAME)
        return EXIT_OK

    if args.direct:
        return _submit_direct(invocation, pairs)
    default_pairs = URGENT_PAIRS_PER_MESSAGE if args.urgent else DEFAULT_PAIRS_PER_MESSAGE
    options: dict[str, Any] = {
        "pairs_per_message": default_pairs if args.pairs_per_message is None else args.pairs_per_message or None,
        "max_attempts": args.max_attempts,
        "sleep": invocation.sleep,
        "priority": PRIORITY_URGENT if args.urgent else None,
    }
    if args.event_bus is not None:
        bus = invocation.resolve(EVENT_BUS, args.event_bus)

        def send(**extra: Any) -> SendReport:
            return BusSender(invocation.aws.client("events"), bus, **options, **extra).send(pairs)

        title = "PutEvents"
    else:
        if args.urgent:
            queue_url = invocation.resolve(URGENT_QUEUE, args.urgent_queue_url)
        else:
            queue_url = invocation.resolve(QUEUE, args.queue_url)

        def send(**extra: Any) -> SendReport:
            return QueueSender(invocation.aws.client("sqs"), queue_url, **options, **extra).send(pairs)

        title = "SendMessageBatch"
    if args.wait is None:
        return _finish(invocation, send(), title)
    return _submit_and_wait(invocation, pairs, send, title)


def _outcome_bus(invocation: Invocation) -> str:
    """--outcome-event-bus, $IVS_REVOKE_OUTCOME_EVENT_BUS, the stack's OutcomeEventBusName, else the event bus."""
    args = invocation.args
    if args.outcome_event_bus:
        return str(args.outcome_event_bus)
    try:
        return invocation.resolve(OUTCOME_EVENT_BUS, None)
    except ConfigurationError:
        return invocation.resolve(EVENT_BUS, args.event_bus or None)


def _submit_and_wait(invocation: Invocation, pairs: Sequence[inputs.Pair], send: Any, title: str) -> int:
    """Sends with one request id, then waits for its outcome events; the rule and queue go afterwards."""
    seconds = float(invocation.args.wait)
    request_id = new_request_id()
    with OutcomeWatch(
        invocation.aws.client("sqs"), invocation.aws.client("events"), _outcome_bus(invocation), request_id
    ) as watch:
        report = send(request_id=request_id)
        if report.failure is not None:
            # Not everything was sent: what was is in the report; nothing to wait for with certainty.
            return _finish(invocation, report, title)
        invocation.note(f"sent {len(pairs)} pairs as request {request_id}; waiting up to {seconds:g} s for outcomes")
        outcomes = watch.collect(pairs, seconds, clock=invocation.clock)
    errors = outcomes.errors(seconds)
    invocation.render({"errors": errors}, inputs.OPERATION_NAME)
    if outcomes.pending:
        invocation.note(f"\n{len(outcomes.pending)} pairs had no outcome event within {seconds:g} s")
    return EXIT_PAIRS_FAILED if errors else EXIT_OK


def _finish(invocation: Invocation, report: SendReport | DirectReport, title: str) -> int:
    invocation.render(report.output, title)
    if report.failure is None:
        return EXIT_OK
    invocation.note(f"\n{report.failure.message}")
    return report.failure.exit_code


def _submit_direct(invocation: Invocation, pairs: Sequence[inputs.Pair]) -> int:
    stderr = invocation.stderr

    def show_progress(done: int, total: int) -> None:
        stderr.write(f"\r{inputs.OPERATION_NAME}: {done}/{total} calls")
        stderr.flush()

    progress = show_progress if stderr.isatty() else None
    sender = DirectSender(
        # Every attempt is one of ours, so that each passes the pacer: botocore retries nothing.
        lambda region: invocation.aws.client("ivs", region=region, max_attempts=1),
        calls_per_second=invocation.args.calls_per_second,
        max_attempts=invocation.args.max_attempts,
        sleep=invocation.sleep,
        clock=invocation.clock,
        progress=progress,
    )
    report = sender.send(pairs)
    if progress is not None:
        stderr.write("\n")
    code = _finish(invocation, report, inputs.OPERATION_NAME)
    return EXIT_PAIRS_FAILED if code == EXIT_OK and report.errors else code
