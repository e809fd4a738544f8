"""The function and its event source mapping, read from the synthesized templates."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.constants import ASSET_EXCLUDE, LAMBDA_SRC, PROJECT_ROOT
from infra.settings import IVS_ACCOUNT_QUOTA_CALLS_PER_SECOND, IVS_SINGLE_QUOTA_CALLS_PER_SECOND, DeploySettings
from infra.stack import RevocationStack
from ivs_revocation import names
from tests.infra.support import CHANNEL_EU, CHANNEL_US, Synthesis, Synthesized, get_att, ref

pytestmark = pytest.mark.infra

BULK, URGENT = names.LANE_BULK, names.LANE_URGENT
# What both lanes' functions read.
SHARED_VARIABLES = {
    names.ENV_DEAD_LETTER_QUEUE_URL,
    names.ENV_SOURCE_QUEUE_URL,
    names.ENV_MAX_RECEIVE_COUNT,
    names.ENV_IVS_CALLS_PER_SECOND,
    names.ENV_IVS_MAX_ATTEMPTS,
    names.ENV_IVS_CALL_TIMEOUT_SECONDS,
    names.ENV_TIME_SAFETY_MARGIN_SECONDS,
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    names.ENV_IVS_REGIONS,
    names.ENV_OUTCOME_EVENT_BUS_NAME,
}
# Set only for a stack with memberAccounts (test_member.py checks their values).
MEMBER_VARIABLES = {names.ENV_IVS_ACCOUNTS, names.ENV_IVS_MEMBER_ROLE_NAME}


def _shared(each: Synthesized) -> set[str]:
    return SHARED_VARIABLES | (MEMBER_VARIABLES if each.settings.member_accounts else set())


@pytest.fixture(params=list(names.LANES))
def lane(request: pytest.FixtureRequest) -> str:
    """Runs a test for both lanes' functions: what they share must hold for each."""
    return str(request.param)


def _function_id(s: Synthesized, lane: str = BULK) -> str:
    return s.logical_id(s.lane_function(lane).function)


def _function(s: Synthesized, lane: str = BULK) -> dict:
    return s.json["Resources"][_function_id(s, lane)]["Properties"]


def _environment(s: Synthesized, lane: str = BULK) -> dict:
    return _function(s, lane)["Environment"]["Variables"]


def _mapping(s: Synthesized, lane: str = BULK) -> dict:
    mapping = s.lane_function(lane).event_source_mapping
    return s.json["Resources"][s.stack.get_logical_id(mapping)]["Properties"]


def test_one_function_and_one_mapping_per_lane(each: Synthesized) -> None:
    assert set(each.resources("AWS::Lambda::Function")) == {_function_id(each, lane) for lane in names.LANES}
    assert len(each.resources("AWS::Lambda::EventSourceMapping")) == len(names.LANES)


def test_function_runs_python_3_13_on_arm64(each: Synthesized, lane: str) -> None:
    function = _function(each, lane)

    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]


def test_function_handler_is_the_shared_handler_path(each: Synthesized, lane: str) -> None:
    assert _function(each, lane)["Handler"] == names.HANDLER


def test_both_lanes_run_the_same_code_asset_and_layer(each: Synthesized) -> None:
    bulk, urgent = _function(each, BULK), _function(each, URGENT)

    assert bulk["Code"] == urgent["Code"]
    assert bulk["Layers"] == urgent["Layers"]


def test_powertools_layer_is_resolved_from_its_published_ssm_parameter_by_default(
    default: Synthesized, lane: str
) -> None:
    (layer,) = _function(default, lane)["Layers"]
    parameter = default.json["Parameters"][layer["Ref"]]

    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": f"/aws/service/powertools/python/arm64/python3.13/{default.settings.powertools_version}",
    }


def test_powertools_layer_arn_from_settings_is_used_as_given(full: Synthesized, lane: str) -> None:
    assert _function(full, lane)["Layers"] == [full.settings.powertools_layer_arn]


def test_powertools_layer_release_matches_the_pinned_package() -> None:
    from infra.settings import DeploySettings

    pin = re.search(r"^aws-lambda-powertools\[[^\]]*\]==(\S+)$", (PROJECT_ROOT / "requirements.txt").read_text(), re.M)

    assert pin is not None
    assert DeploySettings.from_cdk_json().powertools_version == pin.group(1)


def test_function_code_is_the_lambda_src_folder_only(synthesis: Synthesis) -> None:
    key = _function(synthesis.default)["Code"]["S3Key"]
    asset = synthesis.outdir / f"asset.{key.removesuffix('.zip')}"
    expected = {
        path.relative_to(LAMBDA_SRC).as_posix()
        for path in LAMBDA_SRC.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }

    shipped = {path.relative_to(asset).as_posix() for path in asset.rglob("*") if path.is_file()}

    assert shipped == expected
    assert "ivs_revocation/handler.py" in shipped
    assert not [p for p in shipped if "__pycache__" in p or p.endswith(".pyc")], ASSET_EXCLUDE


