"""The urgent lane warm on request: provisioned concurrency on an alias, or SnapStart, invoked by the mapping."""

from __future__ import annotations

from typing import Any

import pytest

from infra.constants import URGENT_ALIAS
from infra.settings import DeploySettings, DeploySettingsError
from ivs_revocation import names
from tests.infra.support import Synthesized


def _urgent_function_id(synthesized: Synthesized) -> str:
    return synthesized.logical_id(synthesized.lane_function(names.LANE_URGENT).function)


def _mapping(synthesized: Synthesized, lane: str) -> dict[str, Any]:
    mapping = synthesized.lane_function(lane).event_source_mapping
    return synthesized.json["Resources"][synthesized.stack.get_logical_id(mapping)]


def invokes_alias(function_name: Any, alias_id: str) -> bool:
    """A mapping's FunctionName that names the alias: the CDK writes "<function name>:<alias>", the name
    taken from the alias's ARN."""
    parts = function_name["Fn::Join"][1]
    return parts[1] == f":{URGENT_ALIAS}" and parts[0]["Fn::Select"][1]["Fn::Split"][1] == {"Ref": alias_id}


def _aliases(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return synthesized.resources("AWS::Lambda::Alias")


def test_default_stack_has_no_alias_and_maps_the_function_itself(default: Synthesized) -> None:
    assert _aliases(default) == {}
    assert _mapping(default, names.LANE_URGENT)["Properties"]["FunctionName"] == {"Ref": _urgent_function_id(default)}
    assert "SnapStart" not in default.resource(default.lane_function(names.LANE_URGENT).function)["Properties"]


def test_provisioned_concurrency_is_an_alias_on_a_published_version_that_the_urgent_mapping_invokes(
    full: Synthesized,
) -> None:
    (alias_id, alias), *others = _aliases(full).items()
    assert others == []
    properties = alias["Properties"]
    assert properties["Name"] == URGENT_ALIAS
    assert properties["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": 1}
    version_id = properties["FunctionVersion"]["Fn::GetAtt"][0]
    version = full.json["Resources"][version_id]
    assert version["Type"] == "AWS::Lambda::Version"
    assert version["Properties"]["FunctionName"] == {"Ref": _urgent_function_id(full)}
    assert invokes_alias(_mapping(full, names.LANE_URGENT)["Properties"]["FunctionName"], alias_id)


def test_bulk_lane_stays_on_its_function_whatever_the_urgent_settings(full: Synthesized, regional: Synthesized) -> None:
    for synthesized in (full, regional):
        bulk = synthesized.logical_id(synthesized.lane_function(names.LANE_BULK).function)
        assert _mapping(synthesized, names.LANE_BULK)["Properties"]["FunctionName"] == {"Ref": bulk}


def test_snap_start_on_published_versions_and_the_mapping_invokes_the_alias(regional: Synthesized) -> None:
    function = regional.resource(regional.lane_function(names.LANE_URGENT).function)
    assert function["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    (alias_id, alias), *others = _aliases(regional).items()
    assert others == []
    assert "ProvisionedConcurrencyConfig" not in alias["Properties"]
    assert invokes_alias(_mapping(regional, names.LANE_URGENT)["Properties"]["FunctionName"], alias_id)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"urgentSnapStart": "true", "urgentProvisionedConcurrency": "1"},
            "urgentSnapStart and urgentProvisionedConcurrency (1) exclude each other",
        ),
        (
            {"urgentProvisionedConcurrency": "3", "urgentMaxConcurrency": "2"},
            "urgentProvisionedConcurrency (3) must not exceed urgentMaxConcurrency (2)",
        ),
    ],
)
def test_rejects_warm_path_settings_that_cannot_work(overrides: dict[str, str], expected: str) -> None:
    with pytest.raises(DeploySettingsError) as error:
        DeploySettings.from_cdk_json(overrides=overrides)
    assert expected in str(error.value)


def test_a_negative_provisioned_concurrency_names_the_setting() -> None:
    with pytest.raises(DeploySettingsError) as error:
        DeploySettings.from_cdk_json(overrides={"urgentProvisionedConcurrency": "-1"})
    assert "urgentProvisionedConcurrency" in str(error.value)
