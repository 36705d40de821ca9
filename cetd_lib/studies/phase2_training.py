"""Phase-2 training end to end, as the phase-2 study calls it (it takes the whole Params).

    stage1_dir, stage2_dir = run_phase2_training(session.params, phase2_apps, session.run)

Stage 1 trains a fresh extractor (`params.extractor`) on the train split's gold requirements,
validating BLEU on the val split; stage 2 starts from stage 1's best checkpoint and trains on
the guarded reconstruction reward with the orchestra of `params.orchestra`. The checkpoints
land where the ablation looks for them: `<run>/artifacts/stage1/` and `<run>/artifacts/stage2/`
(working files, per-epoch checkpoints and TRL state, under `<run>/artifacts/train/`).

Both stages log into one `LiveMetrics` built from `params.dashboard` (a live figure in
JupyterLab, throttled lines headless), under `stage1/` and `stage2/`; wall time, steps and
throughput per stage go to `train_summary.json` and the run summary, which the training report
(`tracking.report.write_training_report`) reads. `train_summary.json["apps"]` records the train
and val app ids, so the ablation can refuse to evaluate a checkpoint on apps it was fitted to.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cetd_lib.params import Params
from cetd_lib.tracking.runs import RunRecord

if TYPE_CHECKING:
    from cetd_lib.apps.app import App
    from cetd_lib.evaluation.phase2 import Phase2Apps
    from cetd_lib.reconstruction.backends import Backend
    from cetd_lib.reconstruction.likelihood import AnswerScorer

log = logging.getLogger(__name__)


def run_phase2_training(
    params: Params,
    apps: Phase2Apps | Mapping[str, Sequence[App]],
    run: RunRecord,
    *,
    device: str = "cpu",
    backends: dict[str, Backend] | None = None,
    base: tuple[Any, Any] | None = None,
    scorer: AnswerScorer | None = None,
) -> tuple[Path, Path]:
    """Stage 1 then stage 2; returns (stage-1 best, stage-2 final) checkpoint directories.

    `apps`: a `Phase2Apps` (its "train" and "val" splits are used). `backends`: ready
    reconstruction backends by member name (else built from `params.orchestra`). `base`:
    a loaded `(model, tokenizer)` for the extractor (changed in place). `scorer`: the
    `likelihood.AnswerScorer` that `stage2.reward: likelihood | both` needs.
    """
    from cetd_lib.tracking.live import LiveMetrics

    train_apps, val_apps = list(apps["train"]), list(apps["val"])
    if not train_apps:
        raise ValueError("phase-2 training needs apps in the train split (data.max_apps > 0)")
    work = run.artifact("train")
    work.mkdir(parents=True, exist_ok=True)
    with LiveMetrics.from_config(run, params.dashboard, report_to=params.run.report_to) as live:
        return _train(params, train_apps, val_apps, run, live, work, device, backends, base, scorer)


def _likelihood_logs(reward: Any) -> list[Any]:
    """The RewardLog of the likelihood part of `reward` (itself, or a part of `both`)."""
    parts = getattr(reward, "parts", (reward,))
    return [p.log for p in parts if getattr(p, "__name__", "") == "likelihood"]


def _orchestra_scorer(name: str, backends: dict[str, Backend]) -> AnswerScorer:
    """The judge `name` on the first orchestra member (the one the calibration scored with)."""
    from cetd_lib.reconstruction.likelihood import make_scorer

    if not backends:
        raise ValueError("stage2.reward likelihood | both needs an orchestra member to score with")
    return make_scorer(name, next(iter(backends.values())))


def _train(params, train_apps, val_apps, run, live, work, device, backends, base, scorer):
    """The two stages, both logging into `live` (opened and closed by the caller)."""
    from cetd_lib.models import load_extractor, make_extractor
    from cetd_lib.reconstruction.backends import build_orchestra
    from cetd_lib.tracking.runs import set_seed
    from cetd_lib.train.likelihood import make_stage2_reward
    from cetd_lib.train.reward import make_reconstruction_reward
    from cetd_lib.train.stage1 import train_stage1
    from cetd_lib.train.stage2 import train_stage2

    timings: dict[str, float] = {}
    started = time.perf_counter()
    set_seed(params.stage1.seed)
    extractor = make_extractor(config=params.extractor, base=base)
    stage1 = train_stage1(
        extractor, train_apps, val_apps, params.stage1, work / "stage1", live=live, device=device
    )
    stage1_dir = _publish(stage1.best_dir, run.artifact("stage1"))
    timings["stage1_s"] = time.perf_counter() - started
    del extractor

    started = time.perf_counter()
    stage2_apps, selection = list(train_apps), None
    if params.stage2.app_selection == "calibrated":
        from cetd_lib.train.selection import load_calibration_results, select_content_apps

        run_id = params.stage2.calibration_run_id
        results = load_calibration_results(params.run.outputs_dir, run_id)
        selection = select_content_apps(results, train_apps, run_id=run_id)
        stage2_apps = list(selection.apps)
        log.info("stage 2: %d of %d train apps kept by %s", len(stage2_apps), len(train_apps),
                 selection.rule)  # fmt: skip
    set_seed(params.stage2.seed)
    extractor = load_extractor(stage1_dir)
    if backends is None and (params.stage2.reward != "likelihood" or scorer is None):
        backends = build_orchestra(params.orchestra)
    if scorer is None and params.stage2.reward != "pass_rate":
        scorer = _orchestra_scorer(params.stage2.likelihood_scorer, backends)
    by_id = {app.app_id: app for app in stage2_apps}
    reward = make_stage2_reward(
        params.stage2.reward,
        by_id,
        pass_rate=lambda: make_reconstruction_reward(
            by_id, backends, params.harness, params.guard, orchestra=params.orchestra
        ),
        scorer=scorer,
        guard_config=params.guard,
        prompt_version=params.orchestra.prompt_version,
        cap=params.stage2.likelihood_cap,
    )
    stage2 = train_stage2(
        extractor, stage2_apps, reward, params.stage2, work / "stage2", live=live, device=device
    )
    stage2_dir = _publish(stage2.final_dir, run.artifact("stage2"))
    timings["stage2_s"] = time.perf_counter() - started

    summary = {
        # what the ablation checks before evaluating these checkpoints: it refuses these apps
        "apps": {
            "train": sorted(app.app_id for app in train_apps),
            "val": sorted(app.app_id for app in val_apps),  # chose stage 1's best checkpoint
        },
        "stage1": stage1.to_dict(),
        "stage2": {"steps": stage2.steps, "final_dir": str(stage2_dir)},
        # which train apps stage 2 used and why (null: all of them, app_selection: all)
        "stage2_app_selection": selection.to_dict() if selection is not None else None,
        "guard_pass_share": reward.log.guard_pass_share(),
        "within_group_reward_std": [
            reward.log.stats(i)["rewards/reconstruction/within_group_std"]
            for i in range(len(reward.log.steps))
        ],
        # `reward: both`: the likelihood term's spread per step beside the task reward's
        "within_group_likelihood_std": [
            log.stats(i)["rewards/reconstruction/within_group_std"]
            for log in _likelihood_logs(reward)
            for i in range(len(log.steps))
        ],
        "guard_rejections": [
            {"app_id": a, "rules": list(r), "text": t} for a, r, t in reward.log.rejections()
        ],
        "timings": timings,
    }
    run.artifact("train_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    run.write_summary({**run.summary(), "phases": phase_summaries(summary)})
    return stage1_dir, stage2_dir


def phase_summaries(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per phase that ran: epochs, optimizer steps and wall time, for the training report (it
    reads `summary.json["phases"]`; the rows of metrics.jsonl only bound the wall time)."""
    stage1 = summary["stage1"]
    return {
        "stage1": {
            "epochs": stage1["epochs_run"],
            "steps": stage1["steps"],
            "wall_time_s": summary["timings"]["stage1_s"],
            "best_val_bleu": stage1["best_val_bleu"],
            "stopped_early": stage1["stopped_early"],
        },
        "stage2": {
            "steps": summary["stage2"]["steps"],
            "wall_time_s": summary["timings"]["stage2_s"],
        },
    }


def _publish(source: Path, target: Path) -> Path:
    """Copy a checkpoint to where the ablation reads it (replacing an older copy)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return target
