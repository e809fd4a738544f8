"""Entry point of `ivs-revoke` (the console script) and of `python -m ivs_revoke`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ivs_revoke.cli import run


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code (the console script's wrapper exits with it)."""
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
