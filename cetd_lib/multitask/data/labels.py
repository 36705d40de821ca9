"""Multi-hot labels from analyzer findings: vocabularies, encodings, loss weights, balancing.

Pure functions on lists; the build in `build.py` feeds them ruff and bandit findings.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from cetd_lib.langpack import SEVERITY_WEIGHT, Finding, cwe_category
from cetd_lib.multitask.data.corpus import Chunk

T = TypeVar("T")


@dataclass(frozen=True)
class LabelVocab:
    """Label names in a fixed order, with how many items carried each when it was built."""

    labels: tuple[str, ...]
    counts: dict[str, int]
    n_items: int  # items the counts were taken over (for frequencies)

    def __len__(self) -> int:
        return len(self.labels)

    def index(self, label: str) -> int:
        return self.labels.index(label)

    def frequencies(self) -> dict[str, float]:
        """count / n_items per label."""
        return {k: self.counts[k] / self.n_items if self.n_items else 0.0 for k in self.labels}

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "counts": {k: self.counts[k] for k in self.labels},
            "n_items": self.n_items,
            "frequencies": self.frequencies(),
            "pos_weight": dict(zip(self.labels, pos_weights(self), strict=True)),
        }


def build_vocab(label_sets: Iterable[Iterable[str]], min_count: int) -> LabelVocab:
    """Labels present in at least `min_count` items (an item counts once per label), most
    frequent first, ties by name."""
    counts: Counter[str] = Counter()
    n_items = 0
    for labels in label_sets:
        counts.update(set(labels))
        n_items += 1
    kept = sorted((k for k, c in counts.items() if c >= min_count), key=lambda k: (-counts[k], k))
    return LabelVocab(tuple(kept), dict(counts), n_items)


def multi_hot(labels: Iterable[str], vocab: LabelVocab) -> list[int]:
    """0/1 vector of length len(vocab); labels outside the vocabulary are ignored.

    >>> v = LabelVocab(("F401", "E501"), {"F401": 3, "E501": 2}, 10)
    >>> multi_hot(["E501", "X999"], v)
    [0, 1]
    """
    present = set(labels)
    return [int(label in present) for label in vocab.labels]


def pos_weights(vocab: LabelVocab) -> list[float]:
    """Per-label positive weight for BCE-with-logits: (N − n_k) / n_k, N items, n_k positives.

    Balances each label's positives against its negatives (PyTorch `pos_weight` convention);
    a label never seen gets weight 1.
    """
    out = []
    for label in vocab.labels:
        positives = vocab.counts.get(label, 0)
        out.append((vocab.n_items - positives) / positives if positives else 1.0)
    return out


def findings_by_chunk(
    chunks: Sequence[Chunk], findings: Mapping[str, Sequence[Finding]]
) -> dict[str, list[Finding]]:
    """Each file-level finding goes to the chunk whose line span holds its line; a finding on
    a line no chunk kept (a skipped oversize unit) is dropped with that unit."""
    out: dict[str, list[Finding]] = {chunk.chunk_id: [] for chunk in chunks}
    by_source: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_source.setdefault(chunk.source_id, []).append(chunk)
    for source_id, items in findings.items():
        for finding in items:
            for chunk in by_source.get(source_id, ()):
                if chunk.covers(finding.line):
                    out[chunk.chunk_id].append(finding)
                    break
    return out


def balanced_sample(
    items: Sequence[T], is_positive: Callable[[T], bool], ratio: float, rng: random.Random
) -> list[T]:
    """All positives plus at most `ratio` × as many negatives (a seeded draw), in input order."""
    positives = [i for i, item in enumerate(items) if is_positive(item)]
    negatives = [i for i, item in enumerate(items) if not is_positive(item)]
    n_neg = min(len(negatives), round(ratio * len(positives)))
    chosen = set(positives) | set(rng.sample(negatives, n_neg))
    return [item for i, item in enumerate(items) if i in chosen]


def severity_weights(findings: Sequence[Finding], vocab: LabelVocab) -> list[float]:
    """Per label: weight of the most severe finding of that id (0 where absent)."""
    weights = dict.fromkeys(vocab.labels, 0.0)
    for finding in findings:
        if finding.code in weights:
            w = SEVERITY_WEIGHT.get(finding.severity or "", 1.0)
            weights[finding.code] = max(weights[finding.code], w)
    return [weights[label] for label in vocab.labels]


def cwe_categories(findings: Sequence[Finding]) -> list[str]:
    """Sorted CWE categories of the findings (see `cetd_lib.langpack.CWE_CATEGORY`)."""
    return sorted({cwe_category(f.cwe) for f in findings})


def finding_summary(finding: Finding) -> dict[str, Any]:
    """The fields a label record keeps per finding."""
    out: dict[str, Any] = {"code": finding.code, "line": finding.line, "message": finding.message}
    if finding.severity:
        out |= {
            "severity": finding.severity,
            "confidence": finding.confidence,
            "cwe": finding.cwe,
            "cwe_category": cwe_category(finding.cwe),
        }
    return out
