"""Orchestra calibration: the ladder's requirement transforms, its statistics against
hand-computed numbers, and the whole ladder through the real harness with fake backends whose
answer to each rung is known (oracle = 1, null = 0, one that follows the share of gold items
kept, one that ignores the requirements)."""

from __future__ import annotations

import json
import math
import re
import zlib

import numpy as np
import pytest

from cetd_lib.apps.app import App
from cetd_lib.apps.signatures import signature_items
from cetd_lib.evaluation import calibration as cal
from cetd_lib.evaluation import ladder
from cetd_lib.evaluation.ablation import ABLATION_SOURCES, AblationConfig, wilcoxon_test
from cetd_lib.evaluation.phase2 import SourceContext, requirements_from, to_json
from cetd_lib.params import ParamsError, load_params
from cetd_lib.reconstruction.backends import (
    oracle_completion,
    register_backend,
    registered_backends,
)
from cetd_lib.reconstruction.config import BackendSpec, OrchestraConfig
from cetd_lib.sandbox.config import HarnessConfig

N_ITEMS = 8  # 25/50/75% dropped keeps exactly 6/4/2 items


def _app(name: str, value: int) -> App:
    items = (f"{name}.f() returns {value}.",) + tuple(
        f"{name} requirement number {i}." for i in range(2, N_ITEMS + 1)
    )
    return App(
        name,
        {f"{name}.py": f"def f():\n    return {value}\n"},
        {f"test_{name}.py": f"from {name} import f\n\ndef test_f():\n    assert f() == {value}\n"},
        items,
    )


def _signature_app(name: str, value: int) -> App:
    """HumanEval-shaped: the first gold item states the signature the tests import."""
    items = (f"`{name}.py` defines the function `{name}_value()`.",) + tuple(
        f"`{name}_value` detail number {i}." for i in range(2, N_ITEMS + 1)
    )
    return App(
        name,
        {f"{name}.py": f"def {name}_value():\n    return {value}\n"},
        {
            f"test_{name}.py": f"from {name} import {name}_value\n\n"
            f"def test_f():\n    assert {name}_value() == {value}\n"
        },
        items,
    )


# seven apps: both verdict differences are Holm-corrected over 2, and 7 of 7 better gives
# p = 2/128, 2 x that < 0.05 (on 6, 2 x 2/64 = 0.0625 could not reject)
NAMES = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta")
APPS = [_app(name, value) for value, name in enumerate(NAMES, 1)]
SIGNATURE_APPS = [_signature_app(name, value) for value, name in enumerate(NAMES, 1)]
SOURCE_RUNGS = (
    "gold",
    "signature_only",
    "gold_drop25",
    "gold_drop50",
    "gold_drop75",
    "gold_shuffled",
    "no_items",
)


# ---------------------------------------------------------------- fake orchestra members


def _items_in(prompt) -> set[str]:
    return set(re.findall(r"^\d+\. (.*)$", prompt.messages[-1]["content"], flags=re.M))


class KeptShareBackend:
    """Rebuilds the app correctly in round(share * n) of its n samples, where share is the
    share of the app's own gold items in the prompt: pass rate = share of gold kept."""

    def __init__(self, spec: BackendSpec) -> None:
        self.name = spec.name

    def generate(self, prompts, n, temperature, max_new_tokens, seed, *, top_p=1.0):
        out = []
        for p in prompts:
            gold = p.reference_app.requirements
            share = len(_items_in(p) & set(gold)) / len(gold)
            good = round(share * n)
            out.append([oracle_completion(p) if s < good else "" for s in range(n)])
        return out


class DeafBackend:
    """Ignores the requirements: right on a fixed half of the apps, whatever it is given."""

    def __init__(self, spec: BackendSpec) -> None:
        self.name = spec.name

    def generate(self, prompts, n, temperature, max_new_tokens, seed, *, top_p=1.0):
        return [
            [oracle_completion(p) if zlib.crc32(p.app_id.encode()) % 2 else ""] * n for p in prompts
        ]


