"""Builds the CDK app from its context: the settings model, the stack, and the cdk-nag checks.

With `-c member=true` the app is the member account's instead: the member role's stack
(infra/member.py), trusting the role ARNs of `-c revokerRoleArns=...`.
"""

from __future__ import annotations

from aws_cdk import App, Stack

from infra.member import MEMBER_CONTEXT_KEYS, MEMBER_STACK_ID, MemberStack, member_context
from infra.nag import add_nag_checks
from infra.settings import DeploySettings
from infra.stack import RevocationStack


def settings_from(app: App) -> DeploySettings:
    """The settings from cdk.json context and `-c key=value` overrides (the CLI merges both).

    All of the context, so that a mistyped setting is refused; null means the default. The member
    app's own keys are not settings.
    """
    context = app.node.get_all_context()
    return DeploySettings.from_context(
        {key: value for key, value in context.items() if value is not None and key not in MEMBER_CONTEXT_KEYS}
    )


def build(app: App, settings: DeploySettings | None = None) -> Stack:
    settings = settings or settings_from(app)
    member, revoker_role_arns, organization_id = member_context(app.node.get_all_context())
    stack: Stack
    if member:
        stack = MemberStack(
            app,
            MEMBER_STACK_ID,
            settings=settings,
            revoker_role_arns=revoker_role_arns,
            organization_id=organization_id,
        )
    else:
        stack = RevocationStack(app, "RevocationStack", settings=settings)
    add_nag_checks(app)
    return stack
