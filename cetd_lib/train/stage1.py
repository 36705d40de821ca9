"""Stage 1: supervised fine-tuning of a requirement extractor on gold requirements.

    result = train_stage1(extractor, train_apps, val_apps, Stage1Config(), "outputs/.../stage1")
    best = load_extractor(result.best_dir)

Two engines, one config:

- `lm` variant (default engine "trl"): TRL `SFTTrainer` on the peft-LoRA model of the extractor,
  with the conversational prompt/completion dataset of `build_sft_example` (loss on the
  completion only), a checkpoint every epoch and resume from the last one.
- `seed` variant (or `trainer: loop`): a small `accelerate` loop - AdamW, linear warmup
  (capped for tiny data) then linear decay, gradient accumulation, clipping, bf16 autocast
  where the device has it.

Both compute the validation BLEU (greedy extraction vs gold) after every epoch, keep the best
checkpoint in `<out>/best`, and stop after `patience` epochs without a better one. Ties in
BLEU (a small model writes no valid sentence yet, BLEU 0) are broken by the validation loss.
The loop resumes EXACTLY after a crash: weights, optimizer, scheduler, RNG states and the
early-stopping state are saved each epoch, and the data order is a function of (seed, epoch).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from cetd_lib.apps.app import App
from cetd_lib.tracking.runs import RunRecord
from cetd_lib.tracking.trackers import trl_report_to
from cetd_lib.train.common import (
    linear_schedule,
    resolve_mixed_precision,
    warmup_steps_for,
    write_training_config,
)
from cetd_lib.train.config import Stage1Config

if TYPE_CHECKING:
    from cetd_lib.models.extractor import RequirementExtractor
    from cetd_lib.tracking.live import LiveMetrics

log = logging.getLogger(__name__)

STATE_FILE = "trainer_state.pt"
BEST_DIR = "best"
CHECKPOINTS_DIR = "checkpoints"
BLEU_TIE = 1e-4  # smaller BLEU differences are noise (smoothed BLEU of garbage is ~1e-50)


@dataclass
class Stage1Result:
    """What stage 1 produced: the best checkpoint and the per-epoch history."""

    best_dir: Path
    best_val_bleu: float
    best_val_loss: float
    best_epoch: int
    epochs_run: int
    steps: int
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["best_dir"] = str(self.best_dir)
        return data


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def gold_pairs(apps: Sequence[App], context_level: int) -> tuple[list[str], list[str]]:
    """(codes the extractor reads, gold requirements texts) of `apps`."""
    from cetd_lib.apps.degrade import render_context
    from cetd_lib.apps.requirements import format_requirements

    codes = [render_context(app, context_level) for app in apps]
    return codes, [format_requirements(app.requirements) for app in apps]


def sft_dataset(extractor: RequirementExtractor, apps: Sequence[App], context_level: int = 1):
    """TRL conversational prompt/completion dataset (+ an `app_id` column) for `apps`."""
    from datasets import Dataset

    codes, targets = gold_pairs(apps, context_level)
    rows = []
    for app, code, target in zip(apps, codes, targets, strict=True):
        target = cut_target(extractor.tokenizer, target, extractor.config.max_target_tokens)
        rows.append({**extractor.sft_example(code, target), "app_id": app.app_id})
    return Dataset.from_list(rows)


def cut_target(tokenizer, text: str, max_target_tokens: int) -> str:
    """`text` cut to max_target_tokens - 1 tokens (+ EOS = the cap), as `extractor.loss`
    cuts its targets, so TRL trains on the same tokens as the loop and the HF baseline."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) < max_target_tokens:
        return text
    return tokenizer.decode(ids[: max_target_tokens - 1])


# ---------------------------------------------------------------------------------------------
# Validation and early stopping (both engines)
# ---------------------------------------------------------------------------------------------


