"""Ablation of what the reconstructor is given: requirement sources and degraded code context.

Every *condition* is judged on the same apps by the same orchestra, so per-app pass rates are
paired and differences between conditions are tested per app (paired bootstrap, sign test or
Wilcoxon signed-rank), not only by comparing means.

Two kinds of condition live in one registry (`ABLATION_SOURCES`):

- **requirements**: a list of requirements rebuilt with the standard prompt (gold, the phase-1
  retrieval baseline, and the stage-1 / stage-2 checkpoints of an earlier phase-2 run);
- **context**: the app's own code at degradation level 1-3 (`cetd_lib.apps.degrade`), rebuilt with a
  prompt that says it is handed (degraded) code, not requirements. These are references: how
  far code alone gets the orchestra, to place the requirement sources against.

The seed expects gold > phase2_stage2 > phase2_stage1 > phase1; `check_ranking` decides each
adjacent pair by the Holm-corrected paired test (holds / reversed / not resolved), never by point
means, and names the rows that could not be measured.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cetd_lib.apps.app import App
from cetd_lib.config_field import help_field
from cetd_lib.evaluation.phase2 import evaluate_with_records
from cetd_lib.metrics.bleu import bootstrap_ci

# The paired statistics live in cetd_lib.metrics.paired (phase 2 uses them too); re-exported.
from cetd_lib.metrics.paired import PAIRED_TESTS as PAIRED_TESTS
from cetd_lib.metrics.paired import PairedComparison as PairedComparison
from cetd_lib.metrics.paired import PairedTest as PairedTest
from cetd_lib.metrics.paired import RankingCheck as RankingCheck
from cetd_lib.metrics.paired import check_ranking as check_ranking
from cetd_lib.metrics.paired import compare as compare
from cetd_lib.metrics.paired import compare_all as compare_all
from cetd_lib.metrics.paired import comparisons_table as comparisons_table
from cetd_lib.metrics.paired import paired_bootstrap as paired_bootstrap
from cetd_lib.metrics.paired import sign_test as sign_test
from cetd_lib.metrics.paired import wilcoxon_test as wilcoxon_test
from cetd_lib.reconstruction.config import OrchestraConfig
from cetd_lib.sandbox.config import HarnessConfig

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Registry of conditions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AblationSource:
    """One condition of the ablation.

    `kind` "requirements": `requirement_source` names a `cetd_lib.evaluation.phase2` source, or
    `checkpoint_stage` names a stage checkpoint of `AblationConfig.phase2_run_id`.
    `kind` "context": the reconstructor reads the app's code degraded to `context_level`.
    """

    name: str
    kind: Literal["requirements", "context"]
    description: str
    requirement_source: str | None = None
    checkpoint_stage: str | None = None
    context_level: int | None = None


ABLATION_SOURCES: dict[str, AblationSource] = {}


def register_ablation_source(source: AblationSource) -> AblationSource:
    if source.name in ABLATION_SOURCES:
        raise ValueError(f"ablation source {source.name!r} is already registered")
    ABLATION_SOURCES[source.name] = source
    return source


for _source in (
    AblationSource("gold", "requirements", "gold requirements (the ceiling)", "gold"),
    AblationSource(
        "phase2_stage2", "requirements", "extractor after stage 2 (RL)", checkpoint_stage="stage2"
    ),
    AblationSource(
        "phase2_stage1", "requirements", "extractor after stage 1 (SFT)", checkpoint_stage="stage1"
    ),
    AblationSource("phase1", "requirements", "gold of the nearest training app (BM25)", "phase1"),
    AblationSource("level1", "context", "full source, comments, docstrings, README", None, None, 1),
    AblationSource("level2", "context", "code without comments or docstrings", None, None, 2),
    AblationSource("level3", "context", "signatures only", None, None, 3),
):
    register_ablation_source(_source)

ALL_SOURCES = tuple(ABLATION_SOURCES)
SEED_RANKING = ("gold", "phase2_stage2", "phase2_stage1", "phase1")


def _check_names(names: Sequence[str], key: str) -> None:
    for name in names:
        if name not in ABLATION_SOURCES:
            close = difflib.get_close_matches(name, ABLATION_SOURCES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"{key}: unknown source {name!r}{hint}; registered: {list(ABLATION_SOURCES)}"
            )


@dataclass(frozen=True)
class AblationConfig:
    """The ablation notebook (and error_analysis.ipynb, which reuses it when given no run)."""

    phase2_run_id: str = help_field(
        "Run id under run.outputs_dir/runs/ of a phase-2 training run whose "
        "artifacts/stage1/ and artifacts/stage2/ hold extractor checkpoints. Empty or missing: "
        "the phase2_stage* rows are reported as not available, never faked.",
        default="",
    )
    sources: tuple[str, ...] = help_field(
        "Conditions to evaluate, by registered name (ablation.ABLATION_SOURCES).",
        default=ALL_SOURCES,
    )
    expected_ranking: tuple[str, ...] = help_field(
        "The seed's expected order, best first; checked and reported as found.",
        default=SEED_RANKING,
    )
    split: Literal["train", "val", "test"] = help_field(
        "Split whose apps are evaluated.", default="test"
    )
    holdout: bool = help_field(
        "Also evaluate the holdout apps (<apps_dir>/holdout/, never trained on) as their own "
        "row set beside the split.",
        default=True,
    )
    n_resamples: int = help_field(
        "Bootstrap resamples for every confidence interval.", default=2000
    )
    confidence: float = help_field(
        "Confidence level of the bootstrap intervals; 1 - confidence is also the level alpha "
        "of the Holm-corrected tests that decide the expected ranking.",
        default=0.95,
    )
    paired_test: Literal["wilcoxon", "sign"] = help_field(
        "Per-app paired test: Wilcoxon signed-rank (uses the size of differences) or the "
        "sign test (only their direction; exact, robust to the many ties of pass rates).",
        default="wilcoxon",
    )
    analysis_run_id: str = help_field(
        "error_analysis.ipynb: run id whose artifacts/evaluation-*.json (and "
        "reconstruction-*.json, for samples) it reads; empty = it evaluates gold, phase1 and "
        "level 3 itself.",
        default="",
    )
    n_worst_apps: int = help_field("error_analysis.ipynb: how many worst apps to list.", default=5)
    n_examples: int = help_field(
        "error_analysis.ipynb: requirement / rebuild / test-output samples to show.", default=3
    )

    def __post_init__(self) -> None:
        _check_names(self.sources, "ablation.sources")
        _check_names(self.expected_ranking, "ablation.expected_ranking")
        if not self.sources:
            raise ValueError("ablation.sources is empty: list at least one source, e.g. [gold]")
        if self.n_resamples < 100:
            raise ValueError(f"ablation.n_resamples={self.n_resamples}: use at least 100")
        if not 0.5 <= self.confidence < 1:
            raise ValueError(f"ablation.confidence={self.confidence} must lie in [0.5, 1)")
        if self.n_worst_apps < 1 or self.n_examples < 0:
            raise ValueError("ablation.n_worst_apps must be >= 1 and ablation.n_examples >= 0")


def default_pairs(sources: Sequence[str], expected: Sequence[str]) -> list[tuple[str, str]]:
    """Neighbours in the expected ranking, gold against each cheaper condition and each
    context level against the next: the comparisons the ablation is about, one Holm family.

    Pass the *measured* sources, so the ranking's adjacent pairs skip unmeasured rows."""
    chain = [s for s in expected if s in sources]
    pairs = list(zip(chain, chain[1:], strict=False))
    for name in ("phase1", "level1", "level2", "level3"):  # gold vs each cheaper condition
        if "gold" in sources and name in sources and ("gold", name) not in pairs:
            pairs.append(("gold", name))
    levels = [s for s in ("level1", "level2", "level3") if s in sources]
    pairs += [p for p in zip(levels, levels[1:], strict=False) if p not in pairs]
    return pairs


