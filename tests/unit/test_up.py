"""`make up`'s printed parts: the export lines a shell reads back, the status line, and the function's
metrics read from its logs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from local.stack import instance_log_name
from local.up import FunctionMetrics, LaneStatus, Status, export_lines, format_status, metric_points
from revocation import names

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
