"""`make up`'s parts that need no running stack: the export lines a shell reads back, the status line,
the function's metrics read from its logs, the lock of one service per environment file, what a stop
reports, the channels the emulator refuses, and what becomes of the log folder."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from infra.settings import DeploySettings
from ivs_revocation import names
from local.demo import CLI_EXAMPLE_CHANNELS
from local.stack import close_log_dir, instance_log_name
from local.up import (
    DEFAULT_IVS_REGIONS,
    DEFAULT_UNAUTHORIZED_CHANNELS,
    ENV_FILE,
    REGION,
    AlreadyServing,
    FunctionMetrics,
    LaneStatus,
    QueueLeft,
    ServiceLock,
    Status,
    Stop,
    build_parser,
    deploy_settings,
    export_lines,
    format_status,
    grace_note,
    lock_path,
    metric_points,
    refused_lines,
    scope_line,
    stop_report,
    unauthorized_channels,
)

pytestmark = pytest.mark.unit


def _emf(at_ms: int, dimensions: dict[str, str], **metrics: float) -> str:
    """A line as Powertools' Metrics writes it (CloudWatch embedded metric format)."""
    return json.dumps(
        {
            "_aws": {
                "Timestamp": at_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": names.METRICS_NAMESPACE,
                        "Dimensions": [["service", *dimensions]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in metrics],
                    }
                ],
            },
            "service": names.SERVICE_NAME,
            **dimensions,
            **{name: [value] for name, value in metrics.items()},
        },
        separators=(",", ":"),
    )


def test_export_lines_are_read_back_unchanged_by_a_shell() -> None:
    values = {"PLAIN": "http://127.0.0.1:4566", "AWKWARD": 'it\'s a $HOME `x` "q" ; rm -rf / *', "EMPTY": ""}
    script = "\n".join(export_lines(values)) + '\nprintf "%s\\0" "$PLAIN" "$AWKWARD" "$EMPTY"'

    printed = subprocess.run(["bash", "-c", script], env={}, capture_output=True, check=True).stdout

    assert printed.decode().split("\0")[:3] == list(values.values())
    assert export_lines({"A": "b"}) == ["export A=b"]


def test_status_line_shows_backlog_per_lane_revoked_rate_against_the_bound_and_dead_letters_by_code() -> None:
    status = Status(
        lanes=[
            LaneStatus("bulk", waiting=12, in_flight=3, revoked=45, rate=38.94, bound=40),
            LaneStatus("urgent", waiting=0, in_flight=1, revoked=2, rate=0.03, bound=10),
        ],
        dead_letter_messages=2,
        dead_lettered_by_code={"InvalidMessage": 1, "403": 2},
    )

    assert format_status(status) == (
        "bulk 12 queued + 3 in flight, urgent 0 queued + 1 in flight | revoked 47 (bulk 45, urgent 2) "
        "| last minute pairs/s bulk 38.9 of 40, urgent 0.0 of 10 "
        "| DLQ 2 msg; dead-lettered since start: 403 2, InvalidMessage 1"
    )
    idle = Status([LaneStatus("bulk", 0, 0, 0, 0.0, 40)], 0, {})
    assert format_status(idle).endswith("| DLQ 0 msg")


def test_metric_points_reads_embedded_metrics_and_ignores_other_lines() -> None:
    line = _emf(1_700_000_000_500, {names.DIMENSION_ERROR_CODE: "403"}, **{names.METRIC_PAIRS_DEAD_LETTERED: 2})

    [point] = metric_points(line)

    assert (point.at, point.name, point.value) == (1_700_000_000.5, names.METRIC_PAIRS_DEAD_LETTERED, 2.0)
    assert point.dimensions == {"service": names.SERVICE_NAME, names.DIMENSION_ERROR_CODE: "403"}
    assert metric_points('{"level":"INFO","message":"batch settled","pairs_revoked":49}') == []
    assert metric_points('{"_aws": not json') == []
    assert metric_points("START RequestId: 1 Version: $LATEST") == []


def test_function_metrics_counts_new_lines_once_across_reads_and_waits_for_a_line_to_end(tmp_path: Path) -> None:
    log = tmp_path / "instance-0.log"
    revoked = _emf(1_000_000, {}, **{names.METRIC_PAIRS_REVOKED: 20, names.METRIC_PAIRS_DEAD_LETTERED: 2})
    coded = _emf(1_000_000, {names.DIMENSION_ERROR_CODE: "403"}, **{names.METRIC_PAIRS_DEAD_LETTERED: 2})
    log.write_text(f"START RequestId: 1\n{revoked}\n{coded[:40]}")
    (tmp_path / "moto.log").write_text(revoked + "\n")  # not the function's
    metrics = FunctionMetrics(tmp_path)

    metrics.read()
    assert (dict(metrics.revoked), dict(metrics.dead_lettered_by_code)) == ({names.LANE_BULK: 20}, {})
    with log.open("a") as more:
        more.write(f"{coded[40:]}\n{revoked}\n")
    metrics.read()
    metrics.read()

    # The aggregate PairsDeadLettered (no ErrorCode) is not counted again by code.
    assert (dict(metrics.revoked), dict(metrics.dead_lettered_by_code)) == ({names.LANE_BULK: 40}, {"403": 2})