def test_function_memory_and_timeout_come_from_settings(each: Synthesized) -> None:
    function = _function(each)

    assert function["MemorySize"] == each.settings.function_memory_mb
    assert function["Timeout"] == each.settings.function_timeout_seconds


def test_urgent_function_timeout_is_its_own_setting(synthesis: Synthesis) -> None:
    for s in synthesis.all:
        function = _function(s, URGENT)
        assert function["MemorySize"] == s.settings.function_memory_mb
        assert function["Timeout"] == s.settings.urgent_function_timeout_seconds
    assert (
        synthesis.default.settings.urgent_function_timeout_seconds
        != synthesis.default.settings.function_timeout_seconds
    )


def test_function_traces_with_xray_active(each: Synthesized, lane: str) -> None:
    assert _function(each, lane)["TracingConfig"] == {"Mode": "Active"}


def test_function_logs_to_its_own_log_group_with_retention_from_settings(each: Synthesized, lane: str) -> None:
    log_group_id = each.logical_id(each.lane_function(lane).log_group)
    log_group = each.json["Resources"][log_group_id]

    assert _function(each, lane)["LoggingConfig"] == {"LogGroup": ref(log_group_id)}
    assert log_group["Properties"]["RetentionInDays"] == each.settings.log_retention_days
    assert len(each.resources("AWS::Logs::LogGroup")) == len(names.LANES)


def test_environment_holds_exactly_the_variables_the_function_reads(each: Synthesized) -> None:
    assert set(_environment(each)) == _shared(each)


def test_urgent_environment_adds_the_lane_its_bound_and_the_bulk_queue(each: Synthesized) -> None:
    environment = _environment(each, URGENT)

    assert set(environment) == _shared(each) | {
        names.ENV_LANE,
        names.ENV_MAX_PAIRS_PER_MESSAGE,
        names.ENV_BULK_QUEUE_URL,
    }
    assert environment[names.ENV_LANE] == URGENT
    assert environment[names.ENV_MAX_PAIRS_PER_MESSAGE] == str(each.settings.urgent_max_pairs_per_message)
    # The rest of a large urgent message goes to the queue the bulk mapping drains.
    assert environment[names.ENV_BULK_QUEUE_URL] == ref(each.lane_queue_id(BULK))


def test_environment_dead_letter_queue_url_is_the_redrive_target(each: Synthesized, lane: str) -> None:
    queue = each.json["Resources"][each.lane_queue_id(lane)]
    dlq_id = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]

    assert _environment(each, lane)[names.ENV_DEAD_LETTER_QUEUE_URL] == ref(dlq_id)


def test_environment_source_queue_url_is_the_queue_the_mapping_drains(each: Synthesized, lane: str) -> None:
    queue_id = _mapping(each, lane)["EventSourceArn"]["Fn::GetAtt"][0]

    assert queue_id == each.lane_queue_id(lane)
    assert _environment(each, lane)[names.ENV_SOURCE_QUEUE_URL] == ref(queue_id)


def test_environment_max_receive_count_equals_the_redrive_policy(each: Synthesized, lane: str) -> None:
    redrive = each.json["Resources"][each.lane_queue_id(lane)]["Properties"]["RedrivePolicy"]

    assert _environment(each, lane)[names.ENV_MAX_RECEIVE_COUNT] == str(redrive["maxReceiveCount"])


def test_environment_calls_per_second_is_the_quota_shared_by_maximum_concurrency(each: Synthesized) -> None:
    rate = float(_environment(each)[names.ENV_IVS_CALLS_PER_SECOND])
    concurrency = _mapping(each)["ScalingConfig"]["MaximumConcurrency"]

    assert rate == each.settings.account_quota_calls_per_second / concurrency
    assert rate * concurrency <= IVS_ACCOUNT_QUOTA_CALLS_PER_SECOND


def test_urgent_calls_per_second_is_the_single_quota_shared_by_urgent_maximum_concurrency(each: Synthesized) -> None:
    rate = float(_environment(each, URGENT)[names.ENV_IVS_CALLS_PER_SECOND])
    concurrency = _mapping(each, URGENT)["ScalingConfig"]["MaximumConcurrency"]

    assert rate == each.settings.urgent_calls_per_second / concurrency
    assert rate * concurrency <= IVS_SINGLE_QUOTA_CALLS_PER_SECOND


def test_environment_time_budget_comes_from_settings(each: Synthesized, lane: str) -> None:
    environment = _environment(each, lane)

    assert float(environment[names.ENV_IVS_CALL_TIMEOUT_SECONDS]) == each.settings.ivs_call_timeout_seconds
    assert float(environment[names.ENV_TIME_SAFETY_MARGIN_SECONDS]) == each.settings.time_safety_margin_seconds
    assert int(environment[names.ENV_IVS_MAX_ATTEMPTS]) == each.settings.ivs_max_attempts


def test_environment_ivs_regions_is_the_stack_s_own_region_when_the_settings_name_none(
    default: Synthesized, lane: str
) -> None:
    assert (default.settings.ivs_regions, default.settings.channel_arns) == ([], [])
    assert _environment(default, lane)[names.ENV_IVS_REGIONS] == {"Ref": "AWS::Region"}


