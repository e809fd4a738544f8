"""Request validation driven by botocore's service model of IVS (``ivs/2020-07-14/service-2.json``).

The constraints come from the model, not from the project's own code, so that the emulator checks the
product independently: required members, list and string lengths, string patterns, integer minimums.
Two rules are added where the model is silent:

- every pattern must match the *whole* value (Smithy patterns are not implicitly anchored, but an ARN
  with a prefix or suffix around a valid one is not a valid ARN);
- a model ``integer`` is a 32-bit signed integer, so its maximum is 2147483647, and a JSON value for it
  must be an integer literal (``true``, ``1.0`` and ``"1"`` are rejected).

Messages follow the AWS style, naming each member by its path with 1-based list positions::

    1 validation error detected: Value 'x...x' at 'viewerSessions.1.member.viewerId' failed to satisfy
    constraint: Member must have length less than or equal to 40
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Final

from botocore.loaders import Loader
from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape

INT32_MAX: Final = 2**31 - 1
"""The largest value of a model ``integer`` (32-bit signed), which botocore does not check."""

_SHOWN_VALUE_CHARS: Final = 100


@dataclass(frozen=True)
class Violation:
    """One failed constraint: where, what was there (``None`` for absent), and the rule it broke."""

    path: str
    value: object
    constraint: str

    def describe(self) -> str:
        return f"Value {_show(self.value)} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def validation_message(violations: list[Violation]) -> str:
    """The ``exceptionMessage`` of a ValidationException listing every violation."""
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(v.describe() for v in violations)


@cache
def operation_model(name: str) -> OperationModel:
    """An operation of the IVS service model as shipped with the installed botocore."""
    return ServiceModel(Loader().load_service_model("ivs", "service-2"), service_name="ivs").operation_model(name)


def validate(shape: Shape, value: object, path: str = "") -> list[Violation]:
    """Every violation of ``shape``'s constraints by the decoded JSON ``value`` (empty when valid).

    Members that the shape does not know are ignored, as AWS's JSON protocols do, so that a newer client
    sending an extra field still works.
    """
    if isinstance(shape, StructureShape):
        return _validate_structure(shape, value, path)
    if isinstance(shape, ListShape):
        return _validate_list(shape, value, path)
    if shape.type_name == "string":
        return _validate_string(shape, value, path)
    if shape.type_name == "integer":
        return _validate_integer(shape, value, path)
    # The two operations use no other types; fail loudly if a future model adds one.
    raise NotImplementedError(f"validation of {shape.type_name} shapes ({shape.name})")


def _validate_structure(shape: StructureShape, value: object, path: str) -> list[Violation]:
    if not isinstance(value, dict):
        return [Violation(path or "body", value, "Member must be a structure")]
    violations: list[Violation] = []
    required = set(shape.required_members)
    for name, member in shape.members.items():
        member_path = f"{path}.{name}" if path else name
        # A JSON null is the same as an absent member in AWS's JSON protocols.
        member_value = value.get(member.serialization.get("name", name))
        if member_value is None:
            if name in required:
                violations.append(Violation(member_path, None, "Member must not be null"))
            continue
        violations.extend(validate(member, member_value, member_path))
    return violations


def _validate_list(shape: ListShape, value: object, path: str) -> list[Violation]:
    if not isinstance(value, list):
        return [Violation(path, value, "Member must be a list")]
    violations = _length_violations(shape, value, len(value), path)
    for position, item in enumerate(value, start=1):
        item_path = f"{path}.{position}.member"
        if item is None:
            violations.append(Violation(item_path, None, "Member must not be null"))
        else:
            violations.extend(validate(shape.member, item, item_path))
    return violations


def _validate_string(shape: Shape, value: object, path: str) -> list[Violation]:
    if not isinstance(value, str):
        return [Violation(path, value, "Member must be a string")]
    violations = _length_violations(shape, value, len(value), path)
    pattern = shape.metadata.get("pattern")
    if pattern is not None and _compiled(pattern).fullmatch(value) is None:
        violations.append(Violation(path, value, f"Member must satisfy regular expression pattern: {pattern}"))
    return violations


def _validate_integer(shape: Shape, value: object, path: str) -> list[Violation]:
    # bool is a subclass of int in Python, but JSON true/false is not a number.
    if isinstance(value, bool) or not isinstance(value, int):
        return [Violation(path, value, "Member must be an integer")]
    minimum = shape.metadata.get("min")
    maximum = min(shape.metadata.get("max", INT32_MAX), INT32_MAX)
    if minimum is not None and value < minimum:
        return [Violation(path, value, f"Member must have value greater than or equal to {minimum}")]
    if value > maximum:
        return [Violation(path, value, f"Member must have value less than or equal to {maximum}")]
    return []


def _length_violations(shape: Shape, value: object, length: int, path: str) -> list[Violation]:
    minimum = shape.metadata.get("min")
    maximum = shape.metadata.get("max")
    if minimum is not None and length < minimum:
        return [Violation(path, value, f"Member must have length greater than or equal to {minimum}")]
    if maximum is not None and length > maximum:
        return [Violation(path, value, f"Member must have length less than or equal to {maximum}")]
    return []


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _show(value: object) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) > _SHOWN_VALUE_CHARS:
        text = text[: _SHOWN_VALUE_CHARS - 3] + "..."
    return f"'{text}'"
