"""Human ratings of the multi-task model's explanations, through the blind review tool.

The trainer saves every held-out explanation with what it explains (`results.json` ->
`explanation.samples`: record id, tool, rule, code snippet, finding, the model's `generated`
text and the `reference` built from the rule's docs). `explanation_material` turns them into
a blind side-by-side review (kind `explanation` in `cetd_lib.review.kinds`: correctness,
clarity, helpfulness, 1-5 each) of the model's explanation against the reference one, and
`explanation_rating` turns submitted ratings into the seed target "explanation rating > 3.5/5":
the mean of the model side's scores. No ratings is "not rated", never a number.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cetd_lib.multitask.evaluation.scores import target_verdict
from cetd_lib.review.items import ReviewMaterial, ReviewSourceError
from cetd_lib.review.kinds import EXPLANATION

if TYPE_CHECKING:
    from cetd_lib.params import Params
    from cetd_lib.review.store import Rating

MODEL, REFERENCE = EXPLANATION.fixed_sources
WHAT = "mean human rating of explanations"
SAMPLE_KEYS = ("id", "tool", "rule", "code", "finding", "generated", "reference")
_FINDING = "\n\nFinding: "  # how cetd_lib.multitask.data.explain joins snippet and finding


def how_to_rate(run_id: str | None) -> str:
    """Where to rate a run's explanations (the notebook and the params overrides)."""
    run = run_id or "<multitask run id>"
    return (
        f"rate them in notebooks/human_review.ipynb with overrides ['review.kind=explanation', "
        f"'review.source_run={run}', 'review.rater=<you>'] (docs/review.md); the notebook's "
        "summary reports the mean of the submitted scores against the target"
    )


# ---------------------------------------------------------------------------------------------
# Samples -> review material
# ---------------------------------------------------------------------------------------------


def explanation_context(record: Mapping[str, Any]) -> dict[str, str]:
    """What a rater needs besides the two explanations, from an explanation record
    (`cetd_lib.multitask.data.explain.explanation_record`): its id, the tool and rule, and its
    prompt input split into the numbered code snippet and the finding."""
    code, found, finding = record["input"].rpartition(_FINDING)
    if not found:
        code, finding = record["input"], f"{record['tool']} {record['code']}"
    return {
        "id": str(record["id"]),
        "tool": record["tool"],
        "rule": record["code"],  # the record's "code" is the rule code, e.g. F401
        "code": code,
        "finding": finding,
    }


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def explanation_material(
    samples: Sequence[Mapping[str, Any]], *, origin: str = "samples"
) -> ReviewMaterial:
    """A review of the model's explanation ("model") against the reference ("reference") for
    every sample; the context pane shows the finding and the code snippet."""
    if not samples:
        raise ReviewSourceError(f"{origin}: no explanation samples to review")
    model: dict[str, list[str]] = {}
    reference: dict[str, list[str]] = {}
    context: dict[str, str] = {}
    for n, sample in enumerate(samples):
        missing = [k for k in SAMPLE_KEYS if k not in sample]
        if missing:
            raise ReviewSourceError(
                f"{origin}: explanation sample {n} has no {missing}; samples saved before they "
                "carried their record id and context cannot be rated blind (the rater needs the "
                "code and the finding): evaluate the run again with this cetd_lib"
            )
        item = str(sample["id"])
        if item in context:
            raise ReviewSourceError(f"{origin}: explanation sample id {item!r} occurs twice")
        model[item] = _lines(sample["generated"])
        reference[item] = _lines(sample["reference"])
        context[item] = f"Finding: {sample['finding']}\n\n{sample['code']}"
    note = (
        f"{len(context)} explanation(s) of run {origin}: the model's vs the reference "
        "(built from the rule's docs), blind"
    )
    sides = {MODEL: model, REFERENCE: reference}
    return ReviewMaterial(sides, context, origin, note, EXPLANATION.name)


def _results_samples(run_dir: Path) -> list[dict[str, Any]] | None:
    """The explanation samples of a run's results.json (None when it has none)."""
    path = run_dir / "results.json"
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    samples = (results.get("explanation") or {}).get("samples")
    return samples or None


