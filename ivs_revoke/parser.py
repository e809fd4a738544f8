"""What every command's parser shares: usage errors as exit 252, the AWS CLI's global options, value types."""

from __future__ import annotations

import argparse
from typing import NoReturn

from ivs_revoke.errors import UsageError
from ivs_revoke.output import COLOR_CHOICES, OUTPUT_FORMATS


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error raised as exit code 252 (the AWS CLI's) rather than argparse's 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}", usage=self.format_usage())


def add_global_options(parser: argparse.ArgumentParser, *, with_defaults: bool = False) -> None:
    """The AWS CLI's global options that mean something here. Added to the top-level parser with their
    defaults and to every command without (SUPPRESS), so that a value given after the command is kept
    and an absent one does not overwrite a value given before it."""
    group = parser.add_argument_group(
        "global options (as in the AWS CLI)", argument_default=None if with_defaults else argparse.SUPPRESS
    )
    group.add_argument("--region", help="region of the queue, bus or stack")
    group.add_argument("--profile", help="a profile from your AWS config files")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="send every request of this command to this URL (e.g. a local stack); "
        "AWS_ENDPOINT_URL_<SERVICE> separates services",
    )
    group.add_argument(
        "--output", choices=OUTPUT_FORMATS, help="output format (default: the profile's `output`, else json)"
    )
    group.add_argument("--query", help="a JMESPath query applied to the output")
    group.add_argument("--debug", action="store_true", help="log requests to stderr")
    group.add_argument(
        "--no-verify-ssl", dest="verify_ssl", action="store_false", help="do not verify TLS certificates"
    )
    group.add_argument("--ca-bundle", help="CA bundle to verify TLS certificates with")
    group.add_argument("--cli-read-timeout", type=int, metavar="SECONDS", help="socket read timeout; 0 = none")
    group.add_argument("--cli-connect-timeout", type=int, metavar="SECONDS", help="socket connect timeout; 0 = none")
    group.add_argument(
        "--color",
        choices=COLOR_CHOICES,
        default="auto" if with_defaults else argparse.SUPPRESS,
        help="color in table output",
    )
    group.add_argument(
        "--no-cli-pager", action="store_true", help="accepted for compatibility: this command never pages its output"
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0 (got {value})")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 (got {text})")
    return value
