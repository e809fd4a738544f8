"""Builds the CDK app from its context: the settings model, the stack, and the cdk-nag checks."""

from __future__ import annotations

from aws_cdk import App

from infra.nag import add_nag_checks
from infra.settings import DeploySettings
from infra.stack import RevocationStack


def settings_from(app: App) -> DeploySettings:
    """The settings from cdk.json context and `-c key=value` overrides (the CLI merges both).

    All of the context, so that a mistyped setting is refused; null means the default.
    """
    context = app.node.get_all_context()
    return DeploySettings.from_context({key: value for key, value in context.items() if value is not None})


def build(app: App, settings: DeploySettings | None = None) -> RevocationStack:
    stack = RevocationStack(app, "RevocationStack", settings=settings or settings_from(app))
    add_nag_checks(app)
    return stack