def test_environment_ivs_regions_is_the_ivs_regions_setting(
    regional: Synthesized, full: Synthesized, lane: str
) -> None:
    # The full stack lists channels too: ivsRegions, when set, is the scope.
    for stack in (regional, full):
        assert stack.settings.ivs_regions == ["us-east-1", "eu-west-1"]
        assert _environment(stack, lane)[names.ENV_IVS_REGIONS] == "us-east-1,eu-west-1"


# Channels listed, ivsRegions not: the scope is their regions, each once, in the order first named.
CHANNEL_EU_2 = "arn:aws:ivs:eu-west-1:123456789012:channel/secondEU42"


@pytest.fixture(scope="module")
def channels_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[RevocationStack, dict[str, Any]]:
    settings = DeploySettings.from_cdk_json(
        overrides={
            "stackName": "IvsRevocationChannels",
            "channelArns": json.dumps([CHANNEL_EU, CHANNEL_US, CHANNEL_EU_2]),
        }
    )
    stack = RevocationStack(App(outdir=str(tmp_path_factory.mktemp("cdk.out"))), "Channels", settings=settings)
    return stack, Template.from_stack(stack).to_json()


def test_environment_ivs_regions_is_the_regions_of_the_channel_arns_setting(
    channels_only: tuple[RevocationStack, dict[str, Any]], lane: str
) -> None:
    stack, template = channels_only
    construct = {BULK: stack.function, URGENT: stack.urgent_function}[lane]
    function = template["Resources"][stack.get_logical_id(construct.function.node.default_child)]

    assert stack.settings.ivs_regions == []
    assert function["Properties"]["Environment"]["Variables"][names.ENV_IVS_REGIONS] == "eu-west-1,us-east-1"


def test_environment_names_the_powertools_service_namespace_and_log_level(each: Synthesized, lane: str) -> None:
    environment = _environment(each, lane)

    assert environment["POWERTOOLS_SERVICE_NAME"] == names.SERVICE_NAME
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == names.METRICS_NAMESPACE
    assert environment["POWERTOOLS_LOG_LEVEL"] == each.settings.log_level


def test_mapping_reads_the_lanes_queue_into_the_lanes_function(each: Synthesized, lane: str) -> None:
    mapping = _mapping(each, lane)

    assert mapping["EventSourceArn"] == get_att(each.lane_queue_id(lane))
    if lane == names.LANE_URGENT and each.settings.urgent_published:  # the alias: tests/infra/test_urgent_warm_path.py
        assert ":live" in str(mapping["FunctionName"])
    else:
        assert mapping["FunctionName"] == ref(_function_id(each, lane))


def test_mapping_reports_batch_item_failures(each: Synthesized, lane: str) -> None:
    assert _mapping(each, lane)["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_mapping_batch_size_and_window_come_from_settings(each: Synthesized) -> None:
    mapping = _mapping(each)

    assert mapping["BatchSize"] == each.settings.batch_size
    assert mapping["MaximumBatchingWindowInSeconds"] == each.settings.max_batching_window_seconds


def test_urgent_mapping_has_no_batching_window_and_its_own_batch_size(each: Synthesized) -> None:
    mapping = _mapping(each, URGENT)

    assert mapping["MaximumBatchingWindowInSeconds"] == 0
    assert mapping["BatchSize"] == each.settings.urgent_batch_size <= 10


def test_mapping_maximum_concurrency_comes_from_settings(each: Synthesized) -> None:
    assert _mapping(each)["ScalingConfig"] == {"MaximumConcurrency": each.settings.max_concurrency}


def test_urgent_mapping_maximum_concurrency_is_its_own_setting(each: Synthesized) -> None:
    assert _mapping(each, URGENT)["ScalingConfig"] == {"MaximumConcurrency": each.settings.urgent_max_concurrency}


def test_function_has_no_reserved_concurrency_by_default(default: Synthesized, lane: str) -> None:
    assert "ReservedConcurrentExecutions" not in _function(default, lane)


def test_reserved_concurrency_when_set_is_not_below_maximum_concurrency(full: Synthesized) -> None:
    reserved = _function(full)["ReservedConcurrentExecutions"]

    assert reserved == full.settings.reserved_concurrency
    assert reserved >= _mapping(full)["ScalingConfig"]["MaximumConcurrency"]


def test_reserved_concurrency_is_the_bulk_functions_only(full: Synthesized) -> None:
    # The bulk lane's cap must not starve the fast lane, nor the fast lane be throttled by it.
    assert "ReservedConcurrentExecutions" not in _function(full, URGENT)


def test_function_waits_for_its_policy_but_lists_no_redundant_dependency(each: Synthesized, lane: str) -> None:
    function_id = _function_id(each, lane)
    function = each.json["Resources"][function_id]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policy_ids = [k for k, v in each.resources("AWS::IAM::Policy").items() if ref(role_id) in v["Properties"]["Roles"]]

    assert function["DependsOn"] == policy_ids, function_id
