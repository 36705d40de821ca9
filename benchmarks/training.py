"""Benchmark of stage-1 training throughput -> outputs/bench/training.json.

In the SAME run, on the embedded SmolLM2 with the same LoRA (r=16 on q/k/v/o), the same
training examples (bundled apps, code cut to --code-tokens) and the same batch:

- `hf_trainer`: a plain transformers `Trainer` on `encode_sft_example` rows (labels -100 on
  the prompt) - the baseline;
- `stage1_trl`: what `train_stage1` runs for the lm variant (TRL `SFTTrainer` on the
  conversational prompt/completion dataset, completion-only loss);
- `stage1_loop`: the accelerate loop of `train_stage1(trainer="loop")` (the seed variant's
  engine) on the same lm extractor.

tokens/s = (prompt + target tokens of the examples a step sees) x steps / train time, model
loading excluded. `speedup_vs_hf_trainer` = stage1_trl tokens/s / hf_trainer tokens/s. Peak
RSS is the process's (all three share it). Machines are noisy (FIGURES.md): only ratios taken
side by side mean anything.

    .venv/bin/python benchmarks/training.py [--steps 4] [--batch 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def lora_extractor(args):
    from cetd_lib.models import make_extractor

    return make_extractor(
        "lm",
        base_model=args.model,
        max_code_tokens=args.code_tokens,
        max_target_tokens=args.target_tokens,
    )


def examples(extractor, apps, level: int = 1) -> tuple[list[str], list[str], float]:
    """Codes, gold texts, and the mean tokenised length of a training row."""
    from cetd_lib.models.lm import encode_sft_example
    from cetd_lib.train.stage1 import gold_pairs

    codes, targets = gold_pairs(apps, level)
    lengths = [
        len(
            encode_sft_example(
                extractor.tokenizer,
                code,
                target,
                max_code_tokens=extractor.config.max_code_tokens,
                max_target_tokens=extractor.config.max_target_tokens,
            )["input_ids"]
        )
        for code, target in zip(codes, targets, strict=True)
    ]
    return codes, targets, sum(lengths) / len(lengths)


def time_hf_trainer(args, apps, out: Path) -> float:
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from cetd_lib.models.lm import encode_sft_example

    extractor = lora_extractor(args)
    codes, targets, _ = examples(extractor, apps)
    rows = [
        encode_sft_example(
            extractor.tokenizer,
            code,
            target,
            max_code_tokens=args.code_tokens,
            max_target_tokens=args.target_tokens,
        )
        for code, target in zip(codes, targets, strict=True)
    ]
    trainer = Trainer(
        model=extractor.model,
        args=TrainingArguments(
            output_dir=str(out / "hf"),
            max_steps=args.steps,
            per_device_train_batch_size=args.batch,
            learning_rate=1e-5,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            logging_steps=args.steps,
            disable_tqdm=True,
            seed=0,
        ),
        train_dataset=Dataset.from_list(rows),
        data_collator=DataCollatorForSeq2Seq(extractor.tokenizer, padding=True),
    )
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started


def time_stage1_trl(args, apps, out: Path) -> float:
    import dataclasses

    from trl import SFTTrainer

    from cetd_lib.train.config import Stage1Config
    from cetd_lib.train.stage1 import sft_config, sft_dataset

    extractor = lora_extractor(args)
    config = Stage1Config(batch_size=args.batch, max_steps=args.steps, logging_steps=args.steps)
    sft_args = dataclasses.replace(
        sft_config(config, out / "trl", "cpu", args.steps), save_strategy="no"
    )
    trainer = SFTTrainer(
        model=extractor.model,
        args=sft_args,
        train_dataset=sft_dataset(extractor, apps).remove_columns("app_id"),
        processing_class=extractor.tokenizer,
    )
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started


def time_stage1_loop(args, apps, out: Path) -> float:
    from cetd_lib.train.config import Stage1Config
    from cetd_lib.train.stage1 import train_stage1

    extractor = lora_extractor(args)
    config = Stage1Config(
        batch_size=args.batch, max_steps=args.steps, epochs=100, trainer="loop", logging_steps=1
    )
    started = time.perf_counter()
    train_stage1(extractor, apps, [], config, out / "loop")  # no val apps: no BLEU pass
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench" / "training.json")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--code-tokens", type=int, default=192)
    parser.add_argument("--target-tokens", type=int, default=64)
    parser.add_argument("--skip-loop", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from cetd_lib.data import load_apps

    apps = load_apps(None)[: args.steps * args.batch]
    extractor = lora_extractor(args)
    _, _, mean_tokens = examples(extractor, apps)
    del extractor
    tokens = mean_tokens * args.batch * args.steps
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        seconds["hf_trainer"] = time_hf_trainer(args, apps, out)
        seconds["stage1_trl"] = time_stage1_trl(args, apps, out)
        if not args.skip_loop:
            seconds["stage1_loop"] = time_stage1_loop(args, apps, out)
    per_s = {name: tokens / s for name, s in seconds.items()}
    report = {
        "speedup_vs_hf_trainer": per_s["stage1_trl"] / per_s["hf_trainer"],
        "tokens_per_s": per_s["stage1_trl"],
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "tokens_per_s_by_engine": per_s,
        "seconds_by_engine": seconds,
        "loop_speedup_vs_hf_trainer": (
            per_s["stage1_loop"] / per_s["hf_trainer"] if "stage1_loop" in per_s else None
        ),
        "setup": {
            "model": args.model,
            "steps": args.steps,
            "batch": args.batch,
            "mean_tokens_per_example": mean_tokens,
            "code_tokens": args.code_tokens,
            "target_tokens": args.target_tokens,
            "lora": "r=16 alpha=32 on q/k/v/o (ExtractorConfig defaults)",
            "torch_threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(report, indent=2) + "\n")
    tmp_out.replace(args.out)
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, dict)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
