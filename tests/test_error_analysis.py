"""Error-analysis tables on hand-made run artifacts (no model, no sandbox)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from cetd_lib.evaluation import error_analysis as ea

NAN = float("nan")


def _record(app, member, counts, pass_rate, *, run=True, files=None):
    per_test = {
        f"tests/test_{app}.py::t{i}_{j}": {
            "passed": False,
            "failure_class": cls,
            "outcome": "failed",
            "detail": f"{cls} detail",
            "duration_s": 0.0,
        }
        for i, (cls, k) in enumerate(counts.items())
        for j in range(k)
    }
    return {
        "app_id": app,
        "member": member,
        "sample": 0,
        "completion": "raw output",
        "files": files or {},
        "score": {"pass_rate": pass_rate, "failure_counts": counts, "detail": "no code block"},
        "run": {"per_test": per_test, "log_tail": "E   assert 1 == 2"} if run else None,
    }


def _evaluation(source, rates, failures, members):
    return {
        "source": source,
        "pass_rates": rates,
        "failure_counts": failures,
        "requirements": {a: [f"{a} does things."] for a in rates},
        "reconstruction": {
            "apps": [
                {"app_id": a, "member_pass_rate": {m: r[a] for m, r in members.items()}}
                for a in rates
            ]
        },
    }


GOLD = ea.SourceRun.from_dicts(
    _evaluation(
        "gold",
        {"a": 1.0, "b": 0.5, "c": None},
        {"ASSERTION_FAILURE": 2},
        {"m1": {"a": 1.0, "b": 1.0, "c": None}, "m2": {"a": 1.0, "b": 0.0, "c": None}},
    ),
    {
        "records": [
            _record("a", "m1", {}, 1.0),
            _record("b", "m2", {"ASSERTION_FAILURE": 2}, 0.0, files={"b.py": "x = 1\n"}),
        ]
    },
)
LEVEL3 = ea.SourceRun.from_dicts(
    _evaluation(
        "level3",
        {"a": 0.0, "b": 0.0, "c": 0.25},
        {"EMPTY_GENERATION": 3, "MISSING_SYMBOL": 3, "ASSERTION_FAILURE": 1},
        {"m1": {"a": 0.0, "b": 0.0, "c": 0.25}},
    ),
    {
        "records": [
            _record("a", "m1", {"EMPTY_GENERATION": 3}, 0.0, run=False),
            _record("b", "m1", {"MISSING_SYMBOL": 3}, 0.0),
            _record("c", "m1", {"ASSERTION_FAILURE": 1}, 0.25),
        ]
    },
)
PHASE2 = ea.SourceRun.from_dicts(  # a phase2 run: no records
    _evaluation("model", {"a": 0.0}, {"SYNTAX_ERROR": 4}, {"m1": {"a": 0.0}})
)
RUNS = {"gold": GOLD, "level3": LEVEL3}


def test_from_dicts_reads_nulls_as_nan():
    assert math.isnan(GOLD.pass_rates["c"]) and GOLD.pass_rate == 0.75
    m2 = GOLD.member_pass_rates["m2"]
    assert (m2["a"], m2["b"]) == (1.0, 0.0) and math.isnan(m2["c"])


def test_failure_table_orders_classes_by_total():
    table = ea.failure_table(RUNS)
    # totals: ASSERTION_FAILURE 3, EMPTY_GENERATION 3, MISSING_SYMBOL 3 -> ties by name
    assert list(table["gold"]) == ["ASSERTION_FAILURE", "EMPTY_GENERATION", "MISSING_SYMBOL"]
    assert table["gold"] == {"ASSERTION_FAILURE": 2, "EMPTY_GENERATION": 0, "MISSING_SYMBOL": 0}
    assert ea.shares(table["level3"]) == pytest.approx(
        {"ASSERTION_FAILURE": 1 / 7, "EMPTY_GENERATION": 3 / 7, "MISSING_SYMBOL": 3 / 7}
    )
    assert ea.shares({}) == {}


def test_reward_hack_suspects_are_counted_per_source_zero_included():
    assert ea.reward_hack_suspects(RUNS) == {name: 0 for name in RUNS}
    runs = dict(RUNS)
    runs["gold"] = replace(
        runs["gold"], failure_counts={**runs["gold"].failure_counts, "REWARD_HACK_SUSPECT": 3}
    )
    assert ea.reward_hack_suspects(runs)["gold"] == 3
    assert "REWARD_HACK_SUSPECT" in ea.failure_table(runs)["gold"]


def test_worst_apps_average_over_sources_and_skip_nan():
    worst = ea.worst_apps(RUNS, n=2)
    # a: (1 + 0) / 2 = 0.5; b: (0.5 + 0) / 2 = 0.25; c: only level3 = 0.25 -> tie, by id
    assert [(w["app_id"], w["mean_pass_rate"]) for w in worst] == [("b", 0.25), ("c", 0.25)]


def test_levels_and_members():
    assert [ea.level_of(s) for s in ("level1", "level3", "gold", "phase1")] == [1, 3, 4, None]
    levels = ea.by_level({**RUNS, "model": PHASE2})
    assert list(levels) == [3, 4] and levels[3]["pass_rate"] == pytest.approx(0.25 / 3)
    members = ea.by_member({**RUNS, "model": PHASE2})
    assert members["gold"]["m2"] == {
        "pass_rate": 0.5,
        "failure_counts": {"ASSERTION_FAILURE": 2},
    }
    assert members["gold"]["m1"]["failure_counts"] == {}
    assert members["model"]["m1"]["failure_counts"] is None  # no records: unknown, not zero


def test_dominant_failure_and_test_output():
    assert ea.dominant_failure(_record("a", "m", {}, 1.0)) == ea.PASSED
    both = _record("a", "m", {"TIMEOUT": 1, "ASSERTION_FAILURE": 1}, 0.0)
    assert ea.dominant_failure(both) == "ASSERTION_FAILURE"  # tie: alphabetical
    not_run = _record("a", "m", {"EMPTY_GENERATION": 2}, 0.0, run=False)
    assert ea.render_test_output(not_run) == "no test ran (EMPTY_GENERATION): no code block"
    text = ea.render_test_output(_record("b", "m", {"MISSING_SYMBOL": 3}, 0.0), max_tests=2)
    assert "MISSING_SYMBOL: MISSING_SYMBOL detail" in text
    assert "1 more failing tests" in text and "assert 1 == 2" in text


def test_sample_examples_cover_classes_first():
    examples = ea.sample_examples(RUNS, n=4)
    # ASSERTION_FAILURE (2 samples), then EMPTY_GENERATION, MISSING_SYMBOL (1 each, by name)
    assert [e.failure for e in examples] == [
        "ASSERTION_FAILURE",
        "EMPTY_GENERATION",
        "MISSING_SYMBOL",
        "ASSERTION_FAILURE",
    ]
    first = examples[0]
    assert (first.source, first.app_id, first.member) == ("gold", "b", "m2")
    rendered = first.render()
    assert "b does things." in rendered and "# file: b.py" in rendered
    assert "**requirements**" in rendered
    assert "**code given (level 3)**" in examples[1].render()
    assert ea.sample_examples({"model": PHASE2}, n=3) == []
    long = examples[1].render(max_chars=5)
    assert "(cut)" in long


def test_load_run_round_trips_json(tmp_path):
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    evaluation = _evaluation("gold", {"a": 1.0, "b": None}, {}, {"m": {"a": 1.0, "b": None}})
    (artifacts / "evaluation-gold.json").write_text(json.dumps(evaluation))
    (artifacts / "reconstruction-gold.json").write_text(
        json.dumps({"records": [_record("a", "m", {}, 1.0)]})
    )
    (artifacts / "evaluation-phase1.json").write_text(
        json.dumps(_evaluation("phase1", {"a": 0.0}, {"NO_REQUIREMENTS": 1}, {"m": {"a": 0.0}}))
    )
    runs = ea.load_run(tmp_path)
    assert set(runs) == {"gold", "phase1"}
    assert len(runs["gold"].records) == 1 and runs["phase1"].records == ()
    assert math.isnan(runs["gold"].pass_rates["b"])
    with pytest.raises(FileNotFoundError, match="analysis_run_id"):
        ea.load_run(tmp_path / "elsewhere")


def test_markdown_table():
    assert ea.markdown_table(["a", "b"], [["x", 0.5], ["y", NAN]]) == (
        "| a | b |\n|---|---|\n| x | 0.500 |\n| y | — |"
    )
