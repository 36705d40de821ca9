"""CPU generation candidates for the coder orchestra -> outputs/bench/orchestra-candidates.json.

Issue [coder-orchestra] item 2: which path runs Qwen2.5-Coder-0.5B fastest where torch has only
float32 (AVX2-only hosts)? Each candidate rebuilds the same HumanEval gold prompts as
`benchmarks/orchestra.py`'s coder section (first 40, greedy, same token cap) in its OWN child
process (same ISA caps, its own memory, no thread pool of one runtime left spinning beside the
next); the parent scores every candidate's completions through the sandboxed harness, so the
pass rate sits beside the speed, and times `hf_float32` in the same run (only ratios taken side
by side mean anything on these machines).

Candidates (a runtime that is not installed is recorded as such, not silently skipped):
- `hf_float32`: today's `hf` path on an AVX2 host (the baseline of the 2.5x goal);
- `hf_int8_dynamic`: the same loop after `torch.ao.quantization.quantize_dynamic` of every
  Linear (per-channel int8 weights, int8 activations quantised per call: fbgemm's AVX2 kernels);
- `hf_float32_one_pass` / `hf_int8_one_pass`: the same with the prompt pass as it was before
  2026-12-08 (`prefill_chunk_tokens: 0`: the whole batch in one pass, every suffix padded to the
  longest); the table gives each candidate's speed-up over both float32 paths;
- `hf_bfloat16`: native bf16 (`local` on hosts with avx512_bf16; meaningless under emulation);
- `hf_int8_concat_cache`: `hf_int8_dynamic` with transformers' own decoding cache (one copy of
  the whole cache per token) instead of `generation.GrowingLayer`: what that change is worth;
- `llamacpp_c8` / `llamacpp_c16` / `llamacpp_c8_ub128`: llama-server over the GGUF, 8 or 16
  slots, the last with a smaller physical batch (prompt chunks interleaved with decodes);
- `ct2_int8`: CTranslate2 int8 (converted once from the safetensors into $CETD_CACHE/ct2);
- `openvino_int8`: OpenVINO GenAI `LLMPipeline` over an IR with int8 weights (exported once by
  optimum-intel into $CETD_CACHE/openvino; see --export-openvino);
- `ort_genai_int4`: onnxruntime-genai (model builder, int4 weights): NOT capped by the emulation
  (MLAS picks its kernels from CPUID; it has no ISA switch), so an upper bound at most.

`--emulate-avx2-host` caps every runtime that has a switch at AVX2 (ATen, oneDNN, MKL, fbgemm,
CTranslate2; OpenVINO through its oneDNN) and runs OpenVINO in f32 as an AVX2 host would.

    python benchmarks/orchestra_candidates.py --emulate-avx2-host [--only hf_float32,ct2_int8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness import atomic_write_json  # noqa: E402
from orchestra import AVX2_ONLY_ENV, CODER_MODEL, host_cpu, mean_pass_rates  # noqa: E402

CANDIDATES = (
    "hf_float32",
    "hf_float32_one_pass",
    "hf_int8_dynamic",
    "hf_int8_one_pass",
    "hf_bfloat16",
    "hf_int8_concat_cache",
    "llamacpp_c8",
    "llamacpp_c16",
    "llamacpp_c8_ub128",
    "ct2_int8",
    "openvino_int8",
    "ort_genai_int4",
)
#: Runtimes whose kernels the emulation cannot cap (their figure is an upper bound only).
UNCAPPED = frozenset({"ort_genai_int4"})
#: Where each optional runtime comes from (pinned as measured).
INSTALL = {
    "ct2_int8": "pip install ctranslate2==4.8.5",
    "openvino_int8": "pip install openvino==2026.4.1 openvino-genai==2026.4.1.0 "
    "openvino-tokenizers==2026.4.1.0 (export: optimum-intel==2.2.0 nncf==3.4.0 with "
    "transformers<5.6, see --export-openvino)",
    "ort_genai_int4": "pip install onnxruntime-genai==0.18.0 onnxruntime==1.31.1 onnx onnx-ir",
}


def gold_prompts(apps_n: int):
    from cetd_lib.apps.humaneval import load_humaneval_apps
    from cetd_lib.reconstruction.prompts import build_prompt

    apps = load_humaneval_apps()[:apps_n]
    assert len(apps) == apps_n, f"HumanEval has fewer than {apps_n} problems"
    return apps, [build_prompt(app, list(app.requirements)) for app in apps]


def cache_dir(kind: str) -> Path:
    from cetd_lib.models.base import cache_root

    return cache_root() / kind


def _closed(text: str, blocks: int) -> bool:
    from cetd_lib.reconstruction.backends import _closed_blocks

    return _closed_blocks(text) >= blocks


# ------------------------------------------------------------------------------------------
# candidates: each returns {"completions", "seconds", "setup_seconds", ...} in a child process
# ------------------------------------------------------------------------------------------


#: hf candidates: (dtype, BackendSpec fields that differ from the defaults).
HF_CANDIDATES = {
    "hf_float32": ("float32", {}),
    "hf_float32_one_pass": ("float32", {"prefill_chunk_tokens": 0}),
    "hf_int8_dynamic": ("int8", {}),
    "hf_int8_one_pass": ("int8", {"prefill_chunk_tokens": 0}),
    "hf_bfloat16": ("bfloat16", {}),
    # Benchmark only: the decoding cache as transformers' DynamicLayer (a full copy per token).
    "hf_int8_concat_cache": ("int8", {"_concat_cache": True}),
}


def _hf(args, prompts, *, dtype: str, overrides: dict) -> dict:
    import dataclasses

    import torch

    from cetd_lib.models import load_base
    from cetd_lib.reconstruction.backends import HFBackend
    from cetd_lib.reconstruction.config import BackendSpec

    overrides = dict(overrides)
    if overrides.pop("_concat_cache", False):
        from cetd_lib.models import generation

        generation._growing = lambda cache: cache
    started = time.perf_counter()
    int8 = dtype == "int8"  # int8: the library's path (models.quantize_int8)
    model, tokenizer = load_base(CODER_MODEL, dtype=dtype)
    extra = {"cpu_capability": torch.backends.cpu.get_cpu_capability()}
    if int8:
        extra["quantized_engine"] = torch.backends.quantized.engine
        extra["quantized_linears"] = sum(
            type(m).__name__ == "Linear" and "quantized" in type(m).__module__
            for m in model.modules()
        )
    setup = time.perf_counter() - started
    spec = BackendSpec(name="hf", model=CODER_MODEL, dtype=dtype, **overrides)
    backend = HFBackend(spec, model=model, tokenizer=tokenizer)
    extra["spec"] = {k: getattr(spec, k) for k in ("batch_size", "max_batch_tokens",
                     "share_prefix", "prefill_chunk_tokens")}  # fmt: skip
    if args.prefill_sweep:  # prompt pass alone (one new token) per chunk budget; no rebuilds
        sweep = {}
        backend.generate(prompts[:2], 1, 0.0, 1, 0)  # warm-up; also computes the prefix once
        for budget in args.prefill_sweep.split(","):
            backend.spec = dataclasses.replace(spec, prefill_chunk_tokens=int(budget))
            sweep[budget], _ = _timed(lambda n: backend.generate(prompts, 1, 0.0, 1, 0), args)
            print(f"  prefill_chunk_tokens={budget}: {sweep[budget]:.1f} s", flush=True)
        return {"prefill_sweep_seconds": sweep, "load_avg_1m_sweep_end": os.getloadavg()[0],
                "setup_seconds": setup, **extra}  # fmt: skip
    seconds, completions = _timed(lambda n: backend.generate(prompts, 1, 0.0, n, 0), args)
    result = {
        "completions": [c[0] for c in completions],
        "seconds": seconds,
        "setup_seconds": setup,
        "prefix_passes": backend.prefixes.computed,
        "torch_threads": backend.threads,
        **extra,
    }
    if not args.skip_prefill_timing:
        # Prefill alone (one new token per prompt): the share of the run decode cannot remove.
        result["prefill_seconds"], _ = _timed(
            lambda n: backend.generate(prompts, 1, 0.0, 1, 0), args
        )
    return result


def _timed(call, args) -> tuple[float, list]:
    started = time.perf_counter()
    out = call(args.max_new_tokens)
    return time.perf_counter() - started, out


def _llamacpp(args, prompts, *, slots: int, server_args: tuple[str, ...]) -> dict:
    from cetd_lib.reconstruction.backends import LlamaCppBackend
    from cetd_lib.reconstruction.config import BackendSpec

    started = time.perf_counter()
    spec = BackendSpec(name="llamacpp", kind="llamacpp", model=CODER_MODEL, concurrency=slots)
    backend = LlamaCppBackend(spec, server_args=("--metrics", *server_args))
    try:
        setup = time.perf_counter() - started
        seconds, completions = _timed(lambda n: backend.generate(prompts, 1, 0.0, n, 0), args)
        status, body = backend.server.request("GET", "/metrics", None, timeout=10)
    finally:
        backend.close()
    metrics = {}
    if status == 200:  # prometheus text: "llamacpp:prompt_tokens_total 1234"
        for line in body.decode().splitlines():
            match = re.match(r"llamacpp:(\w+) ([0-9.e+-]+)$", line)
            if match:
                metrics[match[1]] = float(match[2])
    return {
        "completions": [c[0] for c in completions],
        "seconds": seconds,
        "setup_seconds": setup,
        "slots": slots,
        "threads": backend.threads,
        "server_args": list(server_args),
        "server_metrics": metrics,
    }


def ct2_model_dir() -> Path:
    import ctranslate2

    return cache_dir("ct2") / f"{CODER_MODEL}-int8-ct2-{ctranslate2.__version__}"


def _ct2(args, prompts) -> dict:
    import ctranslate2

    from cetd_lib.models import load_tokenizer
    from cetd_lib.models.base import packaged_model_dir

    started = time.perf_counter()
    target = ct2_model_dir()
    if not (target / "model.bin").is_file():  # converted once, atomically
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            converter = ctranslate2.converters.TransformersConverter(
                str(packaged_model_dir(CODER_MODEL))
            )
            converter.convert(str(Path(tmp) / "model"), quantization="int8")
            os.replace(Path(tmp) / "model", target)
    converted = time.perf_counter() - started
    threads = os.cpu_count() or 1
    generator = ctranslate2.Generator(
        str(target), device="cpu", compute_type="int8", intra_threads=threads, inter_threads=1
    )
    tokenizer = load_tokenizer(CODER_MODEL)
    setup = time.perf_counter() - started
    ids = [_prompt_ids(tokenizer, p) for p in prompts]
    blocks = [max(1, len(p.module_names)) for p in prompts]
    # Length-sorted batches; the callback ends a row once its code blocks are closed, as hf does.
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out: list[list[int]] = [[] for _ in ids]

    def run(max_new_tokens: int) -> None:
        for start in range(0, len(order), args.ct2_batch):
            chunk = order[start : start + args.ct2_batch]
            got: dict[int, list[int]] = {b: [] for b in range(len(chunk))}

            def callback(step, chunk=chunk, got=got) -> bool:
                got[step.batch_id].append(step.token_id)
                if "`" not in step.token and "~" not in step.token:
                    return False
                text = tokenizer.decode(got[step.batch_id], skip_special_tokens=True)
                return _closed(text, blocks[chunk[step.batch_id]])

            results = generator.generate_batch(
                [tokenizer.convert_ids_to_tokens(ids[i]) for i in chunk],
                max_length=max_new_tokens,
                sampling_topk=1,
                include_prompt_in_result=False,
                end_token=["<|im_end|>", "<|endoftext|>"],
                callback=callback,
            )
            for i, result in zip(chunk, results, strict=True):
                out[i] = result.sequences_ids[0]

    seconds, _ = _timed(run, args)
    completions = [tokenizer.decode(o, skip_special_tokens=True) for o in out]
    prefill, _ = _timed(lambda n: run(1), args)
    return {
        "completions": completions,
        "seconds": seconds,
        "prefill_seconds": prefill,
        "setup_seconds": setup,
        "conversion_seconds": converted,
        "batch_size": args.ct2_batch,
        "threads": threads,
        "ct2_version": ctranslate2.__version__,
        "ct2_force_cpu_isa": os.environ.get("CT2_FORCE_CPU_ISA", "(unset)"),
    }


def _prompt_ids(tokenizer, prompt) -> list[int]:
    ids = tokenizer.apply_chat_template(
        list(prompt.messages), tokenize=True, add_generation_prompt=True
    )
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids)


def openvino_model_dir() -> Path:
    return cache_dir("openvino") / f"{CODER_MODEL}-int8"


def export_openvino(python: str) -> Path:
    """optimum-intel export (int8 weights) of the packaged safetensors, once. optimum-intel 2.2
    needs transformers < 5.6, so it runs in the interpreter given (a venv that has it)."""
    from cetd_lib.models.base import packaged_model_dir

    target = openvino_model_dir()
    if (target / "openvino_model.xml").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        subprocess.run(
            [python, "-m", "optimum.commands.optimum_cli", "export", "openvino",
             "--model", str(packaged_model_dir(CODER_MODEL)),
             "--task", "text-generation-with-past", "--weight-format", "int8",
             str(Path(tmp) / "ir")],
            check=True,
        )  # fmt: skip
        ir = Path(tmp) / "ir"
        if not (ir / "openvino_tokenizer.xml").is_file():  # optimum skips it on some versions
            subprocess.run([python, "-c", _OV_TOKENIZER, str(packaged_model_dir(CODER_MODEL)),
                            str(ir)], check=True)  # fmt: skip
        os.replace(ir, target)
    return target


_OV_TOKENIZER = """
import sys
import openvino as ov
from openvino_tokenizers import convert_tokenizer
from transformers import AutoTokenizer
tok, detok = convert_tokenizer(AutoTokenizer.from_pretrained(sys.argv[1]), with_detokenizer=True)
ov.save_model(tok, sys.argv[2] + "/openvino_tokenizer.xml")
ov.save_model(detok, sys.argv[2] + "/openvino_detokenizer.xml")
"""


def _openvino(args, prompts) -> dict:
    import openvino as ov
    import openvino_genai

    from cetd_lib.models import load_tokenizer

    target = openvino_model_dir()
    if not (target / "openvino_model.xml").is_file():
        raise RuntimeError(f"no OpenVINO IR at {target}: run this script with --export-openvino")
    # As an AVX2 host runs it: f32 (no bf16), and no int8 dynamic quantisation of activations
    # (the plugin decides it from CPUID, the capped oneDNN then has no kernel for it).
    config = (
        {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"}
        if args.emulate_avx2_host
        else {}
    )
    started = time.perf_counter()
    pipe = openvino_genai.LLMPipeline(str(target), "CPU", **config)
    setup = time.perf_counter() - started
    tokenizer = load_tokenizer(CODER_MODEL)
    texts = [
        tokenizer.apply_chat_template(list(p.messages), tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    if any(len(p.module_names) > 1 for p in prompts):
        raise RuntimeError("openvino candidate stops at the first closed block: one-module apps")
    generation = openvino_genai.GenerationConfig()
    generation.do_sample = False
    generation.apply_chat_template = False
    generation.stop_strings = {"\n```\n"}  # the first block closed (one-module apps)
    generation.include_stop_str_in_output = True

    def run(max_new_tokens: int):
        generation.max_new_tokens = max_new_tokens
        return pipe.generate(texts, generation).texts

    seconds, completions = _timed(run, args)
    # Which kernels ran: the compiled model's primitive types (jit_avx2 vs *avx512*).
    compiled = ov.Core().compile_model(str(target / "openvino_model.xml"), "CPU", config)
    kernels = Counter(
        op.get_rt_info()["primitiveType"].astype(str)
        for op in compiled.get_runtime_model().get_ops()
    )
    return {
        "completions": list(completions),
        "seconds": seconds,
        "setup_seconds": setup,
        "openvino_version": ov.__version__,
        "config": config,
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "(unset)"),
        "primitive_types": dict(kernels.most_common(12)),
    }


def ort_genai_model_dir() -> Path:
    return cache_dir("ort-genai") / f"{CODER_MODEL}-int4"


def _ort_genai(args, prompts) -> dict:
    import onnxruntime_genai as og

    from cetd_lib.models import load_tokenizer
    from cetd_lib.models.base import packaged_model_dir

    started = time.perf_counter()
    target = ort_genai_model_dir()
    if not (target / "genai_config.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            subprocess.run(
                [sys.executable, "-m", "onnxruntime_genai.models.builder",
                 "-i", str(packaged_model_dir(CODER_MODEL)), "-o", str(Path(tmp) / "m"),
                 "-p", "int4", "-e", "cpu", "-c", str(Path(tmp) / "cache")],
                check=True,
            )  # fmt: skip
            os.replace(Path(tmp) / "m", target)
    converted = time.perf_counter() - started
    model = og.Model(str(target))
    tokenizer = load_tokenizer(CODER_MODEL)
    setup = time.perf_counter() - started
    ids = [_prompt_ids(tokenizer, p) for p in prompts]
    blocks = [max(1, len(p.module_names)) for p in prompts]
    out: list[list[int]] = [[] for _ in ids]
    eos = {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}

    def run(max_new_tokens: int) -> None:
        # One prompt per generator (no per-row stop in a batched generator): sequential.
        for i, prompt_ids in enumerate(ids):
            params = og.GeneratorParams(model)
            params.set_search_options(do_sample=False, max_length=len(prompt_ids) + max_new_tokens)
            generator = og.Generator(model, params)
            generator.append_tokens([prompt_ids])
            got: list[int] = []
            while not generator.is_done() and len(got) < max_new_tokens:
                generator.generate_next_token()
                token = int(generator.get_next_tokens()[0])
                if token in eos:
                    break
                got.append(token)
                piece = tokenizer.decode([token])
                if ("`" in piece or "~" in piece) and _closed(tokenizer.decode(got), blocks[i]):
                    break
            out[i] = got

    seconds, _ = _timed(run, args)
    return {
        "completions": [tokenizer.decode(o, skip_special_tokens=True) for o in out],
        "seconds": seconds,
        "setup_seconds": setup,
        "conversion_seconds": converted,
        "isa_capped": False,
        "ort_genai_version": og.__version__,
    }


def run_candidate(name: str, args, prompts) -> dict:
    if name in HF_CANDIDATES:
        dtype, overrides = HF_CANDIDATES[name]
        return _hf(args, prompts, dtype=dtype, overrides=overrides)
    if name == "llamacpp_c8":
        return _llamacpp(args, prompts, slots=8, server_args=())
    if name == "llamacpp_c16":
        return _llamacpp(args, prompts, slots=16, server_args=())
    if name == "llamacpp_c8_ub128":
        return _llamacpp(args, prompts, slots=8, server_args=("--ubatch-size", "128"))
    if name == "ct2_int8":
        return _ct2(args, prompts)
    if name == "openvino_int8":
        return _openvino(args, prompts)
    if name == "ort_genai_int4":
        return _ort_genai(args, prompts)
    raise ValueError(f"unknown candidate {name!r}; known: {', '.join(CANDIDATES)}")


def child(args) -> int:
    _, prompts = gold_prompts(args.apps)
    load = os.getloadavg()[0]
    result = run_candidate(args.child, args, prompts)
    result["load_avg_1m"] = load
    result["load_avg_1m_after"] = os.getloadavg()[0]
    Path(args.result).write_text(json.dumps(result))
    return 0


def prompt_pass_tokens(tokenizer, prompts) -> dict:
    """Tokens the hf prompt pass computes for these prompts (one batch, as `BackendSpec`'s
    defaults batch 40 of them): the shared prefix, the suffixes, and the suffixes as padded by
    one pass over the batch and by the default chunks."""
    from cetd_lib.models.generation import _chunks
    from cetd_lib.reconstruction.config import BackendSpec

    ids = [_prompt_ids(tokenizer, p) for p in prompts]
    shared = min(len(os.path.commonprefix(ids)), min(map(len, ids)) - 1)
    suffix = [len(row) - shared for row in ids]
    budget = BackendSpec().prefill_chunk_tokens
    chunks = _chunks(suffix, budget)
    return {
        "shared_prefix_tokens": shared,
        "suffix_tokens": sum(suffix),
        "one_pass_padded_suffix_tokens": len(suffix) * max(suffix),
        "prefill_chunk_tokens": budget,
        "chunks": len(chunks),
        "chunked_padded_suffix_tokens": sum(len(c) * suffix[c[0]] for c in chunks),
    }


def summarise(apps, prompts, results: dict, baseline: dict | None = None) -> dict:
    from cetd_lib.models import load_tokenizer

    tokenizer = load_tokenizer(CODER_MODEL)
    prompt_tokens = sum(len(_prompt_ids(tokenizer, p)) for p in prompts)
    ok = {k: v for k, v in results.items() if "completions" in v}
    pass_rates = mean_pass_rates(apps, {k: v["completions"] for k, v in ok.items()})
    n = len(prompts)
    table = {}
    for name, r in ok.items():
        new_tokens = sum(
            len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in r["completions"]
        )
        row = {
            "s_per_rebuild": r["seconds"] / n,
            "pass_rate": pass_rates[name],
            "new_tokens_per_rebuild": new_tokens / n,
            "new_tokens_per_s": new_tokens / r["seconds"],
            "load_avg_1m": r["load_avg_1m"],
        }
        if "prefill_seconds" in r:
            row["prefill_s_per_rebuild"] = r["prefill_seconds"] / n
            row["prefill_share"] = r["prefill_seconds"] / r["seconds"]
            row["prompt_tokens_per_s"] = prompt_tokens / r["prefill_seconds"]
            decode = max(r["seconds"] - r["prefill_seconds"], 1e-9)
            row["decode_tokens_per_s"] = new_tokens / decode
        table[name] = row
    base = table.get("hf_float32") or baseline
    one_pass = table.get("hf_float32_one_pass")
    if base:
        for name, row in table.items():
            row["speedup_vs_hf_fp32"] = base["s_per_rebuild"] / row["s_per_rebuild"]
            if one_pass:
                row["speedup_vs_hf_fp32_one_pass"] = (
                    one_pass["s_per_rebuild"] / row["s_per_rebuild"]
                )
                row["pass_rate_delta_points_vs_one_pass"] = 100 * (
                    row["pass_rate"] - one_pass["pass_rate"]
                )
            row["pass_rate_delta_points"] = 100 * (row["pass_rate"] - base["pass_rate"])
            if "hf_float32" not in ok:
                continue
            row["identical_completions_vs_hf_fp32"] = sum(
                a == b
                for a, b in zip(
                    ok[name]["completions"], ok["hf_float32"]["completions"], strict=True
                )
            )
    eligible = {
        k: v
        for k, v in table.items()
        if not k.startswith("hf_float32")
        and k not in UNCAPPED
        and v.get("pass_rate_delta_points", -99) >= -2
    }
    best = min(eligible, key=lambda k: eligible[k]["s_per_rebuild"]) if eligible else None
    return {
        "candidates": table,
        "prompt_tokens_per_rebuild": prompt_tokens / n,
        "prompt_pass_tokens": prompt_pass_tokens(tokenizer, prompts),
        "best_capped_candidate": best,
        "best_speedup_vs_hf_fp32": table[best]["speedup_vs_hf_fp32"] if best and base else None,
        "details": {
            k: {kk: vv for kk, vv in v.items() if kk != "completions"} for k, v in results.items()
        },
    }


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def markdown(paths: list[Path]) -> str:
    """The docs/serving.md table of one or more runs of this script (figures from the JSON)."""
    lines = [
        "| candidate | run | load 1 min | s/rebuild | vs hf fp32 | vs hf fp32 one pass "
        "| pass rate (delta, points) | new tok/s | prefill share | prompt tok/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        report = json.loads(path.read_text())
        for name, row in report["candidates"].items():
            share = row.get("prefill_share")
            lines.append(
                f"| `{name}` | `{path.name}` | {row['load_avg_1m']:.2f} "
                f"| {row['s_per_rebuild']:.2f} "
                f"| {row.get('speedup_vs_hf_fp32', float('nan')):.2f}x "
                f"| {_ratio(row.get('speedup_vs_hf_fp32_one_pass'))} "
                f"| {row['pass_rate']:.3f} ({row.get('pass_rate_delta_points', 0):+.1f}) "
                f"| {row['new_tokens_per_s']:.1f} "
                f"| {'' if share is None else f'{share:.0%}'} "
                f"| {row.get('prompt_tokens_per_s', float('nan')):.0f} |"
            )
        for name, detail in report["details"].items():
            if "error" in detail:
                lines.append(f"| `{name}` | `{path.name}` | failed: {detail['error'][:120]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "outputs" / "bench" / "orchestra-candidates.json"
    )
    parser.add_argument("--apps", type=int, default=40, help="first N HumanEval problems")
    parser.add_argument("--max-new-tokens", type=int, default=384)
    parser.add_argument("--only", default="", help="comma-separated candidates (default: all)")
    parser.add_argument("--ct2-batch", type=int, default=16, help="CTranslate2 batch size")
    parser.add_argument("--emulate-avx2-host", action="store_true")
    parser.add_argument(
        "--skip-prefill-timing",
        action="store_true",
        help="hf: no second, prompt-pass-only timing (saves ~a third of each hf run)",
    )
    parser.add_argument(
        "--prefill-sweep",
        default="",
        metavar="B1,B2",
        help="hf: time only the prompt pass for each prefill_chunk_tokens value (no rebuilds)",
    )
    parser.add_argument(
        "--export-openvino",
        metavar="PYTHON",
        default="",
        help="export the OpenVINO IR first with this interpreter (one with optimum-intel 2.2)",
    )
    parser.add_argument(
        "--child-python",
        default=sys.executable,
        help="interpreter of the candidate processes (one that also has the optional runtimes; "
        "the parent scores through the sandbox, which wants the project's own venv)",
    )
    parser.add_argument(
        "--baseline-from",
        type=Path,
        default=None,
        help="a JSON of this script whose hf_float32 row is the baseline when this run has none "
        "(run right before, in the same quiet spell; recorded as such)",
    )
    parser.add_argument(
        "--markdown", nargs="+", type=Path, help="print the docs table of these JSON files"
    )
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--result", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.emulate_avx2_host:  # before any runtime loads: kernels pick their ISA once
        os.environ.update(AVX2_ONLY_ENV)
    if args.child:
        return child(args)
    if args.markdown:
        print(markdown(args.markdown))
        return 0

    names = [n for n in (args.only.split(",") if args.only else CANDIDATES) if n]
    unknown = sorted(set(names) - set(CANDIDATES))
    if unknown:
        parser.error(f"unknown candidates {unknown}; known: {', '.join(CANDIDATES)}")
    apps, prompts = gold_prompts(args.apps)
    results: dict[str, dict] = {}
    if args.export_openvino and "openvino_int8" in names:
        started = time.perf_counter()
        try:
            export_openvino(args.export_openvino)
        except subprocess.CalledProcessError as exc:  # recorded; the other candidates still run
            results["openvino_int8"] = {"error": f"export failed: {exc}"}
            print(f"openvino_int8: export FAILED: {exc}", flush=True)
        print(f"openvino export: {time.perf_counter() - started:.0f} s", flush=True)
    for name in names:
        if name in results:
            continue
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            command = [args.child_python, __file__, "--child", name, "--result", out.name,
                       "--apps", str(args.apps), "--max-new-tokens", str(args.max_new_tokens),
                       "--ct2-batch", str(args.ct2_batch)]  # fmt: skip
            if args.emulate_avx2_host:
                command.append("--emulate-avx2-host")
            if args.skip_prefill_timing:
                command.append("--skip-prefill-timing")
            if args.prefill_sweep:
                command += ["--prefill-sweep", args.prefill_sweep]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode == 0:
                results[name] = json.loads(Path(out.name).read_text())
                if "seconds" in results[name]:
                    rate = results[name]["seconds"] / len(prompts)
                    print(f"{name}: {rate:.2f} s/rebuild", flush=True)
                else:
                    print(f"{name}: {results[name].get('prefill_sweep_seconds')}", flush=True)
            else:
                missing = re.search(r"No module named '(\w+)'", done.stderr)
                results[name] = {
                    "error": (
                        f"not installed ({missing[1]}): {INSTALL.get(name, '')}"
                        if missing
                        else done.stderr[-3000:]
                    )
                }
                print(f"{name}: FAILED {results[name]['error'][-400:]}", flush=True)
    baseline = None
    if args.baseline_from:
        baseline = json.loads(args.baseline_from.read_text())["candidates"]["hf_float32"]
    report = {
        "what": f"{CODER_MODEL}, {len(prompts)} HumanEval gold prompts (first {len(prompts)}), "
        f"greedy, max_new_tokens {args.max_new_tokens}, one timed pass per candidate, each in "
        "its own process, one after another",
        "prompt_version": prompts[0].prompt_version,
        "emulated_avx2_host": args.emulate_avx2_host,
        "isa_caps": AVX2_ONLY_ENV if args.emulate_avx2_host else {},
        "uncapped_candidates": sorted(UNCAPPED & set(names)),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "baseline_from": str(args.baseline_from) if args.baseline_from else "this run",
        **summarise(apps, prompts, results, baseline),
        "host": host_cpu(),
    }
    atomic_write_json(args.out, report)
    for name, row in report["candidates"].items():
        print(
            f"{name:20s} {row['s_per_rebuild']:.2f} s/rebuild"
            f"  x{row.get('speedup_vs_hf_fp32', 0):.2f}"
            f"  pass {row['pass_rate']:.3f} ({row.get('pass_rate_delta_points', 0):+.1f})"
            f"  {row['new_tokens_per_s']:.1f} new tok/s  load {row['load_avg_1m']:.2f}"
        )
    print(f"best capped candidate: {report['best_capped_candidate']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