class SignatureReaderBackend:
    """Rebuilds the app exactly when its signature items are in the prompt, whatever else is
    there: the orchestra of the SmolLM2 study (issue 29)."""

    def __init__(self, spec: BackendSpec) -> None:
        self.name = spec.name

    def generate(self, prompts, n, temperature, max_new_tokens, seed, *, top_p=1.0):
        out = []
        for p in prompts:
            has_signature = set(signature_items(p.reference_app)) <= _items_in(p)
            out.append([oracle_completion(p) if has_signature else ""] * n)
        return out


class ContentReaderBackend:
    """Needs the signature, then passes in round(share * n) samples, share being the share of
    the app's non-signature gold items in the prompt: it reads what the items say."""

    def __init__(self, spec: BackendSpec) -> None:
        self.name = spec.name

    def generate(self, prompts, n, temperature, max_new_tokens, seed, *, top_p=1.0):
        out = []
        for p in prompts:
            app, given = p.reference_app, _items_in(p)
            signature = set(signature_items(app))
            content = set(app.requirements) - signature
            share = len(given & content) / len(content) if signature <= given else 0.0
            good = round(share * n)
            out.append([oracle_completion(p) if s < good else "" for s in range(n)])
        return out


for _kind, _factory in (
    ("test-kept-share", KeptShareBackend),
    ("test-deaf", DeafBackend),
    ("test-signature-reader", SignatureReaderBackend),
    ("test-content-reader", ContentReaderBackend),
):
    if _kind not in registered_backends():
        register_backend(_kind)(_factory)


@pytest.fixture
def harness(tmp_path):
    return HarnessConfig(
        app_timeout_s=6.0, test_timeout_s=1.0, workers=2, cache_path=str(tmp_path / "c.sqlite")
    )


def _run(kinds: dict[str, str], harness: HarnessConfig, apps=APPS, **config):
    orchestra = OrchestraConfig(
        members=tuple(BackendSpec(name=n, kind=k) for n, k in kinds.items())
    )
    cfg = cal.CalibrationConfig(
        families=("bundled",), n_samples=4, temperature=0.8, k_values=(1, 4), **config
    )
    return cal.calibrate_family("synthetic", apps, config=cfg, orchestra=orchestra, harness=harness)


# ---------------------------------------------------------------- requirement transforms


def test_drop_items_keeps_order_nests_and_is_seeded_per_app():
    items = [f"item {i}" for i in range(8)]
    kept = {
        f: ladder.drop_items(items, f, ladder.app_rng(3, "alpha"))
        for f in ladder.DEFAULT_DROP_FRACTIONS
    }
    assert [len(kept[f]) for f in (0.25, 0.5, 0.75)] == [6, 4, 2]
    for subset in kept.values():
        assert subset == sorted(subset, key=items.index)  # original order
    assert set(kept[0.75]) <= set(kept[0.5]) <= set(kept[0.25])  # nested
    assert ladder.drop_items(items, 0.5, ladder.app_rng(3, "alpha")) == kept[0.5]
    other_seeds = {
        tuple(ladder.drop_items(items, 0.5, ladder.app_rng(s, "alpha"))) for s in range(20)
    }
    assert len(other_seeds) > 1
    assert ladder.keep_count(5, 0.75) == 1 and ladder.keep_count(1, 0.75) == 1  # never empty


def test_derangement_has_no_fixed_point_and_is_seeded():
    for seed in range(50):
        perm = ladder.derangement(2 + seed % 5, np.random.default_rng(seed))
        assert sorted(perm) == list(range(len(perm)))
        assert all(i != j for i, j in enumerate(perm))
    assert ladder.derangement(6, np.random.default_rng(1)) == ladder.derangement(
        6, np.random.default_rng(1)
    )
    with pytest.raises(ValueError, match="at least 2"):
        ladder.derangement(1, np.random.default_rng(0))