def validate(
    extractor: RequirementExtractor, codes: list[str], targets: list[str], max_new_tokens: int
):
    """(mean sentence BLEU of greedy extractions vs gold, token-mean loss on gold)."""
    from cetd_lib.metrics.bleu import mean_sentence_bleu

    if not codes:
        return float("nan"), float("nan")
    was_training = extractor.training
    extractor.eval()
    try:
        hyps = extractor.extract_requirements(codes, max_new_tokens=max_new_tokens)
        with torch.no_grad():  # no activations kept for a backward that never comes
            loss = float(extractor.loss(codes, targets))
    finally:
        extractor.train(was_training)
    return float(mean_sentence_bleu(hyps, targets)), loss


@dataclass
class EarlyStopping:
    """Best validation (BLEU, then lower loss) and epochs since it improved."""

    patience: int
    best_bleu: float = -math.inf
    best_loss: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0

    def update(self, epoch: int, bleu: float, loss: float) -> bool:
        """Record one epoch; True when it is the new best."""
        bleu = -math.inf if math.isnan(bleu) else bleu
        loss = math.inf if math.isnan(loss) else loss
        better = bleu > self.best_bleu + BLEU_TIE or (
            abs(bleu - self.best_bleu) <= BLEU_TIE and loss < self.best_loss
        )
        if better:
            self.best_bleu, self.best_loss, self.best_epoch, self.bad_epochs = bleu, loss, epoch, 0
        else:
            self.bad_epochs += 1
        return better

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def train_stage1(
    extractor: RequirementExtractor,
    train_apps: Sequence[App],
    val_apps: Sequence[App],
    config: Stage1Config,
    out_dir: str | Path,
    *,
    run: RunRecord | None = None,
    live: LiveMetrics | None = None,
    device: str = "cpu",
    on_step: Callable[[int], None] | None = None,
) -> Stage1Result:
    """Train `extractor` in place on the gold requirements of `train_apps`; resume from
    `out_dir` if it holds a checkpoint. `on_step(global_step)` runs after each optimizer step
    (progress bars; tests simulate a crash with it).

    Metrics go to `live` (a `tracking.live.LiveMetrics`, shared by every phase of a run), or
    to a LiveMetrics opened on `run` (a RunRecord) for this call, under `stage1/`: per logging
    step `losses/train`, `charts/learning_rate`, `charts/tokens_per_s`, `charts/samples_per_s`;
    per epoch `eval/bleu`, `losses/val`, `losses/train_epoch`, `charts/epoch`."""
    from cetd_lib.tracking.live import training_metrics

    if not train_apps:
        raise ValueError("stage 1 needs at least one training app")
    engine = config.trainer
    if engine == "auto":
        engine = "trl" if extractor.variant == "lm" else "loop"
    if engine == "trl" and extractor.variant != "lm":
        raise ValueError(
            f"trainer 'trl' needs the lm variant (got {extractor.variant!r}); use 'loop'"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = _train_trl if engine == "trl" else _train_loop
    with training_metrics(run, live) as live:
        return train(extractor, train_apps, val_apps, config, out, live, device, on_step)


# ---------------------------------------------------------------------------------------------
# The accelerate loop (seed variant, or trainer: loop)
# ---------------------------------------------------------------------------------------------


def _trainable_state(extractor: RequirementExtractor) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in extractor.named_parameters() if p.requires_grad}


def _latest_checkpoint(out: Path) -> Path | None:
    folder = out / CHECKPOINTS_DIR
    found = sorted(folder.glob("epoch-*"), key=lambda p: int(p.name.split("-")[1]))
    found = [p for p in found if (p / STATE_FILE).exists()]
    return found[-1] if found else None


def enable_gradient_checkpointing(model: Any) -> None:
    """Recompute each layer's activations in backward (HF models; non-reentrant, so a frozen
    base under a LoRA adapter needs no input-grad hook)."""
    if not hasattr(model, "gradient_checkpointing_enable"):
        raise ValueError(
            f"gradient_checkpointing: {type(model).__name__} has no gradient_checkpointing_enable"
        )
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def example_tokens(
    extractor: RequirementExtractor, codes: Sequence[str], targets: Sequence[str]
) -> list[int]:
    """Tokens one training example feeds the model: code (capped at max_code_tokens) plus
    target and EOS (capped at max_target_tokens), the caps the extractor applies; counted once
    so `charts/tokens_per_s` costs nothing per step."""
    tokenizer, cfg = extractor.tokenizer, extractor.config

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return [
        min(count(code), cfg.max_code_tokens) + min(count(target) + 1, cfg.max_target_tokens)
        for code, target in zip(codes, targets, strict=True)
    ]


