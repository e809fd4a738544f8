"""How the tests are spread over pytest-xdist's workers (tests/conftest.py)."""

from __future__ import annotations

from tests.conftest import INFRA_SCOPE, priority, scope_of


def test_a_modules_tests_are_one_unit_whatever_their_parameters() -> None:
    ids = [
        "tests/integration/test_fault_matrix.py::test_every_valid_pair[no fault]",
        "tests/integration/test_fault_matrix.py::test_the_fault_did_happen[errors [403 naming no pair]]",
        "tests/integration/test_fault_matrix.py::test_x[a::b@c]",
    ]
    assert {scope_of(nodeid) for nodeid in ids} == {"tests/integration/test_fault_matrix.py"}
    assert scope_of("tests/unit/test_plan.py::Test::test_y") == "tests/unit/test_plan.py"


def test_the_template_tests_are_one_unit_so_the_app_is_synthesized_once() -> None:
    assert {scope_of("tests/infra/test_nag.py::test_a"), scope_of("tests/infra/test_iam.py::test_b")} == {INFRA_SCOPE}


def test_integration_modules_go_first_then_the_templates_then_unit_modules_larger_first() -> None:
    units = {
        "tests/unit/test_plan.py": 90,
        "tests/integration/test_demo.py": 2,
        INFRA_SCOPE: 60,
        "tests/integration/test_fault_matrix.py": 150,
        "tests/unit/test_settle.py": 10,
    }
    ordered = sorted(units, key=lambda scope: priority(scope, units[scope]), reverse=True)
    assert ordered == [
        "tests/integration/test_fault_matrix.py",
        "tests/integration/test_demo.py",
        INFRA_SCOPE,
        "tests/unit/test_plan.py",
        "tests/unit/test_settle.py",
    ]