def test_rungs_are_registered_requirement_and_ablation_sources():
    ctx = SourceContext()
    gold = requirements_from("gold", APPS, ctx)
    shuffled = requirements_from("gold_shuffled", APPS, ctx)
    for app in APPS:
        assert shuffled[app.app_id] != gold[app.app_id]  # nobody gets its own
        assert shuffled[app.app_id] in gold.values()
        assert ladder.dose(shuffled[app.app_id], app) == 0
        assert ladder.dose(requirements_from("gold_drop25", APPS, ctx)[app.app_id], app) == 0.75
        assert requirements_from("no_items", APPS, ctx)[app.app_id] == [
            f"Implements the module `{app.app_id}.py`."
        ]
    seeded = requirements_from("gold_drop50", APPS, ladder.LadderContext(seed=5))
    assert seeded == requirements_from("gold_drop50", APPS, ladder.LadderContext(seed=5))
    # the ablation accepts them by name
    assert {"gold_drop25", "gold_drop50", "gold_drop75", "gold_shuffled", "no_items"} <= set(
        ABLATION_SOURCES
    )
    assert AblationConfig(sources=("gold", "gold_drop50", "gold_shuffled")).sources[1]


# ---------------------------------------------------------------- statistics


def test_paired_bootstrap_moves_conditions_together():
    # column 1 = column 0 + 0.25 on every app: every resampled difference is exactly 0.25
    data = np.array([[0.0, 0.25], [0.5, 0.75], [0.25, 0.5], [0.75, 1.0]])
    boot = cal.paired_bootstrap_means(data, n_resamples=500, seed=1)
    assert boot.shape == (500, 2)
    assert np.allclose(boot[:, 1] - boot[:, 0], 0.25)
    assert np.array_equal(boot, cal.paired_bootstrap_means(data, n_resamples=500, seed=1))


def test_apps_needed_matches_the_t_test_power_and_grows_with_noise():
    from statsmodels.stats.power import TTestPower

    n, note = cal.apps_needed(0.3, 0.05)
    expected = TTestPower().solve_power(effect_size=0.05 / 0.3, alpha=0.05, power=0.8)
    assert n == math.ceil(expected) and "d = 0.167" in note
    assert cal.apps_needed(0.1, 0.05)[0] < n < cal.apps_needed(0.5, 0.05)[0]
    assert cal.apps_needed(0.02, 0.05)[0] == 4  # d = 2.5: the scan of small n
    assert cal.apps_needed(0.001, 0.05)[0] in (2, 3)  # d = 50: NaN power at n = 2 skipped
    assert cal.apps_needed(0.0, 0.05)[0] is None
    assert cal.apps_needed(float("nan"), 0.05)[0] is None


def _measurement(rung: str, rates: list[float]) -> cal.RungMeasurement:
    ids = [f"a{i}" for i in range(len(rates))]
    return cal.RungMeasurement(
        rung,
        "fam",
        {"m": dict(zip(ids, rates, strict=True))},
        {"m": {a: {"pass@1": r} for a, r in zip(ids, rates, strict=True)}},
        {a: ladder.RUNGS[rung].dose or 0.0 for a in ids},
        {},
        0.0,
    )


