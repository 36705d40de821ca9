"""The guarded reconstruction reward: leaks score 0 and never reach the reconstructor."""

from __future__ import annotations

import dataclasses

import pytest

from cetd_lib.apps.app import App, load_apps
from cetd_lib.apps.requirements import format_requirements
from cetd_lib.train.config import GuardConfig
from cetd_lib.train.reward import (
    RewardLog,
    RewardRecord,
    check_requirements,
    count_code_fragments,
    fingerprint,
    make_reconstruction_reward,
    summarize,
)

SOURCE = '''\
"""Roman numerals."""

VALUES = {"M": 1000, "D": 500, "C": 100, "L": 50, "X": 10, "V": 5, "I": 1}


def roman_to_int(text: str) -> int:
    """Convert a Roman numeral to an integer."""
    total = 0
    for i, char in enumerate(text):
        value = VALUES[char]
        if i + 1 < len(text) and VALUES[text[i + 1]] > value:
            total -= value
        else:
            total += value
    return total
'''
TESTS = """\
from roman import roman_to_int


def test_examples():
    assert roman_to_int("MCMXCIV") == 1994
    assert roman_to_int("LVIII") == 58
    assert roman_to_int("XLII") == 42
"""
GOLD = (
    "Module `roman.py` provides `roman_to_int(text: str) -> int`.",
    "Symbols are M, D, C, L, X, V and I with their usual values.",
    "A symbol followed by a larger one is subtracted, otherwise added.",
    "An unknown symbol raises KeyError.",
    "The empty string converts to 0.",
)
APP = App("roman", {"roman.py": SOURCE}, {"test_roman.py": TESTS}, GOLD)
SPEC = format_requirements(GOLD)


class FakeReconstructor:
    """Records what reaches the reconstructor; every rebuilt app passes."""

    def __init__(self, rate: float = 1.0) -> None:
        self.seen: list[tuple[str, list[str]]] = []
        self.rate = rate

    def __call__(self, apps, lists):
        self.seen += [(app.app_id, list(items)) for app, items in zip(apps, lists, strict=True)]
        return [self.rate for _ in apps]


def make(guard: GuardConfig | None = None, rate: float = 1.0):
    fake = FakeReconstructor(rate)
    return make_reconstruction_reward({"roman": APP}, guard_config=guard, reconstruct_fn=fake), fake


def verdict(text: str, **guard):
    config = GuardConfig(**guard)
    return check_requirements(text, fingerprint(APP, config), config)


def test_pasted_source_scores_zero_is_logged_as_leak_and_is_never_reconstructed():
    reward, fake = make()
    assert reward(None, [SOURCE, SPEC], app_id=["roman", "roman"]) == [0.0, 1.0]
    assert fake.seen == [("roman", list(GOLD))]  # only the spec reached the reconstructor
    stats = reward.log.latest()
    assert stats["guard/leak_rate"] == 0.5 and stats["guard/reject_rate"] == 0.5
    assert stats["guard/rule/source_lcs"] == 1.0
    (rejected,) = reward.log.rejections()
    assert rejected[0] == "roman" and "source_lcs" in rejected[1]


def test_gold_spec_passes_untouched():
    result = verdict(SPEC)
    assert result.accepted and result.rules == () and result.multiplier == 1.0
    assert result.items == list(GOLD)


@pytest.mark.parametrize("origin", ["bundled", "holdout", "humaneval"])
def test_every_gold_list_passes_the_default_guard_untouched(origin):
    from cetd_lib.apps.humaneval import load_humaneval_apps

    apps = (
        load_humaneval_apps()
        if origin == "humaneval"
        else load_apps(None, holdout_only=origin == "holdout")
    )
    config = GuardConfig()
    assert apps
    for app in apps:
        result = check_requirements(
            format_requirements(app.requirements), fingerprint(app, config), config
        )
        assert result.rules == () and result.multiplier == 1.0, (app.app_id, result)


def test_fenced_code_is_rejected():
    text = SPEC + "\n6. Use this:\n```\nx = 1\n```"
    assert verdict(text).rules == ("fenced_code",)
    assert verdict(text, reject_fenced_code=False).accepted


def test_code_spread_through_prose_is_rejected_by_its_lcs_share():
    body = "\n".join(line for line in SOURCE.splitlines()[6:] if line.strip())
    tokens = body.split()
    # one filler word after every 3 tokens: every 8-token shingle of v1 is broken
    spread = " ".join(t + (" indeed" if i % 3 == 2 else "") for i, t in enumerate(tokens))
    result = verdict(SPEC + "\n6. Algorithm: " + spread)
    assert "source_lcs" in result.rules and result.source_share > 0.7  # the body, not the header
    # Restating the docstring is prose, not a leak: docstrings are stripped before comparing.
    assert verdict(SPEC + "\n6. Convert a Roman numeral to an integer.").accepted


