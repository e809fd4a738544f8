"""The function and its event source mapping, read from the synthesized templates."""

from __future__ import annotations

import re

import pytest

from infra.constants import ASSET_EXCLUDE, LAMBDA_SRC, PROJECT_ROOT
from infra.settings import IVS_ACCOUNT_QUOTA_CALLS_PER_SECOND
from revocation import names
from tests.infra.support import Synthesis, Synthesized, get_att, ref

pytestmark = pytest.mark.infra


def _function(s: Synthesized) -> dict:
    return s.only("AWS::Lambda::Function")[1]["Properties"]


def _environment(s: Synthesized) -> dict:
    return _function(s)["Environment"]["Variables"]


def _mapping(s: Synthesized) -> dict:
    return s.only("AWS::Lambda::EventSourceMapping")[1]["Properties"]


def test_function_runs_python_3_13_on_arm64(each: Synthesized) -> None:
    function = _function(each)

    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]


def test_function_handler_is_the_shared_handler_path(each: Synthesized) -> None:
    assert _function(each)["Handler"] == names.HANDLER


def test_powertools_layer_is_resolved_from_its_published_ssm_parameter_by_default(default: Synthesized) -> None:
    (layer,) = _function(default)["Layers"]
    parameter = default.json["Parameters"][layer["Ref"]]

    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": f"/aws/service/powertools/python/arm64/python3.13/{default.settings.powertools_version}",
    }


def test_powertools_layer_arn_from_settings_is_used_as_given(full: Synthesized) -> None:
    assert _function(full)["Layers"] == [full.settings.powertools_layer_arn]


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
    assert "revocation/handler.py" in shipped
    assert not [p for p in shipped if "__pycache__" in p or p.endswith(".pyc")], ASSET_EXCLUDE


def test_function_memory_and_timeout_come_from_settings(each: Synthesized) -> None:
    function = _function(each)

    assert function["MemorySize"] == each.settings.function_memory_mb
    assert function["Timeout"] == each.settings.function_timeout_seconds


def test_function_traces_with_xray_active(each: Synthesized) -> None:
    assert _function(each)["TracingConfig"] == {"Mode": "Active"}


def test_function_logs_to_its_own_log_group_with_retention_from_settings(each: Synthesized) -> None:
    log_group_id, log_group = each.only("AWS::Logs::LogGroup")

    assert _function(each)["LoggingConfig"] == {"LogGroup": ref(log_group_id)}
    assert log_group["Properties"]["RetentionInDays"] == each.settings.log_retention_days


def test_environment_holds_exactly_the_variables_the_function_reads(each: Synthesized) -> None:
    assert set(_environment(each)) == {
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
    }


def test_environment_dead_letter_queue_url_is_the_redrive_target(each: Synthesized) -> None:
    _, queue = next((k, v) for k, v in each.resources("AWS::SQS::Queue").items() if "RedrivePolicy" in v["Properties"])
    dlq_id = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]

    assert _environment(each)[names.ENV_DEAD_LETTER_QUEUE_URL] == ref(dlq_id)


def test_environment_source_queue_url_is_the_queue_the_mapping_drains(each: Synthesized) -> None:
    mapping = each.only("AWS::Lambda::EventSourceMapping")[1]
    queue_id = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]

    assert _environment(each)[names.ENV_SOURCE_QUEUE_URL] == ref(queue_id)


def test_environment_max_receive_count_equals_the_redrive_policy(each: Synthesized) -> None:
    redrives = [
        v["Properties"]["RedrivePolicy"]
        for v in each.resources("AWS::SQS::Queue").values()
        if "RedrivePolicy" in v["Properties"]
    ]

    assert _environment(each)[names.ENV_MAX_RECEIVE_COUNT] == str(redrives[0]["maxReceiveCount"])


def test_environment_calls_per_second_is_the_quota_shared_by_maximum_concurrency(each: Synthesized) -> None:
    rate = float(_environment(each)[names.ENV_IVS_CALLS_PER_SECOND])
    concurrency = _mapping(each)["ScalingConfig"]["MaximumConcurrency"]

    assert rate == each.settings.account_quota_calls_per_second / concurrency
    assert rate * concurrency <= IVS_ACCOUNT_QUOTA_CALLS_PER_SECOND


def test_environment_time_budget_comes_from_settings(each: Synthesized) -> None:
    environment = _environment(each)

    assert float(environment[names.ENV_IVS_CALL_TIMEOUT_SECONDS]) == each.settings.ivs_call_timeout_seconds
    assert float(environment[names.ENV_TIME_SAFETY_MARGIN_SECONDS]) == each.settings.time_safety_margin_seconds
    assert int(environment[names.ENV_IVS_MAX_ATTEMPTS]) == each.settings.ivs_max_attempts


def test_environment_names_the_powertools_service_namespace_and_log_level(each: Synthesized) -> None:
    environment = _environment(each)

    assert environment["POWERTOOLS_SERVICE_NAME"] == names.SERVICE_NAME
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == names.METRICS_NAMESPACE
    assert environment["POWERTOOLS_LOG_LEVEL"] == each.settings.log_level


def test_mapping_reads_the_source_queue_into_the_function(each: Synthesized) -> None:
    mapping = _mapping(each)

    assert mapping["EventSourceArn"] == get_att(each.logical_id(each.stack.queues.queue))
    assert mapping["FunctionName"] == ref(each.only("AWS::Lambda::Function")[0])


def test_mapping_reports_batch_item_failures(each: Synthesized) -> None:
    assert _mapping(each)["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_mapping_batch_size_and_window_come_from_settings(each: Synthesized) -> None:
    mapping = _mapping(each)

    assert mapping["BatchSize"] == each.settings.batch_size
    assert mapping["MaximumBatchingWindowInSeconds"] == each.settings.max_batching_window_seconds


def test_mapping_maximum_concurrency_comes_from_settings(each: Synthesized) -> None:
    assert _mapping(each)["ScalingConfig"] == {"MaximumConcurrency": each.settings.max_concurrency}


def test_function_has_no_reserved_concurrency_by_default(default: Synthesized) -> None:
    assert "ReservedConcurrentExecutions" not in _function(default)


def test_reserved_concurrency_when_set_is_not_below_maximum_concurrency(full: Synthesized) -> None:
    reserved = _function(full)["ReservedConcurrentExecutions"]

    assert reserved == full.settings.reserved_concurrency
    assert reserved >= _mapping(full)["ScalingConfig"]["MaximumConcurrency"]


def test_function_waits_for_its_policy_but_lists_no_redundant_dependency(each: Synthesized) -> None:
    function_id, function = each.only("AWS::Lambda::Function")
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policy_ids = [k for k, v in each.resources("AWS::IAM::Policy").items() if ref(role_id) in v["Properties"]["Roles"]]

    assert function["DependsOn"] == policy_ids, function_id
