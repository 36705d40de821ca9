"""CET-D Phase 2 evaluation: requirement sources, BLEU vs gold, reconstruction, seed targets.

A *requirement source* maps apps to requirement lists (gold, the phase-1 retrieval baseline, an
extractor checkpoint, ...). Every source is judged the same way: BLEU against gold, and the pass
rate of the apps' original tests on code the orchestra rebuilds from the requirements alone.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from cetd_lib.apps.app import App, DataConfig, load_apps
from cetd_lib.apps.requirements import format_requirements
from cetd_lib.apps.splits import SPLITS, SplitManifest, make_splits
from cetd_lib.metrics.bleu import bootstrap_ci, corpus_bleu, mean_sentence_bleu
from cetd_lib.metrics.paired import (
    PairedComparison,
    RankingCheck,
    check_ranking,
    compare_all,
    paired_ratio,
    paired_values,
)
from cetd_lib.reconstruction.backends import build_orchestra  # noqa: F401 - the notebooks' entry point
from cetd_lib.reconstruction.config import OrchestraConfig
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.tracking.criteria import Criterion
from cetd_lib.tracking.runs import RunRecord

log = logging.getLogger(__name__)

RequirementSource = Callable[[Sequence[App], "SourceContext"], dict[str, list[str]]]
REQUIREMENT_SOURCES: dict[str, RequirementSource] = {}


def register_source(name: str) -> Callable[[RequirementSource], RequirementSource]:
    def decorate(fn: RequirementSource) -> RequirementSource:
        REQUIREMENT_SOURCES[name] = fn
        return fn

    return decorate


@dataclass
class SourceContext:
    """What a source may use: the training apps (never the evaluated ones' gold) and a model."""

    train_apps: Sequence[App] = ()
    extractor: Any = None  # a cetd_lib.models RequirementExtractor
    context_level: int = 1
    max_new_tokens: int = 256


@register_source("gold")
def gold_source(apps: Sequence[App], ctx: SourceContext) -> dict[str, list[str]]:
    return {app.app_id: list(app.requirements) for app in apps}


@register_source("phase1")
def phase1_source(apps: Sequence[App], ctx: SourceContext) -> dict[str, list[str]]:
    """The seed's phase-1 row: gold of the nearest training app by BM25 over code."""
    from cetd_lib.apps.retrieval import Phase1Retriever

    retriever = Phase1Retriever(ctx.train_apps)
    return {app.app_id: retriever.requirements_for(app) for app in apps}


@register_source("extractor")
def extractor_source(apps: Sequence[App], ctx: SourceContext) -> dict[str, list[str]]:
    """Requirements written by `ctx.extractor` (greedy) from the app's code at `context_level`."""
    from cetd_lib.apps.degrade import check_extractor_level, render_context
    from cetd_lib.apps.requirements import parse_requirements

    if ctx.extractor is None:
        raise ValueError("the 'extractor' source needs SourceContext.extractor (a loaded model)")
    check_extractor_level(ctx.context_level, "SourceContext.context_level")
    codes = [render_context(app, ctx.context_level) for app in apps]
    texts = ctx.extractor.extract_requirements(codes, max_new_tokens=ctx.max_new_tokens)
    return {app.app_id: parse_requirements(text) for app, text in zip(apps, texts, strict=True)}


def requirements_from(name: str, apps: Sequence[App], ctx: SourceContext) -> dict[str, list[str]]:
    try:
        source = REQUIREMENT_SOURCES[name]
    except KeyError:
        raise KeyError(
            f"unknown requirement source {name!r}; registered: {sorted(REQUIREMENT_SOURCES)}"
        ) from None
    return source(apps, ctx)


# ---------------------------------------------------------------------------------------------
# Apps and splits
# ---------------------------------------------------------------------------------------------


HOLDOUT = "holdout"


@dataclass(frozen=True)
class Phase2Apps:
    splits: dict[str, list[App]]  # capped at max_apps per split
    manifest: SplitManifest
    retrieval_pool: list[App]  # the whole train split: what phase-1 retrieval searches
    # apps under <apps_dir>/holdout/: never split, never trained on, capped like a split
    holdout: list[App] = field(default_factory=list)

    def __getitem__(self, split: str) -> list[App]:
        return self.holdout if split == HOLDOUT else self.splits[split]

    def row_sets(self, split: str, *, holdout: bool = True) -> dict[str, list[App]]:
        """The evaluated row sets: `split`, and the holdout apps beside it (if any and asked)."""
        rows = {split: self.splits[split]}
        if holdout and self.holdout:
            rows[HOLDOUT] = self.holdout
        return rows


def load_phase2_apps(
    apps_dir: str | None,
    *,
    include_humaneval: bool,
    max_apps: int | None,
    data_config: DataConfig | None = None,
) -> Phase2Apps:
    """Bundled (or user) apps, plus HumanEval if asked, split by a seeded hash of the app id.

    `max_apps` caps each split AFTER splitting (smoke runs), so the cap never moves an app across
    splits; the kept apps are a seeded sample (`split_seed`), not the alphabetical head, so a
    smoke run with HumanEval included sees both kinds of app. The `holdout/` apps are loaded
    apart (`Phase2Apps.holdout`, capped the same way): evaluated, never split or trained on.
    `data_config.include_apps_dir: false` leaves out apps_dir's apps and holdout (HumanEval only).
    """
    from_dir = data_config is None or data_config.include_apps_dir
    apps = load_apps(apps_dir) if from_dir else []
    holdout = load_apps(apps_dir, holdout_only=True) if from_dir else []
    if include_humaneval:
        from cetd_lib.apps.humaneval import load_humaneval_apps

        apps += load_humaneval_apps()
    manifest = make_splits(apps, config=data_config)
    full = {name: manifest.select(apps, name) for name in SPLITS}
    splits = full
    if max_apps:
        rng = random.Random(manifest.seed)
        splits = {
            name: sorted(rng.sample(members, min(max_apps, len(members))), key=_app_id)
            for name, members in full.items()
        }
        holdout = sorted(rng.sample(holdout, min(max_apps, len(holdout))), key=_app_id)
    return Phase2Apps(splits, manifest, retrieval_pool=full["train"], holdout=holdout)


def load_recorded_apps(data_config: DataConfig, run: RunRecord) -> Phase2Apps:
    """`load_phase2_apps` from the params' `data` section, with the split manifest
    (`splits.json`) and every app's content hash written into the run record `run`: what each
    evaluating notebook does first."""
    apps = load_phase2_apps(
        data_config.apps_dir,
        include_humaneval=data_config.include_humaneval,
        max_apps=data_config.max_apps,
        data_config=data_config,
    )
    run.artifact("splits.json").write_text(apps.manifest.to_json())
    run.add_data_hashes({f"app:{k}": v for k, v in apps.manifest.content_hashes.items()})
    return apps


def _app_id(app: App) -> str:
    return app.app_id


# ---------------------------------------------------------------------------------------------
# Judging a source
# ---------------------------------------------------------------------------------------------


@dataclass
class SourceEvaluation:
    """One requirement source on one set of apps: BLEU vs gold and reconstruction scores."""

    source: str
    app_ids: list[str]
    requirements: dict[str, list[str]]
    bleu: float  # mean sacrebleu sentence BLEU in [0, 1] (numbering stripped)
    corpus_bleu: float  # sacrebleu corpus BLEU in [0, 1] (numbering stripped)
    pass_rates: dict[str, float]  # app_id -> mean pass rate over orchestra members and samples
    reconstruction: dict[str, Any] = field(default_factory=dict)  # OrchestraScore.to_dict()
    failure_counts: dict[str, int] = field(default_factory=dict)
    failure_counts_by_app: dict[str, dict[str, int]] = field(default_factory=dict)
    # app_id -> rules of the leak guard that rejected its list: scored 0, never rebuilt
    guard_rejected: dict[str, list[str]] = field(default_factory=dict)
    guard_applied: bool = False

    @property
    def pass_rate(self) -> float:
        values = [v for v in self.pass_rates.values() if not np.isnan(v)]
        return float(np.mean(values)) if values else float("nan")

    @property
    def share_apps_above_75(self) -> float:
        values = [v for v in self.pass_rates.values() if not np.isnan(v)]
        return float(np.mean([v > 0.75 for v in values])) if values else float("nan")

    def pass_rate_ci(self, seed: int = 0) -> tuple[float, float]:
        values = [v for v in self.pass_rates.values() if not np.isnan(v)]
        return bootstrap_ci(values, seed=seed)

    @property
    def guard_pass_share(self) -> float:
        """Share of the apps' lists the guard accepted (NaN when no guard was applied)."""
        if not self.guard_applied or not self.app_ids:
            return float("nan")
        return 1 - len(self.guard_rejected) / len(self.app_ids)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            pass_rate=self.pass_rate,
            share_apps_above_75=self.share_apps_above_75,
            guard_pass_share=self.guard_pass_share,
        )
        return data


