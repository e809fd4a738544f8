"""Many accounts in the template: the functions may assume exactly the listed member roles, and the member
role (its own stack, infra/member.py) trusts only the functions' roles and may only revoke."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.app import build
from infra.member import MEMBER_STACK_NAME, MemberStack
from infra.nag import nag_packs
from infra.settings import DeploySettings, DeploySettingsError
from ivs_revocation import names
from tests.infra.support import Synthesized

pytestmark = pytest.mark.infra

REVOKERS = [
    "arn:aws:iam::999999999999:role/IvsRevocation-FunctionRole-AAAA",
    "arn:aws:iam::999999999999:role/IvsRevocation-UrgentFunctionRole-BBBB",
]
ORG = "o-abcdefghij"


def _statements(s: Synthesized, sid: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in s.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == sid
    ]


def _role_arn(account: str, name: str = names.DEFAULT_MEMBER_ROLE_NAME) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{account}:role/{name}"]]}


def test_each_function_may_assume_exactly_the_listed_member_roles(full: Synthesized) -> None:
    statements = _statements(full, "AssumeMemberRoles")

    assert len(statements) == 2  # both lanes' roles
    for statement in statements:
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Resource"] == [_role_arn(account) for account in full.settings.member_accounts]


def test_no_member_accounts_no_sts_permission(default: Synthesized) -> None:
    actions = [
        statement["Action"]
        for policy in default.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert not any("sts:" in str(action) for action in actions)


def test_the_functions_get_the_member_settings(full: Synthesized) -> None:
    for function in full.resources("AWS::Lambda::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables[names.ENV_IVS_ACCOUNTS] == "111111111111,222222222222"
        assert variables[names.ENV_IVS_MEMBER_ROLE_NAME] == names.DEFAULT_MEMBER_ROLE_NAME


@pytest.fixture(scope="module")
def member() -> tuple[MemberStack, Template]:
    app = App(context={"member": "true", "revokerRoleArns": ",".join(REVOKERS), "memberOrganizationId": ORG})
    stack = build(app, DeploySettings.from_cdk_json(overrides={"ivsRegions": ["us-west-2", "eu-west-1"]}))
    assert isinstance(stack, MemberStack)
    return stack, Template.from_stack(stack)


def test_the_member_role_is_trusted_by_the_functions_roles_only_within_the_organization(
    member: tuple[MemberStack, Template],
) -> None:
    stack, template = member
    [role] = template.find_resources("AWS::IAM::Role").values()
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert stack.stack_name == MEMBER_STACK_NAME
    assert role["Properties"]["RoleName"] == names.DEFAULT_MEMBER_ROLE_NAME
    assert {statement["Principal"]["AWS"] for statement in trust} == set(REVOKERS)
    for statement in trust:
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}


def test_the_member_role_may_only_revoke_on_its_own_accounts_channels_in_the_listed_regions(
    member: tuple[MemberStack, Template],
) -> None:
    _, template = member
    [role] = template.find_resources("AWS::IAM::Role").values()
    [policy] = role["Properties"]["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]

    assert sorted(statement["Action"]) == sorted([f"ivs:{names.OPERATION_BATCH}", f"ivs:{names.OPERATION_SINGLE}"])
    assert statement["Resource"] == [
        {
            "Fn::Join": [
                "",
                ["arn:", {"Ref": "AWS::Partition"}, f":ivs:{region}:", {"Ref": "AWS::AccountId"}, ":channel/*"],
            ]
        }
        for region in ("us-west-2", "eu-west-1")
    ]
    assert template.find_resources("AWS::IAM::Policy") == {}  # nothing else granted
    assert template.find_resources("AWS::IAM::ManagedPolicy") == {}


@pytest.mark.parametrize("pack", [0, 1], ids=["AwsSolutions", "Serverless"])
def test_the_member_stack_has_no_unacknowledged_finding(member: tuple[MemberStack, Template], pack: int) -> None:
    stack, _ = member
    report = nag_packs()[pack].validate_scope(stack)
    assert [violation.rule_name for violation in report.violations] == []


@pytest.mark.parametrize(
    "context",
    [{"revokerRoleArns": ""}, {"revokerRoleArns": "arn:aws:iam::999999999999:root"}, {"memberOrganizationId": "org"}],
)
def test_the_member_stack_refuses_a_trust_that_is_not_role_arns(context: dict[str, str]) -> None:
    app = App(context={"member": "true", "revokerRoleArns": REVOKERS[0], **context})
    with pytest.raises(DeploySettingsError):
        build(app, DeploySettings.from_cdk_json())
