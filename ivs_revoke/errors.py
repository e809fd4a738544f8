"""Exit codes, the errors that carry them, and how an error ends a command.

The codes are the ones the AWS CLI documents ("Return codes", AWS CLI user guide), so that scripts
written for `aws` read this command's status the same way. One addition of ours: 1 means the command
ran but some pairs came back in the API's `errors` (the AWS CLI itself returns 0 then). The installed
AWS CLI v1 exits 255 where its own table says 252, 253 or 254 (see README).
"""

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

from ivs_revoke import PROG
from ivs_revoke.aws import ENV_REGION

EXIT_OK: Final = 0
EXIT_PAIRS_FAILED: Final = 1
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as shells and the AWS CLI report Ctrl-C
EXIT_USAGE: Final = 252  # the command line or an input value is invalid; nothing was sent
EXIT_CONFIGURATION: Final = 253  # environment or configuration: region, credentials, profile, stack, queue
EXIT_SERVICE: Final = 254  # a service answered with an error
EXIT_OTHER: Final = 255  # anything else (a connection that failed, a bug)
EXIT_CODES_HELP: Final = (
    f"Exit codes, as the AWS CLI documents them: {EXIT_OK} success; {EXIT_PAIRS_FAILED} some pairs came back in the "
    f"API's errors (--direct; the AWS CLI exits 0 then); {EXIT_USAGE} invalid command line or input, nothing sent; "
    f"{EXIT_CONFIGURATION} configuration (region, credentials, profile, stack, queue); {EXIT_SERVICE} a service "
    f"error; {EXIT_OTHER} anything else (e.g. the endpoint cannot be reached); {EXIT_INTERRUPTED} Ctrl-C."
)


class CliError(Exception):
    """An error to report on standard error, with the exit code it stands for."""

    exit_code: int = EXIT_OTHER

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CliError):
    exit_code = EXIT_USAGE

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage


class InputError(UsageError):
    """Input values that break the API's constraints; `problems` has one line per item and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ConfigurationError(CliError):
    exit_code = EXIT_CONFIGURATION


class ServiceError(CliError):
    exit_code = EXIT_SERVICE


# botocore's errors of configuration (exit 253); their own message says what happened.
_CONFIGURATION_ERRORS: Final = (
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
    if isinstance(error, _CONFIGURATION_ERRORS):
        code = EXIT_CONFIGURATION
    elif isinstance(error, ParamValidationError):
        code = EXIT_USAGE
    elif isinstance(error, ClientError):
        code = EXIT_SERVICE
    else:
        log.debug("exception caught in run()", exc_info=error)
        code = EXIT_OTHER
    err.write(f"\n{error}\n")
    return code
