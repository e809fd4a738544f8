"""Infra layer: synthesizes the CDK app once per session and hands the templates to the tests.

Three stacks share one synthesis: the default one (cdk.json as it is, what `cdk deploy` deploys), a
full one with every optional part switched on (schedules, a bus of its own, an e-mail subscription,
listed channels, listed producers, reserved concurrency, a pinned layer ARN), and a regional one
(every channel of two listed regions, an existing bus, three instances, one listed producer).
Synthesis goes through jsii and takes seconds, so it happens once; the tests read the synthesized
templates.
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
from tests.infra.support import VARIANTS, Synthesis, Synthesized


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesis]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir))
    settings = {name: DeploySettings.from_cdk_json(overrides=context) for name, context in VARIANTS.items()}
    stacks = {name: RevocationStack(app, f"Stack-{name}", settings=settings[name]) for name in VARIANTS}
    # The acknowledgments are written to template metadata as `cdk synth` writes them; the packs
    # themselves run in test_nag.py, one report per pack and stack.
    Aspects.of(app).add(WriteNagSuppressionsToCloudFormationAspect())
    assembly = app.synth()

    def synthesized(name: str) -> Synthesized:
        artifact = assembly.get_stack_artifact(stacks[name].artifact_id)
        return Synthesized(
            settings=settings[name],
            stack=stacks[name],
            template=Template.from_json(artifact.template),
            json=artifact.template,
            template_path=Path(artifact.template_full_path),
        )

    yield Synthesis(**{name: synthesized(name) for name in VARIANTS}, outdir=outdir)


@pytest.fixture(scope="session")
def default(synthesis: Synthesis) -> Synthesized:
    return synthesis.default


@pytest.fixture(scope="session")
def full(synthesis: Synthesis) -> Synthesized:
    return synthesis.full


@pytest.fixture(scope="session")
def regional(synthesis: Synthesis) -> Synthesized:
    return synthesis.regional


@pytest.fixture(params=list(VARIANTS), scope="session")
def each(request: pytest.FixtureRequest, synthesis: Synthesis) -> Synthesized:
    """Runs a test against every stack: a property must hold whatever the optional parts."""
    return getattr(synthesis, request.param)
