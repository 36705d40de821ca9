import math

import pytest

from cetd_lib.metrics import bootstrap_ci, corpus_bleu, mean_sentence_bleu, sentence_bleu


def test_identical_text_scores_one_and_disjoint_scores_near_zero():
    text = "1. the parser reads ini sections and keys\n2. keys are case insensitive"
    assert sentence_bleu(text, text) == pytest.approx(1.0)
    assert corpus_bleu([text], [text]) == pytest.approx(1.0)
    assert sentence_bleu("alpha beta gamma delta", "one two three four five") < 0.05


def test_bleu_orders_closer_paraphrase_higher():
    gold = "the cache evicts the least recently used entry when it is full"
    close = "the cache evicts the least recently used item when full"
    far = "a stack supports push and pop"
    assert sentence_bleu(close, gold) > sentence_bleu(far, gold)
    assert corpus_bleu([close], [gold]) > corpus_bleu([far], [gold])


def test_empty_and_mismatched_inputs():
    assert sentence_bleu("", "gold text") == 0.0
    assert math.isnan(mean_sentence_bleu([], []))
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        corpus_bleu(["a", "b"], ["a"])


def test_bootstrap_ci_brackets_the_mean_and_is_seeded():
    values = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    low, high = bootstrap_ci(values, seed=1)
    assert low < 0.5 < high
    assert bootstrap_ci(values, seed=1) == (low, high)
    assert bootstrap_ci([0.3, 0.3, 0.3]) == pytest.approx((0.3, 0.3))
