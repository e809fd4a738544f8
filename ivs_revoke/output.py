"""`--output` and `--query`: results printed as the AWS CLI prints a response.

json, text and table are the AWS CLI's own formatters (`awscli.formatter`), so that
`--output json` is byte-identical to what `aws` prints for the same data (4-space indent, UTF-8 kept)
and `--query` is applied at the same point. yaml and yaml-stream exist only in AWS CLI v2, which is not
installed; they follow v2's documented output: block style, and for yaml-stream each response as an
item of a top-level list.
"""

from __future__ import annotations

import copy
import json
from argparse import Namespace
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any, Final

import colorama
import jmespath
import yaml
from awscli.formatter import get_formatter
from awscli.utils import is_a_tty, json_encoder

from ivs_revoke.errors import UsageError

OUTPUT_FORMATS: Final = ("json", "yaml", "yaml-stream", "text", "table")
COLOR_CHOICES: Final = ("on", "off", "auto")


@dataclass(frozen=True)
class OutputOptions:
    output: str = "json"
    query: str | None = None
    color: str = "auto"

    def compiled_query(self) -> Any:
        if self.query is None:
            return None
        try:
            return jmespath.compile(self.query)
        except jmespath.exceptions.JMESPathError as error:
            raise UsageError(f"Bad value for --query {self.query}: {error}") from error


def render(data: Mapping[str, Any], options: OutputOptions, stream: IO[str], title: str) -> None:
    """Prints `data` (a response-like mapping) in the chosen format; `title` heads a table."""
    query = options.compiled_query()
    # The AWS CLI's formatters drop ResponseMetadata in place; work on a copy.
    response = copy.deepcopy(dict(data))
    if options.output in ("json", "text", "table"):
        formatter = get_formatter(options.output, Namespace(query=query, color=options.color))
        if options.output == "table" and _colorized(options.color):
            # The AWS CLI prints a colored table through colorama's wrapper of stdout, which adds a
            # reset after every write; the same wrapper around our stream gives the same bytes.
            stream = colorama.AnsiToWin32(stream, autoreset=True, strip=False).stream
        formatter(title, response, stream)
        return
    response.pop("ResponseMetadata", None)
    result = query.search(response) if query is not None else response
    if options.output == "yaml-stream":
        _dump_yaml([result], stream)
    elif result is not None:  # yaml
        _dump_yaml(result, stream)
    stream.flush()


def _colorized(color: str) -> bool:
    # As `awscli.table.MultiTable` chooses its styler: `auto` colors when stdout is a terminal.
    return color == "on" or (color == "auto" and is_a_tty())


def _dump_yaml(value: Any, stream: IO[str]) -> None:
    if isinstance(value, str):
        # v2 writes a lone string double-quoted, so that it cannot be read back as another type.
        stream.write(json.dumps(value, ensure_ascii=False) + "\n")
        return
    plain = json.loads(json.dumps(value, default=json_encoder))  # datetimes and bytes as the JSON output has them
    text = yaml.safe_dump(plain, default_flow_style=False, allow_unicode=True, sort_keys=True)
    # A lone scalar comes with PyYAML's end-of-document marker, which v2 does not print.
    stream.write(text.removesuffix("...\n"))
