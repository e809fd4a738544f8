"""`make demo` (`python -m local.demo [--pairs N] [--wave N] [--member-accounts ...]`): the pipeline here.

Starts the local stack (IVS emulator, SQS and EventBridge on moto's server, each lane's function behind
an event source mapping runner) with the settings of cdk.json, submits examples of every accepted body
shape, waits until the queues are drained, then shows an urgent ban overtaking a wave, prints what
happened to every pair, and stops everything.

The examples: the AWS CLI documentation's `batch-start-viewer-session-revocation` example, whose two
channels the emulator does not authorize (as in that example's output), so that its two pairs end in
the dead-letter queue with code "403"; one pair; an API request with more than 20 pairs; an
EventBridge event put on the bus; duplicates; and a malformed message. `--pairs N` adds N generated
one-pair messages, drained with a progress bar.

The wave (`--wave N`, default 2,000; 0 leaves it out): N one-pair messages to the bulk queue, then one
pair to the urgent queue. The urgent pair's wait is the time from its SendMessage returning to its
StartViewerSessionRevocation call accepted (the emulator's ledger); the wave's is its drain time at
IVS's 40 pairs/s. With `--member-accounts`, the function also revokes in those accounts (through their
roles on moto's STS), and the wave's pairs are spread evenly over its own account and the members, each
account drained at its own quota: 40 pairs/s each.

Exit status: 0 when every valid pair was revoked or dead-lettered with its reason and every malformed
message was dead-lettered with its reason; 1 otherwise; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

from infra.settings import DeploySettings
from ivs_revocation.call_policy import BATCH_CALLS_PER_SECOND
from ivs_revocation.models import CODE_INVALID_MESSAGE, MAX_SESSIONS_PER_CALL
from ivs_revoke.dlq import DeadLetter
from ivs_revoke.errors import EXIT_INTERRUPTED
from ivs_revoke.sqs import batches
from local.accounts import account_ids
from local.clients import ACCOUNT_ID
from local.ivs_emulator import Faults, Ledger
from local.ivs_emulator.service import BATCH_OPERATION
from local.overview import emulator_note, header_lines
from local.runner import DrainTimeout
from local.stack import LocalStack, close_log_dir, temporary_log_dir

REGION = "us-west-2"
# The AWS CLI documentation's example for `aws ivs batch-start-viewer-session-revocation`, verbatim.
CLI_EXAMPLE_CHANNELS = (
    "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh1",
    "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh2",
)
CLI_EXAMPLE = [
    {
        "channelArn": CLI_EXAMPLE_CHANNELS[0],
        "viewerId": "abcdefg1",
        "viewerSessionVersionsLessThanOrEqualTo": 1234567890,
    },
    {
        "channelArn": CLI_EXAMPLE_CHANNELS[1],
        "viewerId": "abcdefg2",
        "viewerSessionVersionsLessThanOrEqualTo": 1234567890,
    },
]
# What IVS can take at most: 2 calls per second per account and region, 20 pairs per call.
PAIRS_PER_SECOND = int(BATCH_CALLS_PER_SECOND) * MAX_SESSIONS_PER_CALL
# The wave the urgent pair overtakes: 50 s at 40 pairs/s, the demo's whole run about a minute.
DEFAULT_WAVE = 2000

Pair = tuple[str, str]


def channel(name: str, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:ivs:{REGION}:{account}:channel/{name}"


@dataclass
class Submission:
    """What the demo sent, and what it expects: every valid pair revoked or dead-lettered."""

    lines: list[tuple[str, str]] = field(default_factory=list)  # (what, how) for the printout
    labels: dict[str, str] = field(default_factory=dict)  # an example's SQS message id: what it is
    pairs_sent: int = 0
    versions: dict[Pair, int] = field(default_factory=dict)  # highest version asked per distinct pair
    malformed: int = 0

    def add(self, what: str, how: str, sessions: Sequence[Mapping[str, Any]] = (), malformed: bool = False) -> None:
        self.lines.append((what, how))
        self.malformed += int(malformed)
        self.add_pairs(sessions)

    def add_pairs(self, sessions: Sequence[Mapping[str, Any]]) -> None:
        for session in sessions:
            key = (session["channelArn"], session["viewerId"])
            version = int(session.get("viewerSessionVersionsLessThanOrEqualTo", 0))
            self.pairs_sent += 1
            self.versions[key] = max(version, self.versions.get(key, version))


def submit_examples(stack: LocalStack) -> Submission:
    submission = Submission()
    news, sports = channel("NewsChannel01"), channel("SportsChannel02")

    submission.labels.update(dict.fromkeys(stack.send(CLI_EXAMPLE), "the AWS CLI example"))
    submission.add(
        "AWS CLI documentation example: 2 pairs, their channels not authorized",
        "SendMessage, --viewer-sessions JSON (a list of pairs)",
        CLI_EXAMPLE,
    )

    one = {"channelArn": news, "viewerId": "viewer-0001", "viewerSessionVersionsLessThanOrEqualTo": 7}
    submission.labels.update(dict.fromkeys(stack.send(one), "one pair"))
    submission.add("one pair", "SendMessage, one viewer session", [one])

    many = [{"channelArn": sports, "viewerId": f"viewer-{i:04d}"} for i in range(1, 46)]
    # With the producer's own id: its outcome events carry it (the summary's last part, per request).
    stack.send({"viewerSessions": many, "requestId": "demo-45-pairs"})
    submission.add("45 pairs in one message (the API takes 20 per call)", "SendMessage, --cli-input-json shape", many)

    event = [
        {"channelArn": news, "viewerId": f"banned-{i}", "viewerSessionVersionsLessThanOrEqualTo": 3} for i in (1, 2, 3)
    ]
    stack.put_event({"viewerSessions": event})
    submission.add("3 pairs as an EventBridge event", "PutEvents on the bus, the bulk rule routes it", event)

    submission.labels.update(dict.fromkeys(stack.send(one), "the one-pair message again"))
    submission.add("the one-pair message again", "SendMessage, exact duplicate", [one])
    repeated: list[dict[str, Any]] = [
        {"channelArn": news, "viewerId": "viewer-0001", "viewerSessionVersionsLessThanOrEqualTo": 9},
        {"channelArn": sports, "viewerId": "viewer-0001"},
    ]
    submission.labels.update(dict.fromkeys(stack.send(repeated), "2 pairs sent before"))
    submission.add("2 pairs sent before, one with a higher version (9)", "SendMessage, duplicates", repeated)

    cut_off = '{"viewerSessions": [{"channelArn": "' + news + '", "viewerId": '
    submission.labels.update(dict.fromkeys(stack.send(cut_off), "the malformed message"))
    submission.add("a malformed message (cut-off JSON)", "SendMessage", malformed=True)
    return submission


def submit_generated(
    stack: LocalStack,
    submission: Submission,
    pairs: int,
    progress: Any,
    viewer_prefix: str = "load-viewer",
    accounts: Sequence[str] = (ACCOUNT_ID,),
) -> None:
    """N one-pair messages over 50 channels (of `accounts`, in turn): the function merges them, 20 pairs
    per call."""
    sessions = (
        {
            "channelArn": channel(f"LoadChannel{i % 50:02d}", accounts[i % len(accounts)]),
            "viewerId": f"{viewer_prefix}-{i:07d}",
        }
        for i in range(pairs)
    )
    with progress(total=pairs, desc="submitting", unit="msg", leave=False) as bar:
        for chunk in batches(sessions):
            stack.send(*chunk)
            submission.add_pairs(chunk)
            bar.update(len(chunk))
    submission.lines.append((f"{pairs} generated one-pair messages", "SendMessageBatch"))


# The ban a moderator sends while the wave drains.
URGENT_PAIR: Final = {"channelArn": channel("NewsChannel01"), "viewerId": "banned-during-the-wave"}


@dataclass(frozen=True)
class Race:
    """The urgent pair against the wave, in wall-clock seconds (`time.time()`, as the ledger's)."""

    wave_pairs: int
    wave_sent_at: float  # the wave's first SendMessageBatch began
    urgent_sent_at: float  # the urgent pair's SendMessage returned
    urgent_called_at: float | None  # its StartViewerSessionRevocation accepted (None: never)
    wave_done_at: float  # the wave's last batch call accepted
    # The wave's pairs revoked in each account, by accepted batch calls (the emulator's ledger).
    pairs_by_account: Mapping[str, int] = field(default_factory=dict)

    @property
    def wave_drain(self) -> float:
        return self.wave_done_at - self.wave_sent_at


def submit_wave(
    stack: LocalStack, submission: Submission, pairs: int, progress: Any, accounts: Sequence[str] = (ACCOUNT_ID,)
) -> tuple[float, float]:
    """The wave to the bulk queue (its pairs spread over `accounts`), then the urgent pair to the urgent
    queue; when each was sent."""
    wave_sent_at = time.time()
    submit_generated(stack, submission, pairs, progress, viewer_prefix="wave-viewer", accounts=accounts)
    over = f", over {len(accounts)} accounts" if len(accounts) > 1 else ""
    submission.lines[-1] = (f"a wave of {pairs} one-pair messages{over}", "SendMessageBatch to the bulk queue")
    stack.send_urgent(URGENT_PAIR)
    urgent_sent_at = time.time()
    submission.add("one urgent pair, sent after the wave", "SendMessage to the urgent queue", [URGENT_PAIR])
    return wave_sent_at, urgent_sent_at


def race(ledger: Ledger, wave_pairs: int, wave_sent_at: float, urgent_sent_at: float) -> Race:
    batch_calls = [
        call for call in ledger.accepted_calls if call.operation == BATCH_OPERATION and call.at >= wave_sent_at
    ]
    pairs_by_account: dict[str, int] = {}
    for call in batch_calls:
        pairs_by_account[call.account] = pairs_by_account.get(call.account, 0) + call.pairs
    return Race(
        wave_pairs=wave_pairs,
        wave_sent_at=wave_sent_at,
        urgent_sent_at=urgent_sent_at,
        urgent_called_at=ledger.single_call_at(URGENT_PAIR["channelArn"], URGENT_PAIR["viewerId"]),
        wave_done_at=max((call.at for call in batch_calls), default=wave_sent_at),
        pairs_by_account=pairs_by_account,
    )


def print_race(result: Race) -> None:
    out = sys.stdout.write
    out("\nAn urgent ban overtakes the wave\n")
    out(f"  wave, bulk lane        {result.wave_pairs} pairs revoked in {result.wave_drain:.1f} s\n")
    if len(result.pairs_by_account) > 1 and result.wave_drain > 0:
        # Each account is a quota of its own: the wave drains at their sum.
        for account, count in sorted(result.pairs_by_account.items()):
            out(f"    account {account} {count} pairs, {count / result.wave_drain:.1f} pairs/s\n")
        out(
            f"    together             {result.wave_pairs / result.wave_drain:.1f} pairs/s over "
            f"{len(result.pairs_by_account)} accounts (one account's bound: {PAIRS_PER_SECOND} pairs/s)\n"
        )
    if result.urgent_called_at is None:
        out("  urgent pair            NOT revoked by a StartViewerSessionRevocation call\n")
        return
    out(
        f"  urgent pair, fast lane revoked {result.urgent_called_at - result.urgent_sent_at:.2f} s after its "
        "SendMessage returned (to its StartViewerSessionRevocation call accepted)\n"
    )
    out(
        f"  in one queue           it would have waited behind the wave: the wave's last pair was revoked "
        f"{result.wave_done_at - result.urgent_sent_at:.1f} s after the urgent pair was sent\n"
    )


@dataclass
class Accounting:
    revoked: set[Pair]
    dead_lettered: dict[Pair, tuple[str, str]]  # pair -> (code, reason)
    invalid: list[DeadLetter]
    bare: list[DeadLetter]  # moved by the redrive policy, with no reason
    missing: set[Pair]
    wrong_version: dict[Pair, tuple[int, int | None]]

    @property
    def complete(self) -> bool:
        return not self.missing and not self.bare and not self.wrong_version


def account(submission: Submission, ledger: Ledger, dead_letters: Sequence[DeadLetter]) -> Accounting:
    dead_lettered: dict[Pair, tuple[str, str]] = {}
    invalid, bare = [], []
    for entry in dead_letters:
        if entry.code is None:
            bare.append(entry)
            continue
        if entry.code == CODE_INVALID_MESSAGE:
            invalid.append(entry)
        for arn, viewer, code, message in entry.failed_pairs():
            dead_lettered[(arn, viewer)] = (code or "", message or "")
    expected = set(submission.versions)
    revoked = {key for key in expected if ledger.version(*key) is not None}
    wrong_version = {
        key: (version, ledger.version(*key))
        for key, version in submission.versions.items()
        if key in revoked and ledger.version(*key) != version
    }
    return Accounting(
        revoked=revoked,
        dead_lettered={key: value for key, value in dead_lettered.items() if key in expected},
        invalid=invalid,
        bare=bare,
        missing=expected - revoked - set(dead_lettered),
        wrong_version=wrong_version,
    )


def print_summary(
    stack: LocalStack,
    submission: Submission,
    accounting: Accounting,
    ledger: Ledger,
    dead_letters: Sequence[DeadLetter],
    timings: Mapping[str, float],
) -> None:
    out = sys.stdout.write
    sizes = sorted(ledger.pairs_per_call.items(), reverse=True)
    call_sizes = ", ".join(f"{count} of {size}" for size, count in sizes)

    out("\nSubmitted\n")
    for number, (what, how) in enumerate(submission.lines, 1):
        out(f"  {number}. {what}\n     {how}\n")
    out(f"  {submission.pairs_sent} pairs in valid messages, {len(submission.versions)} distinct; ")
    out(f"{submission.malformed} malformed message\n")

    wave = f", the wave in {timings['wave']:.1f} s" if "wave" in timings else ""
    out(f"\nDrained in {timings['drain']:.1f} s{wave}\n")
    out(f"  pairs revoked          {len(accounting.revoked)}\n")
    out(f"  IVS API calls          {ledger.calls_accepted} accepted ({call_sizes} pairs)")
    out(f", {ledger.calls_throttled} throttled\n")
    out(f"  pairs per call         {sum(s * c for s, c in sizes) / max(1, ledger.calls_accepted):.1f} on average\n")
    for lane, runner in stack.runners.items():
        stats = runner.stats
        out(
            f"  {lane + ' function':<22} {stats.invocations} invocation{'' if stats.invocations == 1 else 's'} on "
            f"{stats.cold_starts} instances (each started for the first batch it took), "
            f"{stats.records_received} records, {stats.batches_failed} batches failed\n"
        )
    out(
        f"  dead-letter queue      {len(dead_letters)} messages: {len(accounting.dead_lettered)} pairs, "
        f"{len(accounting.invalid)} malformed message, {len(accounting.bare)} without a reason\n"
    )

    out("\nDead-letter queue (code, reason, what)\n")
    for entry in dead_letters:
        pairs = entry.failed_pairs()
        if entry.code is None:
            out(f"  {'(no reason)':<15} moved by the queue's redrive policy after {entry.receive_count} receives\n")
        elif pairs:
            for arn, viewer, code, message in pairs:
                out(f"  {code:<15} {message}\n  {'':<15} {arn}  viewer {viewer}\n")
        else:
            body = entry.body if len(entry.body) <= 70 else entry.body[:67] + "..."
            out(f"  {entry.code:<15} {entry.reason}\n  {'':<15} body: {body}\n")

    news_version = ledger.version(channel("NewsChannel01"), "viewer-0001")
    if news_version is not None:
        out(f"\nDuplicates merged: viewer-0001 on NewsChannel01 revoked up to version {news_version}\n")

    distinct = len(submission.versions)
    if accounting.complete:
        out(
            f"\nEvery pair accounted for: {len(accounting.revoked)} revoked + {len(accounting.dead_lettered)} "
            f"dead-lettered with a reason = {distinct} distinct pairs; "
            f"{len(accounting.invalid)} malformed message dead-lettered with its reason.\n"
        )
    else:
        out(f"\nNOT every pair accounted for: {len(accounting.missing)} missing of {distinct}")
        out(f", {len(accounting.bare)} DLQ messages without a reason, {len(accounting.wrong_version)} wrong versions\n")
        for key in sorted(accounting.missing)[:10]:
            out(f"  missing: {key[0]}  viewer {key[1]}\n")
    out(
        f"Time: {timings['total']:.1f} s in all (start {timings['start']:.1f} s, submit {timings['submit']:.1f} s, "
        f"drain {timings['drain']:.1f} s, "
        + (f"wave {timings['wave']:.1f} s, " if "wave" in timings else "")
        + f"stop {timings['stop']:.1f} s)\n"
    )


# The messages without a requestId the outcome summary names one by one; the rest are counted together.
OUTCOME_LINES: Final = 3


def read_outcome_events(stack: LocalStack) -> list[dict[str, Any]]:
    """The details of every outcome event in the watch queue (read once, nothing deleted)."""
    url = stack.resources.outcome_queue_url
    if url is None:
        return []
    details: list[dict[str, Any]] = []
    empty = 0
    while empty < 2:
        answer = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600)
        messages = answer.get("Messages", [])
        empty = 0 if messages else empty + 1
        for message in messages:
            event = json.loads(message["Body"])
            if isinstance(event, dict) and isinstance(event.get("detail"), dict):
                details.append(event["detail"])
    return details