# ---------------------------------------------------------------------------------------------
# Context conditions: the reconstructor reads (degraded) code instead of requirements
# ---------------------------------------------------------------------------------------------

CONTEXT_PROMPT_VERSION = "reconstruct-from-code-v1"

CONTEXT_SYSTEM_PROMPT = (
    "You are an expert Python programmer. You are given (possibly degraded) code of a Python "
    "project and write complete, working modules from it. You answer with code only."
)

_CONTEXT_VIEWS = {
    1: "the full source code (with comments, docstrings and the README)",
    2: "the source code with every comment and docstring removed",
    3: "only the signatures of the code: imports, assignments, class and function headers, "
    "with every function body elided as `...`",
}

_CONTEXT_TEMPLATE = """\
Here is the (degraded) code of a Python project. You see {view}.

{context}
Write {what} again, complete and working, so that it behaves like the original.

Rules:
- Write {every}: {modules}.
- Put each module in its own ```python block whose first line is `# file: <name>`.
- Use only the Python standard library.
- Do not write tests, example usage or explanations."""


def context_messages(
    context: str, level: int, module_names: Sequence[str]
) -> tuple[dict[str, str], ...]:
    """Chat messages asking to rewrite `module_names` from `context` (degradation `level`)."""
    if level not in _CONTEXT_VIEWS:
        raise ValueError(f"context level {level!r}: expected one of {sorted(_CONTEXT_VIEWS)}")
    modules = ", ".join(f"`{name}`" for name in module_names)
    single = len(module_names) == 1
    user = _CONTEXT_TEMPLATE.format(
        view=_CONTEXT_VIEWS[level],
        context=context,
        what=f"the module {modules}" if single else f"the modules {modules}",
        every="this module" if single else "every one of these modules",
        modules=modules,
    )
    return (
        {"role": "system", "content": CONTEXT_SYSTEM_PROMPT},
        {"role": "user", "content": user},
    )


