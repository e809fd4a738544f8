"""`ivs-revoke submit` against the real AWS CLI (the awscli package): same text in, same request out.

Both run in this process; both send to the same recorder (botocore's `before-send`), so what is compared
is the exact HTTP body each would have put on the wire.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.cli_support import REGION, FakeAws, aws_cli, channel, ivs_revoke, shorthand

pytestmark = pytest.mark.unit

AWS_COMMAND = ["ivs", "batch-start-viewer-session-revocation", "--region", REGION]
CHANNEL_A = channel("chanA")
CHANNEL_B = channel("chanB")


def _body_sent_by_aws(args: list[str]) -> bytes:
    fake = FakeAws()
    result = aws_cli([*AWS_COMMAND, *args], fake)
    assert result.code == 0, result.stderr
    [sent] = fake.of("BatchStartViewerSessionRevocation")
    return sent.body


def _bodies_sent_by_us(args: list[str]) -> list[bytes]:
    fake = FakeAws()
    result = ivs_revoke(["submit", "--direct", *args], fake)
    assert result.code == 0, result.stderr
    return [sent.body for sent in fake.of("BatchStartViewerSessionRevocation")]


def test_fake_aws_records_the_request_and_answers_it() -> None:
    fake = FakeAws()
    result = aws_cli(
        [
            "ivs",
            "batch-start-viewer-session-revocation",
            "--region",
            REGION,
            "--viewer-sessions",
            shorthand(channel(), "v1"),
        ],
        fake,
    )
    assert result.code == 0, result.stderr
    assert [sent.operation for sent in fake.sent] == ["BatchStartViewerSessionRevocation"]
    assert fake.sent[0].json() == {"viewerSessions": [{"channelArn": channel(), "viewerId": "v1"}]}
    assert fake.sent[0].region == REGION
    assert json.loads(result.stdout) == {"errors": []}


SHORTHAND = [shorthand(CHANNEL_A, "viewer-1", 7), shorthand(CHANNEL_B, "viewer-2")]
JSON_LIST = json.dumps(
    [
        {"channelArn": CHANNEL_A, "viewerId": "viewer-1", "viewerSessionVersionsLessThanOrEqualTo": 7},
        {"viewerId": "viewer-2", "channelArn": CHANNEL_B},
    ]
)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(SHORTHAND, id="shorthand, two values"),
        pytest.param(SHORTHAND[:1], id="shorthand, one value"),
        pytest.param([JSON_LIST], id="JSON list"),
        pytest.param([json.dumps({"viewerId": "v", "channelArn": CHANNEL_A})], id="one JSON object"),
        pytest.param(
            [
                json.dumps({"channelArn": CHANNEL_A, "viewerId": "v1"}),
                json.dumps({"channelArn": CHANNEL_B, "viewerId": "v2"}),
            ],
            id="JSON objects, one per value",
        ),
        pytest.param([f"  {JSON_LIST}"], id="JSON with leading blanks"),
        pytest.param([shorthand(CHANNEL_A, "ünïcødé-viewer", 2147483647)], id="non-ASCII viewer, largest version"),
    ],
)
def test_viewer_sessions_send_the_body_the_aws_cli_sends(values: list[str]) -> None:
    args = ["--viewer-sessions", *values]
    assert _bodies_sent_by_us(args) == [_body_sent_by_aws(args)]


def test_a_file_value_sends_the_body_the_aws_cli_sends(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    path.write_text(JSON_LIST)
    args = ["--viewer-sessions", f"file://{path}"]
    assert _bodies_sent_by_us(args) == [_body_sent_by_aws(args)]


def test_a_file_holding_one_shorthand_item_is_refused_as_by_the_aws_cli(tmp_path: Path) -> None:
    # The AWS CLI parses a file's shorthand as one structure, not a list, and botocore refuses it.
    path = tmp_path / "sessions.txt"
    path.write_text(SHORTHAND[0])
    fake = FakeAws()
    ours = ivs_revoke(["submit", "--direct", "--viewer-sessions", f"file://{path}"], fake)
    theirs = aws_cli([*AWS_COMMAND, "--viewer-sessions", f"file://{path}"], FakeAws())
    assert theirs.code != 0 and "Parameter validation failed" in theirs.stderr
    assert ours.code == 252 and "viewerSessions: must be a list (got object)" in ours.stderr
    assert fake.sent == []


def test_the_three_syntaxes_send_one_and_the_same_request(tmp_path: Path) -> None:
    same_pairs_as_json = json.dumps(
        [
            {"channelArn": CHANNEL_A, "viewerId": "viewer-1", "viewerSessionVersionsLessThanOrEqualTo": 7},
            {"channelArn": CHANNEL_B, "viewerId": "viewer-2"},
        ]
    )
    path = tmp_path / "sessions.json"
    path.write_text(same_pairs_as_json)
    from_shorthand = _bodies_sent_by_us(["--viewer-sessions", *SHORTHAND])
    assert _bodies_sent_by_us(["--viewer-sessions", same_pairs_as_json]) == from_shorthand
    assert _bodies_sent_by_us(["--viewer-sessions", f"file://{path}"]) == from_shorthand
    assert from_shorthand == [_body_sent_by_aws(["--viewer-sessions", *SHORTHAND])]


def test_cli_input_json_sends_the_body_the_aws_cli_sends(tmp_path: Path) -> None:
    document = json.dumps({"viewerSessions": json.loads(JSON_LIST)})
    path = tmp_path / "input.json"
    path.write_text(document)
    for value in (document, f"file://{path}"):
        args = ["--cli-input-json", value]
        assert _bodies_sent_by_us(args) == [_body_sent_by_aws(args)]


def test_an_explicit_option_overrides_the_input_document_as_in_the_aws_cli() -> None:
    document = json.dumps({"viewerSessions": [{"channelArn": CHANNEL_B, "viewerId": "from-document"}]})
    args = ["--cli-input-json", document, "--viewer-sessions", shorthand(CHANNEL_A, "from-option")]
    ours = _bodies_sent_by_us(args)
    assert ours == [_body_sent_by_aws(args)]
    assert json.loads(ours[0]) == {"viewerSessions": [{"channelArn": CHANNEL_A, "viewerId": "from-option"}]}


def test_cli_input_yaml_sends_what_the_same_document_in_json_sends(tmp_path: Path) -> None:
    path = tmp_path / "input.yaml"
    path.write_text(
        f"viewerSessions:\n- channelArn: {CHANNEL_A}\n  viewerId: viewer-1\n"
        "  viewerSessionVersionsLessThanOrEqualTo: 7\n"
        f"- channelArn: {CHANNEL_B}\n  viewerId: viewer-2\n"
    )
    as_json = json.dumps(
        {
            "viewerSessions": [
                {"channelArn": CHANNEL_A, "viewerId": "viewer-1", "viewerSessionVersionsLessThanOrEqualTo": 7},
                {"channelArn": CHANNEL_B, "viewerId": "viewer-2"},
            ]
        }
    )
    assert _bodies_sent_by_us(["--cli-input-yaml", f"file://{path}"]) == [
        _body_sent_by_aws(["--cli-input-json", as_json])
    ]


def test_the_input_skeleton_is_the_aws_cli_s() -> None:
    ours = ivs_revoke(["submit", "--generate-cli-skeleton"], FakeAws())
    theirs = aws_cli([*AWS_COMMAND, "--generate-cli-skeleton"], FakeAws())
    assert ours.code == theirs.code == 0
    assert ours.stdout == theirs.stdout
    assert ivs_revoke(["submit", "--generate-cli-skeleton", "input"], FakeAws()).stdout == theirs.stdout


def test_the_input_skeleton_is_accepted_back_by_cli_input_json_once_filled_in() -> None:
    skeleton = json.loads(ivs_revoke(["submit", "--generate-cli-skeleton"], FakeAws()).stdout)
    skeleton["viewerSessions"][0].update(channelArn=CHANNEL_A, viewerId="v")
    fake = FakeAws()
    assert ivs_revoke(["submit", "--direct", "--cli-input-json", json.dumps(skeleton)], fake).code == 0
    assert fake.of("BatchStartViewerSessionRevocation")[0].json() == skeleton


@pytest.mark.parametrize("output", ["json", "text", "table"])
def test_the_output_skeleton_is_the_aws_cli_s(output: str) -> None:
    args = ["--viewer-sessions", SHORTHAND[0], "--output", output, "--color", "off"]
    fake = FakeAws()
    ours = ivs_revoke(["submit", "--generate-cli-skeleton", "output", *args], fake)
    theirs = aws_cli([*AWS_COMMAND, "--generate-cli-skeleton", "output", *args], FakeAws())
    assert ours.code == theirs.code == 0
    assert ours.stdout == theirs.stdout
    assert fake.sent == []


def test_the_yaml_input_skeleton_reads_back_as_the_json_one() -> None:
    import yaml

    text = ivs_revoke(["submit", "--generate-cli-skeleton", "yaml-input"], FakeAws()).stdout
    skeleton = json.loads(aws_cli([*AWS_COMMAND, "--generate-cli-skeleton"], FakeAws()).stdout)
    assert yaml.safe_load(text) == skeleton
    assert text.splitlines()[0].startswith("viewerSessions:  # [REQUIRED] ")
    assert "- channelArn: ''  # [REQUIRED] The ARN of the channel" in text


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["channelArn"], "Error parsing parameter '--viewer-sessions': Expected: '='"),
        ([shorthand(CHANNEL_A, "v") + ",viewerSessionVersionsLessThanOrEqualTo=x"], "invalid literal for int()"),
        (["[{bad json"], "Invalid JSON"),
        (["file:///no/such/file.json"], "Unable to load paramfile"),
    ],
)
def test_values_the_aws_cli_cannot_parse_are_refused_with_its_message(values: list[str], message: str) -> None:
    fake = FakeAws()
    ours = ivs_revoke(["submit", "--direct", "--viewer-sessions", *values], fake)
    theirs = aws_cli([*AWS_COMMAND, "--viewer-sessions", *values], FakeAws())
    assert ours.code == 252
    assert message in ours.stderr and message in theirs.stderr
    assert fake.sent == []
