"""Held-out evaluation of the trained model on the build's test split, and the seed targets
as met / missed (`evaluate_model` -> results.json).

Also the HumanEval problems the build held out (`heldout_humaneval`), which the curriculum's
pass@1 gate samples from too, so gate and final evaluation score the same problems.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from cetd_lib.multitask.evaluation import evaluate as ev
from cetd_lib.multitask.evaluation.clarification_delta import clarification_delta_pass
from cetd_lib.multitask.evaluation.explanation_review import explanation_context, explanation_rating
from cetd_lib.multitask.evaluation.scores import grouped_prf, multilabel_prf, prf, target_verdict
from cetd_lib.multitask.model.backbone import MultitaskModel
from cetd_lib.multitask.model.train_config import MultitaskTrainConfig
from cetd_lib.multitask.model.train_data import MultitaskData, TaskFormats, collate_classify, sample
from cetd_lib.sandbox.config import HarnessConfig


def apps_for(app_ids: Iterable[str]) -> dict[str, Any]:
    """The apps (bundled or HumanEval) behind data-build records, by id; an id that is neither
    (an app from another apps_dir) is left out and so not reconstructed."""
    from cetd_lib.apps.app import load_apps
    from cetd_lib.apps.humaneval import app_id_for, humaneval_app, read_problems

    wanted = set(app_ids)
    apps = {a.app_id: a for a in load_apps(None) if a.app_id in wanted}
    if wanted - set(apps):
        for problem in read_problems().values():
            if app_id_for(problem["task_id"]) in wanted:
                app = humaneval_app(problem)
                apps[app.app_id] = app
    return apps


def heldout_humaneval(data: MultitaskData, limit: int | None, seed: int) -> list[tuple[dict, Any]]:
    """(problem, app) of the HumanEval problems the data build put in the test split."""
    groups = {r["group"] for r in data.split("pairs", "test") if r.get("origin") == "humaneval"}
    groups |= {r["group"] for r in data.split("corpus", "test") if r.get("origin") == "humaneval"}
    if not groups:
        return []
    from cetd_lib.apps.humaneval import app_id_for, humaneval_app, read_problems

    problems = [p for p in read_problems().values() if app_id_for(p["task_id"]) in groups]
    problems = sorted(problems, key=lambda p: int(p["task_id"].split("/")[-1]))
    chosen = sample(problems, limit, random.Random(f"{seed}:humaneval"))
    return [(p, humaneval_app(p)) for p in sorted(chosen, key=lambda p: p["task_id"])]


@torch.no_grad()
def classify(
    model: MultitaskModel,
    formats: TaskFormats,
    task: str,
    rows: Sequence[dict],
    batch_size: int,
    threshold: float,
) -> tuple[list[list[int]], list[list[int]]]:
    truth, predicted = [], []
    for i in range(0, len(rows), batch_size):
        chunk = rows[i : i + batch_size]
        examples = [formats.example(task, r, random.Random(0)) for r in chunk]
        batch = collate_classify(examples, model.tokenizer.pad_token_id)
        probs = torch.sigmoid(model.head_logits(task, batch["input_ids"], batch["attention_mask"]))
        probs = probs.view(len(chunk), -1)
        predicted += (probs > threshold).int().tolist()
        truth += batch["targets"].view(len(chunk), -1).int().tolist()
    return truth, predicted


def evaluate_model(
    model: MultitaskModel,
    data: MultitaskData,
    config: MultitaskTrainConfig,
    *,
    baseline_pass_at_1: float | None,
    harness: HarnessConfig | None = None,
) -> dict[str, Any]:
    """Per-task metrics on the test split, and the seed targets as met / missed."""
    model.eval()
    formats = TaskFormats(model.tokenizer, config, data)
    rng = random.Random(f"{config.seed}:eval")
    cap = config.eval_max_examples
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}

    def lap(name: str, started: float) -> None:
        timings[name] = round(time.perf_counter() - started, 1)

    t = time.perf_counter()
    problems = heldout_humaneval(data, config.humaneval_problems, config.seed)
    results["humaneval"] = ev.humaneval_pass_at_k(
        model, problems, n=config.humaneval_samples, max_new_tokens=config.max_new_tokens,
        temperature=config.temperature, top_p=config.top_p, seed=config.seed, harness=harness,
            mode=config.humaneval_prompt,
    )  # fmt: skip
    lap("humaneval", t)

    t = time.perf_counter()
    spec = model.info.heads
    for task, labels in (("quality", spec.quality_labels), ("security", spec.security_labels)):
        rows = sample(data.split(task, "test"), cap and cap * 4, rng)
        truth, predicted = classify(model, formats, task, rows, config.batch_size, config.threshold)
        results[task] = {"n": len(rows), **multilabel_prf(truth, predicted, labels)}
        if task == "security":
            cwe = {
                f["code"]: f.get("cwe_category") or "unknown"
                for r in data.split("security", "train") + data.split("security", "test")
                for f in r["findings"]
            }
            results[task]["per_cwe"] = grouped_prf(truth, predicted, labels, cwe)
    rows = sample(data.split("clarification", "test"), cap and cap * 4, rng)
    truth, predicted = classify(
        model, formats, "clarification", rows, config.batch_size, config.threshold
    )
    results["clarification"] = {
        "n": len(rows),
        **prf(
            sum(a[0] and b[0] for a, b in zip(truth, predicted, strict=True)),
            sum((not a[0]) and b[0] for a, b in zip(truth, predicted, strict=True)),
            sum(a[0] and not b[0] for a, b in zip(truth, predicted, strict=True)),
        ),
    }
    lap("heads", t)

    t = time.perf_counter()
    questions = sample(formats.records(data, "clarify_question", "test"), cap, rng)
    results["clarification"]["questions"] = ev.text_generation(
        model, [r["question"] for r in questions],
        [formats.prompt_ids("clarify_question", r, config.text_max_new_tokens) for r in questions],
        max_new_tokens=config.text_max_new_tokens, seed=config.seed,
    )  # fmt: skip
    explanations = sample(data.split("explanation", "test"), cap, rng)
    results["explanation"] = ev.text_generation(
        model, [r["target"] for r in explanations],
        [formats.prompt_ids("explain", r, config.text_max_new_tokens) for r in explanations],
        max_new_tokens=config.text_max_new_tokens, seed=config.seed,
    )  # fmt: skip
    # each sample carries what it explains, so the human-review tool can show it to a rater
    results["explanation"]["samples"] = [
        {**explanation_context(r), **s}
        for r, s in zip(explanations, results["explanation"].get("samples", []), strict=True)
    ]
    results["explanation"]["rating"] = explanation_rating(
        [], target=config.explanation_rating_target
    )
    lap("text generation", t)

    t = time.perf_counter()
    # the model's own questions (greedy, generated above), answered from the gold requirements
    asked = results["clarification"]["questions"].get("samples", [])
    model_questions = [x["generated"] for x in asked]
    results["clarification"]["delta"] = clarification_delta_pass(
        model, questions, apps_for(r.get("app_id", r["group"]) for r in questions),
        model_questions=model_questions, max_new_tokens=config.max_new_tokens, harness=harness,
    )  # fmt: skip
    lap("clarification Δpass@1", t)

    t = time.perf_counter()
    pairs = [r for r in data.split("pairs", "test") if r["direction"] == "code_to_test"]
    pairs = sample(pairs, cap, rng)
    results["tests"] = ev.generated_tests(
        model, pairs, [formats.prompt_ids("test", r, config.max_new_tokens) for r in pairs],
        max_new_tokens=config.max_new_tokens, max_mutants=config.mutation_max_mutants,
        seed=config.seed, harness=harness,
    )  # fmt: skip
    lap("generated tests", t)

    he = results["humaneval"]
    gain = (
        he["pass@1"] - baseline_pass_at_1
        if "pass@1" in he and baseline_pass_at_1 is not None
        else None
    )
    results["curriculum_pass_at_1_gain"] = gain
    results["error_analysis"] = ev.task_error_analysis(results, config.underperforming_below)
    results["targets"] = {
        "pass@1": target_verdict(
            he.get("pass@1"), config.pass_at_1_target, what="HumanEval pass@1"
        ),
        "quality_macro_f1": target_verdict(
            results["quality"]["macro"]["f1"], config.quality_f1_target, what="quality macro F1"
        ),
        "security_macro_f1": target_verdict(
            results["security"]["macro"]["f1"], config.security_f1_target, what="security macro F1"
        ),
        "test_pass@1": target_verdict(
            results["tests"].get("pass@1"), config.test_pass_target, what="generated-test pass@1"
        ),
        "delta_pass@1": target_verdict(
            results["clarification"]["delta"]["delta_pass@1"], config.delta_pass_target,
            what="Δpass@1 with vs without the answer to the model's own question",
        ),
        "explanation_rating": results["explanation"]["rating"],
    }  # fmt: skip
    results["timings_s"] = timings
    return results