def test_calibrate_hand_computed_signals_and_inverted_ladder():
    gold = [1.0, 0.5, 1.0, 0.75, 0.5, 1.0, 0.25, 0.75]
    drop50 = [1.0, 0.5, 0.75, 0.5, 0.5, 0.75, 0.25, 0.5]
    shuffled = [0.0, 0.5, 0.25, 0.0, 0.0, 0.25, 0.0, 0.25]
    signature = [0.25, 0.5, 0.25, 0.0, 0.25, 0.5, 0.0, 0.5]

    def ladder(n_apps: int, drop=drop50, sig=signature) -> dict[str, cal.RungMeasurement]:
        rates = {
            "gold": gold,
            "signature_only": sig,
            "gold_drop50": drop,
            "gold_shuffled": shuffled,
        }
        return {r: _measurement(r, v[:n_apps]) for r, v in rates.items()}

    config = cal.CalibrationConfig(n_resamples=1000, seed=2)
    c = cal.calibrate("m", "fam", ladder(8), config=config)
    names = c.names_signal.difference  # 1, 0, .75, .75, .5, .75, .25, .5: 7 of 7 untied better
    assert (names.a, names.b) == ("gold", "gold_shuffled")
    assert names.mean == pytest.approx(4.5 / 8)
    assert c.names_signal.p_value == pytest.approx(2 / 2**7)
    content = c.signal.difference  # .75, 0, .75, .75, .25, .5, .25, .25: 7 of 7 better
    assert (content.a, content.b) == ("gold", "signature_only")
    assert content.sd == pytest.approx(np.std(np.subtract(gold, signature), ddof=1))
    assert c.signal.apps_needed == cal.apps_needed(content.sd, 0.05)[0]  # for the content
    assert c.signal.p_value == pytest.approx(wilcoxon_test(gold, signature).p_value)
    # Holm over the two: both 2/128, so each becomes 2 x 2/128
    assert c.signal.p_holm == c.names_signal.p_holm == pytest.approx(4 / 2**7)
    assert c.rungs["gold"].mean == pytest.approx(5.75 / 8)
    assert c.rungs["gold"].pass_at_k == {"pass@1": pytest.approx(5.75 / 8)}
    # signature_only is a control outside the dose chain: no step goes through it
    assert [(s.a, s.b) for s in c.steps] == [
        ("gold", "gold_drop50"),
        ("gold_drop50", "gold_shuffled"),
    ]
    assert c.verdict == cal.CARRIES_CONTENT_SIGNAL and c.monotone
    # the signature alone rebuilds as well as gold: names only, whatever gold - shuffled says
    same = cal.calibrate("m", "fam", ladder(8, sig=gold), config=config)
    assert math.isnan(same.signal.p_value) and same.names_signal.p_holm == pytest.approx(2 / 128)
    assert same.verdict == cal.NAMES_ONLY and "signature_only" in same.reason
    # on the first five apps both CIs still lie above 0 (4 of 5 better), but exact p = 2/16,
    # Holm 0.25: a handful of apps is not enough for the verdict
    few = cal.calibrate("m", "fam", ladder(5), config=config)
    assert few.names_signal.difference.ci_low > 0
    assert few.names_signal.p_value == pytest.approx(2 / 16)
    assert few.verdict == cal.FLAT and "Holm p = 0.25" in few.reason
    # drop50 clearly above gold on every app: the ladder inverts
    inverted = cal.calibrate("m", "fam", ladder(8, [g + 0.25 for g in gold]), config=config)
    assert not inverted.monotone and inverted.verdict == cal.FLAT
    assert "gold_drop50 > gold" in inverted.reason


# ---------------------------------------------------------------- the ladder through the harness


def test_oracle_is_one_and_null_is_zero_on_every_rung(harness):
    run = _run({"oracle": "oracle", "null": "null"}, harness)
    assert tuple(run.measurements) == (*SOURCE_RUNGS, "oracle_backend", "null_backend")
    for rung in SOURCE_RUNGS:
        assert run.calibrations["oracle"].rungs[rung].mean == 1.0
        assert run.calibrations["null"].rungs[rung].mean == 0.0
        assert run.calibrations["oracle"].rungs[rung].pass_at_k == {"pass@1": 1.0, "pass@4": 1.0}
        assert all(v == 1.0 for v in run.measurements[rung].pass_rates["oracle"].values())
    for member in ("oracle", "null"):  # the bounds, the same for every member
        assert run.calibrations[member].rungs["oracle_backend"].mean == 1.0
        assert run.calibrations[member].rungs["null_backend"].mean == 0.0
        # neither reads the requirements: a reward from them would be constant
        assert run.calibrations[member].verdict == cal.FLAT


