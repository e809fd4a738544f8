"""What runs where: the lines `make demo` and `make up` print about the local stack they started."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from ivs_revocation import names
from ivs_revoke.targets import ENV_QUEUE_URL, ENV_URGENT_QUEUE_URL
from local.clients import ACCOUNT_ID
from local.ivs_emulator.service import DEFAULT_SINGLE_TPS, DEFAULT_TPS, Faults
from local.stack import LocalStack


@dataclass(frozen=True)
class Lane:
    """A queue producers send to, the variable that names it for `ivs-revoke`, and what drains it."""

    name: str
    queue_url: str
    env_name: str
    operation: str  # the IVS operation its function calls


def lanes(stack: LocalStack) -> list[Lane]:
    resources = stack.resources
    return [
        Lane(names.LANE_BULK, resources.queue_url, ENV_QUEUE_URL, names.OPERATION_BATCH),
        Lane(names.LANE_URGENT, resources.urgent_queue_url, ENV_URGENT_QUEUE_URL, names.OPERATION_SINGLE),
    ]


def emulator_note(unauthorized: Sequence[str], faults: Faults) -> str:
    note = (
        f"{DEFAULT_TPS} batch calls/s and {DEFAULT_SINGLE_TPS} single-pair calls/s per account and region, "
        "separate quotas"
    )
    if unauthorized:
        note += f", {len(unauthorized)} channel(s) not authorized (per-pair 403)"
    injected = {
        f.name: getattr(faults, f.name) for f in dataclasses.fields(faults) if getattr(faults, f.name) != f.default
    }
    if injected:
        note += ", faults: " + " ".join(f"{key}={value}" for key, value in injected.items())
    return note


def header_lines(stack: LocalStack, title: str, ivs_note: str, ivs_details: Sequence[str] = ()) -> list[str]:
    """`ivs_details`: whole lines that follow the IVS line."""
    settings = stack.settings
    resources = stack.resources
    served = lanes(stack)
    lines = [
        f"IVS viewer-session revocation: {title}",
        f"  SQS + EventBridge   moto server at {stack.endpoint_url} (region {stack.region}, account {ACCOUNT_ID})",
        f"  IVS                 {ivs_note}",
        *ivs_details,
    ]
    for lane in served:
        deployed = settings.lane(lane.name)
        lines += [
            f"  {lane.name + ' lane':<19} queue {lane.queue_url} (visibility timeout "
            f"{deployed.visibility_timeout_seconds} s, to the DLQ after {settings.max_receive_count} receives)",
            f"  {'':<19} function: {deployed.max_concurrency} instances (max concurrency), batch size "
            f"{deployed.batch_size}, batching window {deployed.max_batching_window_seconds} s, timeout "
            f"{deployed.function_timeout_seconds} s, {deployed.calls_per_second:g} {lane.operation} call(s) per "
            "second each",
        ]
    lines += [
        f"  {'':<19} an urgent message keeps {settings.urgent_max_pairs_per_message} pairs, the rest go to the "
        "bulk queue",
        f"  dead-letter queue   {resources.dead_letter_queue_url}",
        f"  event bus           {resources.event_bus_name}: rule {resources.rule_name} routes revocation events "
        f'to the bulk queue, rule {resources.urgent_rule_name} those whose detail says "priority": '
        '"urgent" to the urgent queue',
        f"  logs                {stack.log_dir} (one file per function instance; removed at the end unless "
        "something failed); settings from cdk.json",
    ]
    return lines
