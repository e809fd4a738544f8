"""Global options, output formats and exit codes, as the AWS CLI has them."""

from __future__ import annotations

import json

import pytest
import yaml

from ivs_revoke.__main__ import main
from ivs_revoke.aws import Aws, AwsOptions
from tests.unit.cli_support import REGION, FakeAws, Reply, Sent, aws_cli, channel, ivs_revoke, shorthand

pytestmark = pytest.mark.unit

OPERATION = "BatchStartViewerSessionRevocation"
PAIRS = [shorthand(channel(), "viewer-0"), shorthand(channel(), "viewer-1", 4)]


def _deny_all(sent: Sent) -> Reply:
    return Reply(
        {
            "errors": [
                {
                    "channelArn": pair["channelArn"],
                    "viewerId": pair["viewerId"],
                    "code": "403",
                    "message": "not authorized",
                }
                for pair in sent.json()["viewerSessions"]
            ]
        }
    )


def _denying() -> FakeAws:
    fake = FakeAws()
    fake.on(OPERATION, _deny_all)
    return fake


def _direct(*extra: str, fake: FakeAws | None = None) -> object:
    return ivs_revoke(["submit", "--direct", "--viewer-sessions", *PAIRS, *extra], fake or _denying())


@pytest.mark.parametrize("output", ["json", "text", "table"])
def test_direct_output_is_what_the_aws_cli_prints_for_the_same_response(output: str) -> None:
    ours = _direct("--output", output, "--color", "off")
    theirs = aws_cli(
        [
            "ivs",
            "batch-start-viewer-session-revocation",
            "--region",
            REGION,
            "--output",
            output,
            "--color",
            "off",
            "--viewer-sessions",
            *PAIRS,
        ],
        _denying(),
    )
    assert ours.code == 1  # some pairs came back in errors
    assert ours.stdout == theirs.stdout


# The security headers the API reference lists in the response; botocore parses them into the
# response as members (`cacheControl`, ...), and the AWS CLI prints them with `errors`.
SECURITY_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=47304000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
}


def _aws_direct_equivalent(fake: FakeAws, *args: str) -> object:
    return aws_cli(
        ["ivs", "batch-start-viewer-session-revocation", "--region", REGION, *args, "--viewer-sessions", *PAIRS], fake
    )


@pytest.mark.parametrize("output", ["json", "text", "table"])
def test_response_headers_are_printed_as_the_aws_cli_prints_them(output: str) -> None:
    def with_headers() -> FakeAws:
        fake = FakeAws()
        fake.on(OPERATION, lambda sent: Reply({"errors": []}, headers=SECURITY_HEADERS))
        return fake

    ours = _direct("--output", output, "--color", "off", fake=with_headers())
    theirs = _aws_direct_equivalent(with_headers(), "--output", output, "--color", "off")
    assert ours.code == theirs.code == 0
    assert ours.stdout == theirs.stdout
    if output == "json":
        assert json.loads(ours.stdout)["cacheControl"] == "no-store"


def test_a_response_without_errors_prints_as_the_aws_cli_prints_it() -> None:
    # An absent `errors` means every pair was accepted; the AWS CLI then prints nothing.
    def empty() -> FakeAws:
        fake = FakeAws()
        fake.on(OPERATION, [Reply({})])
        return fake

    ours = _direct(fake=empty())
    assert ours.code == 0
    assert ours.stdout == _aws_direct_equivalent(empty()).stdout == ""


def test_a_colored_table_is_byte_for_byte_the_aws_cli_s() -> None:
    # The AWS CLI writes a colored table through colorama's autoreset wrapper: a reset after every write.
    ours = _direct("--output", "table", "--color", "on")
    theirs = _aws_direct_equivalent(_denying(), "--output", "table", "--color", "on")
    assert "\x1b[" in ours.stdout
    assert ours.stdout == theirs.stdout


def test_query_is_applied_as_the_aws_cli_applies_it() -> None:
    args = ["--query", "errors[].viewerId", "--output", "json"]
    ours = _direct(*args)
    theirs = aws_cli(
        ["ivs", "batch-start-viewer-session-revocation", "--region", REGION, *args, "--viewer-sessions", *PAIRS],
        _denying(),
    )
    assert ours.stdout == theirs.stdout
    assert json.loads(ours.stdout) == ["viewer-0", "viewer-1"]


