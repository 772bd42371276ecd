from __future__ import annotations

from vigia_operator import conditions as c


def test_transition_time_moves_only_when_status_changes() -> None:
    first = c.merge([], [c.Condition(c.READY, "False", "RollingOut", "0/1")], now="t1",
                    generation=1)
    same = c.merge(first, [c.Condition(c.READY, "False", "RollingOut", "1/2")], now="t2",
                   generation=2)
    assert same[0]["lastTransitionTime"] == "t1"
    assert same[0]["message"] == "1/2"
    assert same[0]["observedGeneration"] == 2
    flipped = c.merge(same, [c.Condition(c.READY, "True", "Available", "ok")], now="t3",
                      generation=2)
    assert flipped[0]["lastTransitionTime"] == "t3"


def test_other_conditions_are_kept() -> None:
    previous = [{"type": "Drifted", "status": "True", "reason": "PSI", "message": "",
                 "lastTransitionTime": "t0"}]
    merged = c.merge(previous, [c.Condition(c.READY, "True", "Available", "")], now="t1",
                     generation=None)
    assert [m["type"] for m in merged] == ["Drifted", c.READY]
    assert "observedGeneration" not in merged[1]


def test_find_and_is_true() -> None:
    conds = [{"type": c.READY, "status": "True"}, {"type": c.DEGRADED, "status": "False"}]
    assert c.is_true(conds, c.READY)
    assert not c.is_true(conds, c.DEGRADED)
    assert not c.is_true(conds, c.PROGRESSING)
    assert c.find(conds, "Nope") is None


def test_reasons_are_camel_case() -> None:
    reasons = [v for k, v in vars(c).items() if k.startswith("REASON_")]
    assert reasons and all(r[0].isupper() and r.isalnum() for r in reasons)
