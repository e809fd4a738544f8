"""`ivs-revoke submit` refuses a body with a repeated key, in every input that can hold one.

`{"viewerId": "first", "viewerId": "second"}` means "second" to the AWS CLI's JSON parser and to PyYAML
alike; a repeated version lowers what is revoked. Whatever the value kept, it may not be the one meant:
the command refuses it with exit 252, naming the item and the key, before anything is sent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.unit.cli_support import FakeAws, aws_cli, channel, ivs_revoke, shorthand

pytestmark = pytest.mark.unit

QUEUE_URL = "https://sqs.us-west-2.amazonaws.com/123456789012/revocations"
SEND = ["submit", "--queue-url", QUEUE_URL, "--region", "us-west-2"]
GOOD = f'{{"channelArn": "{channel()}", "viewerId": "good"}}'
REPEATED_VIEWER = f'{{"channelArn": "{channel()}", "viewerId": "first", "viewerId": "second"}}'
REPEATED_VERSION = (
    f'{{"channelArn": "{channel()}", "viewerId": "v", '
    '"viewerSessionVersionsLessThanOrEqualTo": 9, "viewerSessionVersionsLessThanOrEqualTo": 1}'
)


def _refused(argv: list[str], problem: str) -> None:
    fake = FakeAws()
    result = ivs_revoke(argv, fake)
    assert result.code == 252, result.stderr
    assert result.stderr.splitlines() == ["ivs-revoke: invalid input, nothing was sent:", f"  {problem}"]
    assert fake.sent == []


def test_the_aws_cli_itself_keeps_the_last_of_a_repeated_key() -> None:
    # Why the check exists: the AWS CLI sends "second", silently.
    fake = FakeAws()
    argv = ["ivs", "batch-start-viewer-session-revocation", "--region", "us-west-2"]
    result = aws_cli([*argv, "--viewer-sessions", f"[{GOOD}, {REPEATED_VIEWER}]"], fake)
    assert result.code == 0, result.stderr
    assert fake.sent[0].json()["viewerSessions"][1]["viewerId"] == "second"
    # PyYAML, which reads --cli-input-yaml, does the same.
    assert yaml.safe_load("viewerId: first\nviewerId: second\n") == {"viewerId": "second"}


def test_a_json_list_with_a_repeated_key_is_refused_naming_the_item_and_the_key() -> None:
    _refused([*SEND, "--viewer-sessions", f"[{GOOD}, {REPEATED_VIEWER}]"], "viewerSessions[1]: repeated key 'viewerId'")


def test_a_repeated_version_is_refused_rather_than_lowered() -> None:
    _refused(
        [*SEND, "--viewer-sessions", f"[{REPEATED_VERSION}]"],
        "viewerSessions[0]: repeated key 'viewerSessionVersionsLessThanOrEqualTo'",
    )


def test_json_objects_given_one_per_value_are_numbered_by_their_position() -> None:
    _refused(
        [*SEND, "--viewer-sessions", GOOD, GOOD, REPEATED_VIEWER],
        "viewerSessions[2]: repeated key 'viewerId'",
    )


def test_a_file_with_a_repeated_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wave.json"
    path.write_text(f"[{GOOD}, {GOOD}, {REPEATED_VIEWER}]")
    _refused([*SEND, "--viewer-sessions", f"file://{path}"], "viewerSessions[2]: repeated key 'viewerId'")


def test_a_key_repeated_deeper_in_an_item_is_refused_too() -> None:
    nested = f'{{"channelArn": "{channel()}", "viewerId": "v", "extra": {{"a": 1, "a": 2}}}}'
    _refused([*SEND, "--viewer-sessions", f"[{nested}]"], "viewerSessions[0].extra: repeated key 'a'")


def test_cli_input_json_with_a_repeated_key_is_refused(tmp_path: Path) -> None:
    document = f'{{"viewerSessions": [{GOOD}, {REPEATED_VIEWER}]}}'
    _refused([*SEND, "--cli-input-json", document], "viewerSessions[1]: repeated key 'viewerId'")
    path = tmp_path / "request.json"
    path.write_text(document)
    _refused([*SEND, "--cli-input-json", f"file://{path}"], "viewerSessions[1]: repeated key 'viewerId'")
    # At the top of the document the option names it.
    top = f'{{"viewerSessions": [{GOOD}], "viewerSessions": [{GOOD}]}}'
    _refused([*SEND, "--cli-input-json", top], "--cli-input-json: repeated key 'viewerSessions'")


def test_cli_input_json_is_checked_even_where_an_option_overrides_its_sessions() -> None:
    document = f'{{"viewerSessions": [{REPEATED_VIEWER}]}}'
    _refused(
        [*SEND, "--viewer-sessions", shorthand(channel(), "v"), "--cli-input-json", document],
        "viewerSessions[0]: repeated key 'viewerId'",
    )


def test_cli_input_yaml_with_a_repeated_key_is_refused(tmp_path: Path) -> None:
    document = (
        "viewerSessions:\n"
        f"- channelArn: {channel()}\n"
        "  viewerId: good\n"
        f"- channelArn: {channel()}\n"
        "  viewerId: v\n"
        "  viewerSessionVersionsLessThanOrEqualTo: 9\n"
        "  viewerSessionVersionsLessThanOrEqualTo: 1\n"
    )
    problem = "viewerSessions[1]: repeated key 'viewerSessionVersionsLessThanOrEqualTo'"
    _refused([*SEND, "--cli-input-yaml", document], problem)
    path = tmp_path / "request.yaml"
    path.write_text(document)
    _refused([*SEND, "--cli-input-yaml", f"file://{path}"], problem)
    top = f"viewerSessions: []\nviewerSessions:\n- channelArn: {channel()}\n  viewerId: v\n"
    _refused([*SEND, "--cli-input-yaml", top], "--cli-input-yaml: repeated key 'viewerSessions'")


def test_yaml_merge_keys_and_anchors_are_not_repeated_keys() -> None:
    # `<<: *base` brings keys that the mapping's own override, as YAML defines; an alias used twice is
    # the same mapping twice, not a mapping with a key twice.
    document = (
        f"base: &base {{channelArn: '{channel()}', viewerId: a}}\n"
        "viewerSessions:\n"
        "- *base\n"
        "- *base\n"
        "- <<: *base\n"
        "  viewerId: b\n"
    )
    fake = FakeAws()
    result = ivs_revoke([*SEND, "--cli-input-yaml", document], fake)
    # Read as YAML without complaint; refused only for the unknown top-level key, as the AWS CLI would.
    assert result.code == 252
    assert 'Unknown parameter in input: "base"' in result.stderr
    assert "repeated" not in result.stderr


def test_yaml_with_distinct_keys_is_read_as_before() -> None:
    document = (
        f"viewerSessions:\n- channelArn: {channel()}\n  viewerId: v\n  viewerSessionVersionsLessThanOrEqualTo: 3\n"
    )
    fake = FakeAws()
    result = ivs_revoke([*SEND, "--cli-input-yaml", document], fake)
    assert result.code == 0, result.stderr
    [entry] = fake.of("SendMessageBatch")[0].json()["Entries"]
    assert json.loads(entry["MessageBody"])["viewerSessions"] == [
        {"channelArn": channel(), "viewerId": "v", "viewerSessionVersionsLessThanOrEqualTo": 3}
    ]


@pytest.mark.parametrize(
    "where", [["--direct"], ["--event-bus", "b"], ["--generate-cli-skeleton", "output"]], ids=lambda w: w[0]
)
def test_every_destination_refuses_it_before_sending(where: list[str]) -> None:
    argv = ["submit", *where, "--region", "us-west-2", "--viewer-sessions", f"[{REPEATED_VIEWER}]"]
    _refused(argv, "viewerSessions[0]: repeated key 'viewerId'")


def test_a_repeated_key_in_shorthand_is_refused_by_the_aws_cli_s_own_parser() -> None:
    fake = FakeAws()
    result = ivs_revoke([*SEND, "--viewer-sessions", f"channelArn={channel()},viewerId=a,viewerId=b"], fake)
    assert result.code == 252
    assert 'Second instance of key "viewerId"' in result.stderr
    assert fake.sent == []
