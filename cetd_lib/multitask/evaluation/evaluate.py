"""The evaluators of the multi-task model: they generate with it and run code through the
sandboxed harness (`run_many`, never a subprocess here), plus the failure-class error analysis
of what they ran.

HumanEval pass@k (raw or chat prompting), generated tests (pass@1, line coverage from
coverage.py inside the sandbox via `RunJob(coverage=True)`, mutation score) and text generation
scored by BLEU/chrF. The numbers themselves come from `metrics`; Δpass@1 of clarifying
questions lives in `clarification_delta`. The human explanation rating is not measured here:
the samples are written for the review tool.
"""

from __future__ import annotations

import ast
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cetd_lib.multitask.evaluation.scores import bleu_chrf, codebleu, pass_at_ks
from cetd_lib.sandbox.config import HarnessConfig

# ---------------------------------------------------------------------------------------------
# Generation helpers
# ---------------------------------------------------------------------------------------------

_STOP = re.compile(r"^(def |class |if __name__|print\(|assert |# )", re.MULTILINE)


def truncate_completion(text: str) -> str:
    """Cut a raw function-body completion at the next top-level statement (Codex's stop
    sequences: a new def/class/if/print at column 0)."""
    match = _STOP.search(text)
    return text[: match.start()] if match else text


def complete_program(prompt: str, completion: str) -> str:
    """prompt + the completion cut at its stop sequence; when the token cap cut the last
    statement in half, trailing lines are dropped until the program parses (if none does, the
    cut text is kept and fails in the harness as a syntax error)."""
    return prompt + parsing_prefix(truncate_completion(completion), head=prompt)


def parsing_prefix(body: str, head: str = "") -> str:
    """The longest line prefix of `body` such that head + prefix parses (a generation cut by
    the token cap usually ends mid-statement); `body` itself when no prefix does."""
    lines = body.splitlines(keepends=True)
    for end in range(len(lines), 0, -1):
        if parses(head + "".join(lines[:end])):
            return "".join(lines[:end])
    return body


def generate(
    model: Any,
    prompts_ids: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    n: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
) -> list[list[str]]:
    """n completions per prompt (greedy when temperature == 0), decoded without specials."""
    import torch

    tokenizer, lm = model.tokenizer, model.lm
    lm.eval()
    out: list[list[str]] = []
    torch.manual_seed(seed)
    for ids in prompts_ids:
        input_ids = torch.tensor([list(ids)], device=model.device)
        kwargs: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            kwargs = {"do_sample": True, "temperature": temperature, "top_p": top_p}
        with torch.no_grad():
            gen = lm.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=max_new_tokens,
                num_return_sequences=n,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **kwargs,
            )
        out.append(
            [tokenizer.decode(g[input_ids.shape[1] :], skip_special_tokens=True) for g in gen]
        )
    return out


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def _all_passed(result: Any) -> bool:
    return bool(result.per_test) and not result.harness_error and result.pass_rate == 1.0


def sample_failure_class(result: Any) -> str | None:
    """The harness failure class of one sample's run (None: every test passed): the class most
    of its failing tests share, else the process's fate (timeout, crash, harness error)."""
    if _all_passed(result):
        return None
    if result.harness_error:
        return "HARNESS_ERROR"
    classes = Counter(o.failure_class for o in result.per_test.values() if o.failure_class)
    if classes:
        return classes.most_common(1)[0][0]
    return result.fate_class or ("EMPTY_GENERATION" if not result.per_test else "UNKNOWN")


def failure_summary(
    ids: Sequence[str], texts: Sequence[str], results: Sequence[Any], max_examples: int = 3
) -> dict[str, Any]:
    """Failure classes of failing samples, counted, and the first few failing examples."""
    classes = [sample_failure_class(r) for r in results]
    failing = [(i, t, c) for i, t, c in zip(ids, texts, classes, strict=True) if c is not None]
    return {
        "failure_classes": dict(Counter(c for _, _, c in failing).most_common()),
        "failures": [
            {"id": i, "failure_class": c, "text": t[:800]} for i, t, c in failing[:max_examples]
        ],
    }


