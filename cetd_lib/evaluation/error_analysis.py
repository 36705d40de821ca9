"""Error analysis of reconstruction runs: why rebuilt apps fail, where, and for whom.

Reads what evaluation notebooks leave in a run's `artifacts/`: `evaluation-<source>.json`
(`phase2.SourceEvaluation.to_dict()`: per-app pass rates, per-member scores, failure counts) and,
where present, `reconstruction-<source>.json` (the harness `ReconstructionResult.to_dict()`:
one record per sample with the completion, the parsed files and every test's outcome). The
phase-2 notebook writes only the former, so its runs have no sample triples; the ablation
notebook writes both.

Failure classes are those of `cetd_lib.sandbox.failures.FailureClass` (docs/harness.md); a
sample's counts are per gold test, so an app with many tests weighs more in the class totals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cetd_lib.evaluation.ablation import ABLATION_SOURCES
from cetd_lib.sandbox.failures import FailureClass
from cetd_lib.tracking.series import nanmean

PASSED = "PASSED"  # a sample with no failing test
#: What error_analysis.ipynb evaluates when it is given no run: requirements (level 4), a weak
#: requirement source and the most degraded code, kept to three for CPU smoke runs.
SELF_EVALUATION_SOURCES = ("gold", "phase1", "level3")


def _rate(value: Any) -> float:
    return float("nan") if value is None else float(value)


@dataclass(frozen=True)
class SourceRun:
    """One requirement source (or context condition) of a run, as error analysis needs it."""

    source: str
    pass_rates: dict[str, float]  # app_id -> orchestra pass rate (NaN: not scored)
    failure_counts: dict[str, int]  # failure class -> failing gold tests, all samples
    member_pass_rates: dict[str, dict[str, float]]  # member -> app_id -> pass rate
    requirements: dict[str, list[str]] = field(default_factory=dict)
    records: tuple[dict[str, Any], ...] = ()  # ReconstructionRecord.to_dict() rows

    @classmethod
    def from_dicts(
        cls, evaluation: Mapping[str, Any], reconstruction: Mapping[str, Any] | None = None
    ) -> SourceRun:
        """From `SourceEvaluation.to_dict()` and optionally `ReconstructionResult.to_dict()`
        (as written to JSON: NaN may appear as null)."""
        members: dict[str, dict[str, float]] = {}
        for app in evaluation.get("reconstruction", {}).get("apps", []):
            for member, rate in app.get("member_pass_rate", {}).items():
                members.setdefault(member, {})[app["app_id"]] = _rate(rate)
        return cls(
            source=evaluation["source"],
            pass_rates={k: _rate(v) for k, v in evaluation["pass_rates"].items()},
            failure_counts=dict(evaluation.get("failure_counts", {})),
            member_pass_rates=members,
            requirements={k: list(v) for k, v in evaluation.get("requirements", {}).items()},
            records=tuple((reconstruction or {}).get("records", ())),
        )

    @property
    def pass_rate(self) -> float:
        return nanmean(list(self.pass_rates.values()))


def load_run(run_dir: str | Path) -> dict[str, SourceRun]:
    """source -> SourceRun from `<run_dir>/artifacts/evaluation-*.json` (+ reconstruction-*)."""
    artifacts = Path(run_dir) / "artifacts"
    files = sorted(artifacts.glob("evaluation-*.json"))
    if not files:
        raise FileNotFoundError(
            f"{artifacts}: no evaluation-*.json; point ablation.analysis_run_id at a run of "
            "phase2.ipynb or ablation.ipynb, or leave it empty to evaluate here"
        )
    runs = {}
    for path in files:
        evaluation = json.loads(path.read_text())
        records_path = artifacts / path.name.replace("evaluation-", "reconstruction-", 1)
        records = json.loads(records_path.read_text()) if records_path.exists() else None
        run = SourceRun.from_dicts(evaluation, records)
        runs[run.source] = run
    return runs


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def failure_table(runs: Mapping[str, SourceRun]) -> dict[str, dict[str, int]]:
    """source -> failure class -> failing gold tests (classes sorted by total, largest first)."""
    totals: dict[str, int] = {}
    for run in runs.values():
        for cls, count in run.failure_counts.items():
            totals[cls] = totals.get(cls, 0) + count
    order = sorted(totals, key=lambda c: (-totals[c], c))
    return {name: {c: run.failure_counts.get(c, 0) for c in order} for name, run in runs.items()}


def reward_hack_suspects(runs: Mapping[str, SourceRun]) -> dict[str, int]:
    """source -> gold tests classed REWARD_HACK_SUSPECT (screened or forged verdicts; see
    docs/harness.md), 0 included: a rise in this count is what reward hacking looks like."""
    suspect = FailureClass.REWARD_HACK_SUSPECT.value
    return {name: int(run.failure_counts.get(suspect, 0)) for name, run in runs.items()}


def shares(counts: Mapping[str, int]) -> dict[str, float]:
    """Each class's share of all failures (empty counts: {})."""
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def worst_apps(runs: Mapping[str, SourceRun], n: int = 5) -> list[dict[str, Any]]:
    """The `n` apps with the lowest mean pass rate over sources (NaN left out), ties by id."""
    app_ids = sorted({a for run in runs.values() for a in run.pass_rates})
    rows = []
    for app_id in app_ids:
        by_source = {name: run.pass_rates.get(app_id, float("nan")) for name, run in runs.items()}
        mean = nanmean(list(by_source.values()))
        if not math.isnan(mean):
            rows.append({"app_id": app_id, "mean_pass_rate": mean, "by_source": by_source})
    rows.sort(key=lambda r: (r["mean_pass_rate"], r["app_id"]))
    return rows[:n]


