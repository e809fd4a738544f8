"""`ivs-revoke dlq list | stats | redrive`: the pipeline's dead-letter queue."""

from __future__ import annotations

import argparse
from typing import Any

from ivs_revoke import dlq, redrive, sqs
from ivs_revoke.errors import EXIT_OK, ServiceError
from ivs_revoke.invocation import Invocation
from ivs_revoke.parser import Parser, add_global_options, non_negative_int, positive_int
from ivs_revoke.targets import DLQ, ENV_DLQ_URL, ENV_QUEUE_URL, ENV_STACK_NAME, OUTPUT_QUEUE_ARN, OUTPUT_QUEUE_URL


def _move_rate(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"must be 1 to 500 (got {value})")
    return value


def add_command(commands: Any) -> None:
    """`commands`: the top-level parser's subparsers."""
    dlq_parser = commands.add_parser(
        "dlq", help="inspect and redrive the dead-letter queue", description="The pipeline's dead-letter queue."
    )
    dlq_commands = dlq_parser.add_subparsers(dest="dlq_command", metavar="COMMAND", required=True, parser_class=Parser)
    add_global_options(dlq_parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = dlq_commands.add_parser(
            name, help=help_text, description=help_text, allow_abbrev=False
        )
        parser.add_argument(
            "--dlq-url", metavar="URL", help=f"the dead-letter queue (default: ${ENV_DLQ_URL}, or the stack)"
        )
        parser.add_argument(
            "--stack-name", help=f"the deployed stack whose outputs name the queues (${ENV_STACK_NAME})"
        )
        return parser

    for name, help_text, handler in (
        ("list", "show the failed pairs with code, message, source message and attempts; consumes nothing", dlq_list),
        ("stats", "count the failed pairs and invalid messages by error code", dlq_stats),
    ):
        reader = command(name, help_text)
        reader.set_defaults(handler=handler)
        reader.add_argument("--max-items", type=positive_int, metavar="N", help="read at most N messages")
        reader.add_argument(
            "--visibility-timeout",
            type=non_negative_int,
            default=dlq.DEFAULT_SCAN_VISIBILITY_SECONDS,
            metavar="SECONDS",
            help="how long each message is hidden while the queue is read; all are made visible again at the end "
            f"(default {dlq.DEFAULT_SCAN_VISIBILITY_SECONDS})",
        )
        if name == "stats":
            reader.add_argument(
                "--by-account",
                action="store_true",
                help="also count the failed pairs by the account their channel names (byAccount): with member "
                "accounts, which account's pairs failed and why",
            )
        add_global_options(reader)

    mover = command(
        "redrive",
        "move the messages back to their source queue to be tried again (StartMessageMoveTask, always "
        "with the destination named: SQS cannot tell where a message the function wrote came from); "
        "InvalidMessage letters stay unless --include-invalid",
    )
    mover.set_defaults(handler=dlq_redrive)
    mover.add_argument(
        "--destination-url",
        metavar="URL",
        help="the queue to move them to (default: the DLQ's one source queue, from ListDeadLetterSourceQueues, "
        "or the stack's QueueArn when the DLQ is the stack's)",
    )
    mover.add_argument(
        "--max-number-of-messages-per-second",
        "--rate",
        dest="rate",
        type=_move_rate,
        metavar="N",
        help="move at most N messages a second (1-500; default: as fast as SQS moves them)",
    )
    mover.add_argument(
        "--wait",
        action="store_true",
        help="show progress until the move is done, then the messages moved; a task that fails exits non-zero",
    )
    mover.add_argument(
        "--client-side",
        action="store_true",
        help="move the messages from here (receive, send, delete) instead of StartMessageMoveTask; "
        "used on its own when a local endpoint does not implement the task",
    )
    mover.add_argument(
        "--include-invalid",
        action="store_true",
        help="move InvalidMessage letters too (bodies the function found no request, which can only fail again "
        "unless changed). Without it they stay in the dead-letter queue and the output's invalidMessagesLeft "
        "counts them; as StartMessageMoveTask moves every message, the others are then moved from here",
    )
    add_global_options(mover)


def _scan(invocation: Invocation, client: Any, url: str) -> list[dlq.DeadLetter]:
    args = invocation.args
    return dlq.scan(client, url, max_items=args.max_items, visibility_timeout=args.visibility_timeout)


def dlq_list(invocation: Invocation) -> int:
    url = invocation.resolve(DLQ, invocation.args.dlq_url)
    client = invocation.aws.client("sqs")
    invocation.render(dlq.list_output(url, _scan(invocation, client, url)), "DeadLetterQueue")
    return EXIT_OK


def dlq_stats(invocation: Invocation) -> int:
    url = invocation.resolve(DLQ, invocation.args.dlq_url)
    client = invocation.aws.client("sqs")
    counts = sqs.queue_counts(client, url)  # before the scan hides messages from the count
    letters = _scan(invocation, client, url)
    output = dlq.stats_output(url, counts, letters, by_account=invocation.args.by_account)
    invocation.render(output, "DeadLetterQueueStats")
    return EXIT_OK


def _destination(invocation: Invocation, client: Any, dlq_url: str) -> redrive.Destination:
    """--destination-url; else, for the stack's DLQ, the stack's queue; else the DLQ's one source queue
    (of several, the configured bulk queue, IVS_REVOKE_QUEUE_URL)."""
    args = invocation.args
    if args.destination_url:
        return redrive.Destination(arn=sqs.queue_arn(client, args.destination_url), url=args.destination_url)
    if not args.dlq_url and not invocation.environ.get(ENV_DLQ_URL):
        # The DLQ came from the stack's outputs, and the stack names the queue it serves.
        stack = invocation.stack
        arn, url = stack.get(OUTPUT_QUEUE_ARN), stack.get(OUTPUT_QUEUE_URL)
        if arn:
            return redrive.Destination(arn=arn, url=url)
        if url:
            return redrive.Destination(arn=sqs.queue_arn(client, url), url=url)
    return redrive.only_source_queue(client, dlq_url, preferred_url=invocation.environ.get(ENV_QUEUE_URL))


def dlq_redrive(invocation: Invocation) -> int:
    args = invocation.args
    url = invocation.resolve(DLQ, args.dlq_url)
    client = invocation.aws.client("sqs")
    result = redrive.redrive(
        client,
        url,
        _destination(invocation, client, url),
        rate=args.rate,
        client_side=args.client_side,
        include_invalid=args.include_invalid,
        wait=args.wait,
        sleep=invocation.sleep,
        clock=invocation.clock,
        note=invocation.note,
    )
    invocation.render(result.output, result.method)
    if result.problem is not None:
        raise ServiceError(result.problem)
    return EXIT_OK