class RequirementsScreen(Protocol):
    """The stage-2 leak guard as the evaluation applies it (`train.guard.guard_screen`): the
    rules that reject `requirements` for `app`, () when accepted. Evaluation and training are
    separate layers, so the guard is passed in, not imported."""

    def __call__(self, app: App, requirements: Sequence[str]) -> tuple[str, ...]: ...


def evaluate_source(
    source: str,
    apps: Sequence[App],
    requirements: dict[str, list[str]],
    *,
    orchestra: OrchestraConfig,
    harness: HarnessConfig,
    backends: dict[str, Any] | None = None,
    screen: RequirementsScreen | None = None,
) -> SourceEvaluation:
    """BLEU of `requirements` vs gold, and the orchestra's rebuild pass rate per app."""
    evaluation, _ = evaluate_with_records(
        source, apps, requirements, orchestra=orchestra, harness=harness, backends=backends,
        screen=screen,
    )  # fmt: skip
    return evaluation


def evaluate_with_records(
    source: str,
    apps: Sequence[App],
    requirements: dict[str, list[str]],
    *,
    orchestra: OrchestraConfig,
    harness: HarnessConfig,
    backends: dict[str, Any] | None = None,
    screen: RequirementsScreen | None = None,
) -> tuple[SourceEvaluation, Any]:
    """`evaluate_source` plus the harness ReconstructionResult (completions, files and test
    outcomes per sample: what error analysis reads from `reconstruction-<source>.json`).

    With `screen` (the stage-2 leak guard) every list goes through it first, as in training: a
    rejected list is never rebuilt, scores 0 and is counted in `guard_rejected`. Without it a
    list that copies the code would be paid in the evaluation what the reward refuses."""
    from cetd_lib.reconstruction.reconstruct import reconstruct

    ids = [app.app_id for app in apps]
    hyps = [format_requirements(requirements.get(i, [])) for i in ids]
    refs = [format_requirements(app.requirements) for app in apps]
    rejected: dict[str, list[str]] = {}
    if screen is not None:
        for app in apps:
            rules = screen(app, requirements.get(app.app_id, []))
            if rules:
                rejected[app.app_id] = list(rules)
    to_rebuild = {i: ([] if i in rejected else list(v)) for i, v in requirements.items()}
    result = reconstruct(apps, orchestra, harness, requirements=to_rebuild, backends=backends)
    pass_rates = {app.app_id: float("nan") for app in apps}  # NaN: app not scoreable
    for app_score in result.score.apps:
        pass_rates[app_score.app_id] = app_score.pass_rate
    for app_id in rejected:
        if app_id in {a.app_id for a in result.score.apps}:
            pass_rates[app_id] = 0.0  # scored 0, as the reward scores it
    by_app: dict[str, Counter[str]] = {}
    for record in result.records:
        by_app.setdefault(record.app_id, Counter()).update(record.score.failure_counts)
    evaluation = SourceEvaluation(
        source=source,
        app_ids=ids,
        requirements={i: list(requirements.get(i, [])) for i in ids},
        bleu=mean_sentence_bleu(hyps, refs),
        corpus_bleu=corpus_bleu(hyps, refs),
        pass_rates=pass_rates,
        reconstruction=result.score.to_dict(),
        failure_counts=dict(sum(by_app.values(), Counter())),
        failure_counts_by_app={app_id: dict(counts) for app_id, counts in by_app.items()},
        guard_rejected=rejected,
        guard_applied=screen is not None,
    )
    return evaluation, result


