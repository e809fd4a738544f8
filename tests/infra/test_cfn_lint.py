"""cfn-lint on every synthesized template: this session's, and the ones `make synth` wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import lint_file

from tests.infra.support import VARIANTS, Synthesis, cli_templates

pytestmark = pytest.mark.infra


def _findings(template: Path) -> list[str]:
    return [f"{match.rule.id} {match.message} ({match.path})" for match in lint_file(template)]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cfn_lint_reports_nothing_on_the_synthesized_template(synthesis: Synthesis, variant: str) -> None:
    assert _findings(getattr(synthesis, variant).template_path) == []


@pytest.mark.parametrize("template", cli_templates(), ids=lambda path: path.name)
def test_cfn_lint_reports_nothing_on_the_template_make_synth_wrote(template: Path) -> None:
    assert _findings(template) == []


def test_make_synth_wrote_the_stack_template() -> None:
    if not cli_templates():
        pytest.skip("cdk.out/ is empty: `make test` runs `make synth` first")
    assert [path.name for path in cli_templates()] == ["RevocationStack.template.json"]