def print_outcomes(details: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> None:
    """Per request (its requestId; else its message, the examples first), what its outcome events said."""
    out = sys.stdout.write
    by_request: dict[str, list[Mapping[str, Any]]] = {}
    for detail in details:
        request, message_id = detail.get("requestId"), str(detail.get("sourceMessageId"))
        if request:
            key = f"request {request}"
        elif message_id in labels:
            key = f"message: {labels[message_id]} (no requestId)"
        else:
            key = f"message {message_id} (no requestId)"
        by_request.setdefault(key, []).append(detail)
    by_request = dict(sorted(by_request.items(), key=lambda item: not item[0].startswith(("request ", "message:"))))
    out(
        f"\nOutcome events (Viewer Session Revocation Settled): {len(details)} events, "
        f"of {len(by_request)} requests or messages\n"
    )
    named = [key for key in by_request if key.startswith(("request ", "message:"))]
    others = [key for key in by_request if not key.startswith(("request ", "message:"))]
    shown = named + others[:OUTCOME_LINES]
    for key in shown:
        events = by_request[key]
        revoked = sum(len(detail.get("revoked", [])) for detail in events)
        failed = [pair for detail in events for pair in detail.get("failed", [])]
        invalid = [detail for detail in events if detail.get("invalidMessage")]
        statuses = "/".join(sorted({str(detail.get("status")) for detail in events}))
        lane = "/".join(sorted({str(detail.get("lane")) for detail in events}))
        what = f"{revoked} revoked, {len(failed)} failed"
        if invalid:
            what = f"invalid message: {invalid[0]['invalidMessage'].get('reason')}"
        codes = ", ".join(sorted({str(pair.get("code")) for pair in failed}))
        out(f"  {key}: {statuses} ({lane} lane, {len(events)} event{'' if len(events) == 1 else 's'}): {what}")
        out(f" [{codes}]\n" if codes else "\n")
    rest = others[OUTCOME_LINES:]
    if rest:
        rest_events = [detail for key in rest for detail in by_request[key]]
        rest_revoked = sum(len(detail.get("revoked", [])) for detail in rest_events)
        rest_failed = sum(len(detail.get("failed", [])) for detail in rest_events)
        out(
            f"  ... and {len(rest)} more messages without a requestId: {rest_revoked} pairs revoked, "
            f"{rest_failed} failed\n"
        )


def _tqdm() -> Any:
    from tqdm import tqdm

    return tqdm


def drain(stack: LocalStack, submission: Submission, progress: Any, log_dir: Any) -> float | None:
    """Waits until both queues are drained (with a progress bar of the pairs revoked when given); the
    seconds it took, or None (said why) when they were not drained in time."""
    # Enough for the load at IVS's 40 pairs/s, with room for retries after one visibility timeout.
    timeout = 60 + 2 * len(submission.versions) / PAIRS_PER_SECOND + stack.settings.visibility_timeout_seconds
    try:
        if progress is None:
            return stack.drain(timeout)
        expected = set(submission.versions)
        with progress(total=len(expected), desc="revoking", unit="pair") as bar:

            def show() -> None:
                done = sum(1 for key in stack.ivs.ledger().revoked if key in expected)
                bar.update(done - bar.n)

            seconds = stack.drain(timeout, on_poll=show)
            show()
            return seconds
    except DrainTimeout as error:
        sys.stdout.write(f"\nThe queues did not drain: {error}\nFunction logs: {log_dir}\n")
        return None


def run(pairs: int, wave: int = 0, member_accounts: Sequence[str] = ()) -> int:
    """The demo, with a log folder of its own that is kept only when the demo fails."""
    log_dir = temporary_log_dir("ivs-revocation-demo-")
    failure: str | None = "the demo did not finish"
    try:
        status = demonstrate(pairs, wave, log_dir, member_accounts)
        failure = None if status == 0 else "not every pair was accounted for, or the queues did not drain"
        return status
    except KeyboardInterrupt:
        failure = None  # stopped, not failed
        raise
    finally:
        sys.stdout.write(close_log_dir(log_dir, failure) + "\n")


def demonstrate(pairs: int, wave: int, log_dir: Path, member_accounts: Sequence[str] = ()) -> int:
    started = time.monotonic()
    settings = DeploySettings.from_cdk_json(
        overrides={"memberAccounts": list(member_accounts)} if member_accounts else None
    )
    out = sys.stdout.write
    timings: dict[str, float] = {}
    # In the region of its channels, as a stack deployed where its channels are: cdk.json names no other
    # scope (ivsRegions, channelArns), so the function revokes in its own region only (IVS_REGIONS).
    with LocalStack(
        settings, region=REGION, ivs_options={"unauthorized_channels": CLI_EXAMPLE_CHANNELS}, log_dir=log_dir
    ) as stack:
        timings["start"] = time.monotonic() - started
        ivs_note = f"emulator at {stack.ivs.url}: {emulator_note(CLI_EXAMPLE_CHANNELS, Faults())}"
        out("\n".join(header_lines(stack, "the whole pipeline on this machine", ivs_note)) + "\n")

        submitted_at = time.monotonic()
        submission = submit_examples(stack)
        progress = _tqdm() if pairs else None
        if pairs:
            submit_generated(stack, submission, pairs, progress)
        timings["submit"] = time.monotonic() - submitted_at

        drained = drain(stack, submission, progress, log_dir)
        if drained is None:
            return 1
        timings["drain"] = drained

        result = None
        if wave:
            accounts = (ACCOUNT_ID, *settings.member_accounts)
            wave_sent_at, urgent_sent_at = submit_wave(stack, submission, wave, _tqdm(), accounts)
            if drain(stack, submission, _tqdm(), log_dir) is None:
                return 1
            result = race(stack.ivs.ledger(), wave, wave_sent_at, urgent_sent_at)
            timings["wave"] = result.wave_drain

        ledger = stack.ivs.ledger()
        dead_letters = stack.dead_letters()
        accounting = account(submission, ledger, dead_letters)
        outcome_details = read_outcome_events(stack)
        stopping = time.monotonic()
    timings["stop"] = time.monotonic() - stopping
    timings["total"] = time.monotonic() - started
    print_summary(stack, submission, accounting, ledger, dead_letters, timings)
    if result is not None:
        print_race(result)
    print_outcomes(outcome_details, submission.labels)
    return 0 if accounting.complete and len(accounting.invalid) == submission.malformed else 1


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs",
        type=int,
        default=0,
        metavar="N",
        help=f"also submit N generated one-pair messages (IVS drains at most {PAIRS_PER_SECOND} pairs/s)",
    )
    parser.add_argument(
        "--wave",
        type=int,
        default=DEFAULT_WAVE,
        metavar="N",
        help=f"one-pair messages of the wave the urgent pair overtakes; 0 leaves it out (default {DEFAULT_WAVE})",
    )
    parser.add_argument(
        "--member-accounts",
        type=account_ids,
        default=[],
        metavar="A,B,C",
        help="member accounts the function revokes in too, through their roles on moto's STS; the wave is "
        "spread evenly over its own account and these, each drained at its own quota (default: cdk.json's "
        "memberAccounts)",
    )
    args = parser.parse_args(argv)
    if args.pairs < 0 or args.wave < 0:
        parser.error("--pairs and --wave must be 0 or more")
    # A supervisor's SIGTERM stops the demo as Ctrl-C does: in order, leaving nothing behind.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run(args.pairs, args.wave, args.member_accounts)
    except KeyboardInterrupt:
        sys.stdout.write("\nInterrupted: the stack is stopped, nothing left running.\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