def test_a_member_that_follows_the_gold_items_carries_signal(harness):
    run = _run({"follower": "test-kept-share"}, harness)
    c = run.calibrations["follower"]
    means = {r: c.rungs[r].mean for r in SOURCE_RUNGS}
    assert means == {
        "gold": 1.0,
        "signature_only": 0.0,  # the rendered definitions are none of gold's items
        "gold_drop25": 0.75,
        "gold_drop50": 0.5,
        "gold_drop75": 0.25,
        "gold_shuffled": 0.0,
        "no_items": 0.0,
    }
    assert [c.rungs[r].realised_dose for r in SOURCE_RUNGS] == [1.0, 0, 0.75, 0.5, 0.25, 0, 0]
    assert c.rungs["gold_drop50"].pass_at_k == {"pass@1": 0.5, "pass@4": 1.0}
    assert c.monotone and not any(s.reversed for s in c.steps)
    assert c.signal.difference.mean == 1.0 and c.signal.difference.ci_low == 1.0
    assert c.verdict == cal.CARRIES_CONTENT_SIGNAL


def test_a_member_that_reads_only_the_signature_is_names_only(harness):
    # the negative control of issue 29: passes exactly when the signature is present, so
    # gold - shuffled is large, the drop rungs (which keep the signature) stay at gold, and
    # gold - signature_only is 0 on every app
    run = _run({"names": "test-signature-reader"}, harness, apps=SIGNATURE_APPS)
    c = run.calibrations["names"]
    assert {r: c.rungs[r].mean for r in SOURCE_RUNGS} == {
        "gold": 1.0,
        "signature_only": 1.0,
        "gold_drop25": 1.0,
        "gold_drop50": 1.0,
        "gold_drop75": 1.0,
        "gold_shuffled": 0.0,
        "no_items": 0.0,
    }
    assert c.names_signal.difference.ci_low == 1.0 and c.names_signal.p_holm < 0.05
    assert c.signal.difference.mean == 0.0 and math.isnan(c.signal.p_value)
    assert c.signal.apps_needed is None  # SD 0
    assert c.verdict == cal.NAMES_ONLY


def test_a_member_that_reads_the_content_carries_content_signal(harness):
    run = _run({"reader": "test-content-reader"}, harness, apps=SIGNATURE_APPS)
    c = run.calibrations["reader"]
    means = {r: c.rungs[r].mean for r in SOURCE_RUNGS}
    assert means["gold"] == 1.0 and means["signature_only"] == 0.0
    assert means["gold_shuffled"] == means["no_items"] == 0.0
    assert 1.0 > means["gold_drop25"] > means["gold_drop50"] > means["gold_drop75"] > 0.0
    # every drop rung kept the signature item, so only the content made them fall
    drops = requirements_from("gold_drop75", SIGNATURE_APPS, ladder.LadderContext(seed=0))
    assert all(app.requirements[0] in drops[app.app_id] for app in SIGNATURE_APPS)
    assert c.signal.difference.ci_low == 1.0 and c.signal.p_holm == pytest.approx(4 / 2**7)
    assert c.verdict == cal.CARRIES_CONTENT_SIGNAL


def test_a_member_that_ignores_the_requirements_is_flat(harness):
    run = _run({"deaf": "test-deaf"}, harness)
    c = run.calibrations["deaf"]
    assert len({c.rungs[r].mean for r in SOURCE_RUNGS}) == 1  # the same on every rung
    assert 0 < c.rungs["gold"].mean < 1
    d = c.signal.difference
    assert (d.mean, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0)
    assert c.verdict == cal.FLAT and "gold - gold_shuffled +0.000" in c.reason
    payload = json.loads(to_json(cal.results_payload([run], run_config := _config())))
    assert payload["verdicts"] == {"deaf": {"synthetic": cal.FLAT}}
    assert (
        payload["calibration"]["deaf"]["synthetic"]["signal"]["difference"]["excludes_zero"]
        is False
    )
    assert payload["ladder"] == list(run_config.ladder)
    entry = payload["calibration"]["deaf"]["synthetic"]
    assert set(entry["rungs"]) == {*SOURCE_RUNGS, "oracle_backend", "null_backend"}
    for row in entry["rungs"].values():
        assert {"mean", "ci_low", "ci_high", "n_apps", "pass_at_k"} <= set(row)
    assert entry["signal"]["apps_needed"] is None  # SD 0: undefined, said so
    assert "SD 0" in entry["signal"]["apps_needed_note"]
    assert entry["verdict"] == cal.FLAT and len(entry["app_ids"]) == len(APPS)
    assert payload["per_app"]["synthetic"]["gold"]["deaf"].keys() == {a.app_id for a in APPS}


