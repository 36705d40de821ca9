"""Extractor benchmark on the embedded SmolLM2: parameter counts, training and generation
throughput for both variants, beside HF `generate` on the same base in the same run (the
machines are noisy; only side-by-side ratios count).

    .venv/bin/python -m cetd_lib.models.bench   # -> outputs/bench/models.json
"""

from __future__ import annotations

import copy
import json
import platform
import time
from pathlib import Path

import torch

from cetd_lib.models.base import load_base
from cetd_lib.models.extractor import make_extractor

CODE = '''def roman_to_int(text: str) -> int:
    """Convert a Roman numeral to an integer."""
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total = 0
    for current, following in zip(text, text[1:] + " "):
        value = values[current]
        total += -value if values.get(following, 0) > value else value
    return total
'''
REQUIREMENTS = (
    "1. Converts a Roman numeral string to an integer.\n"
    "2. Subtracts a symbol's value when a larger symbol follows it.\n"
    "3. Raises KeyError on characters that are not Roman symbols."
)


def _generation(extractor, batch: int, max_new_tokens: int) -> dict:
    codes = [CODE] * batch
    with torch.no_grad():  # warm-up: first calls pay for allocation and kernel selection
        extractor.eval()
        extractor._generate_ids(
            codes, 1, max_new_tokens=2, do_sample=False, temperature=1.0, top_p=1.0, generator=None
        )
    started = time.perf_counter()
    with torch.no_grad():
        extractor.eval()
        ids = extractor._generate_ids(
            codes,
            1,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            temperature=1.0,
            top_p=1.0,
            generator=None,
        )
    seconds = time.perf_counter() - started
    tokens = sum(min(len(row) + 1, max_new_tokens) for row in ids)  # + the EOS, when emitted
    return {
        "batch": batch,
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
    }


def _training(extractor, batch: int, steps: int = 3) -> dict:
    extractor.train()
    codes, targets = [CODE] * batch, [REQUIREMENTS] * batch
    n_tokens = int(extractor.token_log_probs(codes, targets).mask.sum())
    started = time.perf_counter()
    for _ in range(steps):
        extractor.zero_grad()
        extractor.loss(codes, targets).backward()
    seconds = (time.perf_counter() - started) / steps
    return {"batch": batch, "target_tokens": n_tokens, "seconds_per_step": round(seconds, 2)}


def main(max_new_tokens: int = 64, out: str = "outputs/bench/models.json") -> dict:
    model, tokenizer = load_base("smollm2-135m-instruct")
    results: dict = {
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "max_new_tokens": max_new_tokens,
    }

    # Baseline: HF generate on the plain base, same prompt, forced to max_new_tokens.
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": f"Write the numbered requirements for this code.\n\n{CODE}"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        model.generate(**inputs, max_new_tokens=2, do_sample=False)  # warm-up
    started = time.perf_counter()
    with torch.no_grad():
        model.generate(
            **inputs, max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens, do_sample=False
        )
    seconds = time.perf_counter() - started
    results["hf_generate_batch1_tokens_per_s"] = round(max_new_tokens / seconds, 1)

    for variant in ("seed", "lm"):
        extractor = make_extractor(variant, base=(copy.deepcopy(model), tokenizer))
        trainable, total = extractor.parameter_counts()
        results[variant] = {
            "trainable_parameters": trainable,
            "total_parameters": total,
            "generation": [_generation(extractor, b, max_new_tokens) for b in (1, 4)],
            "training": _training(extractor, 4),
        }
        print(variant, json.dumps(results[variant]), flush=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