def test_lcs_length_matches_the_textbook_dynamic_programme():
    import random

    from cetd_lib.train.guard import lcs_length

    def table(a, b):
        prev = [0] * (len(b) + 1)
        for x in a:
            cur = [0]
            for j, y in enumerate(b):
                cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
            prev = cur
        return prev[-1]

    rng = random.Random(0)
    for _ in range(200):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 40))]
        b = [rng.choice("abcde") for _ in range(rng.randint(0, 40))]
        assert lcs_length(a, b) == table(a, b)


def test_lcs_threshold_falls_with_program_length_and_is_capped_below_one():
    from cetd_lib.train.guard import max_lcs_share

    config = GuardConfig()
    assert max_lcs_share(4, config) == config.lcs_share_cap < 1.0
    assert max_lcs_share(100, config) == pytest.approx(0.3 + 3.0 / 10)
    assert max_lcs_share(10_000, config) < max_lcs_share(100, config)
    with pytest.raises(ValueError, match="lcs_share_cap"):
        GuardConfig(lcs_share_cap=1.0)


def test_code_fragments_anywhere_in_a_line_but_inline_signatures_and_constants_are_prose():
    from cetd_lib.train.guard import code_fragments

    assert code_fragments("3. def roman_to_int(text: str) -> int:") == (1, 0)
    assert code_fragments("class Parser:") == (1, 0)
    assert code_fragments("Then for i in range(n): ; total += i * 2") == (1, 1)
    assert code_fragments("The loop ends; `value = VALUES[char] - 1` after that") == (0, 1)
    assert count_code_fragments("`roman_to_int(text: str) -> int` converts text.") == 0
    assert count_code_fragments("define the class of inputs: numerals") == 0
    assert count_code_fragments("`MAX_VALUE = 3999`; options default to `wrap=False`.") == 0
    assert count_code_fragments("If it is empty, return -1.") == 0
    text = SPEC + "\n6. Then def helper(value):"
    assert verdict(text).rules == ("code_fragments",)
    assert verdict(text, max_code_headers=1).accepted
    formulas = SPEC + "".join(f"\n{i}. `t{i} = a * {i}`." for i in range(6, 10))
    assert verdict(formulas).rules == ("code_fragments",)  # 4 > max_code_statements 3
    assert verdict(formulas, max_code_statements=4).accepted


def test_base64_and_hex_payloads_are_rejected():
    import base64

    payload = base64.b64encode(SOURCE.encode()).decode()
    assert "encoded_payload" in verdict(SPEC + f"\n6. Payload: {payload}").rules
    wrapped = " ".join(payload[i : i + 12] for i in range(0, len(payload), 12))
    assert "encoded_payload" in verdict(SPEC + f"\n6. Payload: {wrapped}").rules
    assert "encoded_payload" in verdict(SPEC + f"\n6. {SOURCE.encode().hex()}").rules
    # a long identifier or a hash-like word that decodes to noise is not a payload
    assert verdict(SPEC + "\n6. The key is deadbeefcafebabe0123456789abcdef.").accepted


def test_literals_copied_from_the_tests_are_rejected():
    text = SPEC + "\n6. MCMXCIV gives 1994, LVIII gives 58 and XLII gives 42."
    result = verdict(text)
    assert result.rules == ("test_literals", "test_cases")
    assert set(result.copied_literals) == {"MCMXCIV", "1994", "LVIII", "XLII"}
    assert result.copied_cases == 3  # each assertion's (input, expected) in one item
    # Numbers count whole: 19945 does not contain the literal 1994; 58 and 42 are under
    # min_literal_chars (repr shorter than 3), so they never count.
    assert verdict(SPEC + "\n6. Values up to 19945 and 58 and 42.").accepted
    assert verdict(text, max_test_literals=10, max_test_cases=10, max_test_case_share=1.1).accepted
    # one case of three restated: under both the count and the share limit
    assert verdict(SPEC + "\n6. XLII gives 42.").accepted


def test_literals_in_the_gold_requirements_are_allowed():
    app = dataclasses.replace(APP, requirements=(*GOLD, "MCMXCIV is 1994 and LVIII is 58."))
    config = GuardConfig()
    text = SPEC + "\n6. MCMXCIV is 1994 and LVIII is 58."
    assert check_requirements(text, fingerprint(app, config), config).accepted


def test_over_budget_is_penalised_proportionally_or_rejected():
    long_text = SPEC + "\n6. " + "It converts numerals carefully. " * 60
    penalised = verdict(long_text)
    assert penalised.accepted and penalised.rules == ("over_length",)
    assert penalised.multiplier == pytest.approx(penalised.budget_chars / penalised.chars)
    assert not verdict(long_text, over_budget="reject").accepted
    many = format_requirements([f"Rule {i} holds." for i in range(25)])
    assert verdict(many).rules == ("too_many_items",)
    assert verdict(many).multiplier == pytest.approx(20 / 25)
    reward, _ = make(rate=0.5)
    assert reward(None, [many], app_id=["roman"]) == [pytest.approx(0.5 * 20 / 25)]