class ContextPromptBackend:
    """Wraps an orchestra backend: each prompt's messages become the context prompt of its app.

    The harness builds requirement prompts; this swaps them for `context_messages` before the
    model sees anything, so the context conditions reuse the whole loop (parsing, sandbox,
    gold tests, scores) unchanged.
    """

    def __init__(self, inner: Any, contexts: Mapping[str, str], level: int) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "")
        self.contexts = dict(contexts)
        self.level = level

    def generate(self, prompts, n, temperature, max_new_tokens, seed, *, top_p=1.0):
        rewritten = [
            dataclasses.replace(
                p,
                messages=context_messages(self.contexts[p.app_id], self.level, p.module_names),
                prompt_version=CONTEXT_PROMPT_VERSION,
            )
            for p in prompts
        ]
        return self.inner.generate(rewritten, n, temperature, max_new_tokens, seed, top_p=top_p)


# ---------------------------------------------------------------------------------------------
# Evaluating conditions
# ---------------------------------------------------------------------------------------------


def find_checkpoint(outputs_dir: str | Path, run_id: str, stage: str) -> tuple[Path | None, str]:
    """(checkpoint directory, "") or (None, why it is not available)."""
    if not run_id:
        return None, "not available (no checkpoint): ablation.phase2_run_id is empty"
    run_dir = Path(outputs_dir) / "runs" / run_id
    if not run_dir.is_dir():
        return None, f"not available (no checkpoint): no run {run_id!r} under {run_dir.parent}"
    path = run_dir / "artifacts" / stage
    if not (path / "extractor.json").is_file():  # cetd_lib.models.extractor.CHECKPOINT_FILE
        return None, f"not available (no checkpoint): {path} holds no extractor.json"
    return path, ""


class TrainingAppError(ValueError):
    """An evaluated app is one the checkpoint's run trained on (or chose its checkpoint on)."""


TRAIN_SUMMARY = "train_summary.json"  # written by cetd_lib.studies.phase2_training


def training_apps(outputs_dir: str | Path, run_id: str) -> dict[str, list[str]]:
    """{"train": ids, "val": ids} the run recorded (`artifacts/train_summary.json["apps"]`).

    A run from before that record falls back to its `artifacts/splits.json` (the whole train
    and val splits: a superset, so the check stays safe). A run with neither is an error: what
    it trained on cannot be checked.
    """
    import json

    artifacts = Path(outputs_dir) / "runs" / run_id / "artifacts"
    summary = artifacts / TRAIN_SUMMARY
    if summary.is_file():
        recorded = json.loads(summary.read_text()).get("apps")
        if recorded is not None:
            return {"train": list(recorded["train"]), "val": list(recorded.get("val", []))}
    splits = artifacts / "splits.json"
    if splits.is_file():
        manifest = json.loads(splits.read_text())["splits"]
        return {"train": list(manifest["train"]), "val": list(manifest.get("val", []))}
    raise TrainingAppError(
        f"run {run_id!r} records no training apps ({summary} has no 'apps' and there is no "
        f"{splits}): cannot check that the evaluated apps were not trained on; rerun the "
        "phase-2 training, or evaluate a run that records them"
    )


