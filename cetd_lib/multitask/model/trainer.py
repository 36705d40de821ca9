"""`Trainer`: one optimiser over LoRA, new token rows, heads and log-variances, one task per
batch.

Only the mechanics of a training epoch and a validation pass live here. Which tasks train
when, the gates and the checkpoints belong to the curriculum run (`train.run_curriculum`),
which drives this loop epoch by epoch.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from cetd_lib.multitask.model import objectives as obj
from cetd_lib.multitask.model.backbone import MultitaskModel, uncertainty_weighted
from cetd_lib.multitask.model.curriculum import TaskReweighter
from cetd_lib.multitask.model.train_config import MultitaskTrainConfig
from cetd_lib.multitask.model.train_data import (
    CLASSIFY,
    MultitaskData,
    TaskFormats,
    collate_classify,
    sample,
)


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
