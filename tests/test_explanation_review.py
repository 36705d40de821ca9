"""The hook from the multi-task model's explanations into the blind review tool."""

import json
from pathlib import Path

import pytest

from cetd_lib.__main__ import main
from cetd_lib.multitask.evaluation.explanation_review import (
    attach_rating,
    explanation_context,
    explanation_material,
    explanation_rating,
    find_multitask_run,
    stored_explanation_ratings,
)
from cetd_lib.review import (
    Rating,
    ReviewConfig,
    ReviewSession,
    ReviewSourceError,
    ReviewStore,
    summarize,
)

ROOT = Path(__file__).resolve().parents[1]
CRITERIA = ("correctness", "clarity", "helpfulness")


def fake_samples(n: int = 3) -> list[dict]:
    """Explanation samples as the trainer saves them (results.json -> explanation.samples)."""
    return [
        {
            "id": f"explain-{i:06d}",
            "tool": "ruff",
            "rule": "F401",
            "code": f"    {i + 1} | import os{i}",
            "finding": f"ruff F401 at line {i + 1}: `os{i}` imported but unused",
            "generated": f"Reasoning: line {i + 1} imports os{i}.\nExplanation: model {i}.",
            "reference": f"Reasoning: line {i + 1} (`import os{i}`) matches ruff rule F401.\n"
            "Explanation: Unused imports add noise.",
        }
        for i in range(n)
    ]


def test_context_is_split_out_of_an_explanation_record():
    record = {  # the data build's format (cetd_lib.multitask.data.explain.explanation_record)
        "id": "explain-000007",
        "group": "g",
        "tool": "bandit",
        "code": "B101",
        "input": "   11 | x = 1\n   12 | assert x\n\nFinding: bandit B101 at line 12: assert used",
        "target": "Reasoning: ...\nExplanation: ...",
    }
    assert explanation_context(record) == {
        "id": "explain-000007",
        "tool": "bandit",
        "rule": "B101",
        "code": "   11 | x = 1\n   12 | assert x",
        "finding": "bandit B101 at line 12: assert used",
    }


def test_material_from_samples_shows_code_and_finding_as_context():
    material = explanation_material(fake_samples(), origin="multitask-x")
    assert material.kind == "explanation" and material.origin == "multitask-x"
    assert material.sources == ["model", "reference"]
    assert material.requirements["model"]["explain-000001"] == [
        "Reasoning: line 2 imports os1.",
        "Explanation: model 1.",
    ]
    assert material.requirements["reference"]["explain-000000"][1].startswith("Explanation:")
    context = material.code["explain-000002"]
    assert context.startswith("Finding: ruff F401 at line 3") and "3 | import os2" in context
    assert "3 explanation(s) of run multitask-x" in material.note

    old = [{"generated": "x", "reference": "y"}]  # a results.json from before the context
    with pytest.raises(ReviewSourceError, match=r"no \['id', 'tool', 'rule', 'code'"):
        explanation_material(old)
    with pytest.raises(ReviewSourceError, match="occurs twice"):
        explanation_material(fake_samples(1) * 2)
    with pytest.raises(ReviewSourceError, match="no explanation samples"):
        explanation_material([])


def _rating(item, model_scores, *, model_left=True, status="submitted", repeat_of=None, rater="r1"):
    reference = dict.fromkeys(CRITERIA, 1)
    model = dict(zip(CRITERIA, model_scores, strict=True))
    left, right = ("model", "reference") if model_left else ("reference", "model")
    return Rating(
        session_id="s",
        rater_id=rater,
        item_id=item,
        app_id=item.split("~")[0],
        repeat_of=repeat_of,
        left_source=left,
        right_source=right,
        scores={"left": model if model_left else reference,
                "right": reference if model_left else model},
        preference="left",
        status=status,
        kind="explanation",
    )  # fmt: skip


def test_rating_is_the_mean_of_the_model_side_over_criteria_and_first_showings():
    ratings = [
        _rating("a", (4, 3, 5)),
        _rating("b", (2, 3, 4), model_left=False),  # the model on the right counts the same
        _rating("a~repeat", (1, 1, 1), repeat_of="a"),  # a repeat: self-consistency only
        _rating("c", (5, 5, 5), status="draft"),  # not submitted
        _rating("d", (5, 5, 5), status="skipped"),
    ]
    rating = explanation_rating(ratings, target=3.5)
    # (4+3+5 + 2+3+4) / 6 = 3.5, which is not above the target
    assert rating["value"] == pytest.approx(3.5) and rating["status"] == "missed"
    assert rating["n"] == 2 and rating["raters"] == ["r1"]
    assert rating["per_criterion"] == pytest.approx(
        {"correctness": 3.0, "clarity": 3.0, "helpfulness": 4.5}
    )
    assert rating["target"] == 3.5 and rating["what"] == "mean human rating of explanations"

    rating = explanation_rating([*ratings, _rating("a", (5, 4, 4), rater="r2")], target=3.5)
    # (12 + 9 + 13) / 9 = 34 / 9
    assert rating["value"] == pytest.approx(34 / 9) and rating["status"] == "met"
    assert rating["n"] == 3 and rating["raters"] == ["r1", "r2"]
    assert rating["per_criterion"]["helpfulness"] == pytest.approx(13 / 3)