def test_rate_is_over_the_last_minute_or_since_serving_began() -> None:
    metrics = FunctionMetrics(Path("/nonexistent"))
    for at, pairs in ((0.0, 600.0), (100.0, 1200.0), (150.0, 1200.0)):
        metrics.add(metric_points(_emf(int(at * 1000), {}, **{names.METRIC_PAIRS_REVOKED: pairs}))[0])

    bulk = names.LANE_BULK
    assert metrics.rate(bulk, now=155.0, serving_since=0.0) == pytest.approx(2400 / 60)
    assert metrics.rate(bulk, now=155.0, serving_since=145.0) == pytest.approx(2400 / 10)
    assert metrics.rate(bulk, now=300.0, serving_since=0.0) == 0.0
    assert metrics.rate(names.LANE_URGENT, now=155.0, serving_since=0.0) == 0.0


def test_function_metrics_counts_each_lane_from_its_own_logs(tmp_path: Path) -> None:
    revoked = _emf(1_000_000, {}, **{names.METRIC_PAIRS_REVOKED: 3})
    (tmp_path / f"{instance_log_name(names.LANE_BULK)}-0.log").write_text(revoked + "\n" + revoked + "\n")
    (tmp_path / f"{instance_log_name(names.LANE_URGENT)}-1.log").write_text(revoked + "\n")
    metrics = FunctionMetrics(tmp_path)

    metrics.read()

    assert dict(metrics.revoked) == {names.LANE_BULK: 6, names.LANE_URGENT: 3}


# --------------------------------------------------------------------------- one service per folder


def test_the_lock_sits_beside_the_environment_file_in_the_repository_by_default() -> None:
    assert (
        build_parser().parse_args([]).env_file == ENV_FILE == Path(__file__).resolve().parents[2] / ".local-stack.env"
    )
    assert lock_path(Path("/repo/.local-stack.env")) == Path("/repo/.local-stack.pid")


def test_a_second_service_is_refused_with_the_first_ones_pid_and_may_start_once_it_stopped(tmp_path: Path) -> None:
    env_file = tmp_path / ".local-stack.env"
    first = ServiceLock(lock_path(env_file), env_file)
    first.acquire()
    assert lock_path(env_file).read_text() == f"{os.getpid()}\n"

    # flock holds per open file, so a second lock of this process is refused as another process's is.
    with pytest.raises(AlreadyServing) as refused:
        ServiceLock(lock_path(env_file), env_file).acquire()
    assert refused.value.pid == os.getpid()
    assert f"PID {os.getpid()}" in str(refused.value) and f"kill {os.getpid()}" in str(refused.value)

    first.release()
    assert not lock_path(env_file).exists()
    with ServiceLock(lock_path(env_file), env_file) as second:
        assert second.stale_pid is None


def test_a_lock_file_left_by_a_process_that_ended_is_taken_over(tmp_path: Path) -> None:
    env_file = tmp_path / ".local-stack.env"
    ended = subprocess.Popen(["true"])
    ended.wait()
    # What a killed `make up` leaves: its PID in the file, and no lock on it.
    lock_path(env_file).write_text(f"{ended.pid}\n")

    with ServiceLock(lock_path(env_file), env_file) as lock:
        assert lock.stale_pid == ended.pid
        assert lock_path(env_file).read_text() == f"{os.getpid()}\n"


# ------------------------------------------------------------------------------------------ stopping


def _stop(**queues: tuple[int, int]) -> Stop:
    return Stop(how="Ctrl-C", left=[QueueLeft(name, queued, in_flight) for name, (queued, in_flight) in queues.items()])


def test_a_stop_with_work_left_says_what_each_queue_held_and_never_that_all_is_well() -> None:
    report = stop_report(_stop(bulk=(3412, 200), urgent=(0, 0), DLQ=(2, 0)))

    assert report == (
        "Stopped (Ctrl-C). Discarded 3614 messages that the local queues still held (they live in memory and "
        "end with the stack): bulk 3412 queued + 200 in flight, DLQ 2 queued."
    )
    assert "nothing" not in report
    assert "Discarded 1 message that" in stop_report(_stop(urgent=(0, 1)))


