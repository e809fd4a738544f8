"""Infra layer: synthesizes the CDK app once per session and hands the templates to the tests.

Two stacks share one synthesis: the default one (cdk.json as it is, what `cdk deploy` deploys) and a
full one with every optional part switched on (schedules, a bus of its own, an e-mail subscription,
listed channels, reserved concurrency, a pinned layer ARN). Synthesis goes through jsii and takes
seconds, so it happens once; the tests read the synthesized templates.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_cdk import App, Aspects
from aws_cdk.assertions import Template
from cdk_nag import WriteNagSuppressionsToCloudFormationAspect

from infra.settings import DeploySettings
from infra.stack import RevocationStack
from tests.infra.support import Synthesis, Synthesized, full_settings


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesis]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir))
    stacks = {
        "default": (DeploySettings.from_cdk_json(), "RevocationStack"),
        "full": (full_settings(), "RevocationStackFull"),
    }
    built = {key: RevocationStack(app, cid, settings=s) for key, (s, cid) in stacks.items()}
    # The acknowledgments are written to template metadata as `cdk deploy` writes them; the packs
    # themselves run in test_nag.py, one report per pack and stack.
    Aspects.of(app).add(WriteNagSuppressionsToCloudFormationAspect())
    assembly = app.synth()

    def synthesized(key: str) -> Synthesized:
        stack = built[key]
        artifact = assembly.get_stack_artifact(stack.artifact_id)
        template_json = artifact.template
        return Synthesized(
            settings=stacks[key][0],
            stack=stack,
            template=Template.from_json(template_json),
            json=template_json,
            template_path=Path(artifact.template_full_path),
        )

    yield Synthesis(default=synthesized("default"), full=synthesized("full"), outdir=outdir)


@pytest.fixture(scope="session")
def default(synthesis: Synthesis) -> Synthesized:
    return synthesis.default


@pytest.fixture(scope="session")
def full(synthesis: Synthesis) -> Synthesized:
    return synthesis.full


@pytest.fixture(params=["default", "full"], scope="session")
def each(request: pytest.FixtureRequest, synthesis: Synthesis) -> Synthesized:
    """Runs a test against both stacks: a property must hold whatever the optional parts."""
    return getattr(synthesis, request.param)
