from __future__ import annotations

from vigia_operator.core import reasons
from vigia_operator.status import conditions as c


def test_transition_time_moves_only_when_status_changes() -> None:
    first = c.merge([], [c.Condition(reasons.READY, "False", "RollingOut", "0/1")], now="t1",
                    generation=1)
    same = c.merge(first, [c.Condition(reasons.READY, "False", "RollingOut", "1/2")], now="t2",
                   generation=2)
    assert same[0]["lastTransitionTime"] == "t1"
    assert same[0]["message"] == "1/2"
    assert same[0]["observedGeneration"] == 2
    flipped = c.merge(same, [c.Condition(reasons.READY, "True", "Available", "ok")], now="t3",
                      generation=2)
    assert flipped[0]["lastTransitionTime"] == "t3"


def test_other_conditions_are_kept() -> None:
    previous = [{"type": "Drifted", "status": "True", "reason": "PSI", "message": "",
                 "lastTransitionTime": "t0"}]
    merged = c.merge(previous, [c.Condition(reasons.READY, "True", "Available", "")], now="t1",
                     generation=None)
    assert [m["type"] for m in merged] == ["Drifted", reasons.READY]
    assert "observedGeneration" not in merged[1]


def test_find() -> None:
    conds = [{"type": reasons.READY, "status": "True"},
             {"type": reasons.DEGRADED, "status": "False"}]
    assert (c.find(conds, reasons.READY) or {}).get("status") == "True"
    assert (c.find(conds, reasons.DEGRADED) or {}).get("status") == "False"
    assert c.find(conds, reasons.PROGRESSING) is None
    assert c.find(conds, "Nope") is None


def test_the_catalogue_is_camel_case_and_unique() -> None:
    names = {k: v for k, v in vars(reasons).items()
             if k.isupper() and isinstance(v, str) and k != "ConditionStatus"}
    assert len(names) > 30
    assert all(v[0].isupper() and v.isalnum() for v in names.values()), names
    # A name means one thing: two constants with one value only where they are the same word.
    by_value: dict[str, list[str]] = {}
    for key, value in names.items():
        by_value.setdefault(value, []).append(key)
    assert all(len(keys) == 1 or value in ("Ready", "Progressing", "Degraded")
               for value, keys in by_value.items()), by_value
