"""One run of a command: its arguments, clients, environment, output and clock, handed to the command."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import IO, Any

from ivs_revoke.aws import Aws
from ivs_revoke.output import OutputOptions, render
from ivs_revoke.targets import ENV_STACK_NAME, StackOutputs, Target, resolve


@dataclass
class Invocation:
    args: argparse.Namespace
    aws: Aws
    environ: Mapping[str, str]
    output: OutputOptions
    stdout: IO[str]
    stderr: IO[str]
    sleep: Callable[[float], None]
    clock: Callable[[], float]

    @cached_property
    def stack(self) -> StackOutputs:
        """The stack's outputs, read once per run however many targets come from them."""
        stack_name = self.args.stack_name or self.environ.get(ENV_STACK_NAME) or None
        return StackOutputs(stack_name, lambda: self.aws.client("cloudformation"))

    def resolve(self, target: Target, explicit: str | None) -> str:
        """`target` from `explicit` (its option's value), the environment, or the stack's outputs."""
        return resolve(target, explicit, self.environ, self.stack)

    def render(self, data: Mapping[str, Any], title: str) -> None:
        render(data, self.output, self.stdout, title)

    def note(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()
