"""How an error ends a command: what it says on standard error, and the exit code it stands for."""

from __future__ import annotations

import logging
from typing import IO, Final

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

from ivs_revoke.aws import ENV_REGION
from ivs_revoke.errors import (
    EXIT_CONFIGURATION,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OTHER,
    EXIT_SERVICE,
    EXIT_USAGE,
    CliError,
    InputError,
    UsageError,
)
from ivs_revoke.parser import PROG

# botocore's errors by the exit code they stand for; their own message says what happened.
_BOTOCORE_EXIT_CODES: Final = (
    (
        (
            NoCredentialsError,
            PartialCredentialsError,
            ProfileNotFound,
            ConfigNotFound,
            ConfigParseError,
            InvalidConfigError,
            CredentialRetrievalError,
            TokenRetrievalError,
        ),
        EXIT_CONFIGURATION,
    ),
    ((ParamValidationError,), EXIT_USAGE),
    ((ClientError,), EXIT_SERVICE),
)

log = logging.getLogger(__name__)


def report(error: Exception | KeyboardInterrupt, out: IO[str], err: IO[str]) -> int:
    """Writes what the error says (as the AWS CLI words it) and returns its exit code."""
    if isinstance(error, InputError):
        err.write(f"{PROG}: invalid input, nothing was sent:\n")
        err.writelines(f"  {problem}\n" for problem in error.problems)
        return error.exit_code
    if isinstance(error, UsageError):
        if error.usage:
            err.write(error.usage)
            err.write(f"{error.message}\n")
        else:
            err.write(f"{PROG}: error: {error.message}\n")
        return error.exit_code
    if isinstance(error, CliError):
        err.write(f"\n{error.message}\n")
        return error.exit_code
    if isinstance(error, NoRegionError):
        err.write(
            f"\nYou must specify a region: --region, {ENV_REGION} or AWS_DEFAULT_REGION, or the profile's `region`.\n"
        )
        return EXIT_CONFIGURATION
    if isinstance(error, KeyboardInterrupt):
        out.write("\n")
        return EXIT_INTERRUPTED
    if isinstance(error, BrokenPipeError):
        return EXIT_OK  # the reader of our output went away (e.g. `| head`): nothing left to say
    code = next((code for kinds, code in _BOTOCORE_EXIT_CODES if isinstance(error, kinds)), None)
    if code is None:
        log.debug("exception caught in run()", exc_info=error)
        code = EXIT_OTHER
    err.write(f"\n{error}\n")
    return code