def task_error_analysis(results: Mapping[str, Any], below: float = 0.5) -> dict[str, Any]:
    """Per task: where the model fails, grouped by failure class (generation tasks run through
    the harness) or by label (classification heads), with underperforming categories flagged:
    a task whose headline metric is below `below`, a label or CWE with support and F1 below it."""
    out: dict[str, Any] = {}
    for task, metric in (("humaneval", "pass@1"), ("tests", "pass@1")):
        block = results.get(task) or {}
        if metric in block:
            out[task] = {
                "metric": metric,
                "value": block[metric],
                "underperforming": block[metric] < below,
                "failure_classes": block.get("failure_classes", {}),
                "examples": block.get("failures", []),
            }
    for task in ("quality", "security"):
        block = results.get(task) or {}
        if "per_label" not in block:
            continue
        groups = {"label": block["per_label"]}
        if "per_cwe" in block:
            groups["CWE"] = block["per_cwe"]["per_label"]
        flagged = [
            {"kind": kind, "name": name, "f1": m["f1"], "support": m["support"]}
            for kind, per in groups.items()
            for name, m in per.items()
            if m["support"] > 0 and m["f1"] < below
        ]
        macro = block["macro"]["f1"]
        out[task] = {
            "metric": "macro F1",
            "value": macro,
            "underperforming": macro < below,
            "flagged": sorted(flagged, key=lambda f: (f["f1"], -f["support"])),
        }
    block = results.get("clarification") or {}
    if "f1" in block:
        out["clarification"] = {
            "metric": "F1",
            "value": block["f1"],
            "underperforming": block["f1"] < below,
        }
    return out


# ---------------------------------------------------------------------------------------------
# Evaluators
# ---------------------------------------------------------------------------------------------


HUMANEVAL_CHAT_INSTRUCTION = (
    "Complete this Python function. Reply with the whole function in one ```python block."
)


def humaneval_prompt_ids(tokenizer: Any, prompt: str, mode: str) -> list[int]:
    """'raw': the HumanEval prompt itself (a base code LM continues the body); 'chat': the
    prompt inside one user turn of the chat template (an instruct model answers in a fenced
    block; raw completion gets 0/40 from SmolLM2-Instruct, FIGURES.md)."""
    if mode == "raw":
        return tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if mode != "chat":
        raise ValueError(f"humaneval prompt mode {mode!r}: expected 'raw' or 'chat'")
    content = f"{HUMANEVAL_CHAT_INSTRUCTION}\n\n```python\n{prompt}```"
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def humaneval_program(prompt: str, entry_point: str, completion: str, mode: str) -> str:
    """The module run on the tests. raw: prompt + body (`complete_program`). chat: the first
    fenced block when it defines `entry_point` (after the prompt's import lines, which answers
    often omit), cut to its longest parsing prefix; else it is treated as a body."""
    if mode == "chat":
        from cetd_lib.mutation_rl.rl import extract_test_code

        code = extract_test_code(completion)
        if re.search(rf"^def {re.escape(entry_point)}\s*\(", code, re.MULTILINE):
            imports = "".join(
                line
                for line in prompt.splitlines(keepends=True)
                if line.startswith(("import ", "from "))
            )
            return imports + parsing_prefix(code, head=imports)
        completion = code
    return complete_program(prompt, completion)


def humaneval_pass_at_k(
    model: Any,
    problems: Sequence[tuple[dict[str, Any], Any]],
    *,
    n: int,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
    harness: HarnessConfig | None = None,
    mode: str = "chat",
) -> dict[str, Any]:
    """pass@1 (and pass@10 when n >= 10) over (problem, app) pairs: `n` samples per problem
    (`humaneval_prompt_ids` / `humaneval_program` say how the prompt and the module are made),
    run on the app's tests through the harness. A sample passes when every test passes.
    n == 1 samples greedily."""
    from cetd_lib.apps.humaneval import MODULE
    from cetd_lib.sandbox.results import RunJob
    from cetd_lib.sandbox.runner import run_many

    if not problems:
        return {"n_problems": 0, "n_samples": n}
    prompts = [humaneval_prompt_ids(model.tokenizer, p["prompt"], mode) for p, _ in problems]
    completions = generate(
        model,
        prompts,
        max_new_tokens=max_new_tokens,
        n=n,
        temperature=temperature if n > 1 else 0.0,
        top_p=top_p,
        seed=seed,
    )
    programs = [
        [humaneval_program(p["prompt"], p["entry_point"], s, mode) for s in samples]
        for (p, _), samples in zip(problems, completions, strict=True)
    ]
    jobs, owners = [], []
    for i, ((_, app), codes) in enumerate(zip(problems, programs, strict=True)):
        for code in codes:
            jobs.append(RunJob({MODULE: code}, dict(app.tests)))
            owners.append(i)
    results = run_many(jobs, config=harness)
    correct = [0] * len(problems)
    for i, result in zip(owners, results, strict=True):
        correct[i] += _all_passed(result)
    ids = [problems[i][0]["task_id"] for i in owners]
    return {
        **failure_summary(ids, [c for codes in programs for c in codes], results),
        "n_problems": len(problems),
        "n_samples": n,
        "prompt_mode": mode,
        "correct_per_problem": correct,
        "parse_rate": statistics.fmean(parses(c) for codes in programs for c in codes),
        "sample_program": programs[0][0][:2000],
        # First sample of each problem against its canonical solution.
        "codebleu": codebleu(
            [codes[0] for codes in programs],
            [p["prompt"] + p["canonical_solution"] for p, _ in problems],
        ),
        **pass_at_ks(correct, n),
    }


