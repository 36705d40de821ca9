"""Held-out evaluation of the multi-task model, and the seed's targets as met / missed.

Pure metric functions first (precision/recall/F1 per label, macro and micro; BLEU and chrF
through sacrebleu; pass@k from cetd_lib.harness.score), then the evaluators that generate with
the model and run code through the sandboxed harness (`run_many`, never a subprocess here).

CodeBLEU comes from the `codebleu` package, test coverage from coverage.py inside the sandbox
(`RunJob(coverage=True)`). The human explanation rating is not measured here: the samples are
written for the review tool.
"""

from __future__ import annotations

import ast
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cetd_lib.harness.score import pass_at_k

# ---------------------------------------------------------------------------------------------
# Pure metrics
# ---------------------------------------------------------------------------------------------


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """precision = tp/(tp+fp), recall = tp/(tp+fn), F1 = 2pr/(p+r); 0 where undefined.

    >>> {k: round(v, 3) for k, v in prf(2, 1, 1).items()}
    {'precision': 0.667, 'recall': 0.667, 'f1': 0.667, 'support': 3}
    """
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "support": tp + fn}


def multilabel_prf(
    y_true: Sequence[Sequence[int]], y_pred: Sequence[Sequence[int]], labels: Sequence[str]
) -> dict[str, Any]:
    """Per label P/R/F1, macro and micro (pooled counts). Macro averages over the labels that
    occur in y_true only: a label absent from a small test sample has F1 0 by convention
    (sklearn's zero_division=0), which would measure the sample, not the model."""
    per: dict[str, dict[str, float]] = {}
    totals = [0, 0, 0]
    for j, label in enumerate(labels):
        tp = sum(t[j] and p[j] for t, p in zip(y_true, y_pred, strict=True))
        fp = sum((not t[j]) and p[j] for t, p in zip(y_true, y_pred, strict=True))
        fn = sum(t[j] and not p[j] for t, p in zip(y_true, y_pred, strict=True))
        per[label] = prf(tp, fp, fn)
        totals = [totals[0] + tp, totals[1] + fp, totals[2] + fn]
    present = [m for m in per.values() if m["support"] > 0]
    macro = {
        k: statistics.fmean(m[k] for m in present) if present else math.nan
        for k in ("precision", "recall", "f1")
    }
    return {
        "per_label": per,
        "macro": macro,
        "micro": prf(*totals),
        "labels_with_support": len(present),
    }


def grouped_prf(
    y_true: Sequence[Sequence[int]],
    y_pred: Sequence[Sequence[int]],
    labels: Sequence[str],
    group_of: Mapping[str, str],
) -> dict[str, Any]:
    """P/R/F1 after OR-ing labels into groups (e.g. bandit ids -> CWE categories)."""
    groups = sorted(set(group_of.values()))

    def regroup(rows: Sequence[Sequence[int]]) -> list[list[int]]:
        return [
            [int(any(r[j] for j, x in enumerate(labels) if group_of.get(x) == g)) for g in groups]
            for r in rows
        ]

    return multilabel_prf(regroup(y_true), regroup(y_pred), groups)


