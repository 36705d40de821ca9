"""The orchestra loop end to end: calibration backends, gold-test filter, reward function."""

from __future__ import annotations

import math

import pytest

from cetd_lib.apps.app import App
from cetd_lib.reconstruction.backends import BackendError
from cetd_lib.reconstruction.config import BackendSpec, OrchestraConfig
from cetd_lib.reconstruction.prompts import PROMPT_VERSION
from cetd_lib.reconstruction.reconstruct import gold_tests, reconstruct, reward_pass_rates
from cetd_lib.sandbox.config import HARNESS_VERSION, HarnessConfig
from cetd_lib.sandbox.failures import FailureClass

FAST = HarnessConfig(app_timeout_s=6.0, test_timeout_s=1.0, workers=2, cache=False)

COUNTER = App(
    "counter",
    {
        "counter.py": "class Counter:\n    def __init__(self):\n        self.n = 0\n"
        "    def add(self, k=1):\n        self.n += k\n        return self.n\n",
        "fmt.py": "def show(c):\n    return f'count={c.n}'\n",
    },
    {
        "test_counter.py": "from counter import Counter\nfrom fmt import show\n\n"
        "def test_add():\n    assert Counter().add(2) == 2\n\n"
        "def test_show():\n    c = Counter()\n    c.add()\n"
        "    assert show(c) == 'count=1'\n\n"
        "def test_broken_on_the_original_too():\n"
        "    assert Counter().add() == 5\n"
    },
    (
        "A Counter starts at zero.",
        "add(k) adds k and returns the total.",
        "show(c) renders 'count=<n>'.",
    ),
)
SQUARE = App(
    "square",
    {"sq.py": "def sq(x):\n    return x * x\n"},
    {"test_sq.py": "from sq import sq\n\ndef test_sq():\n    assert sq(3) == 9\n"},
    ("sq(x) returns x squared.",),
)
ORACLE = BackendSpec(name="oracle", kind="oracle")
NULL = BackendSpec(name="null", kind="null")


def test_gold_tests_are_those_passing_on_the_original():
    gold = gold_tests([COUNTER], config=FAST, cache=None)["counter"]
    assert gold.passing == ("tests/test_counter.py::test_add", "tests/test_counter.py::test_show")
    assert gold.failing == ("tests/test_counter.py::test_broken_on_the_original_too",)


def test_oracle_scores_100_and_null_scores_0():
    orchestra = OrchestraConfig(members=(ORACLE, NULL))
    result = reconstruct([COUNTER, SQUARE], orchestra, FAST, cache=None)
    assert result.score.member_mean == {"oracle": 1.0, "null": 0.0}
    assert result.score.mean == 0.5 and result.score.variance == 0.25
    by_member = {(r.app_id, r.member): r for r in result.records}
    oracle = by_member[("counter", "oracle")]
    assert oracle.score.n_tests == 2  # the test failing on the original is not scored
    assert set(oracle.files) == {"counter.py", "fmt.py"}
    assert by_member[("counter", "null")].score.failure_counts == {FailureClass.EMPTY_GENERATION: 2}
    record = result.to_dict()
    assert record["prompt_version"] == PROMPT_VERSION
    assert record["harness_version"] == HARNESS_VERSION


def test_pass_at_k_with_several_samples():
    orchestra = OrchestraConfig(members=(ORACLE,), n_samples=3, temperature=0.8, k_values=(1, 3, 5))
    result = reconstruct([SQUARE], orchestra, FAST, cache=None)
    assert result.score.apps[0].pass_at_k == {"oracle": {"pass@1": 1.0, "pass@3": 1.0}}
    assert len(result.records) == 3


def test_degraded_requirements_and_missing_requirements():
    class Partial:
        """Writes sq.py correctly only when the requirement mentions squaring."""

        name = "partial"

        def generate(self, prompts, n, temperature, max_new_tokens, seed, *, top_p=1.0):
            out = []
            for p in prompts:
                good = "squared" in p.messages[1]["content"]
                body = "x * x" if good else "x + x"
                out.append([f"```python\ndef sq(x):\n    return {body}\n```"] * n)
            return out

    orchestra = OrchestraConfig(members=(BackendSpec(name="partial", kind="null"),))
    backends = {"partial": Partial()}
    good = reconstruct([SQUARE], orchestra, FAST, backends=backends, cache=None)
    assert good.score.mean == 1.0
    vague = reconstruct(
        [SQUARE],
        orchestra,
        FAST,
        backends=backends,
        cache=None,
        requirements={"square": ["sq(x) returns a number."]},
    )
    assert vague.score.mean == 0.0
    assert vague.records[0].score.failure_counts == {FailureClass.ASSERTION_FAILURE: 1}
    empty = reconstruct([SQUARE], orchestra, FAST, backends=backends, cache=None, requirements={})
    assert empty.records[0].score.failure_counts == {FailureClass.NO_REQUIREMENTS: 1}


def test_app_whose_tests_never_pass_is_excluded_loudly(caplog):
    hopeless = App(
        "hopeless",
        {"h.py": "X = 1\n"},
        {"test_h.py": "def test_h():\n    assert False\n"},
        ("X is 2.",),
    )
    with caplog.at_level("ERROR"):
        result = reconstruct(
            [hopeless, SQUARE], OrchestraConfig(members=(ORACLE,)), FAST, cache=None
        )
    assert result.excluded_apps == {"hopeless": "no test passes on the original code"}
    assert [a.app_id for a in result.score.apps] == ["square"]
    assert "hopeless" in caplog.text


def test_backend_returning_the_wrong_shape_is_an_error():
    class Short:
        name = "short"

        def generate(self, prompts, n, temperature, max_new_tokens, seed, *, top_p=1.0):
            return [[""]]

    with pytest.raises(BackendError, match="expected 2 x 1"):
        reconstruct(
            [SQUARE, COUNTER],
            OrchestraConfig(members=(NULL,)),
            FAST,
            cache=None,
            backends={"null": Short()},
        )


def test_reward_function_shape():
    good = "```python\ndef sq(x):\n    return x * x\n```"
    wrong = "```python\ndef sq(x):\n    return 0\n```"
    rewards = reward_pass_rates(
        [SQUARE, SQUARE, SQUARE, COUNTER],
        [good, wrong, "no code here", ""],
        config=FAST,
        cache=None,
    )
    assert rewards == [1.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="one app per completion"):
        reward_pass_rates([SQUARE], [good, good], config=FAST, cache=None)


def test_orchestra_config_validation():
    with pytest.raises(ValueError, match="duplicate name"):
        OrchestraConfig(members=(ORACLE, ORACLE))
    with pytest.raises(ValueError, match="temperature > 0"):
        OrchestraConfig(n_samples=4, temperature=0.0)
    with pytest.raises(ValueError, match="at least 256"):
        HarnessConfig(memory_mb=64)
    assert math.isclose(OrchestraConfig().top_p, 0.95)