def find_multitask_run(outputs_dir: str | Path, run_id: str) -> Path:
    """The run directory whose results.json holds explanation samples: `run_id` itself, or
    for 'latest' the most recently started such run."""
    runs = Path(outputs_dir) / "runs"
    if run_id and run_id != "latest":
        run_dir = runs / run_id
        if _results_samples(run_dir) is None:
            raise ReviewSourceError(
                f"{run_dir}/results.json: missing or without explanation.samples; run the "
                "multi-task trainer (notebooks/multitask.ipynb or python -m "
                "cetd_lib.multitask.train) or set review.source_run to a multitask run id"
            )
        return run_dir
    if not run_id:
        raise ReviewSourceError(
            "review.source_run='': an explanation review needs a multitask run; set "
            "review.source_run to its id or to 'latest'"
        )
    candidates = []
    for run_dir in runs.glob("*") if runs.exists() else []:
        if _results_samples(run_dir):
            try:
                started = json.loads((run_dir / "manifest.json").read_text())["started_at"]
            except (OSError, ValueError, KeyError):
                started = ""
            candidates.append((started, run_dir.name, run_dir))
    if not candidates:
        raise ReviewSourceError(
            f"no run under {runs} has a results.json with explanation samples; run the "
            "multi-task trainer first (docs/multitask_train.md)"
        )
    return max(candidates)[2]


def load_explanation_material(params: Params) -> ReviewMaterial:
    """The explanation samples of the multitask run named by `review.source_run`."""
    run_dir = find_multitask_run(params.run.outputs_dir, params.review.source_run)
    material = explanation_material(_results_samples(run_dir) or [], origin=run_dir.name)
    return replace(material, note=f"{material.note} ({run_dir / 'results.json'})")


# ---------------------------------------------------------------------------------------------
# Ratings -> the seed target
# ---------------------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def explanation_rating(
    ratings: Sequence[Rating],
    *,
    target: float = 3.5,
    run_id: str | None = None,
    source: str = MODEL,
) -> dict[str, Any]:
    """The seed target "explanation rating > target" from submitted first showings.

    value = mean over those ratings and over the criteria of the `source` side's 1-5 scores
    (every submitted rating scores every criterion, so this is also the mean of the
    per-criterion means); repeats (self-consistency), drafts and skips do not count. Raters
    are pooled. n == 0 gives status "not rated" with `how` saying where to rate.
    """
    wrong = sorted({r.kind for r in ratings} - {EXPLANATION.name})
    if wrong:
        raise ValueError(f"explanation_rating got ratings of {wrong} sessions, not explanation")
    firsts = [r for r in ratings if r.status == "submitted" and r.repeat_of is None]
    scores = []
    for r in firsts:
        by_source = r.scores_by_source()
        if source not in by_source:
            raise ValueError(
                f"rating of item {r.item_id!r} in session {r.session_id!r} compares "
                f"{sorted(by_source)}, not {source!r}"
            )
        scores.append(by_source[source])
    criteria = EXPLANATION.criteria
    if not scores:
        verdict = target_verdict(None, target, what=WHAT)
        return {
            **verdict,
            "status": "not rated",
            "n": 0,
            "raters": [],
            "per_criterion": dict.fromkeys(criteria),
            "how": how_to_rate(run_id),
        }
    per_criterion = {c: _mean([s[c] for s in scores]) for c in criteria}
    value = _mean([s[c] for s in scores for c in criteria])
    return {
        **target_verdict(value, target, what=WHAT),
        "n": len(scores),
        "raters": sorted({r.rater_id for r in firsts}),
        "per_criterion": per_criterion,
    }


def stored_explanation_ratings(store: str | Path, run_id: str) -> list[Rating]:
    """Every rating of the explanation sessions of `run_id` in a review store file; none
    when the file does not exist (it is not created here)."""
    from cetd_lib.review.store import ReviewStore

    path = Path(store)
    if not path.exists():
        return []
    with ReviewStore(path) as opened:
        sessions = [
            s["session_id"]
            for s in opened.sessions()
            if s["kind"] == EXPLANATION.name and s["origin"] == run_id
        ]
        return [r for session in sessions for r in opened.ratings(session)]


def attach_rating(
    results: dict[str, Any], ratings: Sequence[Rating], *, target: float, run_id: str | None
) -> dict[str, Any]:
    """Put the rating into a multi-task results dict: `explanation.rating` and the
    `explanation_rating` seed target (the same figures in both places)."""
    rating = explanation_rating(ratings, target=target, run_id=run_id)
    results.setdefault("explanation", {})["rating"] = rating
    results.setdefault("targets", {})["explanation_rating"] = rating
    return rating


def review_verdict(ratings: Sequence[Rating], params: Params, origin: str) -> dict[str, Any]:
    """The human_review notebook's headline for an explanation review (the kind's `verdict`):
    the rating of the reviewed run against `multitask_train.explanation_rating_target`."""
    return explanation_rating(
        ratings, target=params.multitask_train.explanation_rating_target, run_id=origin
    )
