"""One run of a command: its arguments, clients, environment, output and clock, handed to the command."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from ivs_revoke.aws import Aws
from ivs_revoke.output import OutputOptions, render
from ivs_revoke.targets import Environment, StackOutputs


@dataclass
class Invocation:
    args: argparse.Namespace
    aws: Aws
    env: Environment
    output: OutputOptions
    stdout: IO[str]
    stderr: IO[str]
    sleep: Callable[[float], None]
    clock: Callable[[], float]

    def stack(self) -> StackOutputs:
        return StackOutputs(self.args.stack_name or self.env.stack_name, lambda: self.aws.client("cloudformation"))

    def render(self, data: Mapping[str, Any], title: str) -> None:
        render(data, self.output, self.stdout, title)

    def note(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()