def _train_loop(extractor, train_apps, val_apps, config, out, live, device, on_step):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    precision = resolve_mixed_precision(config.mixed_precision, device)
    if AcceleratorState._shared_state:
        # accelerate keeps one process-wide state; an earlier HF/TRL Trainer in this process
        # (e.g. the notebook's other stage) would make a different precision an error.
        AcceleratorState._reset_state()
    accelerator = Accelerator(mixed_precision=precision, cpu=device == "cpu")
    codes, targets = gold_pairs(train_apps, config.context_level)
    val_codes, val_targets = gold_pairs(val_apps, config.context_level)
    steps_per_epoch = math.ceil(
        math.ceil(len(codes) / config.batch_size) / config.grad_accumulation
    )
    total = config.epochs * steps_per_epoch
    if config.max_steps:
        total = min(total, config.max_steps)
    warmup = warmup_steps_for(config, total)
    extractor.to(accelerator.device)
    params = extractor.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, linear_schedule(warmup, total, config.schedule)
    )
    stopper = EarlyStopping(config.patience)
    history: list[dict[str, float]] = []
    start_epoch, step = 0, 0

    def save(directory: Path, meta: dict[str, Any]) -> None:
        extractor.save(directory, metadata=meta)
        write_training_config(
            directory, extractor, config, train_apps, val_apps=val_apps, step=meta["step"],
            optimizer={
                "name": "AdamW", "lr": config.learning_rate, "weight_decay": config.weight_decay
            },
            schedule={"kind": config.schedule, "warmup_steps": warmup, "total_steps": total},
        )  # fmt: skip

    torch.manual_seed(config.seed)  # dropout; a resumed run restores the saved RNG state

    checkpoint = _latest_checkpoint(out)
    if checkpoint is not None:
        state = torch.load(checkpoint / STATE_FILE, weights_only=False)
        missing = set(_trainable_state(extractor)) - set(state["weights"])
        if missing:
            raise ValueError(
                f"{checkpoint}: checkpoint lacks {len(missing)} trainable tensors (e.g. "
                f"{sorted(missing)[0]}); it was written by a different extractor config"
            )
        extractor.load_state_dict(state["weights"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        stopper = EarlyStopping(**state["stopper"])
        history = state["history"]
        start_epoch, step = state["epoch"] + 1, state["step"]
        log.info("stage 1: resumed from %s (epoch %d, step %d)", checkpoint, start_epoch, step)

    if config.gradient_checkpointing:
        enable_gradient_checkpointing(extractor.model)
    extractor.train()
    n_tokens = example_tokens(extractor, codes, targets)
    # Throughput over the optimizer steps since the last logged row (validation excluded).
    window = {"t": time.perf_counter(), "tokens": 0, "samples": 0}
    stopped_early = stopper.should_stop
    if live is not None:
        live.expect(total, phase="stage1", start_step=step)
    for epoch in range(start_epoch, config.epochs):
        if stopped_early or (config.max_steps and step >= config.max_steps):
            break
        order = torch.randperm(
            len(codes), generator=torch.Generator().manual_seed(config.seed * 1000 + epoch)
        ).tolist()
        batches = [
            order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)
        ]
        losses: list[float] = []
        for index, batch in enumerate(batches):
            with accelerator.autocast():
                loss = extractor.loss([codes[i] for i in batch], [targets[i] for i in batch])
            accelerator.backward(loss / config.grad_accumulation)
            losses.append(float(loss.detach()))
            window["tokens"] += sum(n_tokens[i] for i in batch)
            window["samples"] += len(batch)
            last = index == len(batches) - 1
            if (index + 1) % config.grad_accumulation and not last:
                continue
            if config.max_grad_norm:
                accelerator.clip_grad_norm_(params, config.max_grad_norm)
            learning_rate = scheduler.get_last_lr()[0]  # the rate this update used
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            at_end = last or bool(config.max_steps and step >= config.max_steps)
            if live is not None and (step % config.logging_steps == 0 or at_end):
                elapsed = max(1e-9, time.perf_counter() - window["t"])
                live.log(
                    step,
                    phase="stage1",
                    **{
                        "losses/train": losses[-config.grad_accumulation :],
                        "charts/learning_rate": learning_rate,
                        "charts/tokens_per_s": window["tokens"] / elapsed,
                        "charts/samples_per_s": window["samples"] / elapsed,
                    },
                )
                window = {"t": time.perf_counter(), "tokens": 0, "samples": 0}
            if on_step is not None:
                on_step(step)
            if config.max_steps and step >= config.max_steps:
                break
        bleu, val_loss = validate(extractor, val_codes, val_targets, config.val_max_new_tokens)
        improved = stopper.update(epoch, bleu, val_loss)
        row = {
            "epoch": epoch,
            "step": step,
            "train_loss": sum(losses) / max(1, len(losses)),
            "val_bleu": bleu,
            "val_loss": val_loss,
        }
        history.append(row)
        if live is not None:
            live.log(step, phase="stage1", **epoch_metrics(row))
        meta = {"stage": 1, "epoch": epoch, "step": step, "val_bleu": bleu, "val_loss": val_loss}
        if improved:
            _replace_dir(out / BEST_DIR, lambda d, m=meta: save(d, m))
        target = out / CHECKPOINTS_DIR / f"epoch-{epoch}"
        save(target, meta)
        torch.save(
            {
                "weights": _trainable_state(extractor),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "stopper": asdict(stopper),
                "history": history,
                "epoch": epoch,
                "step": step,
                "config": asdict(config),
            },
            target / STATE_FILE,
        )
        stopped_early = stopper.should_stop
        window = {"t": time.perf_counter(), "tokens": 0, "samples": 0}  # after validation
    return _result(out, stopper, history, step, stopped_early)


def epoch_metrics(row: dict[str, float]) -> dict[str, float]:
    """The LiveMetrics keys of one epoch's history row; `charts/epoch` counts epochs done, as
    HF's `epoch` does (the history's `epoch` is the 0-based index)."""
    metrics = {
        "eval/bleu": row["val_bleu"],
        "losses/val": row["val_loss"],
        "charts/epoch": float(row["epoch"] + 1),
    }
    if "train_loss" in row:
        metrics["losses/train_epoch"] = row["train_loss"]
    return metrics


def _replace_dir(target: Path, write: Callable[[Path], Any]) -> None:
    """Write to a sibling temp dir, then swap: a crash never leaves half a best checkpoint."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def _result(out: Path, stopper: EarlyStopping, history, step: int, stopped: bool) -> Stage1Result:
    result = Stage1Result(
        best_dir=out / BEST_DIR,
        best_val_bleu=stopper.best_bleu,
        best_val_loss=stopper.best_loss,
        best_epoch=stopper.best_epoch,
        epochs_run=len(history),
        steps=step,
        stopped_early=stopped,
        history=history,
    )
    (out / "stage1_result.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result


# ---------------------------------------------------------------------------------------------
# TRL SFTTrainer (lm variant)
# ---------------------------------------------------------------------------------------------


def sft_config(
    config: Stage1Config,
    out: Path,
    device: str,
    total_steps: int,
    report_to: Sequence[str] = (),
) -> Any:
    """The TRL `SFTConfig` matching `config` (completion-only loss, a checkpoint per epoch)."""
    from trl import SFTConfig

    precision = resolve_mixed_precision(config.mixed_precision, device)
    return SFTConfig(
        output_dir=str(out / CHECKPOINTS_DIR),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=warmup_steps_for(config, total_steps),
        lr_scheduler_type="linear" if config.schedule == "linear" else "constant_with_warmup",
        max_grad_norm=config.max_grad_norm,
        bf16=precision == "bf16",
        gradient_checkpointing=config.gradient_checkpointing,
        use_cpu=device == "cpu",
        seed=config.seed,
        data_seed=config.seed,
        completion_only_loss=True,
        max_length=None,  # the extractor already cut code to max_code_tokens
        save_strategy="epoch",
        save_only_model=False,
        logging_steps=config.logging_steps,
        report_to=trl_report_to(report_to),  # run.report_to: the trackers LiveMetrics feeds
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def _train_trl(extractor, train_apps, val_apps, config, out, live, device, on_step):
    from transformers import TrainerCallback
    from trl import SFTTrainer

    from cetd_lib.tracking.live import LiveMetricsCallback, attach

    dataset = sft_dataset(extractor, train_apps, config.context_level)
    val_codes, val_targets = gold_pairs(val_apps, config.context_level)
    steps_per_epoch = math.ceil(
        math.ceil(len(dataset) / config.batch_size) / config.grad_accumulation
    )
    total = config.epochs * steps_per_epoch
    if config.max_steps:
        total = min(total, config.max_steps)
    state_path = out / "stage1_early_stopping.json"
    saved = json.loads(state_path.read_text()) if state_path.exists() else {}
    stopper = EarlyStopping(**saved.get("stopper", {"patience": config.patience}))
    history: list[dict[str, float]] = saved.get("history", [])
    args = sft_config(config, out, device, total, live.report_to if live is not None else ())

    def write_config(directory: Path, step: int) -> None:
        write_training_config(
            directory, extractor, config, train_apps, val_apps=val_apps, step=step,
            optimizer={
                "name": str(getattr(args.optim, "value", args.optim)),
                "lr": args.learning_rate, "weight_decay": args.weight_decay,
            },
            schedule={
                "kind": str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)),
                "warmup_steps": args.warmup_steps, "total_steps": total,
            },
        )  # fmt: skip

    class BleuCallback(TrainerCallback):
        """Validation BLEU each epoch: keep the best adapter, stop after `patience` bad epochs.
        Its state is written beside the checkpoints so a resumed run continues it."""

        def on_step_end(self, args, state, control, **kwargs):
            if on_step is not None:
                on_step(state.global_step)

        def on_epoch_end(self, args, state, control, **kwargs):
            epoch = len(history)
            started = time.perf_counter()
            bleu, val_loss = validate(extractor, val_codes, val_targets, config.val_max_new_tokens)
            if metrics_callback is not None:  # validation is not training time
                metrics_callback.pause(time.perf_counter() - started)
            improved = stopper.update(epoch, bleu, val_loss)
            history.append(
                {"epoch": epoch, "step": state.global_step, "val_bleu": bleu, "val_loss": val_loss}
            )
            if live is not None:
                live.log(state.global_step, phase="stage1", **epoch_metrics(history[-1]))
            if improved:
                meta = {"stage": 1, "epoch": epoch, "step": state.global_step, "val_bleu": bleu}

                def save_best(directory: Path, m: dict[str, Any] = meta) -> None:
                    extractor.save(directory, metadata=m)
                    write_config(directory, m["step"])

                _replace_dir(out / BEST_DIR, save_best)
            state_path.write_text(
                json.dumps({"stopper": asdict(stopper), "history": history}, indent=2)
            )
            if stopper.should_stop:
                control.should_training_stop = True
            return control

        def on_save(self, args, state, control, **kwargs):
            directory = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if directory.is_dir():  # HF's per-epoch checkpoint, just written
                write_config(directory, state.global_step)

    metrics_callback = None
    if live is not None:
        metrics_callback = LiveMetricsCallback(
            live, phase="stage1", samples_per_step=config.batch_size * config.grad_accumulation
        )
    trainer = SFTTrainer(
        model=extractor.model,
        args=args,
        train_dataset=dataset.remove_columns("app_id"),
        processing_class=extractor.tokenizer,
        callbacks=[BleuCallback()],
    )
    if metrics_callback is not None:
        attach(trainer, metrics_callback)
    resume = any((out / CHECKPOINTS_DIR).glob("checkpoint-*"))
    if stopper.should_stop:
        return _result(out, stopper, history, 0, True)
    trainer.train(resume_from_checkpoint=True if resume else None)
    return _result(out, stopper, history, trainer.state.global_step, stopper.should_stop)
