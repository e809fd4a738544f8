"""Exit codes and the errors that carry them.

The codes are the ones the AWS CLI documents ("Return codes", AWS CLI user guide), so that scripts
written for `aws` read this command's status the same way. One addition of ours: 1 means the command
ran but some pairs came back in the API's `errors` (the AWS CLI itself returns 0 then).

The installed AWS CLI v1 does not keep to its own table everywhere: it exits 255 for a service error,
a missing region or credentials, and a value botocore refuses. Here those are 254, 253 and 252.
"""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0
EXIT_PAIRS_FAILED: Final = 1
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as shells and the AWS CLI report Ctrl-C
EXIT_USAGE: Final = 252  # the command line or an input value is invalid; nothing was sent
EXIT_CONFIGURATION: Final = 253  # environment or configuration: region, credentials, profile, stack, queue
EXIT_SERVICE: Final = 254  # a service answered with an error
EXIT_OTHER: Final = 255  # anything else (a connection that failed, a bug)


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
