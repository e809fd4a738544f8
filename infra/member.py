"""The member-account role: what each member account deploys so that the pipeline may revoke there.

`MemberRole` is the role `memberRoleName` (default IvsRevocationMember): trusted by the revoking
functions' roles only (their ARNs, optionally also required to be of one organization with
`aws:PrincipalOrgID`), allowed only the two revocation operations on this account's channels (in
`ivsRegions` when set, else every region). `MemberStack` holds just it. Its template names no account
of its own (`${AWS::AccountId}`), so one synthesized template deploys to every member account, with
`cdk deploy -c member=true` per account or as a CloudFormation StackSet (docs/many-accounts.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.channels import channel_arns
from infra.nag import acknowledge, nag_form
from infra.settings import DeploySettings, DeploySettingsError
from ivs_revocation import names

MEMBER_STACK_ID = "MemberStack"
MEMBER_STACK_NAME = "IvsRevocationMember"
# Context keys of the member app (`cdk deploy -c member=true -c revokerRoleArns=...`).
CONTEXT_MEMBER = "member"
CONTEXT_REVOKER_ROLE_ARNS = "revokerRoleArns"
CONTEXT_ORGANIZATION_ID = "memberOrganizationId"
MEMBER_CONTEXT_KEYS = frozenset({CONTEXT_MEMBER, CONTEXT_REVOKER_ROLE_ARNS, CONTEXT_ORGANIZATION_ID})
# The only actions the member role grants: the two revocation operations, nothing else of IVS.
REVOCATION_ACTIONS = (f"ivs:{names.OPERATION_BATCH}", f"ivs:{names.OPERATION_SINGLE}")
# arn:<partition>:iam::<12 digits>:role/<path and name>: a role, never an account root or a wildcard.
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$"
ORGANIZATION_ID_PATTERN = r"^o-[a-z0-9]{10,32}$"
OUTPUT_MEMBER_ROLE_ARN = "MemberRoleArn"


class MemberRole(Construct):
    """The role the revoking functions assume in a member account."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        revoker_role_arns: Sequence[str],
        regions: Sequence[str] = (),
        organization_id: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not revoker_role_arns:
            raise DeploySettingsError(f"{CONTEXT_REVOKER_ROLE_ARNS}: name the revoking functions' role ARNs")
        for arn in revoker_role_arns:
            if not re.fullmatch(ROLE_ARN_PATTERN, arn):
                raise DeploySettingsError(f"{CONTEXT_REVOKER_ROLE_ARNS}: {arn!r} is not an IAM role ARN")
        if organization_id is not None and not re.fullmatch(ORGANIZATION_ID_PATTERN, organization_id):
            raise DeploySettingsError(f"{CONTEXT_ORGANIZATION_ID}: {organization_id!r} is not an organization id")
        principals: list[iam.IPrincipal] = [iam.ArnPrincipal(arn) for arn in revoker_role_arns]
        if organization_id is not None:
            principals = [
                iam.PrincipalWithConditions(principal, {"StringEquals": {"aws:PrincipalOrgID": organization_id}})
                for principal in principals
            ]
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.CompositePrincipal(*principals),
            description="Lets the IVS revocation pipeline's functions revoke viewer sessions of this account",
            # Role chaining caps an assumed session at one hour anyway: the function asks for 3600 s.
            inline_policies={
                "RevokeViewerSessions": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="RevokeViewerSessions",
                            actions=list(REVOCATION_ACTIONS),
                            resources=channel_arns(Stack.of(self), regions),
                        )
                    ]
                )
            },
        )
        for arn in channel_arns(Stack.of(self), regions):
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::{nag_form(Stack.of(self), arn)}]",
                "Revocation targets any channel of this account (in the listed regions), and channels are "
                "created at run time; the only actions granted are the two revocation operations.",
            )


class MemberStack(Stack):
    """A member account's stack: the member role only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        revoker_role_arns: Sequence[str],
        organization_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=MEMBER_STACK_NAME,
            description="IVS revocation pipeline: the role its functions assume in this member account",
            **kwargs,
        )
        member = MemberRole(
            self,
            "MemberRole",
            role_name=settings.member_role_name,
            revoker_role_arns=revoker_role_arns,
            regions=settings.ivs_regions,
            organization_id=organization_id,
        )
        CfnOutput(self, OUTPUT_MEMBER_ROLE_ARN, value=member.role.role_arn, description="The member role")


def member_context(context: Mapping[str, Any]) -> tuple[bool, list[str], str | None]:
    """Whether the app is the member app, the revokers' role ARNs, and the organization id, from context."""
    member = str(context.get(CONTEXT_MEMBER, "")).lower() in ("true", "1", "yes")
    arns = context.get(CONTEXT_REVOKER_ROLE_ARNS) or []
    if isinstance(arns, str):
        arns = [arn.strip() for arn in arns.split(",") if arn.strip()]
    organization = context.get(CONTEXT_ORGANIZATION_ID) or None
    return member, list(arns), organization