_FILE = re.compile(r"^# file: (\S+)\n", re.MULTILINE)


def sources_from_pair_input(text: str) -> dict[str, str]:
    """The `# file: name` sections of a code->test pair input (pairs._render_code)."""
    parts = _FILE.split(text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def generated_tests(
    model: Any,
    records: Sequence[Mapping[str, Any]],
    prompts_ids: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    max_mutants: int,
    seed: int,
    harness: HarnessConfig | None = None,
) -> dict[str, Any]:
    """Greedy test file per code->test pair; pass@1 = share whose tests all pass on the
    reference code; line coverage of the reference modules (coverage.py, in the sandbox) by
    every generated file that ran, by the passing ones, and by the pair's gold test function
    (the baseline: same granularity, one test); mutation score (cetd_lib.mutation) of the
    passing ones on their module, 0 for a file that fails on a behaviour-preserving variant of
    the module (source-coupled: it tests the text, not the behaviour)."""
    from cetd_lib.mutation import MutationConfig, generate_mutants, mutation_scores
    from cetd_lib.mutation_rl.rl import extract_test_code
    from cetd_lib.sandbox.results import RunJob
    from cetd_lib.sandbox.runner import run_many

    if not records:
        return {"n": 0}
    texts = [g[0] for g in generate(model, prompts_ids, max_new_tokens=max_new_tokens, seed=seed)]
    codes = [parsing_prefix(extract_test_code(t)) for t in texts]
    sources = [sources_from_pair_input(r["input"]) for r in records]
    generated_jobs = [
        RunJob(s, {"test_generated.py": c}, coverage=True, generated_tests=True)
        for s, c in zip(sources, codes, strict=True)
    ]
    gold_jobs = [
        RunJob(s, {"test_gold.py": r["target"]}, coverage=True, original_code=True)
        for s, r in zip(sources, records, strict=True)
    ]
    results = run_many(generated_jobs + gold_jobs, config=harness)
    results, gold = results[: len(records)], results[len(records) :]
    passed = [_all_passed(r) for r in results]
    failures = failure_summary([str(r["id"]) for r in records], codes, results)
    kill_rates, coupled = [], 0
    config = MutationConfig(max_mutants=max_mutants, seed=seed)
    for ok, src, code in zip(passed, sources, codes, strict=True):
        if not ok:
            continue
        module = max(src, key=lambda name: len(src[name]))
        mutants = generate_mutants(src[module], module, config)
        if mutants:
            (score,) = mutation_scores(
                src, module, [{"test_generated.py": code}], mutants, config, harness=harness
            )
            if score.kill_rate is not None:
                kill_rates.append(score.kill_rate)  # 0 when source-coupled
            coupled += score.source_coupled
    return {
        **failures,
        "n": len(records),
        "pass@1": statistics.fmean(passed),
        "parse_rate": statistics.fmean(parses(c) for c in codes),
        "coverage": _mean_coverage(results),
        "coverage_passing": _mean_coverage(r for r, ok in zip(results, passed, strict=True) if ok),
        "reference_coverage": _mean_coverage(gold),
        "reference_pass@1": statistics.fmean(_all_passed(r) for r in gold),  # reachable: 1.0
        "mutation_score": statistics.fmean(kill_rates) if kill_rates else None,
        "mutation_scored": len(kill_rates),
        "mutation_source_coupled": coupled,  # passing files failing on an equivalent variant
        "samples": [{"id": r["id"], "test": c[:2000], "passed": p, "coverage": res.line_coverage}
                    for r, c, p, res in zip(records, codes, passed, results, strict=True)][:5],
    }  # fmt: skip


def _mean_coverage(results: Iterable[Any]) -> dict[str, Any]:
    """Mean line coverage over the runs where it was measured (a run cut short by a timeout
    or crash has none), with how many that was."""
    measured = [r.line_coverage for r in results if r.line_coverage is not None]
    return {"mean": statistics.fmean(measured) if measured else None, "n": len(measured)}


def text_generation(
    model: Any,
    references: Sequence[str],
    prompts_ids: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    seed: int,
) -> dict[str, Any]:
    """Greedy generations scored by BLEU/chrF against the references."""
    if not references:
        return {"n": 0}
    texts = [g[0] for g in generate(model, prompts_ids, max_new_tokens=max_new_tokens, seed=seed)]
    return {
        "n": len(references),
        **bleu_chrf(texts, references),
        "samples": [
            {"generated": t, "reference": r} for t, r in zip(texts, references, strict=True)
        ],
    }
