"""What `submit` reads: `--viewer-sessions` in the AWS CLI's syntaxes, `--cli-input-json/yaml`, skeletons.

`ivs-revoke submit` promises to accept what `aws ivs batch-start-viewer-session-revocation` accepts,
byte for byte. The surest way to keep that promise is to run the AWS CLI's own code on the same botocore
operation model rather than re-implement its grammar, so this module drives the AWS CLI's argument classes
with the handlers it registers for every operation argument (`file://`, shorthand, then JSON), its
`--cli-input-json` (a value given on the command line wins, the document only fills absent top-level
keys), and its skeleton generators.

The installed AWS CLI is v1; `--cli-input-yaml` and `--generate-cli-skeleton yaml-input` exist only in
v2, so those two follow v2's documented behaviour (same precedence as JSON; v2's skeleton layout).

Validation is the project's (`ivs_revocation.models`): the API's documented limits, including those botocore
does not check, reported per item and field before anything is sent.

A repeated key is refused before any of that, in every input that can hold one (JSON given inline or
through `file://`, the `--cli-input-json/yaml` document): the AWS CLI's JSON parser and PyYAML both
keep the last value silently, so `{"viewerId": "a", "viewerId": "b"}` would revoke "b" whatever the
producer meant. Shorthand needs no check: the AWS CLI's shorthand parser refuses a repeated key itself.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
from argparse import Namespace
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from xml.etree import ElementTree

import botocore.session
import yaml
from awscli.argprocess import ParamError, ParamShorthandParser
from awscli.arguments import ListArgument
from awscli.customizations.cliinputjson import CliInputJSONArgument
from awscli.customizations.generatecliskeleton import GenerateCliSkeletonArgument
from awscli.paramfile import LOCAL_PREFIX_MAP, ResourceLoadingError, URIArgumentHandler, get_paramfile
from botocore import xform_name
from botocore.model import OperationModel, Shape
from botocore.utils import ArgumentGenerator
from pydantic import ValidationError

from ivs_revocation.models import (
    VIEWER_SESSION_FIELDS,
    RepeatedKeyError,
    ViewerSession,
    describe_errors,
    json_type,
    loads_unambiguous,
)
from ivs_revoke.errors import InputError, UsageError

SERVICE_NAME: Final = "ivs"
OPERATION_NAME: Final = "BatchStartViewerSessionRevocation"
CLI_OPERATION_NAME: Final = xform_name(OPERATION_NAME, "-")
SESSIONS_MEMBER: Final = "viewerSessions"
SESSIONS_OPTION: Final = "--" + xform_name(SESSIONS_MEMBER, "-")
CLI_INPUT_JSON_OPTION: Final = "--cli-input-json"
CLI_INPUT_YAML_OPTION: Final = "--cli-input-yaml"

SKELETON_INPUT: Final = "input"
SKELETON_YAML_INPUT: Final = "yaml-input"
SKELETON_OUTPUT: Final = "output"
SKELETON_CHOICES: Final = (SKELETON_INPUT, SKELETON_YAML_INPUT, SKELETON_OUTPUT)

# A wave of bad input is reported in full up to here; past it the rest is counted.
MAX_PROBLEMS_SHOWN: Final = 50


@dataclass(frozen=True, slots=True)
class Pair:
    """One viewer session: `raw` exactly as the AWS CLI would pass it to botocore, `session` validated."""

    raw: Mapping[str, Any]
    session: ViewerSession


@functools.cache
def _botocore_session() -> botocore.session.Session:
    # A private session: only the event hooks the AWS CLI registers for argument processing, and the
    # bundled service models. It never makes a client, so it needs no credentials or region.
    session = botocore.session.Session()
    session.register("load-cli-arg", URIArgumentHandler(dict(LOCAL_PREFIX_MAP)))
    session.register("process-cli-arg", ParamShorthandParser())
    return session


@functools.cache
def operation_model() -> OperationModel:
    return _botocore_session().get_service_model(SERVICE_NAME).operation_model(OPERATION_NAME)


def parse_viewer_sessions(values: Sequence[str]) -> Any:
    """The `--viewer-sessions` values as the AWS CLI turns them into the operation's parameter.

    Same steps as `awscli.clidriver.ServiceOperation._build_call_parameters`: `load-cli-arg` (file://),
    then the argument's own unpacking (shorthand, else JSON).
    """
    session = _botocore_session()
    argument = ListArgument(
        name=xform_name(SESSIONS_MEMBER, "-"),
        argument_model=operation_model().input_shape.members[SESSIONS_MEMBER],
        is_required=True,
        operation_model=operation_model(),
        serialized_name=SESSIONS_MEMBER,
        event_emitter=session.get_component("event_emitter"),
    )
    try:
        value: Any = list(values)
        loaded = session.emit_first_non_none_response(
            f"load-cli-arg.{SERVICE_NAME}.{CLI_OPERATION_NAME}.{argument.name}",
            param=argument,
            value=value,
            service_name=SERVICE_NAME,
            operation_name=CLI_OPERATION_NAME,
            parsed_globals=None,
        )
        if loaded is not None:
            value = loaded
        _refuse_repeated_keys_in_sessions(value)
        parameters: dict[str, Any] = {}
        argument.add_to_params(parameters, value)
    except ParamError as error:
        raise UsageError(str(error)) from error
    except (ValueError, TypeError, IndexError) as error:
        # The AWS CLI lets these escape (a shorthand version that is not a number, an empty value);
        # here they are what they are: a value that cannot be parsed.
        raise UsageError(f"Error parsing parameter '{SESSIONS_OPTION}': {error}") from error
    return parameters.get(SESSIONS_MEMBER)


def _repeated_key_problem(error: RepeatedKeyError, root: str, option: str) -> str:
    # A key repeated at the top of a document has no path to name: the option names the document.
    if not root and not error.location:
        return f"{option}: repeated key {error.key!r}"
    return error.describe(root)


def _refuse_repeated_json_keys(text: str, root: str, option: str) -> None:
    try:
        loads_unambiguous(text)
    except RepeatedKeyError as error:
        raise InputError([_repeated_key_problem(error, root, option)]) from error
    except (ValueError, RecursionError):
        pass  # not JSON (shorthand, or broken): the AWS CLI's own parsing says what is wrong with it


def _refuse_repeated_keys_in_sessions(value: Any) -> None:
    """`--viewer-sessions` holding JSON, as the AWS CLI reads it (`argprocess._unpack_complex_cli_arg`):
    one value that is a JSON list, or one JSON object per value."""
    values = [value] if isinstance(value, str | bytes) else list(value)
    texts = [text if isinstance(text, str) else "" for text in values]  # bytes (fileb://) are no JSON to it
    if len(texts) == 1 and texts[0].strip().startswith("["):
        _refuse_repeated_json_keys(texts[0], SESSIONS_MEMBER, SESSIONS_OPTION)
        return
    for index, text in enumerate(texts):
        if text.strip().startswith("{"):
            _refuse_repeated_json_keys(text, f"{SESSIONS_MEMBER}[{index}]", SESSIONS_OPTION)


def load_cli_input_json(value: str) -> dict[str, Any]:
    """`--cli-input-json` read by the AWS CLI's own argument (string or file://), as a document."""
    document: dict[str, Any] = {}
    try:
        text = get_paramfile(value, LOCAL_PREFIX_MAP)
        if text is None:
            text = value
        _refuse_repeated_json_keys(text, "", CLI_INPUT_JSON_OPTION)
        # The text already read is handed on, so that the document checked is the document used.
        CliInputJSONArgument(_botocore_session()).add_to_call_parameters(
            call_parameters=document, parsed_args=Namespace(cli_input_json=text), parsed_globals=None
        )
    except ParamError as error:
        raise UsageError(str(error)) from error
    except (ResourceLoadingError, AttributeError) as error:
        raise UsageError(f"Error parsing parameter 'cli-input-json': {error}") from error
    return document


def _load_yaml_unambiguous(text: str) -> Any:
    """`yaml.safe_load`, refusing a mapping with a repeated key anywhere (raises RepeatedKeyError)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_repeated_yaml_keys(loader, node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


_YAML_MERGE_TAG: Final = "tag:yaml.org,2002:merge"


def _refuse_repeated_yaml_keys(loader: yaml.SafeLoader, root: yaml.Node) -> None:
    # Walked on the composed nodes, where a repeated key is still visible (construction keeps the last).
    pending: list[tuple[yaml.Node, tuple[int | str, ...]]] = [(root, ())]
    visited: set[int] = set()  # an alias points at a node already walked (and may point back up)
    while pending:
        node, location = pending.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        children: list[tuple[yaml.Node, tuple[int | str, ...]]] = []
        if isinstance(node, yaml.MappingNode):
            keys: set[Any] = set()
            for key_node, value_node in node.value:
                if key_node.tag == _YAML_MERGE_TAG:
                    # `<<: *anchor`: YAML defines that the mapping's own keys override merged ones.
                    children.append((value_node, location))
                    continue
                key = loader.construct_object(key_node, deep=True)
                try:
                    if key in keys:
                        raise RepeatedKeyError(location, str(key))
                    keys.add(key)
                except TypeError:
                    pass  # an unhashable key: SafeLoader refuses it itself
                children.append((value_node, (*location, key if isinstance(key, str | int) else str(key))))
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, (*location, index)) for index, item in enumerate(node.value)]
        pending.extend(reversed(children))


def load_cli_input_yaml(value: str) -> dict[str, Any]:
    """`--cli-input-yaml` (string or file://): the AWS CLI v2 reads it as a YAML mapping."""
    try:
        text = get_paramfile(value, LOCAL_PREFIX_MAP)
    except ResourceLoadingError as error:
        raise UsageError(f"Error parsing parameter 'cli-input-yaml': {error}") from error
    if text is None:
        text = value
    try:
        document = _load_yaml_unambiguous(text)
    except RepeatedKeyError as error:
        raise InputError([_repeated_key_problem(error, "", CLI_INPUT_YAML_OPTION)]) from error
    except yaml.YAMLError as error:
        raise UsageError(f"Error parsing parameter 'cli-input-yaml': Invalid YAML: {error}") from error
    if not isinstance(document, dict):
        raise UsageError("Error parsing parameter 'cli-input-yaml': Invalid YAML: expected a mapping at the top level")
    return document


def call_parameters(
    viewer_sessions: Sequence[str] | None, cli_input_json: str | None, cli_input_yaml: str | None
) -> dict[str, Any]:
    """The operation's parameters: the input document's keys, a value given on the command line winning
    (at most one of the two documents: their options are mutually exclusive)."""
    parameters: dict[str, Any] = {}
    if viewer_sessions is not None:
        parameters[SESSIONS_MEMBER] = parse_viewer_sessions(viewer_sessions)
    document: dict[str, Any] = {}
    if cli_input_json is not None:
        document = load_cli_input_json(cli_input_json)
    elif cli_input_yaml is not None:
        document = load_cli_input_yaml(cli_input_yaml)
    return document | parameters


def validate(parameters: Mapping[str, Any]) -> list[Pair]:
    """Every pair checked against the API's limits; raises `InputError` listing each problem."""
    known = list(operation_model().input_shape.members)
    unknown = [key for key in parameters if key not in known]
    if unknown:
        raise InputError(
            [f'Unknown parameter in input: "{key}", must be one of: {", ".join(known)}' for key in unknown]
        )
    if SESSIONS_MEMBER not in parameters:
        raise UsageError(
            f"the following arguments are required: {SESSIONS_OPTION} (or --cli-input-json / --cli-input-yaml)"
        )
    items = parameters[SESSIONS_MEMBER]
    if not isinstance(items, list):
        raise InputError([f"{SESSIONS_MEMBER}: must be a list (got {json_type(items)})"])
    if not items:
        raise InputError([f"{SESSIONS_MEMBER}: at least 1 item (got 0)"])

    pairs: list[Pair] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        path = f"{SESSIONS_MEMBER}[{index}]"
        if not isinstance(item, Mapping):
            problems.append(
                f"{path}: must be an object with {', '.join(VIEWER_SESSION_FIELDS)} (got {json_type(item)})"
            )
            continue
        try:
            # Aliases only: the API's names. A Python field name would pass pydantic but not botocore.
            session = ViewerSession.model_validate(dict(item), by_alias=True, by_name=False)
        except ValidationError as error:
            problems.extend(describe_errors(error, path))
            continue
        pairs.append(Pair(raw=item, session=session))
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more problems")
        raise InputError(shown)
    return pairs


# --- Skeletons ---------------------------------------------------------------------------------


def input_skeleton() -> str:
    """What `aws ivs batch-start-viewer-session-revocation --generate-cli-skeleton` prints."""
    argument = GenerateCliSkeletonArgument(_botocore_session(), operation_model())
    buffer = io.StringIO()
    # The AWS CLI's method writes to sys.stdout itself; it is captured here to be written where asked.
    with contextlib.redirect_stdout(buffer):
        argument.generate_json_skeleton(
            call_parameters={}, parsed_args=Namespace(generate_cli_skeleton=SKELETON_INPUT), parsed_globals=None
        )
    return buffer.getvalue()


def output_skeleton() -> dict[str, Any]:
    """The sample response `--generate-cli-skeleton output` shows, built as the AWS CLI builds it."""
    skeleton: dict[str, Any] = ArgumentGenerator(use_member_names=True).generate_skeleton(
        operation_model().output_shape
    )
    return skeleton


def yaml_input_skeleton() -> str:
    """AWS CLI v2's `--generate-cli-skeleton yaml-input`: the input skeleton as YAML, each member
    commented with `[REQUIRED]` and the first sentence of its documentation.

    v2 writes it with ruamel.yaml, which is not installed here; this reproduces its layout: block
    style, a list's dash at its key's column, two spaces before the first comment of each mapping and
    one before the others (ruamel's end-of-line comment placement).
    """
    shape = operation_model().input_shape
    skeleton = ArgumentGenerator().generate_skeleton(shape)
    lines: list[str] = []
    _yaml_structure(shape, skeleton, indent="", first_prefix="", lines=lines)
    return "\n".join(lines) + "\n" if lines else "{}\n"


def _yaml_structure(shape: Shape, value: Mapping[str, Any], indent: str, first_prefix: str, lines: list[str]) -> None:
    members = shape.members
    required = set(shape.required_members)
    for position, (name, member) in enumerate(members.items()):
        lead = first_prefix if position == 0 else indent
        comment = " ".join(part for part in ("[REQUIRED]" if name in required else "", _doc_overview(member)) if part)
        gap = "  " if position == 0 else " "
        suffix = f"{gap}# {comment}" if comment and not comment.isspace() else ""
        member_value = value[name]
        if member.type_name == "structure":
            lines.append(f"{lead}{name}:{suffix}")
            _yaml_structure(member, member_value, indent + "  ", indent + "  ", lines)
        elif member.type_name == "list" and member.member.type_name == "structure":
            lines.append(f"{lead}{name}:{suffix}")
            _yaml_structure(member.member, member_value[0], indent + "  ", indent + "- ", lines)
        else:
            lines.append(f"{lead}{name}: {_yaml_scalar(member_value)}{suffix}")


def _yaml_scalar(value: Any) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True, width=1_000_000)
    return text.removesuffix("\n...\n").strip()


_SENTENCE_END = re.compile(r"[.:]+")


def _doc_overview(shape: Shape) -> str:
    """First sentence of a shape's documentation, without markup (as v2's `get_shape_doc_overview`)."""
    documentation = shape.documentation or ""
    try:
        text = "".join(ElementTree.fromstring(f"<doc>{documentation}</doc>").itertext())
    except ElementTree.ParseError:  # markup that is not well-formed: keep it as text, as v2 does
        text = documentation
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0]
    if sentence:
        sentence += "."
    return sentence.replace("\n", " ").replace("\u2028", " ")