def success_criteria(evaluation: SourceEvaluation, eval_config: Any) -> list[Criterion]:
    """The seed's Phase-2 targets, each met / missed / not measured."""
    return [
        Criterion("BLEU vs gold (sentence, smoothed)", eval_config.bleu_target, evaluation.bleu),
        Criterion("reconstruction pass rate", eval_config.pass_rate_target, evaluation.pass_rate),
        Criterion(
            "share of apps above 75% pass",
            eval_config.share_above_75_target,
            evaluation.share_apps_above_75,
        ),
    ]


RANKING = ("gold", "phase2_stage2", "phase2_stage1", "phase1")
# The paired comparisons a phase-2 run reports, one Holm family per row set: the ranking's
# adjacent pairs first, then gold against each source.
PAIRS = (
    ("gold", "phase2_stage2"),
    ("phase2_stage2", "phase2_stage1"),
    ("phase2_stage1", "phase1"),
    ("gold", "phase2_stage1"),
    ("gold", "phase1"),
)
# With `eval.control_sources`, the same Holm family also asks what the reward pays for: does gold
# and does each trained list rebuild more than the signatures alone, and do the signatures rebuild
# more than another app's gold (issue 29).
CONTROL_PAIRS = (
    ("gold", "signature_only"),
    ("phase2_stage2", "signature_only"),
    ("phase2_stage1", "signature_only"),
    ("signature_only", "gold_shuffled"),
)


