"""Red team of the leak guard: every way of smuggling code or test values into "requirements"
that `cetd_lib.train.redteam` knows must score 0 and never reach the reconstructor, on every
bundled app and a sample of HumanEval apps; every gold list must still pass untouched."""

from __future__ import annotations

import functools

import pytest

from cetd_lib.apps.app import load_apps
from cetd_lib.apps.humaneval import load_humaneval_apps
from cetd_lib.apps.requirements import format_requirements
from cetd_lib.train.config import GuardConfig
from cetd_lib.train.guard import check_requirements, fingerprint, repeated_items
from cetd_lib.train.redteam import (
    FILLER_KS,
    guard_variants,
    paraphrase,
    paraphrase_line,
    repeated_signature,
)
from cetd_lib.train.reward import make_reconstruction_reward

BUNDLED = {app.app_id: app for app in load_apps(None, include_holdout=True)}
HUMANEVAL = {app.app_id: app for app in load_humaneval_apps()[::16]}  # 11 of 164
APPS = {**BUNDLED, **HUMANEVAL}
ALWAYS = {"joined", "renamed", "prefixed", "base64", "hex", *(f"filler_k{k}" for k in FILLER_KS)}


@functools.cache
def _fingerprint(app_id: str):
    return fingerprint(APPS[app_id], GuardConfig())


@pytest.mark.parametrize("app_id", sorted(APPS))
def test_every_red_team_variant_is_rejected_as_a_leak_and_gold_passes(app_id):
    app, config = APPS[app_id], GuardConfig()
    variants = guard_variants(app)
    assert ALWAYS <= set(variants)  # test_values only where the tests pin unstated values
    slipped = {}
    for name, text in variants.items():
        verdict = check_requirements(text, _fingerprint(app_id), config)
        if verdict.accepted or not verdict.leak:
            slipped[name] = verdict.rules
    assert slipped == {}
    gold = check_requirements(format_requirements(app.requirements), _fingerprint(app_id), config)
    assert gold.rules == () and gold.multiplier == 1.0


def test_renamed_code_keeps_no_original_identifier_yet_is_caught_by_its_structure():
    app = BUNDLED["roman_numerals"]
    text = guard_variants(app)["renamed"]
    assert "roman_to_int" not in text and "total" not in text
    verdict = check_requirements(text, _fingerprint("roman_numerals"), GuardConfig())
    assert "structure_lcs" in verdict.rules and verdict.structure_share == 1.0


def test_red_team_texts_score_zero_and_never_reach_the_reconstructor():
    apps = {a: APPS[a] for a in ("roman_numerals", "humaneval_000")}
    seen = []

    def reconstruct(batch, lists):
        seen.extend(app.app_id for app in batch)
        return [1.0 for _ in batch]

    reward = make_reconstruction_reward(apps, reconstruct_fn=reconstruct)
    texts, ids = [], []
    for app_id, app in apps.items():
        for text in guard_variants(app).values():
            texts.append(text)
            ids.append(app_id)
    assert set(reward(None, texts, app_id=ids)) == {0.0}
    assert seen == []
    assert reward.log.latest()["guard/leak_rate"] == 1.0


def test_the_paraphrase_generator_writes_english_not_operators():
    # The out-of-scope case (docs/training.md gives its measured acceptance rate).
    assert paraphrase_line("total += price * qty") == "Total is increased by price times qty."
    text = paraphrase(BUNDLED["roman_numerals"])
    assert "+=" not in text and " = " not in text and text.startswith("1. ")


def test_repeated_items_never_fires_on_any_gold_list():
    # the calibration of the rule: every bundled (holdout too) and every HumanEval gold list
    config = GuardConfig()
    every = [*BUNDLED.values(), *load_humaneval_apps()]
    worst = max(repeated_items(app.requirements, config.repeat_similarity) for app in every)
    assert worst <= config.max_repeated_items


@pytest.mark.parametrize("app_id", ["roman_numerals", "arith_expr_evaluator", *HUMANEVAL])
def test_a_list_that_says_the_signature_ten_times_is_rejected(app_id):
    text = repeated_signature(APPS[app_id])
    verdict = check_requirements(text, _fingerprint(app_id), GuardConfig())
    assert not verdict.accepted and "repeated_items" in verdict.rules
    assert verdict.repeated_items >= 9 and not verdict.leak  # over-paid, not a leak
    # the same items once each pass this rule: only the repetition is rejected
    once = format_requirements(dict.fromkeys(verdict.items))
    assert (
        "repeated_items" not in check_requirements(once, _fingerprint(app_id), GuardConfig()).rules
    )


def test_repeated_items_survive_small_edits_but_not_new_content():
    base = "`solution.py` defines the function `make_palindrome(string: str) -> str`."
    edited = [base, base.upper(), base + " Really.", base.replace("defines", "has")]
    assert repeated_items(edited) == 3
    distinct = [base, "It returns the shortest palindrome that begins with the string.",
                "An empty string gives an empty string."]  # fmt: skip
    assert repeated_items(distinct) == 0