def refuse_training_apps(apps: Sequence[App], outputs_dir: str | Path, run_id: str) -> None:
    """Raise `TrainingAppError` if any of `apps` is a train (or val) app of run `run_id`.

    Val apps count too: stage 1 keeps the checkpoint with the best validation BLEU on them, so
    a score there is biased upwards like a training score.
    """
    recorded = training_apps(outputs_dir, run_id)
    ids = {app.app_id for app in apps}
    trained, selected = sorted(ids & set(recorded["train"])), sorted(ids & set(recorded["val"]))
    if trained or selected:
        parts = []
        if trained:
            parts.append(f"trained on {trained}")
        if selected:
            parts.append(f"chose its checkpoint on {selected} (val)")
        raise TrainingAppError(
            f"refusing to evaluate the checkpoints of run {run_id!r} on apps it was fitted to: "
            f"it {' and '.join(parts)}. Evaluate the test split or the holdout apps with the "
            "training run's data.split_seed"
        )


@dataclass
class ConditionResult:
    """One condition: its evaluation and records, or why it was not measured."""

    source: AblationSource
    evaluation: Any = None  # phase2.SourceEvaluation
    reconstruction: Any = None  # harness ReconstructionResult
    unavailable: str = ""
    checkpoint: str = ""

    @property
    def measured(self) -> bool:
        return self.evaluation is not None


def run_condition(
    name: str,
    apps: Sequence[App],
    *,
    train_apps: Sequence[App],
    orchestra: OrchestraConfig,
    harness: HarnessConfig,
    backends: Mapping[str, Any],
    outputs_dir: str | Path,
    phase2_run_id: str = "",
    extractor_context_level: int = 1,
    max_new_tokens: int = 256,
    screen: Any = None,
) -> ConditionResult:
    """Build the condition's requirements (or contexts) for `apps` and evaluate them.

    `screen` (a `phase2.RequirementsScreen`, the stage-2 leak guard) screens every requirement
    list as in training; context conditions show the code on purpose and are not screened."""
    from cetd_lib.apps.degrade import render_context
    from cetd_lib.evaluation import phase2

    source = ABLATION_SOURCES[name]
    ctx = phase2.SourceContext(
        train_apps=train_apps,
        context_level=extractor_context_level,
        max_new_tokens=max_new_tokens,
    )
    checkpoint = ""
    if source.kind == "context":
        contexts = {app.app_id: render_context(app, source.context_level) for app in apps}
        requirements = {k: [text] for k, text in contexts.items()}  # non-empty: gets rebuilt
        backends = {
            spec.name: ContextPromptBackend(
                _backend(spec, backends), contexts, source.context_level
            )
            for spec in orchestra.members
        }
    elif source.checkpoint_stage is not None:
        path, reason = find_checkpoint(outputs_dir, phase2_run_id, source.checkpoint_stage)
        if path is None:
            log.warning("%s: %s", name, reason)
            return ConditionResult(source, unavailable=reason)
        from cetd_lib.models import load_extractor

        refuse_training_apps(apps, outputs_dir, phase2_run_id)
        ctx.extractor = load_extractor(path)  # a broken checkpoint raises: never skipped
        checkpoint = str(path)
        requirements = phase2.requirements_from("extractor", apps, ctx)
    else:
        requirements = phase2.requirements_from(source.requirement_source, apps, ctx)
    evaluation, result = evaluate_with_records(
        name, apps, requirements, orchestra=orchestra, harness=harness, backends=backends,
        screen=None if source.kind == "context" else screen,
    )  # fmt: skip
    if source.kind == "context":  # BLEU of code against gold requirements means nothing
        evaluation = dataclasses.replace(evaluation, bleu=float("nan"), corpus_bleu=float("nan"))
    return ConditionResult(source, evaluation, result, checkpoint=checkpoint)


