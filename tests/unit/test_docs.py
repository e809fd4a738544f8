"""The README and docs/ say what the code does: their tables are checked against the code that defines them.

A deploy setting, alarm, function setting, dead-letter code or attribute, metric or exit code added to
the code without its row in docs/ fails here, and so does a row for one the code no longer has; so do a
default that differs from cdk.json or the model, a repository path that does not exist, a `make` target,
`python -m` module or command-line option that the code does not have. `mkdocs build --strict` (in
`make test`) checks the links between pages, their anchors and the nav.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from pydantic_core import PydanticUndefined

from infra import constants
from infra.settings import CDK_JSON, DeploySettings
from ivs_revocation import models, names
from ivs_revocation.adapters.ivs import CODE_MALFORMED_RESPONSE
from ivs_revocation.settings import FunctionSettings
from ivs_revoke import errors
from ivs_revoke.cli import build_parser as ivs_revoke_parser
from local.ivs_emulator.__main__ import _parser as emulator_parser
from local.ivs_emulator.service import MALFORMED_ANSWER_KINDS
from local.up import build_parser as up_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))
README_MAX_LINES = 200
LINE_MAX = 120

# Environment variables the function's settings table names that are not the function's own: botocore's
# endpoint overrides and Powertools' variables the stack does not set.
OTHERS_ENVIRONMENT = {"AWS_ENDPOINT_URL_IVS", "AWS_ENDPOINT_URL_SQS", "POWERTOOLS_TRACE_DISABLED"}
# Written to no message: what a request to the bulk queue is, beside dead letters (models.CODE_SENT_TO_BULK).
CODES_NOT_WRITTEN = {models.CODE_SENT_TO_BULK}
BACKTICKED = re.compile(r"`([^`]+)`")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Table:
    page: str
    header: list[str]
    rows: list[list[str]]

    def column(self, index: int = 0) -> list[str]:
        return [row[index] if index < len(row) else "" for row in self.rows]

    def row_of(self, name: str) -> list[str]:
        """The row whose first cell names `name` in backticks."""
        found = [row for row in self.rows if name in BACKTICKED.findall(row[0])]
        assert len(found) == 1, f"{self.page}: {len(found)} rows name `{name}` in the first column"
        return found[0]


def _outside_code(text: str) -> Iterator[str]:
    """The lines of a Markdown page that are not in a fenced code block."""
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def _code_blocks(text: str) -> list[str]:
    """Each fenced code block's text."""
    return re.findall(r"^ *```[^\n]*\n(.*?)^ *```", text, flags=re.M | re.S)


def _cells(line: str) -> list[str]:
    # `\|` is a pipe inside a cell (a list of choices), not a column.
    parts = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [part.strip().replace("\\|", "|") for part in parts]


