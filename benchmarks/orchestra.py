"""Benchmark of orchestra generation -> outputs/bench/orchestra.json.

The orchestra is what every reconstruction loop waits on. On the first 40 HumanEval problems'
gold prompts, greedy, SmolLM2, in the SAME run and alternating rounds:

- baseline: the `hf` backend as it was the default before (float32, `model.generate` on fixed
  batches of 4 in the callers' order: `decode_loop: transformers`);
- new: the `hf` backend with the defaults of `BackendSpec` today (dtype auto, length-sorted
  batches, finished rows dropped).

Each is timed over --rounds rounds (best round counts; machines are noisy, only the ratio taken
side by side means anything), its completions are scored through the sandboxed harness (the
pass rate must not move: numerics must not change the science), and each is timed once more
while a second busy process (one pure-Python busy loop per core) competes for the cores, on the
first --contended-apps prompts: `contended_slowdown` = contended seconds / quiet seconds of the
same prompts timed just before. The load average is recorded before
every timing.

    .venv/bin/python benchmarks/orchestra.py [--rounds 2] [--apps 40] [--max-new-tokens 384]
    .venv/bin/python benchmarks/orchestra.py --sweep batch_size=4,8,16,40   # tuning, no baseline
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness import atomic_write_json  # noqa: E402

BASELINE = {"dtype": "float32", "batch_size": 4, "decode_loop": "transformers"}


def _busy() -> None:
    while True:
        pass


class Contention:
    """One busy-looping process per core for the duration of a `with` block."""

    def __enter__(self) -> Contention:
        ctx = multiprocessing.get_context("spawn")
        self.procs = [ctx.Process(target=_busy, daemon=True) for _ in range(os.cpu_count() or 1)]
        for proc in self.procs:
            proc.start()
        time.sleep(1.0)  # let them reach the loop
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.kill()
            proc.join()


def timed(backend, prompts, max_new_tokens: int) -> tuple[float, list[str], float]:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    completions = backend.generate(prompts, 1, 0.0, max_new_tokens, 0)
    return time.perf_counter() - started, [c[0] for c in completions], load


def mean_pass_rates(apps, completions: dict[str, list[str]]) -> dict[str, float]:
    """Path -> mean pass rate of its completions through the sandboxed harness (no cache)."""
    from cetd_lib.reconstruction.reconstruct import reward_pass_rates

    pass_rates = {}
    for name, texts in completions.items():
        measured = [r for r in reward_pass_rates(apps, texts, cache=None) if r is not None]
        assert len(measured) == len(apps), f"{name}: the harness failed on some apps"
        pass_rates[name] = sum(measured) / len(measured)
    return pass_rates


def _previous(path: Path) -> dict:
    """The SmolLM2 keys of an earlier run, kept when only the coder section is re-run."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in old.items() if not k.startswith("coder_")}


def host_cpu() -> dict:
    from cetd_lib.models.generation import cpu_flags

    shown = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "cpu_flags": sorted(set(shown) & cpu_flags()),
    }


CODER_MODEL = "qwen2.5-coder-0.5b-instruct"
#: Caps ATen, oneDNN (torch's and OpenVINO's), MKL, fbgemm (torch's int8) and CTranslate2 at
#: AVX2, so each runs the kernels an AVX2-only host would.
AVX2_ONLY_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
    "CT2_FORCE_CPU_ISA": "AVX2",
}
AVX2_ONLY_FLAGS = frozenset({"avx", "avx2", "fma", "f16c", "bmi2"})


