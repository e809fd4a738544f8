"""The CDK entry point reads the one settings model from context, as `cdk deploy -c key=value` sets it."""

from __future__ import annotations

import pytest
from aws_cdk import App

from infra.app import settings_from
from infra.settings import DeploySettings, DeploySettingsError

pytestmark = pytest.mark.infra


def test_app_context_overrides_reach_the_settings() -> None:
    app = App(context={"maxConcurrency": "4", "batchSize": "40"})

    settings = settings_from(app)

    assert (settings.max_concurrency, settings.batch_size) == (4, 40)
    assert settings.ivs_calls_per_second == 0.5


def test_app_without_context_takes_the_defaults() -> None:
    assert settings_from(App()) == DeploySettings()


def test_app_refuses_inconsistent_context_naming_the_setting() -> None:
    with pytest.raises(DeploySettingsError, match="visibilityTimeoutSeconds"):
        settings_from(App(context={"visibilityTimeoutSeconds": "60"}))


def test_app_refuses_a_mistyped_setting_and_suggests_the_right_one() -> None:
    with pytest.raises(DeploySettingsError, match=r"unknown setting: maxConcurency \(did you mean maxConcurrency\?\)"):
        settings_from(App(context={"maxConcurency": "4"}))


def test_app_leaves_the_cdks_own_context_keys_alone() -> None:
    app = App(context={"@aws-cdk/core:newStyleStackSynthesis": True, "acknowledged-issue-numbers": [1]})

    assert settings_from(app) == DeploySettings()