def tables(page: Path) -> list[Table]:
    found: list[Table] = []
    block: list[str] = []
    for line in [*_outside_code(page.read_text()), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            found.append(Table(page.name, _cells(block[0]), [_cells(row) for row in block[2:]]))
        block = []
    return found


def table(page: str, first_header: str) -> Table:
    """The one table of docs/<page> whose first column is headed `first_header`."""
    found = [each for each in tables(DOCS / page) if each.header[0] == first_header]
    assert len(found) == 1, f"docs/{page}: {len(found)} tables headed {first_header!r}"
    return found[0]


def first_names(column: list[str]) -> set[str]:
    return {name for cell in column for name in BACKTICKED.findall(cell)}


def _numbers(text: str) -> set[float]:
    # 10,000 is one number; "1, 3, 5" are three.
    return {float(number) for number in NUMBER.findall(re.sub(r"(?<=\d),(?=\d{3}\b)", "", text))}


# --------------------------------------------------------------------------------- deploy settings


def cdk_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def test_deploy_settings_table_has_one_row_per_setting_of_the_model_and_of_cdk_json() -> None:
    documented = [cell.strip("`") for cell in table("deploy.md", "key").column()]
    assert len(documented) == len(set(documented)), "a setting has two rows"
    model = set(DeploySettings.context_keys())
    assert set(documented) - model == set(), "rows for settings the model does not have"
    assert model - set(documented) == set(), "settings of DeploySettings without a row in docs/deploy.md"
    assert set(cdk_context()) == model, "cdk.json's context and DeploySettings name different settings"


def _default_problem(value: Any, cell: str) -> str | None:
    """Why the default cell does not state cdk.json's value, or None when it does."""
    if value is None:
        return None if cell.startswith("unset") else "an unset value's cell starts with 'unset'"
    if isinstance(value, bool):
        return None if cell.startswith(str(value).lower()) else f"expected {str(value).lower()}"
    if isinstance(value, int | float):
        leading = re.match(r"[\d,.]+", cell)
        stated = float(leading.group().replace(",", "")) if leading else None
        return None if stated == float(value) else f"expected {value:g}"
    if isinstance(value, str):
        return None if cell.startswith(f"`{value}`") else f"expected `{value}`"
    if value == []:
        return None if cell.startswith("`[]`") else "expected `[]`"
    if isinstance(value, list):
        missing = [item["name"] for item in value if item["name"] not in BACKTICKED.findall(cell)]
        return f"does not name {missing}" if missing else None
    return f"no rule for a default of type {type(value).__name__}"


def test_deploy_settings_defaults_are_those_of_cdk_json() -> None:
    settings = table("deploy.md", "key")
    problems = {
        key: problem
        for key, value in cdk_context().items()
        if (problem := _default_problem(value, settings.row_of(key)[1])) is not None
    }
    assert problems == {}


def _bounds(metadata: list[Any]) -> set[float]:
    bounds: set[float] = set()
    for constraint in metadata:
        for attribute in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            value = getattr(constraint, attribute, None)
            if isinstance(value, int | float) and isinstance(constraint, annotated_types.BaseMetadata):
                bounds.add(float(value))
    return bounds


def test_deploy_settings_limits_state_the_models_bounds() -> None:
    settings = table("deploy.md", "key")
    problems = {}
    for name, field in DeploySettings.model_fields.items():
        key = field.alias or name
        missing = _bounds(field.metadata) - _numbers(settings.row_of(key)[2])
        if missing:
            problems[key] = sorted(missing)
    assert problems == {}, "bounds of DeploySettings that the 'limits and rules' column does not state"


# ------------------------------------------------------------------------------------------- alarms


def test_alarm_table_has_one_row_per_alarm() -> None:
    documented = [cell.strip("`") for cell in table("deploy.md", "alarm").column()]
    assert len(documented) == len(set(documented)), "an alarm has two rows"
    # The stack's alarms are these names (tests/infra/test_monitoring.py compares them with the template).
    assert set(documented) == set(constants.ALARM_SUFFIXES)


# -------------------------------------------------------------------------------- function settings


def test_function_settings_table_names_every_variable_of_the_function() -> None:
    documented = first_names(table("how-it-works.md", "variable").column())
    aliases = {field.alias for field in FunctionSettings.model_fields.values() if field.alias}
    declared = {value for name, value in vars(names).items() if name.startswith("ENV_")}
    assert (aliases | declared) - documented == set(), "variables without a row in docs/how-it-works.md"
    assert documented - aliases - declared - OTHERS_ENVIRONMENT == set(), "rows for variables the code lacks"


def test_function_settings_defaults_are_the_models() -> None:
    variables = table("how-it-works.md", "variable")
    problems = {}
    for field in FunctionSettings.model_fields.values():
        assert field.alias is not None
        cell = variables.row_of(field.alias)[1]
        default = field.default
        if default is PydanticUndefined:
            ok = cell.startswith("(required")
        elif default is None or default == ():
            ok = cell.startswith("(")  # what unset means, in words
        else:
            leading = cell.split()[0].strip("`") if cell else ""
            ok = leading == (f"{default:g}" if isinstance(default, float) else str(default))
        if not ok:
            problems[field.alias] = (default, cell)
    assert problems == {}


# ------------------------------------------------------------------------- formats and dead letters


def dead_letter_codes() -> set[str]:
    own = {value for name, value in vars(models).items() if name.startswith("CODE_")} - CODES_NOT_WRITTEN
    return own | {CODE_MALFORMED_RESPONSE}


def test_every_code_the_function_writes_has_a_row_and_an_outcome() -> None:
    documented = first_names(table("message-formats.md", "code").column())
    assert documented == dead_letter_codes()
    outcomes = " ".join(" ".join(row) for row in table("how-it-works.md", "cause").rows)
    assert {code for code in dead_letter_codes() if f"`{code}`" not in outcomes} == set(), (
        "codes the outcome table does not name"
    )


def test_dead_letter_attributes_table_is_the_models() -> None:
    documented = first_names(table("message-formats.md", "attribute").column())
    assert documented == {value for name, value in vars(models).items() if name.startswith("ATTR_")}


def test_constraints_table_states_the_models_limits() -> None:
    constraints = table("message-formats.md", "field")
    assert models.CHANNEL_ARN_PATTERN in constraints.row_of("channelArn")[1]
    assert float(models.CHANNEL_ARN_MAX_LENGTH) in _numbers(constraints.row_of("channelArn")[1])
    assert float(models.VIEWER_ID_MAX_LENGTH) in _numbers(constraints.row_of("viewerId")[1])
    assert float(models.VERSION_MAX) in _numbers(constraints.row_of("viewerSessionVersionsLessThanOrEqualTo")[1])
    assert float(models.REQUEST_ID_MAX_LENGTH) in _numbers(constraints.row_of("requestId")[1])


def test_every_metric_and_dimension_is_documented() -> None:
    text = (DOCS / "how-it-works.md").read_text()
    declared = {value for name, value in vars(names).items() if name.startswith(("METRIC_", "DIMENSION_"))}
    assert {name for name in declared if f"`{name}`" not in text} == set()


def test_exit_code_table_is_the_clis() -> None:
    documented = {int(code) for code in table("operate.md", "exit code").column()}
    assert documented == {
        value for name, value in vars(errors).items() if name.startswith("EXIT_") and isinstance(value, int)
    }


# ------------------------------------------------------------------------ names the pages mention

DOCUMENTS = [README, *PAGES]


def _spans(path: Path) -> list[str]:
    """The inline code of a page and the lines of its code blocks: where commands and paths are named."""
    text = path.read_text()
    inline = [span for line in _outside_code(text) for span in BACKTICKED.findall(line)]
    return inline + [line for block in _code_blocks(text) for line in block.splitlines()]


def _looks_like_repository_path(token: str) -> bool:
    return (
        bool(re.fullmatch(r"[\w.-]+(/[\w.-]+)+/?", token))
        and not token.startswith(("/", "."))
        and (token.endswith("/") or Path(token).suffix in {".py", ".md", ".json", ".txt", ".toml", ".png"})
    )


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_repository_paths_named_exist(path: Path) -> None:
    named = {token for span in _spans(path) for token in span.split() if _looks_like_repository_path(token)}
    assert {token for token in named if not (ROOT / token).exists()} == set()


def _module_exists(module: str) -> bool:
    for base in (ROOT, ROOT / "lambda_src"):
        stem = base.joinpath(*module.split("."))
        if stem.with_suffix(".py").is_file() or (stem / "__init__.py").is_file():
            return True
    return False


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M))


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_make_targets_and_modules_named_exist(path: Path) -> None:
    spans = _spans(path)
    targets = {target for span in spans for target in re.findall(r"\bmake ([a-z][\w-]*)", span)}
    assert targets - _make_targets() == set(), "make targets the Makefile does not have"
    modules = {module for span in spans for module in re.findall(r"python3? -m ([\w.]+)", span)}
    assert {module for module in modules if module != "json.tool" and not _module_exists(module)} == set()


