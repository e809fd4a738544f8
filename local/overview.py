"""What runs where: the lines `make demo` and `make up` print about the local stack they started."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ivs_revoke.targets import ENV_QUEUE_URL
from local.clients import ACCOUNT_ID
from local.ivs_emulator.service import DEFAULT_TPS, Faults
from local.stack import LocalStack

FAULT_DEFAULTS: Final = dataclasses.asdict(Faults())


@dataclass(frozen=True)
class Lane:
    """A queue producers send to, and the variable that names it for `ivs-revoke`."""

    name: str
    queue_url: str
    env_name: str


def lanes(stack: LocalStack) -> list[Lane]:
    return [Lane("bulk", stack.resources.queue_url, ENV_QUEUE_URL)]


def emulator_note(unauthorized: Sequence[str], faults: Faults) -> str:
    note = f"{DEFAULT_TPS} calls/s per account and region"
    if unauthorized:
        note += f", {len(unauthorized)} channel(s) not authorized (per-pair 403)"
    injected = {key: value for key, value in dataclasses.asdict(faults).items() if value != FAULT_DEFAULTS[key]}
    if injected:
        note += ", faults: " + " ".join(f"{key}={value}" for key, value in injected.items())
    return note


def header_lines(stack: LocalStack, title: str, ivs_note: str) -> list[str]:
    settings = stack.settings
    resources = stack.resources
    served = lanes(stack)
    lines = [
        f"IVS viewer-session revocation: {title}",
        f"  SQS + EventBridge   moto server at {stack.endpoint_url} (region {stack.region}, account {ACCOUNT_ID})",
        f"  IVS                 {ivs_note}",
        f"  function            {settings.max_concurrency} instances (max concurrency), batch size "
        f"{settings.batch_size}, batching window {settings.max_batching_window_seconds} s, timeout "
        f"{settings.function_timeout_seconds} s, {settings.ivs_calls_per_second:g} IVS call(s) per second each",
    ]
    lines += [
        f"  {lane.name + ' lane':<19} queue {lane.queue_url} (visibility timeout "
        f"{settings.visibility_timeout_seconds} s, to the DLQ after {settings.max_receive_count} receives)"
        for lane in served
    ]
    lines += [
        f"  dead-letter queue   {resources.dead_letter_queue_url}",
        f"  event bus           {resources.event_bus_name}: rule {resources.rule_name} routes revocation events "
        f"to the {', '.join(lane.name for lane in served)} queue",
        f"  logs                {stack.log_dir} (one file per function instance); settings from cdk.json",
    ]
    return lines
