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

import json
import logging
import math
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cetd_lib.multitask import evaluate as ev
from cetd_lib.multitask import objectives as obj
from cetd_lib.multitask.curriculum import PHASES, Curriculum, TaskReweighter, seed_gates
from cetd_lib.multitask.explanation_review import (
    attach_rating,
    explanation_context,
    explanation_rating,
    stored_explanation_ratings,
)
from cetd_lib.multitask.model import TASKS, HeadSpec, MultitaskModel, uncertainty_weighted
from cetd_lib.multitask.train_config import MultitaskTrainConfig
from cetd_lib.review import store_path

log = logging.getLogger(__name__)

CLASSIFY = ("quality", "security", "clarification")
SET_FILES = ("corpus", "quality", "security", "pairs", "clarification", "explanation", "ontology")


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


@dataclass
class MultitaskData:
    """Every set per split, as the data build wrote them, plus the label vocabularies."""

    sets: dict[str, dict[str, list[dict[str, Any]]]]
    quality_vocab: dict[str, Any]
    security_vocab: dict[str, Any]
    source: str

    @classmethod
    def from_artifacts(cls, artifacts: str | Path) -> MultitaskData:
        root = Path(artifacts)
        sets: dict[str, dict[str, list]] = {}
        for name in SET_FILES:
            sets[name] = {}
            for split in ("train", "val", "test"):
                path = root / name / f"{split}.jsonl"
                if not path.exists():
                    raise FileNotFoundError(
                        f"{path}: missing; point multitask_train.data_run_id at a finished "
                        "`python -m cetd_lib multitask-data build` run"
                    )
                sets[name][split] = [json.loads(x) for x in path.read_text().splitlines() if x]
        vocabs = []
        for name in ("quality_labels.json", "security_labels.json"):
            path = root / name
            if not path.exists():
                raise FileNotFoundError(f"{path}: missing label vocabulary of the data build")
            vocabs.append(json.loads(path.read_text()))
        return cls(sets, vocabs[0], vocabs[1], str(root))

    def split(self, name: str, split: str) -> list[dict[str, Any]]:
        return self.sets[name][split]

    def ontology_by_group(self) -> dict[str, dict[str, Any]]:
        return {r["group"]: r for rows in self.sets["ontology"].values() for r in rows}


def sample(rows: Sequence[Any], k: int | None, rng: random.Random) -> list[Any]:
    rows = list(rows)
    return rows if k is None or k >= len(rows) else rng.sample(rows, k)


# ---------------------------------------------------------------------------------------------
# Task formats: (head tokens, body text, target text) per record
# ---------------------------------------------------------------------------------------------


def ontology_paths(record: dict[str, Any], symbols: Sequence[str], hops: str, k: int) -> list[str]:
    """Relation paths for a chunk: one-hop (`simple`) or multi-hop, those naming one of the
    chunk's symbols first; multi-hop falls back to one-hop where a file has none."""
    paths = record.get("paths", [])
    multi = [p for p in paths if " ; " in p]
    chosen = (multi or paths) if hops == "multi" else [p for p in paths if " ; " not in p]
    named = [p for p in chosen if any(f".{s} " in p or p.endswith(f".{s}") for s in symbols)]
    rest = [p for p in chosen if p not in named]
    return (named + rest)[:k]


def explanation_doc(record: dict[str, Any], max_chars: int) -> str:
    """The rule's documentation (the data build puts it after "Explanation:" in the target)."""
    _, _, doc = record["target"].partition("Explanation:")
    return doc.strip()[:max_chars]