def _command_lines(path: Path, program: str) -> list[list[str]]:
    """Each command line of the page's code blocks that runs `program`, as its arguments."""
    commands = []
    for block in _code_blocks(path.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith(program + " "):
                words = shlex.split(line, comments=True)
                # A redirection ends the arguments: `ivs-revoke submit --generate-cli-skeleton > request.json`.
                commands.append(words[1 : words.index(">")] if ">" in words else words[1:])
    return commands


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_ivs_revoke_commands_shown_parse(path: Path) -> None:
    parser = ivs_revoke_parser()
    for arguments in _command_lines(path, "ivs-revoke"):
        parser.parse_args(arguments)  # raises UsageError, naming the option, for one it does not have


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_make_up_options_shown_parse(path: Path) -> None:
    text = path.read_text()
    for options in re.findall(r'make up ARGS="([^"]*)"', text):
        if options != "...":
            up_parser().parse_args(shlex.split(options))
    for arguments in _command_lines(path, "python -m local.up"):
        up_parser().parse_args(arguments[2:])


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings if option.startswith("--")}


def _all_options(parser: argparse.ArgumentParser) -> set[str]:
    """A parser's options and those of its commands, and of theirs."""
    options = _options(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                options |= _all_options(command)
    return options


def test_operate_page_names_every_option_of_ivs_revoke() -> None:
    text = (DOCS / "operate.md").read_text()
    offered = _all_options(ivs_revoke_parser()) - {"--help"}
    assert {option for option in offered if not re.search(re.escape(option) + r"(?![\w-])", text)} == set()


def test_local_stack_page_has_a_row_per_option_of_make_up_and_the_emulator() -> None:
    rows = [cell for each in tables(DOCS / "local-stack.md") if each.header[0] == "option" for cell in each.column()]
    documented = {name.split()[0] for name in first_names(rows) if name.startswith("--")}
    offered = (_options(up_parser()) | _options(emulator_parser())) - {"--help"}
    assert offered - documented == set(), "options of `make up` or the emulator without a row in docs/local-stack.md"
    assert documented - offered == set(), "rows for options that neither has"


def test_local_stack_page_lists_every_malformed_answer() -> None:
    faults = [each for each in tables(DOCS / "local-stack.md") if each.header[0] == "option"]
    (row,) = [row for each in faults for row in each.rows if "`--malformed-answer KIND`" in row[0]]
    kinds = {word for word in BACKTICKED.findall(row[1]) if " " not in word and not word.startswith("-")}
    assert kinds == set(MALFORMED_ANSWER_KINDS)


# ----------------------------------------------------------------------------------------- README


def test_readme_is_one_short_page() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES
    # Code blocks excepted: the walkthrough keeps one command per line; URLs cannot be cut.
    long = [line for line in _outside_code(README.read_text()) if len(line) > LINE_MAX and "http" not in line]
    assert long == []


def test_readme_links_resolve_and_name_every_docs_page() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [target for target in targets if "://" not in target]
    assert [target for target in local if not (ROOT / target).is_file()] == []
    assert {path.relative_to(ROOT).as_posix() for path in PAGES} <= set(local), "docs pages the README omits"


def test_readme_walkthrough_is_marked_once_and_fenced_as_bash() -> None:
    text = README.read_text()
    assert text.count("<!-- walkthrough -->") == 1
    assert text.count("<!-- /walkthrough -->") == 1
    walkthrough = text.split("<!-- walkthrough -->")[1].split("<!-- /walkthrough -->")[0]
    fences = re.findall(r"^```(\w*)$", walkthrough, flags=re.M)
    assert fences and set(fences[::2]) == {"bash"}, "every code block of the walkthrough is ```bash"
    assert all(not line.rstrip().endswith("\\") for block in _code_blocks(walkthrough) for line in block.splitlines())