def test_a_stop_with_empty_queues_says_nothing_was_discarded() -> None:
    assert stop_report(_stop(bulk=(0, 0), DLQ=(0, 0))) == (
        "Stopped (Ctrl-C): every queue was empty, nothing discarded; nothing left running."
    )


def test_a_stop_whose_queues_could_not_be_counted_says_they_are_discarded_all_the_same() -> None:
    report = stop_report(Stop(how="SIGTERM", count_error="Connection refused"))

    assert report.startswith("Stopped (SIGTERM). The queues could not be counted (Connection refused)")
    assert "discarded" in report and "nothing" not in report
    assert (
        stop_report(Stop(how="Ctrl-C")) == "Stopped (Ctrl-C) before serving: nothing was queued; nothing left running."
    )


def test_the_grace_note_says_whether_the_invocations_in_flight_finished() -> None:
    assert grace_note(Stop(grace_seconds=5, held_batches=2, grace_used=1.24)) == (
        "The invocations in flight finished within the grace (1.2 s).\n"
    )
    assert grace_note(Stop(grace_seconds=5, held_batches=1, grace_used=5.3)).startswith(
        "Invocations still running after the 5 s grace were ended"
    )
    assert grace_note(Stop(grace_seconds=5, held_batches=0, grace_used=1.0)) == ""  # none was in flight
    assert grace_note(Stop()) == ""


# ---------------------------------------------------------------------------------- refused channels


def test_plain_up_refuses_the_cli_examples_channels_and_named_channels_replace_them() -> None:
    parser = build_parser()
    named = "arn:aws:ivs:eu-west-1:123456789012:channel/OtherChannel"

    assert unauthorized_channels(parser.parse_args([])) == DEFAULT_UNAUTHORIZED_CHANNELS == CLI_EXAMPLE_CHANNELS
    # Not added to the defaults (argparse's append would add to a non-empty default list).
    assert unauthorized_channels(parser.parse_args(["--unauthorized-channel", named])) == (named,)
    assert unauthorized_channels(parser.parse_args(["--authorize-all"])) == ()
    assert unauthorized_channels(parser.parse_args(["--ivs-url", "http://127.0.0.1:1"])) == ()
    with pytest.raises(SystemExit):
        parser.parse_args(["--authorize-all", "--unauthorized-channel", named])


def test_the_header_names_the_refused_channels_and_says_why_those() -> None:
    default = refused_lines(DEFAULT_UNAUTHORIZED_CHANNELS, chosen=False)

    assert all(channel in default[0] for channel in DEFAULT_UNAUTHORIZED_CHANNELS)
    assert '"403" "not authorized"' in default[1] and "by default" in default[1] and "--authorize-all" in default[1]
    assert "by default" not in "".join(refused_lines(("arn",), chosen=True))
    assert refused_lines((), chosen=True) == ["  refused channels    none (--authorize-all)"]


def test_the_function_revokes_in_the_example_channels_region_unless_told_otherwise() -> None:
    cdk = DeploySettings.from_cdk_json()
    named = cdk.ivs_regions or cdk.channel_arns
    settings, source = deploy_settings(None)

    assert settings.revocation_regions(REGION) == (cdk.revocation_regions(REGION) if named else ["us-west-2"])
    assert source == ("from cdk.json" if named else "by default; --ivs-region REGION names others")
    # The default refusal is a "403", not a pair out of scope.
    assert {arn.split(":")[3] for arn in DEFAULT_UNAUTHORIZED_CHANNELS} <= set(DEFAULT_IVS_REGIONS)
    chosen, source = deploy_settings(["eu-west-1", "ap-south-1"])
    assert (chosen.revocation_regions(REGION), source) == (["eu-west-1", "ap-south-1"], "--ivs-region")
    assert "  IVS regions         eu-west-1, ap-south-1 (IVS_REGIONS, --ivs-region): " in scope_line(chosen, source)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--ivs-region", "Mars"])


# ----------------------------------------------------------------------------------------- log folders


def test_a_log_folder_is_removed_when_nothing_failed_and_kept_and_named_otherwise(tmp_path: Path) -> None:
    kept, removed = tmp_path / "kept", tmp_path / "removed"
    for folder in (kept, removed):
        folder.mkdir()
        (folder / "instance-0.log").write_text("START RequestId: 1\n")

    assert close_log_dir(removed, None) == f"Logs removed ({removed}): nothing failed."
    assert close_log_dir(kept, "an invocation crashed") == f"Logs kept in {kept}: an invocation crashed."
    assert not removed.exists() and (kept / "instance-0.log").exists()
