import math

import pytest

from cetd_lib.metrics.bleu import (
    bootstrap_ci,
    corpus_bleu,
    mean_sentence_bleu,
    sentence_bleu,
    strip_numbering,
)


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


def test_bleu_ignores_list_numbering():
    gold = "1. the parser reads ini sections\n2. keys are case insensitive"
    same_items = "- the parser reads ini sections\n- keys are case insensitive"
    assert sentence_bleu(same_items, gold) == pytest.approx(1.0)
    assert corpus_bleu([same_items], [gold]) == pytest.approx(1.0)
    # numbering alone is no match: two unrelated lists of the same length share only "1." "2."
    other = "1. alpha beta gamma delta\n2. epsilon zeta eta theta"
    assert sentence_bleu(other, gold) == 0.0
    assert strip_numbering("3) x\n  10. y\n* z") == "x y z"


def test_sentence_and_corpus_bleu_agree_on_one_pair_and_stay_in_unit_interval():
    hyp = "the cache evicts the least recently used item when it is full"
    ref = "the cache evicts the least recently used entry when it is full"
    one = sentence_bleu(hyp, ref)
    assert 0.0 < one < 1.0
    assert corpus_bleu([hyp], [ref]) == pytest.approx(one)
    # sacrebleu's 0-100 figure for the same pair, rescaled: one implementation
    import sacrebleu

    assert one == pytest.approx(sacrebleu.sentence_bleu(hyp, [ref]).score / 100)
