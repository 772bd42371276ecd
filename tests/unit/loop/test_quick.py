"""The demo's one entry point: `python -m vigia_loop --quick` hands the quick demo (the model
server alone, no cluster) its own options; the sums it reports from the server's counters."""

from __future__ import annotations

import pytest
import vigia_loop.__main__ as entry
from vigia_loop import quick


def test_quick_takes_the_other_options_wherever_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given: list[list[str]] = []

    def run_quick(argv: list[str]) -> int:
        given.append(argv)
        return 0

    monkeypatch.setattr(quick, "main", run_quick)
    assert entry.main(["--quick", "--rows", "300"]) == 0
    assert entry.main(["--rows", "300", "--quick"]) == 0
    assert given == [["--rows", "300"], ["--rows", "300"]]


def test_the_quick_demo_has_its_own_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        entry.main(["--quick", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: vigia_loop --quick")
    assert "--training-rows" in out


def test_the_cluster_demo_lists_quick(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        entry.main(["--help"])
    out = capsys.readouterr().out
    assert "--quick" in out and "--kubeconfig" in out


def test_a_day_is_the_difference_of_two_scrapes_summed_by_label() -> None:
    good_good = (("actual", "good"), ("predicted", "good"), ("track", "stable"))
    bad_good = (("actual", "defective"), ("predicted", "good"), ("track", "stable"))
    before: dict[str, quick.Counts] = {"confusion": {good_good: 10.0}}
    after: dict[str, quick.Counts] = {"confusion": {good_good: 25.0, bad_good: 3.0}}
    day = quick._delta(after, before)
    assert day == {"confusion": {good_good: 15.0, bad_good: 3.0}}
    assert quick._by(day["confusion"], "actual", "predicted") == {
        ("good", "good"): 15.0, ("defective", "good"): 3.0,
    }
    assert quick._by(day["confusion"], "track") == {("stable",): 18.0}
