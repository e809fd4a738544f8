"""``python -m local.ivs_emulator``: serve the IVS emulator until interrupted (see the package docstring)."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from local.ivs_emulator.server import IvsEmulator
from local.ivs_emulator.service import (
    DEFAULT_SINGLE_TPS,
    DEFAULT_TPS,
    MALFORMED_ANSWER_KINDS,
    EmulatorConfigError,
    Faults,
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
    faults = parser.add_argument_group("faults (also settable at run time: PUT /_emulator/faults)")
    faults.add_argument("--pair-error-rate", type=float, default=0.0, help='share of pairs answered "500"/"503"')
    faults.add_argument(
        "--server-error-rate", type=float, default=0.0, help="share of calls answered InternalServerException"
    )
    faults.add_argument(
        "--throttle-rate", type=float, default=0.0, help="share of calls answered ThrottlingException, quota or not"
    )
    faults.add_argument(
        "--throttle-burst", type=int, default=0, metavar="N", help="answer the next N calls ThrottlingException"
    )
    faults.add_argument(
        "--drop-rate", type=float, default=0.0, help="share of calls whose connection is closed without a response"
    )
    faults.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every API response")
    faults.add_argument(
        "--latency-jitter-ms", type=float, default=0.0, help="plus a uniform random 0..N ms on every API response"
    )
    faults.add_argument(
        "--malformed-answer",
        choices=MALFORMED_ANSWER_KINDS,
        default="",
        help="answer batch calls with a 200 that is not the operation's JSON: an HTML page, plain text, an empty "
        'body, {"errors": "junk"}, {"errors": [1, 2]}, or an error naming a viewer ID spelled otherwise',
    )
    faults.add_argument(
        "--malformed-rate", type=float, default=1.0, help="share of batch calls given --malformed-answer (default 1)"
    )
    faults.add_argument(
        "--trickle-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="send every API response's body one byte every MS milliseconds (status and headers at once)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        # Each fault option is named after its field of Faults.
        faults = Faults(**{field.name: getattr(args, field.name) for field in dataclasses.fields(Faults)})
        emulator = IvsEmulator(
            port=args.port,
            tps=args.tps,
            single_tps=args.single_tps,
            shared_quota=args.shared_quota,
            unauthorized_channels=args.unauthorized_channel,
            strict_region=args.strict_region,
            faults=faults,
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
