"""The test matcher of event patterns agrees with the EventBridge user guide's own examples."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.event_patterns import matches

pytestmark = pytest.mark.infra

EVENT = {"source": "aws.ec2", "detail": {"state": "running", "c-count": 5, "nested": {"c1": 100}}}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["aws.ec2", "aws.fargate"]}, True),
        ({"source": ["aws.s3"]}, False),
        # Every field of the pattern must be in the event.
        ({"detail": {"missing": ["running"]}}, False),
        ({"detail": {"state": [{"anything-but": "initializing"}]}}, True),
        ({"detail": {"state": [{"anything-but": ["running", "stopped"]}]}}, False),
        ({"detail": {"missing": [{"anything-but": "initializing"}]}}, False),
        ({"detail": {"c-count": [{"exists": True}]}}, True),
        ({"detail": {"missing": [{"exists": False}]}}, True),
        ({"detail": {"state": [{"exists": False}]}}, False),
        # exists sees leaves only: an object there counts as absent.
        ({"detail": {"nested": [{"exists": False}]}}, True),
        ({"detail": {"missing": [{"anything-but": "x"}, {"exists": False}]}}, True),
    ],
)
def test_matcher_follows_the_documented_rules(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, EVENT) is expected


def test_an_event_array_matches_if_any_of_its_values_does() -> None:
    event = {"resources": ["arn:a", "arn:b"]}

    assert matches({"resources": ["arn:b"]}, event)
    assert not matches({"resources": ["arn:c"]}, event)


def test_an_operator_the_matcher_does_not_know_is_refused() -> None:
    with pytest.raises(NotImplementedError, match="prefix"):
        matches({"source": [{"prefix": "aws."}]}, EVENT)