def paired_analysis(
    evaluations: dict[str, SourceEvaluation],
    *,
    test: str = "wilcoxon",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[list[PairedComparison], RankingCheck]:
    """Holm-corrected paired comparisons of the sources on one row set, and the expected
    ranking decided from them at alpha = 1 - confidence (`cetd_lib.metrics.paired`)."""
    rates = {name: ev.pass_rates for name, ev in evaluations.items()}
    pairs = [(a, b) for a, b in (*PAIRS, *CONTROL_PAIRS) if a in rates and b in rates]
    comparisons = compare_all(
        pairs, rates, test=test, n_resamples=n_resamples, confidence=confidence, seed=seed
    )
    ranking = check_ranking(
        comparisons,
        RANKING,
        measured=list(rates),
        alpha=1 - confidence,
        means={name: ev.pass_rate for name, ev in evaluations.items()},
    )
    return comparisons, ranking


@dataclass(frozen=True)
class RatioToGold:
    """mean pass rate of `source` / that of gold on the apps both scored, with a paired
    percentile bootstrap CI (`metrics.paired.paired_ratio`)."""

    source: str
    ratio: float
    ci_low: float
    ci_high: float
    n_apps: int


def ratios_to_gold(
    evaluations: dict[str, SourceEvaluation],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[RatioToGold]:
    """Each source's pass rate as a share of gold's, with its CI; [] without a gold row."""
    if "gold" not in evaluations:
        return []
    out = []
    for name, ev in evaluations.items():
        if name == "gold":
            continue
        ids, va, vb = paired_values(ev.pass_rates, evaluations["gold"].pass_rates)
        ratio, low, high = paired_ratio(
            va, vb, n_resamples=n_resamples, confidence=confidence, seed=seed
        )
        out.append(RatioToGold(name, ratio, low, high, len(ids)))
    return out


def ratio_table(ratios: Sequence[RatioToGold], confidence: float = 0.95) -> str:
    """Markdown: one row per source, its pass rate as a share of gold's with the CI."""
    lines = [
        f"| source | share of gold's pass rate | {confidence:.0%} CI (paired bootstrap) | apps |",
        "|---|---|---|---|",
    ]
    for r in ratios:
        lines.append(
            f"| {r.source} | {r.ratio:.1%} | [{r.ci_low:.1%}, {r.ci_high:.1%}] | {r.n_apps} |"
        )
    return "\n".join(lines)


def comparison_table(evaluations: dict[str, SourceEvaluation], seed: int = 0) -> str:
    """Markdown table: one row per source with BLEU, pass rate (95% bootstrap CI), share > 75%."""
    lines = [
        "| source | BLEU | corpus BLEU | pass rate | 95% CI | apps > 75% | guard rejected |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, ev in evaluations.items():
        low, high = ev.pass_rate_ci(seed)
        rejected = f"{len(ev.guard_rejected)}/{len(ev.app_ids)}" if ev.guard_applied else "—"
        lines.append(
            f"| {name} | {ev.bleu:.3f} | {ev.corpus_bleu:.3f} | {ev.pass_rate:.3f} | "
            f"[{low:.2f}, {high:.2f}] | {ev.share_apps_above_75:.2f} | {rejected} |"
        )
    return "\n".join(lines)


def to_json(payload: Any) -> str:
    """JSON with NaN written as null (NaN is not JSON; browsers and jq reject it)."""
    import json
    import math

    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(payload), indent=2, default=str) + "\n"