def bleu_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU (`metrics.bleu.corpus_bleu`, the project's one BLEU) and chrF (sacrebleu,
    character n-grams with the same numbering stripped), both on a 0-1 scale like every other
    score here."""
    import sacrebleu

    from cetd_lib.metrics.bleu import corpus_bleu, strip_numbering

    if not hypotheses:
        return {"bleu": math.nan, "chrf": math.nan}
    hyps = [strip_numbering(h) for h in hypotheses]
    refs = [[strip_numbering(r) for r in references]]
    return {
        "bleu": corpus_bleu(hypotheses, references),
        "chrf": sacrebleu.corpus_chrf(hyps, refs).score / 100,
    }


def codebleu(
    hypotheses: Sequence[str], references: Sequence[str], lang: str = "python"
) -> dict[str, float]:
    """Corpus CodeBLEU (Ren et al. 2020) = 0.25 * (BLEU + keyword-weighted BLEU + AST subtree
    match + data-flow match), by the `codebleu` package (tree-sitter parsers, offline).

    When no reference has a data flow the package scores that component as matched (it logs
    a warning): an empty hypothesis then still gets 0.25, so read the components too.
    """
    from codebleu import calc_codebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    scores = calc_codebleu(list(references), list(hypotheses), lang=lang)
    return {k: float(v) for k, v in scores.items()}


def pass_at_ks(correct: Sequence[int], n: int, ks: Sequence[int] = (1, 10)) -> dict[str, float]:
    """Mean unbiased pass@k over problems (Chen et al. 2021 eq. 1), only where n >= k."""
    return {
        f"pass@{k}": statistics.fmean(pass_at_k(n, c, k) for c in correct)
        for k in ks
        if n >= k and correct
    }


def target_verdict(value: float | None, target: float, *, what: str) -> dict[str, Any]:
    """One seed target as met / missed / not measured."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return {"target": target, "value": None, "status": "not measured", "what": what}
    return {
        "target": target,
        "value": value,
        "status": "met" if value > target else "missed",
        "what": what,
    }


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
        from cetd_lib.multitask.rl import extract_test_code

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
    harness: Any = None,
    mode: str = "chat",
) -> dict[str, Any]:
    """pass@1 (and pass@10 when n >= 10) over (problem, app) pairs: `n` samples per problem
    (`humaneval_prompt_ids` / `humaneval_program` say how the prompt and the module are made),
    run on the app's tests through the harness. A sample passes when every test passes.
    n == 1 samples greedily."""
    from cetd_lib.apps.humaneval import MODULE
    from cetd_lib.harness.runner import RunJob, run_many

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
    harness: Any = None,
) -> dict[str, Any]:
    """Greedy test file per code->test pair; pass@1 = share whose tests all pass on the
    reference code; line coverage of the reference modules (coverage.py, in the sandbox) by
    every generated file that ran, by the passing ones, and by the pair's gold test function
    (the baseline: same granularity, one test); mutation score (cetd_lib.mutation) of the
    passing ones on their module, 0 for a file that fails on a behaviour-preserving variant of
    the module (source-coupled: it tests the text, not the behaviour)."""
    from cetd_lib.harness.runner import RunJob, run_many
    from cetd_lib.multitask.rl import extract_test_code
    from cetd_lib.mutation import MutationConfig, generate_mutants, mutation_scores

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


# ---------------------------------------------------------------------------------------------
# Ontology utilization (the simple-ontology gate)
# ---------------------------------------------------------------------------------------------

_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_DEF = re.compile(r"\b(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]*)")
_BUILTINS = frozenset(dir(__import__("builtins"))) | {
    "if", "for", "while", "return", "and", "or", "not", "in", "is", "with", "elif", "lambda",
    "assert", "yield", "print", "super", "self",
}  # fmt: skip


def entity_names(entities: Sequence[str]) -> set[str]:
    """Short names of ontology entities: 'function:lexer.tokenize' -> 'tokenize'."""
    return {e.split(":", 1)[-1].rsplit(".", 1)[-1] for e in entities}


def referenced_names(generation: str) -> set[str]:
    """Names a generation calls, minus builtins/keywords and names it defines itself."""
    return set(_CALL.findall(generation)) - _BUILTINS - set(_DEF.findall(generation))


def ontology_utilization(generations: Sequence[str], entity_sets: Sequence[set[str]]) -> dict:
    """Share of generations that reference at least one name and whose referenced names all
    exist in the ontology of their file/app (an operational reading of the seed's "ontology
    utilization": the model uses the entities it was given and does not invent others).
    Generations that reference nothing count as not utilizing."""
    utilizing, referencing = 0, 0
    for text, names in zip(generations, entity_sets, strict=True):
        refs = referenced_names(text)
        if refs:
            referencing += 1
            utilizing += refs <= names
    n = len(generations)
    return {
        "utilization": utilizing / n if n else math.nan,
        "referencing_share": referencing / n if n else math.nan,
        "n": n,
    }


# ---------------------------------------------------------------------------------------------
# Clarification: does the answer help the code model rebuild the app?
# ---------------------------------------------------------------------------------------------


# The answerer: a stand-in for the user who knows the gold requirements and answers only what
# is asked. It returns the gold item that shares the most content words with the question
# (ties: the shorter item, then the earlier one); a question sharing none gets no answer. It is
# deliberately simple and documented so Δpass@1 measures the question: a vague question draws
# an irrelevant item, a pointed one draws the item the ambiguous description lost.
_WORD = re.compile(r"[a-z0-9_]+")
_STOPWORDS = frozenset(
    "a an and are as at be by can could do does for from how i in is it its of on or should "
    "that the their this to was what when where which who why will with would you your "
    "exactly unspecified clarify clarification please tell".split()
)


def content_words(text: str) -> set[str]:
    """Lower-cased word tokens of `text` minus stop words (and the `[unspecified]` marker)."""
    return set(_WORD.findall(text.lower())) - _STOPWORDS


def answer_from_gold(question: str, gold: Sequence[str]) -> str | None:
    """The gold requirement item most relevant to `question` by content-word overlap, or None
    when no item shares a word with it.

    >>> answer_from_gold("Which port does it serve on?", ["Logs to stderr.", "Serves on port 80."])
    'Serves on port 80.'
    >>> answer_from_gold("Anything else?", ["Logs to stderr."]) is None
    True
    """
    asked = content_words(question)
    best, best_key = None, None
    for index, item in enumerate(gold):
        words = content_words(item)
        key = (len(asked & words), -len(words), -index)
        if key[0] and (best_key is None or key > best_key):
            best, best_key = item, key
    return best