def level_of(source: str) -> int | None:
    """Degradation level of a condition (cetd_lib.apps.degrade.Level): level1-3 read code, gold is
    level 4 (requirements alone); other sources are not a level."""
    spec = ABLATION_SOURCES.get(source)
    if spec is not None and spec.context_level is not None:
        return spec.context_level
    return 4 if source == "gold" else None


def by_level(runs: Mapping[str, SourceRun]) -> dict[int, dict[str, Any]]:
    """level -> {source, pass_rate, failure_counts}, for the sources that are a level."""
    out = {}
    for name, run in runs.items():
        level = level_of(name)
        if level is not None:
            out[level] = {
                "source": name,
                "pass_rate": run.pass_rate,
                "failure_counts": dict(run.failure_counts),
            }
    return dict(sorted(out.items()))


def by_member(runs: Mapping[str, SourceRun]) -> dict[str, dict[str, dict[str, Any]]]:
    """source -> member -> {pass_rate (mean over apps), failure_counts (None: no records)}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, run in runs.items():
        rows = {}
        for member, rates in run.member_pass_rates.items():
            counts: dict[str, int] | None = None
            if run.records:
                counts = {}
                for record in run.records:
                    if record["member"] == member:
                        for cls, k in record["score"]["failure_counts"].items():
                            counts[cls] = counts.get(cls, 0) + k
            rows[member] = {"pass_rate": nanmean(list(rates.values())), "failure_counts": counts}
        out[name] = rows
    return out


# ---------------------------------------------------------------------------------------------
# Samples: requirement -> rebuild -> test output
# ---------------------------------------------------------------------------------------------


def dominant_failure(record: Mapping[str, Any]) -> str:
    """The class with the most failing tests in one sample (ties: alphabetical); PASSED if none."""
    counts = record["score"].get("failure_counts") or {}
    if not counts:
        return PASSED
    return min(counts, key=lambda c: (-counts[c], c))


def render_test_output(record: Mapping[str, Any], max_tests: int = 5) -> str:
    """What the tests said: the failing tests' class and detail, then pytest's log tail."""
    run = record.get("run")
    if run is None:
        detail = record["score"].get("detail") or "nothing ran"
        return f"no test ran ({dominant_failure(record)}): {detail}"
    lines = []
    failing = [(k, o) for k, o in run["per_test"].items() if not o["passed"]]
    for test_id, outcome in failing[:max_tests]:
        lines.append(f"{test_id}: {outcome['failure_class']}: {outcome['detail']}".rstrip())
    if len(failing) > max_tests:
        lines.append(f"... and {len(failing) - max_tests} more failing tests")
    if not failing:
        lines.append("all gold tests passed")
    if run.get("log_tail"):
        lines += ["--- log tail ---", run["log_tail"].rstrip()]
    return "\n".join(lines)


@dataclass(frozen=True)
class Example:
    """One sample's requirement / rebuild / test-output triple."""

    source: str
    app_id: str
    member: str
    sample: int
    failure: str  # dominant failure class, or PASSED
    pass_rate: float
    requirements: list[str]
    files: dict[str, str]
    completion: str
    test_output: str

    def render(self, max_chars: int = 1500) -> str:
        """Markdown, every part cut at `max_chars` (completions can be long)."""

        def cut(text: str) -> str:
            return text if len(text) <= max_chars else text[:max_chars] + "\n... (cut)"

        reqs = "\n".join(f"{i}. {r}" for i, r in enumerate(self.requirements, 1)) or "(none)"
        level = level_of(self.source)
        given = "requirements" if level in (None, 4) else f"code given (level {level})"
        if given != "requirements":
            reqs = "\n".join(self.requirements)  # the rendered context, not a list
        rebuilt = "\n".join(f"# file: {n}\n{t}" for n, t in sorted(self.files.items()))
        rebuild = rebuilt or f"(no usable code; raw output)\n{self.completion}"
        return (
            f"### {self.source} / {self.app_id} / {self.member} #{self.sample}: "
            f"{self.failure}, pass rate {self.pass_rate:.2f}\n\n"
            f"**{given}**\n```text\n{cut(reqs)}\n```\n"
            f"**rebuild**\n```python\n{cut(rebuild)}\n```\n"
            f"**test output**\n```text\n{cut(self.test_output)}\n```\n"
        )