def test_no_submitted_rating_is_not_rated_never_a_number():
    drafts = [_rating("a", (5, 5, 5), status="draft")]
    for ratings in ([], drafts):
        rating = explanation_rating(ratings, target=3.5, run_id="multitask-x")
        assert rating["status"] == "not rated" and rating["value"] is None and rating["n"] == 0
        assert rating["per_criterion"] == dict.fromkeys(CRITERIA)
        assert "notebooks/human_review.ipynb" in rating["how"]
        assert "review.kind=explanation" in rating["how"]
        assert "review.source_run=multitask-x" in rating["how"]
    requirements = [Rating("s", "r", "a", "a", None, "model", "gold", status="submitted")]
    with pytest.raises(ValueError, match="requirements"):
        explanation_rating(requirements)


def fake_multitask_run(outputs: Path, run_id: str, started: str, samples: list[dict]) -> Path:
    run_dir = outputs / "runs" / run_id
    (run_dir / "artifacts").mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({"kind": "multitask", "started_at": started}))
    results = {"explanation": {"n": len(samples), "samples": samples}}
    (run_dir / "results.json").write_text(json.dumps(results))
    return run_dir


def test_stored_ratings_of_a_run_become_its_rating(tmp_path):
    run_dir = fake_multitask_run(tmp_path, "multitask-1", "2026-01-01", fake_samples(4))
    store_path = tmp_path / "review" / "ratings.sqlite"
    assert stored_explanation_ratings(store_path, "multitask-1") == []
    assert not store_path.exists()  # looking does not create a store

    material = explanation_material(fake_samples(4), origin=run_dir.name)
    config = ReviewConfig(kind="explanation", n_items=4, repeat_rate=0.0, rater="ab")
    session = ReviewSession.start(ReviewStore(store_path), material, config)
    for n, item in enumerate(session.items[:2]):
        session.submit_text(item.item_id, f"{n + 3}{n + 3}{n + 3} | 111 | L")
    session.store.close()

    ratings = stored_explanation_ratings(store_path, "multitask-1")
    assert stored_explanation_ratings(store_path, "multitask-other") == []
    results = {"explanation": {"n": 4}, "targets": {}}
    rating = attach_rating(results, ratings, target=3.5, run_id="multitask-1")
    assert results["targets"]["explanation_rating"] is results["explanation"]["rating"] is rating
    # the model's side of each answer, by hand from the stored blinding map
    model = [r.scores["left"] if r.left_source == "model" else r.scores["right"] for r in ratings]
    expected = sum(v for s in model for v in s.values()) / 6
    assert rating["n"] == 2 and rating["value"] == pytest.approx(expected)
    assert summarize(ratings, ["model", "reference"], kind="explanation").n_submitted == 2


def test_the_run_to_review_is_found_by_id_or_as_the_latest(tmp_path):
    fake_multitask_run(tmp_path, "multitask-old", "2026-01-01T00:00:00", fake_samples(2))
    fake_multitask_run(tmp_path, "multitask-new", "2026-02-01T00:00:00", fake_samples(3))
    fake_multitask_run(tmp_path, "multitask-none", "2026-03-01T00:00:00", [])
    assert find_multitask_run(tmp_path, "latest").name == "multitask-new"
    assert find_multitask_run(tmp_path, "multitask-old").name == "multitask-old"
    with pytest.raises(ReviewSourceError, match="without explanation.samples"):
        find_multitask_run(tmp_path, "multitask-none")
    with pytest.raises(ReviewSourceError, match="needs a multitask run"):
        find_multitask_run(tmp_path, "")
    with pytest.raises(ReviewSourceError, match="no run under"):
        find_multitask_run(tmp_path / "empty", "latest")


def test_the_review_notebook_reviews_a_multitask_runs_explanations_headless(tmp_path, capsys):
    fake_multitask_run(tmp_path, "multitask-1", "2026-01-01T00:00:00", fake_samples(3))
    code = main(
        [
            "run",
            str(ROOT / "notebooks" / "human_review.ipynb"),
            "--params",
            str(ROOT / "params" / "tiny.yaml"),
            "-p",
            f"run.outputs_dir={tmp_path}",
            "-p",
            "review.kind=explanation",
            "-p",
            "review.source_run=multitask-1",
            "--run-id",
            "t-review",
        ]
    )
    assert code == 0
    shown = capsys.readouterr()  # the terminal saw the cells' prints and papermill's cell bar
    assert f"run: {tmp_path / 'runs' / 't-review'}" in shown.out and "Executing" in shown.err
    summary = json.loads((tmp_path / "runs" / "t-review" / "summary.json").read_text())
    assert summary["origin"] == "multitask-1" and summary["kind"] == "explanation"
    assert summary["explanation_rating"]["status"] == "not rated"
    assert summary["session_id"].startswith("explanation-model-vs-reference-multitask-1-")
