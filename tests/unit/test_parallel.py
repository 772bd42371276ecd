"""How scripts/test shares the tests out among pytest-xdist workers (tests/fixtures/parallel)."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.parallel import E2E, SLOW, rank, unit_of

ROOT = Path(__file__).resolve().parents[2]


def test_the_e2e_tier_is_one_unit_and_any_other_file_is_its_own() -> None:
    assert unit_of("tests/e2e/test_node.py::test_a") == unit_of("tests/e2e/test_serving.py::b")
    assert unit_of("tests/e2e/test_node.py::test_a") == E2E
    assert unit_of("tests/unit/core/test_cli.py::test_x[1]") == "tests/unit/core/test_cli.py"
    assert unit_of("tests/integration/serving/test_server.py::test_probes[sqlite]") == (
        "tests/integration/serving/test_server.py")


def test_the_longest_units_go_first() -> None:
    order = [E2E, *SLOW, "tests/integration/core/test_bundle_s3.py", "tests/unit/test_x.py"]
    assert sorted(order, key=rank) == order


def test_every_listed_slow_file_exists() -> None:
    """A renamed file would silently lose its place at the front."""
    assert [path for path in SLOW if not (ROOT / path).is_file()] == []
