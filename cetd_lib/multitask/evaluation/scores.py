"""The multi-task model's pure metrics: no model, no harness, only numbers in and out.

Precision/recall/F1 per label (macro, micro, grouped by e.g. CWE), BLEU/chrF (through
cetd_lib.metrics.bleu), CodeBLEU (the `codebleu` package), pass@k (cetd_lib.reconstruction.score),
the seed-target verdicts, and ontology utilization (the simple-ontology gate). Kept apart from
the evaluators in `evaluate` because the gates, the held-out evaluation and the explanation
review all share them, and they need no model to test.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from cetd_lib.reconstruction.score import pass_at_k


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