def coder_section(args) -> dict:
    """Qwen2.5-Coder-0.5B on the same gold prompts, same run, one heavy job at a time: `hf` in
    float32 (the baseline), `llamacpp`, and the kept path (what `kind: local` picks on this
    host: `hf` in bfloat16 or in int8); plus teacher-forced scoring speed through the kept
    path's weights. The other candidates: benchmarks/orchestra_candidates.py."""
    from cetd_lib.apps.degrade import strip_comments_and_docstrings
    from cetd_lib.apps.humaneval import load_humaneval_apps
    from cetd_lib.models import load_base
    from cetd_lib.models.generation import cpu_flags
    from cetd_lib.models.scoring import TeacherForcedScorer
    from cetd_lib.reconstruction.backends import (
        HFBackend,
        LlamaCppBackend,
        local_backend_choice,
        make_backend,
    )
    from cetd_lib.reconstruction.config import BackendSpec
    from cetd_lib.reconstruction.prompts import build_prompt

    apps = load_humaneval_apps()[: args.apps]
    prompts = [build_prompt(app, list(app.requirements)) for app in apps]
    flags = AVX2_ONLY_FLAGS if args.emulate_avx2_host else cpu_flags()
    kept_kind, kept_dtype = local_backend_choice(flags)  # what `kind: local` runs on this host
    llamacpp_spec = BackendSpec(
        name="llamacpp", kind="llamacpp", model=CODER_MODEL, concurrency=args.coder_concurrency
    )
    paths = {"hf_float32": BackendSpec(name="hf_float32", model=CODER_MODEL, dtype="float32")}
    kept = "llamacpp" if kept_kind == "llamacpp" else f"hf_{kept_dtype}"
    if kept_kind == "hf" and kept_dtype != "float32":
        paths[kept] = BackendSpec(name=kept, model=CODER_MODEL, dtype=kept_dtype)

    seconds, loads, completions = {}, {}, {}
    server = make_backend(llamacpp_spec)
    assert isinstance(server, LlamaCppBackend), "llama-server missing: run make install"
    try:
        seconds["llamacpp"], completions["llamacpp"], loads["llamacpp"] = timed(
            server, prompts, args.max_new_tokens
        )
        print(f"coder llamacpp: {seconds['llamacpp'] / len(prompts):.2f} s/rebuild", flush=True)
    finally:
        server.close()
    scorer = None
    for name, spec in paths.items():
        model, tokenizer = load_base(CODER_MODEL, dtype=spec.dtype)
        backend = HFBackend(spec, model=model, tokenizer=tokenizer)
        seconds[name], completions[name], loads[name] = timed(backend, prompts, args.max_new_tokens)
        print(f"coder {name}: {seconds[name] / len(prompts):.2f} s/rebuild", flush=True)
        if name == kept or (scorer is None and kept == "llamacpp"):  # llamacpp scores in fp32
            scorer = TeacherForcedScorer(model, tokenizer)
        del backend, model

    # Teacher-forced scoring of each app's own code (docstrings and comments stripped) under
    # its gold prompt: what the dense reward computes, twice per sample.
    answers = [
        f"```python\n# file: {name}\n"
        f"{strip_comments_and_docstrings(app.sources[name], name).rstrip()}\n```"
        for app in apps
        for name in app.module_names[:1]
    ]
    score_load = os.getloadavg()[0]
    started = time.perf_counter()
    scored = scorer.score(prompts, answers)
    score_seconds = time.perf_counter() - started
    print(f"coder scoring: {len(answers) / score_seconds:.2f} answers/s", flush=True)

    pass_rates = mean_pass_rates(apps, completions)
    per_rebuild = {k: v / len(prompts) for k, v in seconds.items()}
    speedup = per_rebuild["hf_float32"] / per_rebuild[kept]
    delta = 100 * (pass_rates[kept] - pass_rates["hf_float32"])
    print(
        f"coder_speedup_vs_hf_fp32 {speedup:.2f}x (kept: {kept}; goal 2.5x); pass rate "
        f"hf_float32 {pass_rates['hf_float32']:.3f} {kept} {pass_rates[kept]:.3f} ({delta:+.1f})"
    )
    return {
        "coder_what": f"{CODER_MODEL}, {len(apps)} HumanEval gold prompts (first {len(apps)}), "
        f"greedy, max_new_tokens {args.max_new_tokens}, one timed pass per path",
        "coder_prompt_version": prompts[0].prompt_version,
        "coder_kept_path": kept,
        "coder_local_kind": kept_kind,
        "coder_emulated_avx2_host": args.emulate_avx2_host,
        "coder_llamacpp_spec": dataclasses.asdict(llamacpp_spec),
        "coder_hf_prompt_pass": {
            k: getattr(paths["hf_float32"], k) for k in ("share_prefix", "prefill_chunk_tokens")
        },
        "coder_seconds_per_rebuild": per_rebuild,
        "coder_speedup_vs_hf_fp32": speedup,
        "coder_speedup_goal": 2.5,
        "coder_speedup_goal_met": speedup >= 2.5,
        "coder_pass_rate": pass_rates,
        "coder_pass_rate_delta_points": delta,
        "coder_pass_rate_within_2_points": delta >= -2.0,
        "coder_identical_completions": sum(
            a == b for a, b in zip(completions[kept], completions["hf_float32"], strict=True)
        ),
        "coder_load_avg_1m": loads,
        "coder_scored_answers_per_s": len(answers) / score_seconds,
        "coder_scoring": {
            "dtype": kept_dtype if kept_kind == "hf" else "float32",
            "answers": len(answers),
            "seconds": score_seconds,
            "load_avg_1m": score_load,
            "mean_logprob_per_token": sum(scored) / len(scored),
        },
        "coder_host": host_cpu(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench" / "orchestra.json")
    parser.add_argument("--rounds", type=int, default=2, help="alternating timing rounds")
    parser.add_argument("--apps", type=int, default=40, help="first N HumanEval problems")
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=384,
        help="generation cap (384 = orchestra.max_new_tokens of params/smoke.yaml)",
    )
    parser.add_argument("--no-contended", action="store_true", help="skip the contended timing")
    parser.add_argument("--skip-smollm2", action="store_true", help="only the coder section")
    parser.add_argument("--skip-coder", action="store_true", help="only the SmolLM2 section")
    parser.add_argument("--coder-concurrency", type=int, default=8, help="llamacpp slots")
    parser.add_argument(
        "--emulate-avx2-host",
        action="store_true",
        help="coder section as an AVX2-only host would run it: torch/oneDNN/MKL/fbgemm kernels "
        "capped at AVX2, kept path what `local` picks there (an emulation, say so when quoted)",
    )
    parser.add_argument(
        "--contended-apps", type=int, default=8, help="prompts timed with and without contention"
    )
    parser.add_argument(
        "--sweep",
        default="",
        metavar="FIELD=V1,V2",
        help="time the new backend with each value of one BackendSpec field instead",
    )
    args = parser.parse_args(argv)
    if args.emulate_avx2_host:  # before torch loads: its kernels pick the ISA once
        os.environ.update(AVX2_ONLY_ENV)

    from cetd_lib.apps.humaneval import load_humaneval_apps
    from cetd_lib.models import load_base
    from cetd_lib.models.generation import resolve_dtype
    from cetd_lib.reconstruction.backends import HFBackend
    from cetd_lib.reconstruction.config import BackendSpec
    from cetd_lib.reconstruction.prompts import build_prompt

    if not args.skip_coder:
        coder = coder_section(args)
    if args.skip_smollm2:
        atomic_write_json(args.out, {**_previous(args.out), **coder})
        print(f"wrote {args.out}")
        return 0

    apps = load_humaneval_apps()[: args.apps]
    assert len(apps) == args.apps, f"HumanEval has fewer than {args.apps} problems"
    prompts = [build_prompt(app, list(app.requirements)) for app in apps]
    new_spec = BackendSpec(name="new")
    base_spec = dataclasses.replace(new_spec, name="baseline", **BASELINE)

    models: dict[str, tuple] = {}

    def backend_for(spec: BackendSpec) -> HFBackend:
        """One loaded model per dtype, shared by the backends that use it."""
        dtype = resolve_dtype(spec.dtype, "cpu")
        if dtype not in models:
            models[dtype] = load_base(spec.model, dtype=dtype)
        model, tokenizer = models[dtype]
        return HFBackend(spec, model=model, tokenizer=tokenizer)

    if args.sweep:
        field, _, values = args.sweep.partition("=")
        kind = type(getattr(new_spec, field))
        sweep = {}
        for value in values.split(","):
            spec = dataclasses.replace(new_spec, **{field: kind(value)})
            seconds, completions, load = timed(backend_for(spec), prompts, args.max_new_tokens)
            sweep[value] = {"s_per_rebuild": seconds / len(prompts), "load_avg_1m": load}
            print(f"{field}={value}: {seconds / len(prompts):.3f} s/rebuild (load {load:.2f})")
        print(json.dumps(sweep, indent=2))
        return 0

    backends = {"baseline": backend_for(base_spec), "new": backend_for(new_spec)}
    times: dict[str, list[float]] = {k: [] for k in backends}
    loads: dict[str, list[float]] = {k: [] for k in backends}
    outputs: dict[str, list[str]] = {}
    for _ in range(max(1, args.rounds)):
        for name, backend in backends.items():
            seconds, completions, load = timed(backend, prompts, args.max_new_tokens)
            times[name].append(seconds)
            loads[name].append(load)
            outputs[name] = completions
            print(f"{name}: {seconds / len(prompts):.3f} s/rebuild (load {load:.2f})", flush=True)

    pass_rates = mean_pass_rates(apps, outputs)

    # Contention: on the first --contended-apps prompts, quiet then contended, back to back
    # (the baseline collapses under contention; all 40 would take most of an hour).
    contended: dict[str, dict[str, float]] = {}
    if not args.no_contended:
        subset = prompts[: args.contended_apps]
        for name, backend in backends.items():
            quiet, _, quiet_load = timed(backend, subset, args.max_new_tokens)
            with Contention():
                seconds, _, load = timed(backend, subset, args.max_new_tokens)
            contended[name] = {
                "apps": len(subset),
                "quiet_seconds": quiet,
                "quiet_load_avg_1m": quiet_load,
                "contended_seconds": seconds,
                "contended_load_avg_1m": load,
                "contended_slowdown": seconds / quiet,
            }
            print(f"{name} contended: {seconds / quiet:.2f}x slower", flush=True)

    per_rebuild = {k: min(v) / len(prompts) for k, v in times.items()}
    speedup = per_rebuild["baseline"] / per_rebuild["new"]
    delta_points = 100 * (pass_rates["new"] - pass_rates["baseline"])
    report = {
        "what": "orchestra generation, SmolLM2 hf backend, HumanEval gold prompts, greedy",
        "apps": len(apps),
        "max_new_tokens": args.max_new_tokens,
        "rounds": args.rounds,
        "baseline_spec": dataclasses.asdict(base_spec),
        "new_spec": dataclasses.asdict(new_spec),
        "resolved_dtype": {k: b.dtype for k, b in backends.items()},
        "torch_threads": {k: b.threads for k, b in backends.items()},
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "s_per_rebuild": per_rebuild,
        "rebuilds_per_s": {k: 1 / v for k, v in per_rebuild.items()},
        "round_seconds": times,
        "load_avg_1m_per_round": loads,
        "speedup_vs_hf_generate": speedup,
        "speedup_goal": 3.0,
        "speedup_goal_met": speedup >= 3.0,
        "pass_rate": pass_rates,
        "pass_rate_delta_points": delta_points,
        "pass_rate_within_2_points": abs(delta_points) <= 2.0,
        "identical_completions": sum(
            a == b for a, b in zip(outputs["baseline"], outputs["new"], strict=True)
        ),
        "contended": contended,
        "machine": {**host_cpu(), "python": platform.python_version()},
    }
    if not args.skip_coder:
        report.update(coder)
    atomic_write_json(args.out, report)
    print(
        f"speedup_vs_hf_generate {speedup:.2f}x (goal 3x); pass rate baseline "
        f"{pass_rates['baseline']:.3f} new {pass_rates['new']:.3f} ({delta_points:+.1f} points)"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