def clarified(description: str, question: str | None, answer: str | None) -> list[str]:
    """The ambiguous description's items plus the clarifying question and its answer (none
    added when there is no answer)."""
    from cetd_lib.apps.requirements import parse_requirements

    items = parse_requirements(description)
    if not question or not answer:
        return items
    return [*items, f"Clarification: {normalize_space(question)} Answer: {answer}"]


def normalize_space(text: str) -> str:
    return " ".join(text.split())


def clarification_delta_pass(
    model: Any,
    records: Sequence[Mapping[str, Any]],
    apps_by_id: Mapping[str, Any],
    *,
    model_questions: Sequence[str],
    max_new_tokens: int,
    harness: Any = None,
    backend: Any = None,
) -> dict[str, Any]:
    """Δpass@1 of the model's own clarifying question, with the gold Q/A as its ceiling.

    Per ambiguous record the app is rebuilt three times (greedy, the Phase-2 reconstruction
    prompt, the app's original tests in the sandboxed harness): from the description alone;
    plus the model's question (`model_questions`, aligned with `records`) answered from the
    app's gold requirements by `answer_from_gold`; plus the dataset's question and answer (the
    ceiling: the question that asks exactly for the missing fact).

        delta_pass@1         = mean(pass(description + model Q/A) - pass(description))
        delta_pass@1_ceiling = mean(pass(description + gold Q/A)  - pass(description))

    The rebuilder is the model itself (`backend` replaces it, e.g. a fake in tests).
    """
    from cetd_lib.harness.config import BackendSpec, OrchestraConfig
    from cetd_lib.train.reward import orchestra_pass_rates

    if len(model_questions) != len(records):
        raise ValueError(f"{len(model_questions)} model questions for {len(records)} records")

    def app_id(record: Mapping[str, Any]) -> str:
        return record.get("app_id", record["group"])

    usable = [
        (r, q)
        for r, q in zip(records, model_questions, strict=True)
        if str(r["label"]) == "1" and app_id(r) in apps_by_id
    ]
    if not usable:
        return {"n": 0, "delta_pass@1": None, "delta_pass@1_ceiling": None}
    apps = [apps_by_id[app_id(r)] for r, _ in usable]
    answers = [
        answer_from_gold(q, app.requirements) for (_, q), app in zip(usable, apps, strict=True)
    ]
    lists = [clarified(r["description"], None, None) for r, _ in usable]
    lists += [clarified(r["description"], q, a) for (r, q), a in zip(usable, answers, strict=True)]
    lists += [clarified(r["description"], r["question"], r["answer"]) for r, _ in usable]
    spec = BackendSpec(name="multitask", kind="hf", model="(the multitask model)")
    orchestra = OrchestraConfig(members=(spec,), max_new_tokens=max_new_tokens)
    padding_side = model.tokenizer.padding_side if backend is None else None
    try:
        if backend is None:
            from cetd_lib.harness.backends import HFBackend

            backend = HFBackend(spec, model=model.lm, tokenizer=model.tokenizer)
        rates = orchestra_pass_rates(
            apps * 3, lists, orchestra=orchestra, backends={spec.name: backend},
            harness=harness, cache=None,
        )  # fmt: skip
    finally:
        if padding_side is not None:
            model.tokenizer.padding_side = padding_side  # the HF backend pads on the left
    n = len(usable)
    without, with_model, with_gold = rates[:n], rates[n : 2 * n], rates[2 * n :]
    rows = [
        (a, b, c)
        for a, b, c in zip(without, with_model, with_gold, strict=True)
        if a is not None and b is not None and c is not None
    ]

    def mean(values: Iterable[float]) -> float | None:
        values = list(values)
        return statistics.fmean(values) if values else None

    return {
        "n": len(rows),
        "answerer": "gold item with the most content words in common with the question",
        "answered_share": sum(a is not None for a in answers) / n,
        "pass@1_without_answer": mean(a for a, _, _ in rows),
        "pass@1_with_model_question": mean(b for _, b, _ in rows),
        "pass@1_with_gold_answer": mean(c for _, _, c in rows),
        "delta_pass@1": mean(b - a for a, b, _ in rows),
        "delta_pass@1_ceiling": mean(c - a for a, _, c in rows),
        "samples": [
            {"id": r.get("id"), "model_question": q, "answer": a, "gold_question": r["question"]}
            for (r, q), a in zip(usable, answers, strict=True)
        ],
    }
