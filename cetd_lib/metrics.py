"""Text metrics for requirements against gold: BLEU as the seed reports it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _tokens(text: str) -> list[str]:
    return text.lower().split()


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """nltk sentence BLEU-4 with Chen & Cherry (2014) method-1 smoothing, in [0, 1].

    Smoothing matters here: short requirement lists often share no 4-gram, and unsmoothed
    BLEU would then be 0 however close the wording.
    """
    from nltk.translate.bleu_score import SmoothingFunction
    from nltk.translate.bleu_score import sentence_bleu as nltk_sentence_bleu

    hyp, ref = _tokens(hypothesis), _tokens(reference)
    if not hyp or not ref:
        return 0.0
    return float(nltk_sentence_bleu([ref], hyp, smoothing_function=SmoothingFunction().method1))


def mean_sentence_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return float("nan")
    pairs = zip(hypotheses, references, strict=True)
    return float(np.mean([sentence_bleu(h, r) for h, r in pairs]))


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu corpus BLEU (13a tokenisation), rescaled from 0-100 to [0, 1]."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return float("nan")
    flat = [h.replace("\n", " ") for h in hypotheses]
    return sacrebleu.corpus_bleu(flat, [[r.replace("\n", " ") for r in references]]).score / 100


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
