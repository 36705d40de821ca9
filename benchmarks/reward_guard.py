"""Benchmark of the stage-2 leak guard -> outputs/bench/guard.json.

Over every bundled app (holdout included) and every HumanEval app, default `GuardConfig`:

- `guard_gold_accept_rate`: share of gold requirement lists accepted with multiplier 1.0 and
  no rule fired;
- `guard_redteam_reject_rate`: share of (app, red-team variant) texts rejected by a leak rule,
  over all apps x `cetd_lib.train.redteam.guard_variants` (verbatim joined, filler every
  k = 2..8 tokens, renamed identifiers, "Then ..." prefixes, listed test values, base64, hex),
  with the rate per variant and the apps a variant slipped through on;
- `repeated_signature_reject_rate`: share of apps whose "signature said ten times" list
  (`redteam.repeated_signature`) the `repeated_items` rule rejects (gold's own repeats are in
  `guard_gold_accept_rate`);
- `paraphrase_accept_rate`: the out-of-scope case, a mechanical English paraphrase line by line
  (`redteam.paraphrase`): measured, not required;
- `margin`: per LCS stream, the smallest (threshold - gold share) over apps and the largest gold
  share (the calibration, docs/training.md);
- `test_cases_cross_app_rate`: a false-positive proxy of the `test_cases` rule: how often the
  gold list of ANOTHER app would be rejected by it (honest prose holding numbers);
- `guard_ms_per_text`: mean wall time of `check_requirements` per text (fingerprints excluded).

    .venv/bin/python benchmarks/reward_guard.py [--humaneval N] [--out outputs/bench/guard.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def per_app(app, config) -> dict:
    """Every measurement of one app."""
    from cetd_lib.apps.requirements import format_requirements
    from cetd_lib.train.guard import check_requirements, fingerprint, max_lcs_share
    from cetd_lib.train.redteam import guard_variants, paraphrase, repeated_signature

    fp = fingerprint(app, config)
    seconds, texts = 0.0, 0

    def check(text):
        nonlocal seconds, texts
        started = time.perf_counter()
        verdict = check_requirements(text, fp, config)
        seconds += time.perf_counter() - started
        texts += 1
        return verdict

    gold = check(format_requirements(app.requirements))
    # rejected as a leak (a leak rule fired), not merely as empty or over budget
    variants = {}
    for name, text in guard_variants(app).items():
        verdict = check(text)
        variants[name] = {"caught": not verdict.accepted and verdict.leak, "rules": verdict.rules}
    return {
        "app": app.app_id,
        "fingerprint": fp,
        "gold_ok": gold.accepted and gold.multiplier == 1.0 and not gold.rules,
        "gold_rules": gold.rules,
        "margin": {
            "source_lcs": (
                max_lcs_share(len(fp.lexical), config) - gold.source_share,
                gold.source_share,
            ),
            "structure_lcs": (
                max_lcs_share(len(fp.structure), config) - gold.structure_share,
                gold.structure_share,
            ),
        },
        "variants": variants,
        "paraphrase_accepted": check(paraphrase(app)).accepted,
        "repeated_signature_rejected": "repeated_items" in check(repeated_signature(app)).rules,
        "seconds": seconds,
        "texts": texts,
    }


def summarize(rows: list[dict]) -> dict:
    caught: dict[str, list[bool]] = defaultdict(list)
    slipped: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        for name, v in row["variants"].items():
            caught[name].append(v["caught"])
            if not v["caught"]:
                slipped[name].append(row["app"])
    flat = [c for flags in caught.values() for c in flags]
    return {
        "n_apps": len(rows),
        "guard_gold_accept_rate": sum(r["gold_ok"] for r in rows) / len(rows),
        "gold_failures": [
            {"app": r["app"], "rules": r["gold_rules"]} for r in rows if not r["gold_ok"]
        ],
        "guard_redteam_reject_rate": sum(flat) / len(flat),
        "redteam_texts": len(flat),
        "per_variant_reject_rate": {k: sum(v) / len(v) for k, v in caught.items()},
        "per_variant_apps": {k: len(v) for k, v in caught.items()},
        "slipped_through": dict(slipped),
        "paraphrase_accept_rate": sum(r["paraphrase_accepted"] for r in rows) / len(rows),
        "repeated_signature_reject_rate": (
            sum(r["repeated_signature_rejected"] for r in rows) / len(rows)
        ),
        "margin": {
            stream: {
                "min_threshold_minus_gold": round(min(r["margin"][stream][0] for r in rows), 4),
                "at_app": min(rows, key=lambda r: r["margin"][stream][0])["app"],
                "max_gold_share": round(max(r["margin"][stream][1] for r in rows), 4),
            }
            for stream in ("source_lcs", "structure_lcs")
        },
        "guard_ms_per_text": 1000 * sum(r["seconds"] for r in rows) / sum(r["texts"] for r in rows),
    }


def cross_app_rate(apps: list, rows: list[dict], config, stride: int = 5) -> float:
    """Share of (app A, other app B) pairs where B's gold list trips A's `test_cases` rule."""
    from cetd_lib.train.guard import copied_test_cases

    hits = pairs = 0
    for row in rows:
        cases = row["fingerprint"].test_cases
        for other in apps[::stride]:
            if other.app_id == row["app"]:
                continue
            pairs += 1
            copied = copied_test_cases(list(other.requirements), cases)
            hits += copied > config.max_test_cases or (
                copied and copied / len(cases) >= config.max_test_case_share
            )
    return hits / pairs if pairs else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--humaneval", type=int, default=164, help="HumanEval apps (0 = none)")
    parser.add_argument("--out", default=str(ROOT / "outputs" / "bench" / "guard.json"))
    args = parser.parse_args(argv)

    from cetd_lib.apps.app import load_apps
    from cetd_lib.apps.humaneval import load_humaneval_apps
    from cetd_lib.train.config import GuardConfig

    bundled = load_apps(None, include_holdout=True)
    humaneval = load_humaneval_apps()[: args.humaneval]
    config = GuardConfig()
    started = time.perf_counter()
    rows = [per_app(app, config) for app in bundled + humaneval]
    result = {
        "benchmark": "reward_guard",
        "config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "all": summarize(rows),
        "bundled": summarize(rows[: len(bundled)]),
        "humaneval": summarize(rows[len(bundled) :]) if humaneval else None,
        "test_cases_cross_app_rate": cross_app_rate(bundled + humaneval, rows, config),
        "seconds": time.perf_counter() - started,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "load_average": os.getloadavg(),
    }
    keys = ("guard_gold_accept_rate", "guard_redteam_reject_rate", "paraphrase_accept_rate",
            "repeated_signature_reject_rate", "guard_ms_per_text")  # fmt: skip
    for key in keys:
        result[key] = result["all"][key]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps({k: result[k] for k in (*keys, "test_cases_cross_app_rate")}, indent=2))
    print(json.dumps(result["all"]["margin"], indent=2))
    print("per variant:", json.dumps(result["all"]["per_variant_reject_rate"]))
    print("slipped:", json.dumps(result["all"]["slipped_through"])[:2000])
    print("gold failures:", json.dumps(result["all"]["gold_failures"])[:2000])
    print("wrote", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
