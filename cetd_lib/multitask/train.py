"""Train the multi-task model through the curriculum, evaluate it, export the best checkpoint.

    python -m cetd_lib multitask-train --params params/smoke.yaml [--set key=value ...]

Reads the sets of a `multitask.data build` run (multitask_train.data_run_id) or builds them into
this run first; splits are the build's (by source group), never re-drawn here. Writes to the
run record: live metrics (`losses/*`, `val/*`, `charts/*`), `artifacts/multitask/events.json`
(every gate and transition), `results.json` at the run's root (per-task held-out metrics and
the seed targets as met / missed), the best joint-phase checkpoint under
`artifacts/multitask/best/`, exported to `<outputs>/models/final/`.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cetd_lib.multitask.data.config import MultitaskDataConfig
from cetd_lib.multitask.evaluation import evaluate as ev
from cetd_lib.multitask.evaluation.explanation_review import (
    attach_rating,
    stored_explanation_ratings,
)
from cetd_lib.multitask.evaluation.heldout import evaluate_model, heldout_humaneval
from cetd_lib.multitask.evaluation.scores import entity_names, ontology_utilization
from cetd_lib.multitask.model.backbone import TASKS, HeadSpec, MultitaskModel
from cetd_lib.multitask.model.checkpoints import export_final, save_atomic
from cetd_lib.multitask.model.curriculum import PHASES, Curriculum, seed_gates
from cetd_lib.multitask.model.train_config import MultitaskTrainConfig
from cetd_lib.multitask.model.train_data import MultitaskData, sample
from cetd_lib.multitask.model.trainer import Trainer
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.tracking.live import LiveMetrics
from cetd_lib.tracking.runs import RunRecord

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Gate metrics that need generation
# ---------------------------------------------------------------------------------------------


def ontology_probe(trainer: Trainer, hops: str) -> dict[str, Any]:
    """Generate code from ontology paths on val chunks; see `scores.ontology_utilization`."""
    cfg, formats = trainer.cfg, trainer.formats
    rows = sample(
        formats.records(trainer.data, "ontology", "val"),
        cfg.eval_max_examples,
        random.Random(f"{cfg.seed}:onto-probe"),
    )
    if not rows:
        return {"utilization": math.nan, "n": 0}
    prompts = [formats.prompt_ids("ontology", r, cfg.text_max_new_tokens, hops) for r in rows]
    texts = [
        g[0]
        for g in ev.generate(
            trainer.model, prompts, max_new_tokens=cfg.text_max_new_tokens, seed=cfg.seed
        )
    ]
    names = [entity_names(formats.onto[r["group"]]["entities"]) for r in rows]
    return ontology_utilization(texts, names)


# ---------------------------------------------------------------------------------------------
# The curriculum run
# ---------------------------------------------------------------------------------------------


def training_config_writer(
    model: MultitaskModel, data: MultitaskData, config: MultitaskTrainConfig, trainer: Trainer
) -> Callable[[Path, int], Path]:
    """`write(directory, step)`: training_config.json for a checkpoint (model config, the
    optimiser's groups, data files and their hashes, seed, random state). The data files are
    hashed once here: they do not change during a run."""
    from cetd_lib.tracking.training_config import hash_files, save_training_config

    data_hashes = hash_files(sorted(Path(data.source).rglob("*.json*")))

    def write(directory: Path, step: int) -> Path:
        return save_training_config(
            directory,
            model_config=model.info,
            optimizer={
                "name": type(trainer.optimizer).__name__,
                "groups": [
                    {k: v for k, v in g.items() if k != "params"}
                    for g in trainer.optimizer.param_groups
                ],
            },
            schedule={"kind": "constant", "curriculum_phase_epochs": config.phase_epochs},
            data_paths_and_hashes=data_hashes,
            seed=config.seed,
            step=step,
            extra={"multitask_train": config},
        )

    return write


def run_curriculum(
    model: MultitaskModel,
    data: MultitaskData,
    config: MultitaskTrainConfig,
    out_dir: Path,
    *,
    log_metrics: Callable[..., Any] | None = None,
    harness: HarnessConfig | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train phase by phase until the curriculum is done; keep the best joint checkpoint in
    `out_dir/best`. Returns events, the per-epoch metrics and the pass@1 baseline."""
    trainer = Trainer(model, data, config, log_metrics=log_metrics)
    write_config = training_config_writer(model, data, config, trainer)
    curriculum = Curriculum(config.phase_epochs, seed_gates(config), config.plateau_patience,
                            config.plateau_min_delta)  # fmt: skip
    problems = heldout_humaneval(data, config.humaneval_problems, config.seed)
    emit = log_metrics or (lambda step, **m: None)
    baseline: float | None = None
    epochs: list[dict[str, Any]] = []
    best_dir = out_dir / "best"

    def pass_at_1() -> float | None:
        if not problems:
            return None
        result = ev.humaneval_pass_at_k(
            model, problems, n=config.gate_samples, max_new_tokens=config.max_new_tokens,
            temperature=config.temperature, top_p=config.top_p, seed=config.seed, harness=harness,
            mode=config.humaneval_prompt,
        )  # fmt: skip
        return result["pass@1"]

    while not curriculum.done:
        phase, tasks = curriculum.phase, curriculum.tasks
        started = time.perf_counter()
        metrics: dict[str, Any] = trainer.train_epoch(phase, tasks, curriculum.epoch)
        metrics.update(trainer.validate(phase, tasks))
        if phase == "simple_ontology":
            probe = ontology_probe(trainer, "simple")
            metrics["val/ontology_utilization"] = probe["utilization"]
            metrics["val/ontology_referencing_share"] = probe["referencing_share"]
        if phase == "multi_hop_ontology":
            score = pass_at_1()
            metrics["val/pass_at_1"] = score
            if score is not None and baseline is not None:
                metrics["val/pass_at_1_gain"] = score - baseline
        if phase == "joint":
            per_task = {t: metrics.get(f"val/{t}_loss") for t in tasks}
            boosted = trainer.reweighter.update(per_task)
            if boosted:
                metrics["reweighted"] = boosted
            for task in tasks:
                metrics[f"weights/{task}"] = math.exp(
                    -float(model.log_vars[TASKS.index(task)].detach())
                ) * trainer.reweighter.weights.get(task, 1.0)
        metrics["charts/epoch_s"] = time.perf_counter() - started
        events = curriculum.observe(metrics)
        epochs.append({"phase": phase, "epoch": curriculum.epoch, **metrics})
        emit(trainer.step, **{k: v for k, v in metrics.items() if isinstance(v, int | float)})
        for event in events:
            if event["event"] == "epoch" and event.get("is_best"):
                save_atomic(model, best_dir, {"epoch": curriculum.epoch, "val_loss": event["value"],
                                              "step": trainer.step}, write_config)  # fmt: skip
            if event["event"] != "epoch":
                log.info("curriculum: %s", event)
                if on_event:
                    on_event(event)
            if event["phase"] == "code" and event["event"] in ("gate met", "gate missed"):
                baseline = pass_at_1()
                event["pass_at_1_code_only"] = baseline
    if not best_dir.exists():
        raise RuntimeError("curriculum finished without a joint-phase checkpoint")
    return {
        "events": curriculum.events,
        "epochs": epochs,
        "pass_at_1_code_only": baseline,
        "best_epoch": curriculum.best_epoch,
        "best_val_loss": curriculum.best,
        "problems": [p["task_id"] for p, _ in problems],
    }


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def load_data(
    config: MultitaskTrainConfig,
    run: RunRecord,
    *,
    data_config: MultitaskDataConfig,
    outputs_dir: str | Path,
    apps_dir: str | None = None,
) -> MultitaskData:
    """The data build named by `data_run_id` (under `outputs_dir`), or a fresh build by
    `data_config` into this run's record."""
    if config.data_run_id:
        artifacts = Path(outputs_dir) / "runs" / config.data_run_id / "artifacts"
        if not artifacts.is_dir():
            raise FileNotFoundError(
                f"multitask_train.data_run_id={config.data_run_id!r}: {artifacts} does not exist"
            )
        return MultitaskData.from_artifacts(artifacts)
    from cetd_lib.multitask.data.build import build_sets, write_build

    if not run.artifact("datasheet.json").exists():
        result = build_sets(data_config, apps_dir=apps_dir)
        write_build(result, data_config, run)
    return MultitaskData.from_artifacts(run.artifact("datasheet.json").parent)


def run_multitask(
    config: MultitaskTrainConfig,
    run: RunRecord,
    *,
    data_config: MultitaskDataConfig,
    harness: HarnessConfig,
    outputs_dir: str | Path,
    review_store: Path,
    apps_dir: str | None = None,
    live: LiveMetrics | None = None,
) -> dict[str, Any]:
    """Data -> model -> curriculum -> export -> held-out evaluation; writes results.json.

    `outputs_dir`: where `data_run_id` and `export_dir` are; `review_store`: the review store
    whose ratings of this run's explanations are attached when present."""
    from cetd_lib.tracking.runs import set_seed, write_json_atomic

    started = time.perf_counter()
    set_seed(config.seed)
    data = load_data(
        config, run, data_config=data_config, outputs_dir=outputs_dir, apps_dir=apps_dir
    )
    heads = HeadSpec.from_vocabularies(
        data.quality_vocab, data.security_vocab, config.max_pos_weight
    )
    model = MultitaskModel.create(
        config.base_model, heads, lora_r=config.lora_r, lora_alpha=config.lora_alpha,
        lora_targets=config.lora_target_modules, seed=config.seed,
    )  # fmt: skip
    out = run.artifact("multitask")
    events_path = out / "events.json"
    events: list[dict[str, Any]] = []

    def on_event(event: dict[str, Any]) -> None:
        events.append(event)
        write_json_atomic(events_path, events)

    log_metrics = live.log if live is not None else run.log_metrics
    trained = run_curriculum(model, data, config, out, log_metrics=log_metrics,
                             harness=harness, on_event=on_event)  # fmt: skip
    write_json_atomic(events_path, trained["events"])
    train_s = time.perf_counter() - started
    final = Path(outputs_dir) / config.export_dir
    kept = export_final(out / "best", final)
    best = MultitaskModel.load(final)
    results = evaluate_model(best, data, config, baseline_pass_at_1=trained["pass_at_1_code_only"],
                             harness=harness)  # fmt: skip
    # human ratings of this run's explanations, if a review of them is already stored
    attach_rating(results, stored_explanation_ratings(review_store, run.run_id),
                  target=config.explanation_rating_target, run_id=run.run_id)  # fmt: skip
    gates = [
        e
        for e in trained["events"]
        if e["event"] in ("gate met", "gate missed", "plateau", "max epochs")
    ]
    results.update(
        {
            "base_model": config.base_model,
            "data": data.source,
            "phases": list(PHASES),
            "gates": gates,
            "epochs": trained["epochs"],
            "best_epoch": trained["best_epoch"],
            "best_val_loss": trained["best_val_loss"],
            "pass_at_1_code_only": trained["pass_at_1_code_only"],
            "exported_to": str(final),
            "previous_export_kept_as": str(kept) if kept else None,
            "wall_time_s": {
                "train": round(train_s, 1),
                "total": round(time.perf_counter() - started, 1),
            },
        }
    )
    write_json_atomic(run.dir / "results.json", results)
    targets = {k: v["status"] for k, v in results["targets"].items()}
    # criteria_by_task: the training report's per-task seed-target tables read this
    criteria = {
        key: [{"name": row["what"], "target": row["target"], "value": row["value"]}]
        for key, row in results["targets"].items()
    }
    run.write_summary({**run.summary(), "multitask/targets": targets, "criteria_by_task": criteria,
                       "multitask/results": str(run.dir / "results.json")})  # fmt: skip
    return results


def targets_markdown(results: dict[str, Any]) -> str:
    """The seed targets as a markdown table (value, target, met / missed / not measured)."""
    lines = ["| target | value | seed target | status |", "|---|---:|---:|---|"]
    for row in results["targets"].values():
        value = "—" if row["value"] is None else f"{row['value']:.3f}"
        lines.append(f"| {row['what']} | {value} | > {row['target']:g} | {row['status']} |")
    return "\n".join(lines)


def untargeted_markdown(results: dict[str, Any]) -> str:
    """Measured figures the seed sets no target for: CodeBLEU and generated-test coverage."""

    def fmt(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    he, tests = results["humaneval"], results["tests"]
    bleu = he.get("codebleu") or {}
    coverage = tests.get("coverage") or {}
    gold = tests.get("reference_coverage") or {}
    return "\n".join([
        f"- HumanEval CodeBLEU (first sample vs canonical solution, {he.get('n_problems', 0)} "
        f"problems): {fmt(bleu.get('codebleu'))} (n-gram {fmt(bleu.get('ngram_match_score'))}, "
        f"syntax {fmt(bleu.get('syntax_match_score'))}, "
        f"data flow {fmt(bleu.get('dataflow_match_score'))})",
        f"- Line coverage of the reference code by the generated tests: "
        f"{fmt(coverage.get('mean'))} over {coverage.get('n', 0)} runs; by the gold test "
        f"function of the same pairs: {fmt(gold.get('mean'))}",
    ])  # fmt: skip


def summary_table(results: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of results.json."""
    tests = results["tests"]
    return {
        "humaneval": {
            **{k: v for k, v in results["humaneval"].items() if k.startswith("pass@")},
            "codebleu": (results["humaneval"].get("codebleu") or {}).get("codebleu"),
        },
        "quality_macro_f1": results["quality"]["macro"]["f1"],
        "security_macro_f1": results["security"]["macro"]["f1"],
        "clarification": {k: results["clarification"][k] for k in ("precision", "recall", "f1")},
        "explanation": {k: results["explanation"].get(k) for k in ("bleu", "chrf")},
        "tests": {
            **{k: tests.get(k) for k in ("pass@1", "mutation_score")},
            "line_coverage": (tests.get("coverage") or {}).get("mean"),
            "gold_test_line_coverage": (tests.get("reference_coverage") or {}).get("mean"),
        },
        "gates": [f"{g['phase']}: {g['event']} ({g.get('gate')}, value={g.get('value')})"
                  for g in results["gates"]],
        "targets": {k: v["status"] for k, v in results["targets"].items()},
        "wall_time_s": results["wall_time_s"],
    }  # fmt: skip