def sample_examples(runs: Mapping[str, SourceRun], n: int = 3) -> list[Example]:
    """Up to `n` samples covering as many dominant failure classes as possible, the most
    frequent class first; then further failing samples, then passing ones. Deterministic."""
    pool = []
    for name, run in runs.items():
        for record in sorted(run.records, key=lambda r: (r["app_id"], r["member"], r["sample"])):
            pool.append((name, record, dominant_failure(record)))
    frequency: dict[str, int] = {}
    for *_, cls in pool:
        frequency[cls] = frequency.get(cls, 0) + 1
    classes = sorted((c for c in frequency if c != PASSED), key=lambda c: (-frequency[c], c))
    chosen: list[tuple[str, dict, str]] = []
    for cls in classes:  # one per failure class first
        chosen += [next(item for item in pool if item[2] == cls)]
    rest = [item for item in pool if item not in chosen]
    chosen += sorted(rest, key=lambda item: item[2] == PASSED)
    examples = []
    for name, record, cls in chosen[:n]:
        rate = record["score"]["pass_rate"]
        examples.append(
            Example(
                source=name,
                app_id=record["app_id"],
                member=record["member"],
                sample=record["sample"],
                failure=cls,
                pass_rate=_rate(rate),
                requirements=runs[name].requirements.get(record["app_id"], []),
                files=dict(record.get("files") or {}),
                completion=record.get("completion", ""),
                test_output=render_test_output(record),
            )
        )
    return examples


# ---------------------------------------------------------------------------------------------
# Plot
# ---------------------------------------------------------------------------------------------


def plot_failure_classes(table: Mapping[str, Mapping[str, int]], ax: Any) -> Any:
    """Stacked horizontal bars: each source's failing tests split by class (share of its total)."""
    names = list(table)
    classes = sorted({c for counts in table.values() for c in counts})
    left = [0.0] * len(names)
    for cls in classes:
        widths = [shares(table[n]).get(cls, 0.0) for n in names]
        ax.barh(names, widths, left=left, label=cls)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of failing gold tests")
    if classes:
        ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax


def runs_from_conditions(results: Mapping[str, Any]) -> dict[str, SourceRun]:
    """SourceRuns of the measured `ablation.ConditionResult`s (an evaluation done here)."""
    return {
        name: SourceRun.from_dicts(r.evaluation.to_dict(), r.reconstruction.to_dict())
        for name, r in results.items()
        if r.measured
    }


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table; floats with 3 decimals, NaN and None as an em dash."""

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