class TaskFormats:
    """Turns records into token examples for every task, with one tokenizer and budget."""

    def __init__(self, tokenizer: Any, config: MultitaskTrainConfig, data: MultitaskData) -> None:
        self.tok = tokenizer
        self.cfg = config
        self.onto = data.ontology_by_group()
        self.eos = tokenizer.eos_token_id

    def ids(self, text: str) -> list[int]:
        return obj.encode_text(self.tok, text)

    def head(self, *tokens: str) -> list[int]:
        return [obj.token_id(self.tok, t) for t in tokens]

    def prompt(
        self, task: str, record: dict[str, Any], hops: str = "multi"
    ) -> tuple[list, str, str]:
        """(head ids, body text, target text) of a generation task."""
        if task == "ontology":
            paths = ontology_paths(
                self.onto[record["group"]], record.get("symbols", []), hops,
                self.cfg.ontology_paths_in_prompt,
            )  # fmt: skip
            return self.head(obj.TASK_TOKENS["onto"]), "\n".join(paths) + "\n", record["text"]
        if task == "test":
            token = "test" if record["direction"] == "code_to_test" else "code"
            return self.head(obj.TASK_TOKENS[token]), record["input"], record["target"]
        if task == "clarify_question":
            ambiguity = obj.AMBIGUITY_TOKENS[record["mode"]]
            return (
                self.head(obj.TASK_TOKENS["clarify"], ambiguity),
                record["description"],
                record["question"],
            )
        if task == "explain":
            doc = explanation_doc(record, self.cfg.rule_doc_max_chars)
            body = f"rule: {record['tool']} {record['code']}\ncontext: {doc}\n\n{record['input']}\n"
            return self.head(obj.TASK_TOKENS["explain"]), body, record["target"]
        raise KeyError(f"no generation format for task {task!r}")

    def prompt_ids(
        self, task: str, record: dict[str, Any], max_new_tokens: int, hops: str = "multi"
    ):
        """The prompt cut as in training (`prompt_target_example`: the target takes at most
        half of max_seq_len), so a generation cap above max_seq_len never leaves the model
        only the task token; generation may then run past max_seq_len."""
        head, body, _ = self.prompt(task, record, hops)
        reserved = min(max_new_tokens, self.cfg.max_seq_len // 2)
        room = max(0, self.cfg.max_seq_len - reserved - len(head))
        return head + self.ids(body)[:room]

    def example(self, task: str, record: dict[str, Any], rng: random.Random, hops: str = "multi",
                kind: str | None = None):  # fmt: skip
        cfg = self.cfg
        if task == "code":
            return obj.code_example(
                self.tok, record["text"], rng, max_len=cfg.max_seq_len, rate=cfg.mask_rate,
                fim_rate=cfg.fim_rate, min_span=cfg.mask_span_min, max_span=cfg.mask_span_max,
                kind=kind,
            )  # fmt: skip
        if task in CLASSIFY:
            text = record["description"] if task == "clarification" else record["text"]
            ids = self.ids(text)[: cfg.max_seq_len]
            targets = [int(record["label"])] if task == "clarification" else record["multi_hot"]
            example = {"input_ids": ids, "targets": targets}
            if task == "security":
                example["severity"] = record["severity_weight"]
            return example
        head, body, target = self.prompt(task, record, hops)
        return obj.prompt_target_example(
            head, self.ids(body), self.ids(target), eos_id=self.eos, max_len=cfg.max_seq_len
        )

    def records(self, data: MultitaskData, task: str, split: str) -> list[dict[str, Any]]:
        """The records a task trains/evaluates on."""
        if task == "ontology":
            return [r for r in data.split("corpus", split) if r["group"] in self.onto]
        if task == "test":
            return data.split("pairs", split)
        if task == "clarify_question":
            return [r for r in data.split("clarification", split) if int(r["label"]) == 1]
        if task == "explain":
            return data.split("explanation", split)
        name = {"code": "corpus"}.get(task, task)
        return data.split(name, split)


def collate_classify(examples: Sequence[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(e["input_ids"]) for e in examples)
    batch = {
        "input_ids": torch.full((len(examples), width), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros((len(examples), width), dtype=torch.long),
        "targets": torch.tensor([e["targets"] for e in examples], dtype=torch.float32),
    }
    for i, e in enumerate(examples):
        batch["input_ids"][i, : len(e["input_ids"])] = torch.tensor(e["input_ids"])
        batch["attention_mask"][i, : len(e["input_ids"])] = 1
    if "severity" in examples[0]:
        batch["severity"] = torch.tensor([e["severity"] for e in examples], dtype=torch.float32)
    return batch


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


class Trainer:
    """One optimiser over LoRA, new token rows, heads and log-variances; one task per batch."""

    def __init__(self, model: MultitaskModel, data: MultitaskData, config: MultitaskTrainConfig,
                 *, log_metrics: Callable[..., Any] | None = None) -> None:  # fmt: skip
        self.model, self.data, self.cfg = model, data, config
        self.formats = TaskFormats(model.tokenizer, config, data)
        self.pad = model.tokenizer.pad_token_id
        lm_params = [p for p in model.lm.parameters() if p.requires_grad]
        head_params = [*model.heads.parameters(), model.log_vars]
        self.optimizer = torch.optim.AdamW(
            [
                {"params": lm_params, "lr": config.learning_rate},
                {"params": head_params, "lr": config.head_learning_rate},
            ],
            weight_decay=0.0,
        )
        self.step = 0
        self.log_metrics = log_metrics or (lambda step, **m: None)
        self.reweighter = TaskReweighter(config.degrade_boost, config.max_task_boost)
        self._val_cache: dict[tuple[str, str], list] = {}

    def _hops(self, phase: str) -> str:
        return "simple" if phase == "simple_ontology" else "multi"

    def batches(self, task: str, split: str, phase: str, rng: random.Random, limit: int | None):
        rows = self.formats.records(self.data, task, split)
        hops = self._hops(phase)
        chosen = sample(rows, limit, rng)
        # val code examples alternate masked/FIM so both objectives (and masking accuracy)
        # are always measured; train draws each with fim_rate
        kinds = [("masked", "fim")[i % 2] if split == "val" else None for i in range(len(chosen))]
        examples = [
            self.formats.example(task, r, rng, hops, kind=k)
            for r, k in zip(chosen, kinds, strict=True)
        ]
        size = self.cfg.batch_size
        return [examples[i : i + size] for i in range(0, len(examples), size)]

    def task_loss(self, task: str, examples: list[dict[str, Any]]):
        if task in CLASSIFY:
            return self.model.head_loss(task, collate_classify(examples, self.pad)), None
        batch = obj.collate(examples, self.pad)
        loss, logits = self.model.lm_loss(batch)
        accuracy = (
            obj.masking_accuracy(logits, batch["labels"], batch["scored"])
            if "scored" in batch
            else None
        )
        return loss, accuracy

    def train_epoch(self, phase: str, tasks: Sequence[str], epoch: int) -> dict[str, float]:
        """One pass over a seeded sample of each task, batches interleaved at random."""
        rng = random.Random(f"{self.cfg.seed}:train:{phase}:{epoch}")
        plan = [
            (task, batch)
            for task in tasks
            for batch in self.batches(task, "train", phase, rng, self.cfg.max_train_examples)
        ]
        rng.shuffle(plan)
        self.model.train()
        losses: dict[str, list[float]] = {}
        started, tokens = time.perf_counter(), 0
        for task, examples in plan:
            loss, _ = self.task_loss(task, examples)
            if phase == "joint":
                total = uncertainty_weighted(
                    {task: loss}, self.model.log_vars, self.reweighter.weights
                )
            else:
                total = loss
            self.optimizer.zero_grad()
            total.backward()
            torch.nn.utils.clip_grad_norm_(
                [p for g in self.optimizer.param_groups for p in g["params"]], 1.0
            )
            self.optimizer.step()
            self.step += 1
            tokens += sum(len(e["input_ids"]) for e in examples)
            losses.setdefault(task, []).append(float(loss.detach()))
            self.log_metrics(
                self.step,
                **{
                    f"losses/train_{task}": float(loss.detach()),
                    "losses/train": float(total.detach()),
                    "charts/tokens_per_s": tokens / max(time.perf_counter() - started, 1e-9),
                },
            )
        return {f"train/{t}_loss": statistics.fmean(v) for t, v in losses.items()}

    @torch.no_grad()
    def validate(self, phase: str, tasks: Sequence[str]) -> dict[str, float]:
        """Val loss per task on a fixed seeded sample (same masks and cuts every epoch), the
        masking accuracy of the span objective and the causal-LM perplexity of code."""
        self.model.eval()
        out: dict[str, float] = {}
        for task in tasks:
            key = (task, self._hops(phase) if task == "ontology" else "")
            if key not in self._val_cache:
                rng = random.Random(f"{self.cfg.seed}:val:{task}:{key[1]}")
                self._val_cache[key] = self.batches(
                    task, "val", phase, rng, self.cfg.max_val_examples
                )
            losses, correct, total = [], 0, 0
            for examples in self._val_cache[key]:
                loss, accuracy = self.task_loss(task, examples)
                losses.append(float(loss))
                if accuracy:
                    correct, total = correct + accuracy[0], total + accuracy[1]
            out[f"val/{task}_loss"] = statistics.fmean(losses) if losses else math.nan
            if task == "code" and total:
                out["val/masking_accuracy"] = correct / total
        out["val/code_perplexity"] = self.code_perplexity()
        present = [out[f"val/{t}_loss"] for t in tasks if not math.isnan(out[f"val/{t}_loss"])]
        out["val/loss"] = statistics.fmean(present) if present else math.nan
        return out

    def code_perplexity(self) -> float:
        """exp(mean token loss) of plain causal LM on the val code sample."""
        if ("ppl", "") not in self._val_cache:
            rng = random.Random(f"{self.cfg.seed}:val:ppl")
            rows = sample(self.data.split("corpus", "val"), self.cfg.max_val_examples, rng)
            examples = [
                obj.causal_example(
                    self.formats.ids(r["text"])[: self.cfg.max_seq_len - 1], eos_id=self.formats.eos
                )
                for r in rows
            ]
            size = self.cfg.batch_size
            self._val_cache[("ppl", "")] = [
                examples[i : i + size] for i in range(0, len(examples), size)
            ]
        batches = self._val_cache[("ppl", "")]
        if not batches:
            return math.nan
        losses = [float(self.model.lm_loss(obj.collate(b, self.pad))[0]) for b in batches]
        return math.exp(statistics.fmean(losses))


# ---------------------------------------------------------------------------------------------
# Gate metrics that need generation
# ---------------------------------------------------------------------------------------------


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


def ontology_probe(trainer: Trainer, hops: str) -> dict[str, Any]:
    """Generate code from ontology paths on val chunks; see `evaluate.ontology_utilization`."""
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
    names = [ev.entity_names(formats.onto[r["group"]]["entities"]) for r in rows]
    return ev.ontology_utilization(texts, names)


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------


def save_atomic(
    model: MultitaskModel,
    target: Path,
    state: dict[str, Any],
    write_config: Callable[[Path, int], Any] | None = None,
) -> None:
    """Save into a staging folder beside `target`, then swap it in by renames: `target` never
    holds a half-written checkpoint (a crash between the two renames leaves the previous one
    in a `.<name>-old-*` folder beside it). `write_config(staging, step)` adds
    training_config.json to the checkpoint before the swap."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    model.save(staging, state)
    if write_config is not None:
        write_config(staging, int(state.get("step", 0)))
    retired = None
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
        os.replace(target, retired / target.name)
    os.replace(staging, target)
    if retired is not None:
        shutil.rmtree(retired)


def export_final(best: Path, target: Path) -> Path | None:
    """Copy `best` to `target` atomically; a previous export is kept as `<target>-<mtime>`.
    Returns where the previous export went (None when there was none)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    shutil.copytree(best, staging, dirs_exist_ok=True)
    kept = None
    if target.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(target.stat().st_mtime))
        kept = target.with_name(f"{target.name}-{stamp}")
        suffix = 0
        while kept.exists():
            suffix += 1
            kept = target.with_name(f"{target.name}-{stamp}-{suffix}")
        os.replace(target, kept)
    os.replace(staging, target)
    return kept


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
    harness: Any = None,
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
# Held-out evaluation
# ---------------------------------------------------------------------------------------------


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
    harness: Any = None,
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
        results[task] = {"n": len(rows), **ev.multilabel_prf(truth, predicted, labels)}
        if task == "security":
            cwe = {
                f["code"]: f.get("cwe_category") or "unknown"
                for r in data.split("security", "train") + data.split("security", "test")
                for f in r["findings"]
            }
            results[task]["per_cwe"] = ev.grouped_prf(truth, predicted, labels, cwe)
    rows = sample(data.split("clarification", "test"), cap and cap * 4, rng)
    truth, predicted = classify(
        model, formats, "clarification", rows, config.batch_size, config.threshold
    )
    results["clarification"] = {
        "n": len(rows),
        **ev.prf(
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
    results["clarification"]["delta"] = ev.clarification_delta_pass(
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
        "pass@1": ev.target_verdict(
            he.get("pass@1"), config.pass_at_1_target, what="HumanEval pass@1"
        ),
        "quality_macro_f1": ev.target_verdict(
            results["quality"]["macro"]["f1"], config.quality_f1_target, what="quality macro F1"
        ),
        "security_macro_f1": ev.target_verdict(
            results["security"]["macro"]["f1"], config.security_f1_target, what="security macro F1"
        ),
        "test_pass@1": ev.target_verdict(
            results["tests"].get("pass@1"), config.test_pass_target, what="generated-test pass@1"
        ),
        "delta_pass@1": ev.target_verdict(
            results["clarification"]["delta"]["delta_pass@1"], config.delta_pass_target,
            what="Δpass@1 with vs without the answer to the model's own question",
        ),
        "explanation_rating": results["explanation"]["rating"],
    }  # fmt: skip
    results["timings_s"] = timings
    return results


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def load_data(params: Any, run: Any) -> MultitaskData:
    """The data build named by `data_run_id`, or a fresh build into this run's record."""
    config: MultitaskTrainConfig = params.multitask_train
    if config.data_run_id:
        artifacts = Path(params.run.outputs_dir) / "runs" / config.data_run_id / "artifacts"
        if not artifacts.is_dir():
            raise FileNotFoundError(
                f"multitask_train.data_run_id={config.data_run_id!r}: {artifacts} does not exist"
            )
        return MultitaskData.from_artifacts(artifacts)
    from cetd_lib.multitask.data import build_sets, write_build

    if not run.artifact("datasheet.json").exists():
        result = build_sets(params.multitask_data, apps_dir=params.data.apps_dir)
        write_build(result, params.multitask_data, run)
    return MultitaskData.from_artifacts(run.artifact("datasheet.json").parent)


def run_multitask(params: Any, run: Any, *, live: Any = None) -> dict[str, Any]:
    """Data -> model -> curriculum -> export -> held-out evaluation; writes results.json."""
    from cetd_lib.tracking.runs import set_seed, write_json_atomic

    config: MultitaskTrainConfig = params.multitask_train
    started = time.perf_counter()
    set_seed(config.seed)
    data = load_data(params, run)
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
                             harness=params.harness, on_event=on_event)  # fmt: skip
    write_json_atomic(events_path, trained["events"])
    train_s = time.perf_counter() - started
    final = Path(params.run.outputs_dir) / config.export_dir
    kept = export_final(out / "best", final)
    best = MultitaskModel.load(final)
    results = evaluate_model(best, data, config, baseline_pass_at_1=trained["pass_at_1_code_only"],
                             harness=params.harness)  # fmt: skip
    # human ratings of this run's explanations, if a review of them is already stored
    attach_rating(results, stored_explanation_ratings(store_path(params), run.run_id),
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