def _backend(spec: Any, backends: Mapping[str, Any]) -> Any:
    if spec.name in backends:
        return backends[spec.name]
    from cetd_lib.reconstruction.backends import make_backend

    return make_backend(spec)


# ---------------------------------------------------------------------------------------------
# Summaries for results.json and the report
# ---------------------------------------------------------------------------------------------


def pass_rate_summary(
    results: Mapping[str, ConditionResult],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, Any] | None]:
    """source -> {mean, ci_low, ci_high, n_apps, bleu} (bootstrap over apps), None if not
    measured."""
    out: dict[str, dict[str, Any] | None] = {}
    for name, result in results.items():
        if not result.measured:
            out[name] = None
            continue
        ev = result.evaluation
        values = [v for v in ev.pass_rates.values() if not math.isnan(v)]
        low, high = bootstrap_ci(values, n_resamples=n_resamples, confidence=confidence, seed=seed)
        out[name] = {
            "mean": ev.pass_rate,
            "ci_low": low,
            "ci_high": high,
            "n_apps": len(values),
            "bleu": ev.bleu,
        }
    return out


def summary_table(
    summary: Mapping[str, dict[str, Any] | None], results: Mapping[str, ConditionResult]
) -> str:
    lines = ["| source | kind | pass rate | CI | apps | BLEU |", "|---|---|---|---|---|---|"]
    for name, row in summary.items():
        kind = results[name].source.kind
        if row is None:
            lines.append(f"| {name} | {kind} | {results[name].unavailable} | | | |")
            continue
        bleu = "—" if math.isnan(row["bleu"]) else f"{row['bleu']:.3f}"
        lines.append(
            f"| {name} | {kind} | {row['mean']:.3f} | [{row['ci_low']:.2f}, "
            f"{row['ci_high']:.2f}] | {row['n_apps']} | {bleu} |"
        )
    return "\n".join(lines)


def plot_pass_rates(summary: Mapping[str, dict[str, Any] | None], ax: Any) -> Any:
    """Bar chart of mean pass rate per source with its bootstrap CI; 'n/a' where not measured."""
    names = list(summary)
    for x, name in enumerate(names):
        row = summary[name]
        if row is None or math.isnan(row["mean"]):
            ax.text(x, 0.02, "n/a", ha="center", va="bottom", color="grey")
            continue
        err = [[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]]
        color = "tab:blue" if ABLATION_SOURCES[name].kind == "requirements" else "tab:orange"
        ax.bar(x, row["mean"], yerr=err, capsize=4, color=color)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("pass rate (bootstrap CI)")
    return ax


def run_conditions(names: Sequence[str], apps: Sequence[App], **kwargs: Any) -> dict[str, Any]:
    """`run_condition` for each name, in order (one shared set of loaded backends)."""
    results = {}
    for name in names:
        results[name] = run_condition(name, apps, **kwargs)
        status = "measured" if results[name].measured else results[name].unavailable
        log.info("ablation source %s: %s", name, status)
    return results


def save_condition(result: ConditionResult, artifact: Callable[[str], Path]) -> None:
    """Write `evaluation-<source>.json` and `reconstruction-<source>.json` (records) through
    `artifact` (e.g. `RunRecord.artifact`); error analysis reads both back."""
    from cetd_lib.evaluation.phase2 import to_json

    if not result.measured:
        return
    name = result.source.name
    artifact(f"evaluation-{name}.json").write_text(to_json(result.evaluation.to_dict()))
    artifact(f"reconstruction-{name}.json").write_text(to_json(result.reconstruction.to_dict()))


def per_app_table(results: Mapping[str, ConditionResult]) -> str:
    """Markdown: one row per app, one column per measured source (the paired data)."""
    measured = {n: r.evaluation.pass_rates for n, r in results.items() if r.measured}
    apps = sorted({a for rates in measured.values() for a in rates})
    lines = ["| app | " + " | ".join(measured) + " |", "|---" * (len(measured) + 1) + "|"]
    for app_id in apps:
        cells = []
        for rates in measured.values():
            v = rates.get(app_id, float("nan"))
            cells.append("—" if math.isnan(v) else f"{v:.2f}")
        lines.append(f"| {app_id} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
