"""``python -m local.ivs_emulator``: serve the IVS emulator until interrupted (see the package docstring)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from local.ivs_emulator.server import IvsEmulator
from local.ivs_emulator.service import (
    DEFAULT_SINGLE_TPS,
    DEFAULT_TPS,
    EmulatorConfigError,
    add_fault_options,
    faults_of,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local.ivs_emulator",
        description="Emulates IVS BatchStartViewerSessionRevocation and StartViewerSessionRevocation on "
        "127.0.0.1. Prints its URL as the first line of standard output, then serves until interrupted.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 (default) picks a free one")
    parser.add_argument(
        "--tps",
        type=int,
        default=DEFAULT_TPS,
        help="calls per second per account and region, sliding one-second window; 0 = no quota (default 2)",
    )
    parser.add_argument(
        "--single-tps",
        type=int,
        default=None,
        help=f"StartViewerSessionRevocation's own quota, calls per second; 0 = none (default {DEFAULT_SINGLE_TPS})",
    )
    parser.add_argument(
        "--shared-quota",
        action="store_true",
        help="StartViewerSessionRevocation draws from the batch operation's --tps window (one bucket for both)",
    )
    parser.add_argument(
        "--unauthorized-channel",
        action="append",
        default=[],
        metavar="ARN",
        help='channel whose pairs get the per-pair error "403" "not authorized" (repeatable)',
    )
    parser.add_argument(
        "--strict-region",
        action="store_true",
        help='per-pair "404" for a channel ARN of another region than the request is signed for',
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault generator, for reproducible runs")
    parser.add_argument("--verbose", action="store_true", help="log every request to standard error")
    add_fault_options(parser, "faults (also settable at run time: PUT /_emulator/faults)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        emulator = IvsEmulator(
            port=args.port,
            tps=args.tps,
            single_tps=args.single_tps,
            shared_quota=args.shared_quota,
            unauthorized_channels=args.unauthorized_channel,
            strict_region=args.strict_region,
            faults=faults_of(args),
            seed=args.seed,
            verbose=args.verbose,
        )
    except EmulatorConfigError as error:
        parser.error(str(error))

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Ctrl-C (SIGINT) and a supervisor's SIGTERM both mean a clean stop with status 0.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with emulator:
        print(emulator.url, flush=True)
        single = "shared" if args.shared_quota else DEFAULT_SINGLE_TPS if args.single_tps is None else args.single_tps
        print(
            f"ivs-emulator: serving {emulator.url} (tps {args.tps}, single-pair tps {single}); Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        # A timed wait, so the signal handler gets to run promptly on every platform.
        while not stop.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
