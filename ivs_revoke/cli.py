"""`ivs-revoke`: the command line, and one run of it.

Global options may stand before or after the command, as with `aws`. Each command is a module that
adds its parser and names its handler (`ivs_revoke.submit_command`, `ivs_revoke.dlq_command`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Final
from urllib.parse import urlparse

from awscli.clidriver import LOG_FORMAT

from ivs_revoke import PROG, __version__, dlq_command, submit_command
from ivs_revoke.aws import ENV_REGION, Aws, AwsOptions, SessionFactory, default_session
from ivs_revoke.errors import EXIT_CODES_HELP, UsageError, report
from ivs_revoke.invocation import Invocation
from ivs_revoke.output import OUTPUT_FORMATS, OutputOptions
from ivs_revoke.parser import Parser, add_global_options

_DEBUG_LOGGERS: Final = ("ivs_revoke", "botocore", "boto3", "urllib3", "awscli")

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="Revoke Amazon IVS viewer sessions through the revocation pipeline: submit any number of "
        "pairs to its queue or event bus (or to the API directly), and inspect and redrive its DLQ.",
        epilog=EXIT_CODES_HELP,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    add_global_options(parser, with_defaults=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    submit_command.add_command(commands)
    dlq_command.add_command(commands)
    return parser


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
    with contextlib.ExitStack() as cleanup:
        try:
            try:
                args = build_parser().parse_args(list(argv))
            except SystemExit as exit_:  # --help and --version print and exit 0
                return int(exit_.code or 0)
            if args.debug:
                cleanup.enter_context(_debug_log(err))
            if args.endpoint_url:
                endpoint = urlparse(args.endpoint_url)
                if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
                    raise UsageError(
                        f'Bad value for --endpoint-url "{args.endpoint_url}": '
                        "must be of the form http://<hostname>/ or https://<hostname>/"
                    )
            environment = os.environ if environ is None else environ
            options = AwsOptions(
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
            invocation = Invocation(
                args=args,
                aws=aws,
                environ=environment,
                output=output,
                stdout=out,
                stderr=err,
                sleep=sleep,
                clock=clock,
            )
            code: int = args.handler(invocation)
            return code
        except (Exception, KeyboardInterrupt) as error:
            return report(error, out, err)  # before the debug log stops, so that it records the error


def _configured_output(aws: Aws) -> str:
    # As the AWS CLI: --output, else the profile's (or AWS_DEFAULT_OUTPUT's) `output`, else json.
    configured = aws.botocore_session.get_config_variable("output") or "json"
    if configured not in OUTPUT_FORMATS:
        raise UsageError(f"Unknown output type: {configured} (from the profile or AWS_DEFAULT_OUTPUT)")
    return str(configured)


@contextlib.contextmanager
def _debug_log(stream: IO[str]) -> Iterator[None]:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    loggers = [logging.getLogger(name) for name in _DEBUG_LOGGERS]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    log.debug("%s %s, arguments: %s", PROG, __version__, sys.argv[1:])
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
