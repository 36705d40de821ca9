"""Text metrics for requirements against gold: one BLEU (sacrebleu), on a 0-1 scale.

Sentence and corpus BLEU come from the same sacrebleu `BLEU` (13a tokenisation, lower-cased,
exponential smoothing), so a per-app figure and a corpus figure never disagree because two
libraries tokenise differently. List numbering (`1.`, `2)`, bullets) is stripped first: the
numbers are n-grams every list shares, and would lift the BLEU of any two lists of the same
length. Multi-task BLEU (`cetd_lib.multitask.evaluation.scores.bleu_chrf`) uses these functions too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

_NUMBERING = re.compile(r"^\s*(?:\d+[.)]|[-*+•])\s+", re.MULTILINE)


def strip_numbering(text: str) -> str:
    """The text with each line's list marker removed and lines joined by spaces.

    >>> strip_numbering("1. Adds numbers.\\n2) Never prints.\\n- Logs.")
    'Adds numbers. Never prints. Logs.'
    """
    return " ".join(_NUMBERING.sub("", text).split())


@cache
def _bleu(sentence: bool) -> Any:  # a sacrebleu.metrics.BLEU, imported lazily
    from sacrebleu.metrics import BLEU

    # effective_order: a short sentence without any 4-gram match is scored on the orders it
    # has (sacrebleu's advice for sentence BLEU); corpus BLEU keeps the standard definition.
    return BLEU(lowercase=True, tokenize="13a", smooth_method="exp", effective_order=sentence)


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """sacrebleu sentence BLEU-4 of one text against one reference, in [0, 1]."""
    hyp, ref = strip_numbering(hypothesis), strip_numbering(reference)
    if not hyp or not ref:
        return 0.0
    return _bleu(True).sentence_score(hyp, [ref]).score / 100


def mean_sentence_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Mean of `sentence_bleu` over pairs; NaN for no pairs."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return float("nan")
    pairs = zip(hypotheses, references, strict=True)
    return float(np.mean([sentence_bleu(h, r) for h, r in pairs]))


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu corpus BLEU-4 (n-gram counts pooled over all pairs), in [0, 1]."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return float("nan")
    hyps = [strip_numbering(h) for h in hypotheses]
    refs = [strip_numbering(r) for r in references]
    return _bleu(False).corpus_score(hyps, [refs]).score / 100


def bootstrap_ci(
    values: Sequence[float], *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (Efron & Tibshirani 1993, ch. 13)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = rng.choice(data, size=(n_resamples, data.size), replace=True).mean(axis=1)
    alpha = (1 - confidence) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))
