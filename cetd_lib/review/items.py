"""What gets reviewed: two sources per item, a seeded sample, blinded sides.

For a requirements review (the default kind) sources come from a run's
`artifacts/evaluation-<source>.json` (written by the phase2 notebook), from any mapping
(`material_from_mappings`), or, without a run, from sources that need no model: `gold`,
`phase1` (evaluation.phase2's registry) and `degraded-gold` (apps.degrade). Other kinds
(`cetd_lib.review.kinds`) name their own loader, e.g. explanations of a multi-task run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cetd_lib.review.config import ReviewConfig
from cetd_lib.review.kinds import REQUIREMENTS, review_kind
from cetd_lib.review.store import StoredItem
from cetd_lib.tracking.progress import progress_bar

if TYPE_CHECKING:
    from cetd_lib.params import Params

log = logging.getLogger(__name__)

FALLBACK_SOURCES = ("phase1", "gold")  # what a review without a phase2 run compares
MODEL_FREE_SOURCES = ("gold", "phase1", "degraded-gold")


class ReviewSourceError(LookupError):
    """A requirement source cannot be found; the message says where it was looked for."""


@dataclass(frozen=True)
class ReviewMaterial:
    """Lines per source and context per item, plus a sentence on where they came from.

    For a requirements review an item is an app, its lines are requirements and its context
    is the app's code; for an explanation review an item is a finding, its lines are one
    explanation and its context the code snippet and the finding.
    """

    requirements: dict[str, dict[str, list[str]]]  # source -> item (app) id -> lines
    code: dict[str, str]  # item id -> the context the rater may expand
    origin: str  # stored with the session: run id, or "no-run"
    note: str  # for the notebook to print
    kind: str = REQUIREMENTS.name  # cetd_lib.review.kinds: the rubric and labels

    @property
    def sources(self) -> list[str]:
        return list(self.requirements)


def material_from_mappings(
    requirements: Mapping[str, Mapping[str, Sequence[str]]],
    code: Mapping[str, str],
    *,
    origin: str = "mappings",
    kind: str = REQUIREMENTS.name,
) -> ReviewMaterial:
    """Review any two mappings (`{source: {item_id: [lines]}}`) as a review of `kind`."""
    if len(requirements) != 2:
        raise ValueError(f"expected two sources, got {list(requirements)}")
    reqs = {s: {a: list(items) for a, items in m.items()} for s, m in requirements.items()}
    note = f"sources {list(reqs)} given as mappings"
    return ReviewMaterial(reqs, dict(code), origin, note, review_kind(kind).name)


def find_source_run(outputs_dir: str | Path, sources: Sequence[str], run_id: str) -> Path | None:
    """The run directory holding `artifacts/evaluation-<s>.json` for both sources: `run_id`
    itself, or for 'latest' the most recently started such run (None when there is none)."""
    runs = Path(outputs_dir) / "runs"
    if run_id != "latest":
        run_dir = runs / run_id
        missing = [
            s for s in sources if not (run_dir / "artifacts" / f"evaluation-{s}.json").exists()
        ]
        if missing:
            have = sorted(p.name for p in (run_dir / "artifacts").glob("evaluation-*.json"))
            raise ReviewSourceError(
                f"{run_dir}/artifacts: no evaluation file for {missing} (found {have}); run the "
                "phase2 notebook first, or set review.source_run to another run / '' for none"
            )
        return run_dir
    candidates = []
    for run_dir in runs.glob("*") if runs.exists() else []:
        if all((run_dir / "artifacts" / f"evaluation-{s}.json").exists() for s in sources):
            try:
                started = json.loads((run_dir / "manifest.json").read_text())["started_at"]
            except (OSError, ValueError, KeyError):
                started = ""
            candidates.append((started, run_dir.name, run_dir))
    return max(candidates)[2] if candidates else None


def _app_code(params: Params) -> tuple[dict[str, str], list]:
    """Code (README + sources, as the extractor sees it at level 1) for every app, and the
    phase-2 splits (the test split is what a review without a run samples)."""
    from cetd_lib.apps.degrade import render_context
    from cetd_lib.evaluation.phase2 import load_phase2_apps

    apps = load_phase2_apps(
        params.data.apps_dir,
        include_humaneval=params.data.include_humaneval,
        max_apps=None,
        data_config=params.data,
    )
    every = [app for members in apps.splits.values() for app in members]
    capped = apps["test"][: params.data.max_apps] if params.data.max_apps else apps["test"]
    code = {a.app_id: render_context(a, 1) for a in progress_bar(every, desc="review: apps")}
    return code, (capped, apps.retrieval_pool)


def _model_free(name: str, test_apps: list, pool: list, seed: int) -> dict[str, list[str]]:
    from cetd_lib.apps.degrade import degrade_requirements
    from cetd_lib.evaluation.phase2 import SourceContext, requirements_from

    if name == "degraded-gold":
        return {a.app_id: degrade_requirements(a.requirements, seed=seed) for a in test_apps}
    return requirements_from(name, test_apps, SourceContext(train_apps=pool))


def load_material(params: Params) -> ReviewMaterial:
    """What `params.review` asks to review, loaded by the loader its kind registers."""
    kind = review_kind(params.review.kind)
    return kind.load("loader")(params)


def load_requirements_material(params: Params) -> ReviewMaterial:
    """The two sources of `params.review`: from a phase2 run when one has them, else from
    model-free sources; when neither works it falls back to gold vs phase1 and says so."""
    config: ReviewConfig = params.review
    sources = list(config.sources)
    code, (test_apps, pool) = _app_code(params)
    run_dir = (
        find_source_run(params.run.outputs_dir, sources, config.source_run)
        if config.source_run
        else None
    )
    if run_dir is not None:
        requirements = {
            s: json.loads((run_dir / "artifacts" / f"evaluation-{s}.json").read_text())[
                "requirements"
            ]
            for s in sources
        }
        unknown = sorted({a for m in requirements.values() for a in m} - set(code))
        if unknown:
            log.warning("apps %s of run %s are not in data.apps_dir: no code", unknown, run_dir)
        note = f"sources {sources} from run {run_dir.name} ({run_dir})"
        return ReviewMaterial(requirements, code, run_dir.name, note)
    note = ""
    if not all(s in MODEL_FREE_SOURCES for s in sources):
        note = (
            f"NOTE: no phase2 run with evaluation files for {sources} under "
            f"{params.run.outputs_dir}/runs (review.source_run={config.source_run!r}); "
            f"reviewing {list(FALLBACK_SOURCES)} instead (phase1 = the retrieval baseline). "
            "Run notebooks/phase2.ipynb first to review the model. "
        )
        log.warning(note)
        sources = list(FALLBACK_SOURCES)
    requirements = {s: _model_free(s, test_apps, pool, config.seed) for s in sources}
    note += f"sources {sources} computed on {len(test_apps)} test apps (no run)"
    return ReviewMaterial(requirements, code, "no-run", note)


def plan_session(material: ReviewMaterial, config: ReviewConfig) -> tuple[str, list[StoredItem]]:
    """(session id, items): a seeded sample of apps, `repeat_rate` of them shown twice (the
    second showing later, sides drawn afresh), and each item's left/right drawn from the seed.

    The session id is readable and ends in a hash of the plan, so a changed sample (other
    data, other run) is a new session instead of silently mixing ratings.
    """
    first, second = material.sources
    eligible = sorted(set(material.requirements[first]) & set(material.requirements[second]))
    if not eligible:
        raise ReviewSourceError(f"sources {material.sources} share no app; nothing to review")
    rng = random.Random(config.seed)
    sample = rng.sample(eligible, min(config.n_items, len(eligible)))
    queue: list[tuple[str, str | None]] = [(app, None) for app in sample]
    for app in rng.sample(sample, round(config.repeat_rate * len(sample))):
        after = queue.index((app, None)) + 1
        queue.insert(rng.randint(after, len(queue)), (app, app))
    items = []
    for position, (app, repeat_of) in enumerate(queue):
        left, right = (first, second) if rng.random() < 0.5 else (second, first)
        items.append(
            StoredItem(
                session_id="",
                item_id=f"{app}~repeat" if repeat_of else app,
                position=position,
                app_id=app,
                repeat_of=repeat_of,
                left_source=left,
                right_source=right,
                left=tuple(material.requirements[left][app]),
                right=tuple(material.requirements[right][app]),
                code=material.code.get(app, f"(no code found for app {app!r})"),
            )
        )
    digest = hashlib.sha256(
        json.dumps([material.origin, [(i.item_id, i.left, i.right) for i in items]]).encode()
    ).hexdigest()[:8]
    prefix = review_kind(material.kind).session_prefix
    session_id = config.session or (
        f"{prefix}{first}-vs-{second}-{material.origin}-seed{config.seed}-n{len(sample)}-{digest}"
    )
    return session_id, [_with_session(i, session_id) for i in items]


def _with_session(item: StoredItem, session_id: str) -> StoredItem:
    from dataclasses import replace

    return replace(item, session_id=session_id)
