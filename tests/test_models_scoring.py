"""Teacher-forced answer scoring (models.scoring): the dense reward's measuring instrument."""

from __future__ import annotations

import math

import pytest
import torch

from cetd_lib.models.scoring import TeacherForcedScorer, answer_logprobs
from cetd_lib.reconstruction.prompts import Prompt, build_messages


def naive_logprob(model, tokenizer, prompt_text: str, answer: str) -> float:
    """Sum of log p(answer tokens) from one unbatched forward pass over the full logits."""
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + answer_ids])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    return sum(
        float(logprobs[len(prompt_ids) + k - 1, token]) for k, token in enumerate(answer_ids)
    )


PAIRS = [
    ("<|im_start|>user\nWrite f.<|im_end|>\n", "def f():\n    return 1\n"),
    ("a much longer prompt " * 9, "x = 2"),
    ("short", "def g(a, b):\n    return a + b  # sum\n" * 3),
    ("empty answer", ""),
]


def test_batched_scores_equal_one_unbatched_pass_per_pair(tiny_base):
    model, tokenizer = tiny_base
    scored = answer_logprobs(model, tokenizer, PAIRS, batch_size=3)
    for (prompt_text, answer), result in zip(PAIRS, scored, strict=True):
        if not answer:
            assert result.tokens == 0 and math.isnan(result.mean)
            continue
        assert result.tokens == len(tokenizer(answer, add_special_tokens=False)["input_ids"])
        assert result.total == pytest.approx(
            naive_logprob(model, tokenizer, prompt_text, answer), abs=1e-3
        )


def test_scores_do_not_depend_on_batch_size_or_order(tiny_base):
    model, tokenizer = tiny_base
    one = answer_logprobs(model, tokenizer, PAIRS[:3], batch_size=1)
    many = answer_logprobs(model, tokenizer, PAIRS[:3], batch_size=8)
    reversed_ = answer_logprobs(model, tokenizer, PAIRS[:3][::-1], batch_size=8)[::-1]
    for a, b, c in zip(one, many, reversed_, strict=True):
        assert a.total == pytest.approx(b.total, abs=1e-3) == pytest.approx(c.total, abs=1e-3)


def test_scorer_renders_the_chat_prompt_and_returns_means(tiny_base):
    model, tokenizer = tiny_base
    scorer = TeacherForcedScorer(model, tokenizer)
    prompt = Prompt("a", build_messages(["Return 1."], ("m.py",)), ("m.py",))
    answer = "```python\n# file: m.py\ndef f():\n    return 1\n```"
    (mean,) = scorer.score([prompt], [answer])
    rendered = tokenizer.apply_chat_template(
        list(prompt.messages), tokenize=False, add_generation_prompt=True
    )
    tokens = len(tokenizer(answer, add_special_tokens=False)["input_ids"])
    assert mean == pytest.approx(
        naive_logprob(model, tokenizer, rendered, answer) / tokens, abs=1e-4
    )
    with pytest.raises(ValueError, match="2 prompts but 1 answers"):
        scorer.score([prompt, prompt], [answer])


def test_orchestra_members_are_registered_likelihood_judges(tiny_base):
    from cetd_lib.reconstruction.backends import HFBackend, NullBackend
    from cetd_lib.reconstruction.config import BackendSpec
    from cetd_lib.reconstruction.likelihood import make_scorer

    model, tokenizer = tiny_base
    hf = HFBackend(BackendSpec(name="hf", model="tiny-random"), model=model, tokenizer=tokenizer)
    judge = make_scorer("teacher_forced", hf)
    prompt = Prompt("a", build_messages(["Return 1."], ("m.py",)), ("m.py",))
    direct = TeacherForcedScorer(model, tokenizer).score([prompt], ["def f(): return 1"])
    assert judge.score([prompt], ["def f(): return 1"]) == pytest.approx(direct)
    with pytest.raises(Exception, match="cannot score answers"):
        make_scorer("teacher_forced", NullBackend(BackendSpec(name="null", kind="null")))


def test_a_shared_prefix_runs_once_and_scores_as_the_whole_pass(tiny_base):
    from cetd_lib.models.generation import PrefixStore

    model, tokenizer = tiny_base
    head = "<|im_start|>system\nYou write complete, working Python modules. " * 3
    pairs = [(head + prompt, answer) for prompt, answer in PAIRS]
    whole = answer_logprobs(model, tokenizer, pairs, batch_size=3, share_prefix=False)
    store = PrefixStore()
    shared = answer_logprobs(model, tokenizer, pairs, batch_size=3, prefixes=store)
    again = answer_logprobs(model, tokenizer, pairs[:2], batch_size=1, prefixes=store)
    assert store.computed == 1  # two calls, three batches: one prefix pass
    for a, b in zip(whole, shared, strict=True):
        assert a.tokens == b.tokens
        if a.tokens:
            assert a.total == pytest.approx(b.total, abs=1e-4)
    for a, b in zip(whole[:2], again, strict=True):
        assert a.total == pytest.approx(b.total, abs=1e-4)
    prompt_text, answer = pairs[1]
    assert shared[1].total == pytest.approx(
        naive_logprob(model, tokenizer, prompt_text, answer), abs=1e-3
    )