def test_yaml_output() -> None:
    result = _direct("--output", "yaml")
    assert result.stdout.startswith("errors:\n- channelArn: ")
    assert yaml.safe_load(result.stdout)["errors"][1] == {
        "channelArn": channel(),
        "viewerId": "viewer-1",
        "code": "403",
        "message": "not authorized",
    }


def test_yaml_stream_output_is_a_list_of_responses() -> None:
    result = ivs_revoke(["submit", "--direct", "--viewer-sessions", *PAIRS, "--output", "yaml-stream"], FakeAws())
    assert result.code == 0
    assert result.stdout == "- errors: []\n"


def test_yaml_output_of_a_query_for_one_string_quotes_it() -> None:
    result = _direct("--output", "yaml", "--query", "errors[0].code")
    assert result.stdout == '"403"\n'


def test_a_bad_query_is_a_usage_error_and_nothing_is_sent() -> None:
    fake = FakeAws()
    result = _direct("--query", "errors[", fake=fake)
    assert result.code == 252
    assert "Bad value for --query" in result.stderr
    assert fake.sent == []


def test_the_profile_s_output_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "text")
    result = _direct()
    assert result.stdout.startswith("ERRORS\t")


def test_global_options_may_come_before_or_after_the_command() -> None:
    before = ivs_revoke(["--output", "text", "submit", "--direct", "--viewer-sessions", *PAIRS], _denying())
    after = _direct("--output", "text")
    assert before.stdout == after.stdout
    assert before.stdout.startswith("ERRORS\t")


def test_an_unknown_profile_is_a_configuration_error() -> None:
    fake = FakeAws()
    result = _direct("--profile", "no-such-profile", fake=fake)
    assert result.code == 253
    assert "no-such-profile" in result.stderr
    assert fake.sent == []


def test_usage_errors_exit_252() -> None:
    for argv in (["submit", "--no-such-option"], ["frobnicate"], ["submit", "--output", "xml"], ["dlq"], []):
        result = ivs_revoke(argv, FakeAws())
        assert result.code == 252, argv
        assert "usage:" in result.stderr


def test_an_endpoint_url_without_scheme_is_a_usage_error() -> None:
    fake = FakeAws()
    result = _direct("--endpoint-url", "localhost:4566", fake=fake)
    assert result.code == 252
    assert "Bad value for --endpoint-url" in result.stderr
    assert fake.sent == []


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert main(["submit", "--help"]) == 0
    assert "--viewer-sessions" in capsys.readouterr().out


def test_no_cli_pager_is_accepted() -> None:
    assert ivs_revoke(["submit", "--direct", "--no-cli-pager", "--viewer-sessions", *PAIRS], FakeAws()).code == 0


def test_debug_logs_the_requests_to_stderr() -> None:
    result = _direct("--debug")
    assert "botocore" in result.stderr and "/BatchStartViewerSessionRevocation" in result.stderr


def test_tls_and_timeout_options_reach_the_client() -> None:
    default = Aws(AwsOptions()).client("sqs", region=REGION)
    assert (default.meta.config.read_timeout, default.meta.config.connect_timeout) == (60, 60)
    assert default._endpoint.http_session._verify is not False  # verified (a bundle from the environment, or certifi)

    client = Aws(AwsOptions(verify_ssl=False, ca_bundle="/ca.pem", read_timeout=0, connect_timeout=3)).client(
        "sqs", region=REGION
    )
    assert client._endpoint.http_session._verify is False  # --no-verify-ssl wins over --ca-bundle
    assert (client.meta.config.read_timeout, client.meta.config.connect_timeout) == (None, 3)

    bundled = Aws(AwsOptions(ca_bundle="/ca.pem")).client("sqs", region=REGION)
    assert bundled._endpoint.http_session._verify == "/ca.pem"


def test_endpoint_url_applies_to_every_client() -> None:
    aws = Aws(AwsOptions(endpoint_url="http://127.0.0.1:5000", region=REGION))
    assert {aws.client(service).meta.endpoint_url for service in ("sqs", "events", "cloudformation", "ivs")} == {
        "http://127.0.0.1:5000"
    }