def test_empty_text_is_rejected_without_reconstruction():
    reward, fake = make()
    assert reward(None, ["", "   "], app_id=["roman", "roman"]) == [0.0, 0.0]
    assert fake.seen == []
    assert reward.log.latest()["guard/rule/empty"] == 2.0
    assert reward.log.latest()["guard/leak_rate"] == 0.0


def test_conversational_completions_and_trl_log_metric():
    reward, fake = make()
    logged = {}
    out = reward(
        [[{"role": "user", "content": "code"}]] * 2,
        [[{"role": "assistant", "content": SPEC}], [{"role": "assistant", "content": SOURCE}]],
        app_id=["roman", "roman"],
        log_metric=lambda name, value: logged.__setitem__(name, value),
    )
    assert out == [1.0, 0.0]
    assert logged["guard/leak_rate"] == 0.5
    assert logged["rewards/pass_rate"] == 1.0  # only the accepted text was rebuilt and scored
    assert "rewards/reconstruction/mean" not in logged  # TRL logs the reward itself
    assert len(fake.seen) == 1  # identical accepted texts are rebuilt once per call


def test_reconstruction_time_is_recorded_per_call():
    import time

    def slow(apps, lists):
        time.sleep(0.05)
        return [1.0 for _ in apps]

    reward = make_reconstruction_reward({"roman": APP}, reconstruct_fn=slow)
    reward(None, [SPEC], app_id=["roman"])
    reward(None, [""], app_id=["roman"])  # rejected: nothing rebuilt
    assert reward.log.reconstruct_s[0] >= 0.05 and reward.log.reconstruct_s[1] < 0.05


def test_harness_failure_is_none_and_missing_app_id_is_an_error():
    fake = lambda apps, lists: [None for _ in apps]  # noqa: E731
    reward = make_reconstruction_reward({"roman": APP}, reconstruct_fn=fake)
    assert reward(None, [SPEC], app_id=["roman"]) == [None]
    assert reward.log.latest()["guard/none_rate"] == 1.0
    with pytest.raises(ValueError, match="app_id"):
        reward(None, [SPEC])
    with pytest.raises(KeyError, match="nope"):
        reward(None, [SPEC], app_id=["nope"])


def test_disabled_guard_lets_everything_through():
    reward, fake = make(GuardConfig(enabled=False))
    assert reward(None, [SOURCE], app_id=["roman"]) == [1.0]
    assert summarize([])["guard/leak_rate"] != summarize([])["guard/leak_rate"]  # NaN


def test_oracle_free_orchestra_path_with_the_null_backend():
    from cetd_lib.reconstruction.config import BackendSpec, OrchestraConfig
    from cetd_lib.sandbox.config import HarnessConfig

    orchestra = OrchestraConfig(members=(BackendSpec(name="null", kind="null"),))
    reward = make_reconstruction_reward(
        {"roman": APP}, None, HarnessConfig(workers=1), orchestra=orchestra, cache=None
    )
    assert reward(None, [SPEC, SOURCE], app_id=["roman", "roman"]) == [0.0, 0.0]
    assert reward.log.latest()["rewards/pass_rate"] == 0.0  # rebuilt, scored, failed


def test_bleu_against_gold_is_logged_per_sample():
    reward, _ = make()
    logged = {}
    reward(None, [SPEC, "1. It converts numbers."], app_id=["roman", "roman"],
           log_metric=lambda name, value: logged.__setitem__(name, value))  # fmt: skip
    gold_copy, vague = (r.bleu for r in reward.log.steps[-1])
    assert gold_copy == pytest.approx(1.0) and vague < 0.1
    assert logged["eval/bleu"] == pytest.approx((gold_copy + vague) / 2)


def test_guard_doctests():
    import doctest

    import cetd_lib.train.guard as guard

    assert doctest.testmod(guard).failed == 0


def test_within_group_std_is_taken_per_app_not_across_apps():
    fp = fingerprint(APP, GuardConfig())
    accepted = check_requirements(SPEC, fp, GuardConfig())
    rejected = check_requirements(SOURCE, fp, GuardConfig())
    assert accepted.accepted and not rejected.accepted

    def rec(app_id, reward, verdict=accepted):
        return RewardRecord(app_id, reward, reward, verdict, "")

    # two apps, each group constant: the spread is all between apps, none to learn from
    flat = [rec("a", 0.0), rec("a", 0.0), rec("b", 1.0), rec("b", 1.0)]
    assert summarize(flat)["rewards/reconstruction/std"] == pytest.approx(0.5)
    assert summarize(flat)["rewards/reconstruction/within_group_std"] == 0.0
    varied = [rec("a", 0.0), rec("a", 1.0), rec("b", 1.0), rec("b", 1.0)]
    assert summarize(varied)["rewards/reconstruction/within_group_std"] == pytest.approx(0.25)

    log = RewardLog()
    assert log.guard_pass_share() != log.guard_pass_share()  # NaN before any call
    log.add([rec("a", 1.0), rec("a", 0.0, rejected)])
    log.add([rec("b", 1.0), rec("b", 0.0)])
    assert log.guard_pass_share() == pytest.approx(0.75)