def _config() -> cal.CalibrationConfig:
    return cal.CalibrationConfig(families=("bundled",), n_samples=4, k_values=(1, 4))


# ---------------------------------------------------------------- params and families


def test_calibration_params_are_checked(tmp_path):
    def load(body: str):
        path = tmp_path / "p.yaml"
        path.write_text(body)
        return load_params(path)

    assert load("calibration: {}").calibration.ladder[:3] == (
        "gold",
        "signature_only",
        "gold_drop25",
    )
    with pytest.raises(ParamsError, match="signature_only"):
        load("calibration: {rungs: [gold, gold_drop, gold_shuffled]}")
    with pytest.raises(ParamsError, match="gold_shuffled"):
        load("calibration: {rungs: [gold, signature_only, gold_drop]}")
    assert load(
        "calibration: {rungs: [gold, signature_only, gold_shuffled, null_backend]}"
    ).calibration.ladder
    with pytest.raises(ParamsError, match="did you mean 'no_items'"):
        load("calibration: {rungs: [gold, signature_only, gold_shuffled, no_item]}")
    with pytest.raises(ParamsError, match="k_values"):
        load("calibration: {n_samples: 2, k_values: [1, 4]}")
    with pytest.raises(ParamsError, match="calibration.families"):
        load("calibration: {families: [bundled, everything]}")
    with pytest.raises(ParamsError, match="whole percent"):
        load("calibration: {drop_fractions: [0.333]}")
    assert load("calibration: {drop_fractions: [0.9]}").calibration.ladder[2] == "gold_drop90"
    assert "gold_drop90" in ABLATION_SOURCES


def test_families_load_as_seeded_samples_and_fail_clearly(tmp_path):
    first = cal.load_family("bundled", None, 3, seed=1)
    assert [a.app_id for a in first] == [a.app_id for a in cal.load_family("bundled", None, 3, 1)]
    assert [a.app_id for a in first] == sorted(a.app_id for a in first) and len(first) == 3
    assert len(cal.load_family("holdout", None, None, 0)) >= 2
    assert all(a.origin == "holdout" for a in cal.load_family("holdout", None, None, 0))
    with pytest.raises(ValueError, match="data.apps_dir is empty"):
        cal.load_family("apps_dir", None, None, 0)


# ---------------------------------------------------------------- the likelihood reward's ladder


class ContentLikelihoodScorer:
    """A fake judge: mean log-prob per code token = -2 + weight[app] x the share of the app's
    non-signature gold items in the prompt."""

    def __init__(self, weight: dict[str, float]) -> None:
        self.weight = weight

    def score(self, prompts, answers):
        out = []
        for p in prompts:
            app = p.reference_app
            content = set(app.requirements) - set(signature_items(app))
            share = len(_items_in(p) & content) / len(content)
            out.append(-2.0 + self.weight[app.app_id] * share)
        return out


