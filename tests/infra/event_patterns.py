"""EventBridge's event pattern matching, for the operators the stack's rules use.

TestEventPattern needs AWS, and the local stack's matcher is moto's, not AWS's: this follows the
EventBridge user guide ("Event pattern syntax", "Comparison operators"; the Event Ruler library's
README for the details). A field of the pattern must be in the event, except for `exists: false`;
values in a list are alternatives; an event array matches if any of its values does; `exists` and
`anything-but` see leaf values only, so an object where the pattern expects a leaf counts as absent.
An operator not listed here raises, so that a rule using one cannot pass untested.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    return all(_field(rule, event, key) for key, rule in pattern.items())


def _field(rule: Any, event: Mapping[str, Any], key: str) -> bool:
    value = event.get(key, _ABSENT)
    if isinstance(rule, Mapping):
        return matches(rule, value if isinstance(value, Mapping) else {})
    leaves = _leaves(value)
    return any(_alternative(alternative, leaves) for alternative in rule)


def _leaves(value: Any) -> list[Any]:
    if value is _ABSENT or isinstance(value, Mapping):
        return []
    if isinstance(value, list):
        return [item for item in value if not isinstance(item, Mapping | list)]
    return [value]


def _alternative(alternative: Any, leaves: list[Any]) -> bool:
    if not isinstance(alternative, Mapping):
        return alternative in leaves
    ((operator, argument),) = alternative.items()
    if operator == "exists":
        return bool(leaves) is argument
    if operator == "anything-but":
        excluded = argument if isinstance(argument, list) else [argument]
        # Only a value that is there can be "anything but": an absent field matches nothing.
        return any(leaf not in excluded for leaf in leaves)
    raise NotImplementedError(f"the test matcher does not implement {operator!r}")


_ABSENT = object()