def _likelihood_family(pass_weight: dict[str, float]) -> cal.FamilyRun:
    """A family whose member's pass rate is weight x (1 for gold, 3/7 for drop50, 0 else)."""
    ids = [a.app_id for a in SIGNATURE_APPS]
    kept = {"gold": 1.0, "gold_drop50": 3 / 7, "signature_only": 0.0, "gold_shuffled": 0.0}
    measurements = {
        rung: cal.RungMeasurement(
            rung,
            "synthetic",
            {"m": {a: pass_weight[a] * share for a in ids}},
            {"m": {a: {"pass@1": pass_weight[a] * share} for a in ids}},
            {a: share for a in ids},
            {},
            0.0,
        )  # fmt: skip
        for rung, share in kept.items()
    }
    config = cal.CalibrationConfig(n_resamples=500)
    calibration = cal.calibrate("m", "synthetic", measurements, config=config)
    return cal.FamilyRun("synthetic", ids, measurements, {"m": calibration})


def test_likelihood_ladder_uses_the_reward_only_where_it_ranks_apps_as_the_rebuilds_do():
    ids = [a.app_id for a in SIGNATURE_APPS]
    weight = {a: 0.3 + 0.1 * i for i, a in enumerate(ids)}
    reverse = {a: weight[b] for a, b in zip(ids, reversed(ids), strict=True)}
    config = cal.CalibrationConfig(n_resamples=500)
    run = _likelihood_family(weight)
    agree = cal.likelihood_ladder(
        run, SIGNATURE_APPS, "m", ContentLikelihoodScorer(weight), config=config,
        prompt_version="reconstruct-v2",
    )  # fmt: skip
    gold = agree.rungs["gold"]
    assert gold.mean_gain == pytest.approx(float(np.mean(list(weight.values()))))
    assert agree.rungs["signature_only"].mean_gain == 0.0
    assert agree.rungs["gold_shuffled"].mean_gain == 0.0  # another app's items: no content
    assert agree.rungs["gold_drop50"].mean_gain == pytest.approx(3 / 7 * gold.mean_gain)
    assert gold.spearman == pytest.approx(1.0) and agree.monotone
    assert agree.verdict == cal.USE_LIKELIHOOD
    # the same ladder, but the judge ranks the apps the other way round from the rebuilds
    disagree = cal.likelihood_ladder(
        run, SIGNATURE_APPS, "m", ContentLikelihoodScorer(reverse), config=config,
        prompt_version="reconstruct-v2",
    )  # fmt: skip
    assert disagree.rungs["gold"].spearman == pytest.approx(-1.0)
    assert disagree.verdict == cal.SKIP_LIKELIHOOD and "rank correlation" in disagree.reason
    run.likelihood["m"] = disagree
    payload = json.loads(to_json(cal.results_payload([run], cal.CalibrationConfig())))
    assert payload["likelihood"]["synthetic"]["m"]["verdict"] == cal.SKIP_LIKELIHOOD


def test_a_registered_judge_scores_every_member_and_family():
    from cetd_lib.evaluation.calibration_report import likelihood_table
    from cetd_lib.reconstruction.likelihood import SCORERS, make_scorer, register_scorer

    ids = [a.app_id for a in SIGNATURE_APPS]
    weight = {a: 0.3 + 0.1 * i for i, a in enumerate(ids)}
    if "test-content" not in SCORERS:
        register_scorer("test-content")(lambda backend: ContentLikelihoodScorer(backend))
    run = _likelihood_family(weight)
    config = cal.CalibrationConfig(n_resamples=500, likelihood_scorer="test-content")
    cal.calibrate_likelihood(
        [run], {"synthetic": SIGNATURE_APPS}, {"m": weight}, config=config,
        prompt_version="reconstruct-v2",
    )  # fmt: skip
    assert run.likelihood["m"].verdict == cal.USE_LIKELIHOOD
    table = likelihood_table([run])
    assert "| m | synthetic | gold |" in table and "**use**" in table
    with pytest.raises(KeyError, match="not registered"):
        make_scorer("no-such-judge", None)
    off = _likelihood_family(weight)
    cal.calibrate_likelihood([off], {}, {}, config=cal.CalibrationConfig(), prompt_version="x")
    assert off.likelihood == {}  # no judge named: nothing scored
