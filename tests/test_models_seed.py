"""The seed variant (base-LM encoder + TransformerDecoder head) and the seed's bugs, fixed."""

from __future__ import annotations

import copy

import pytest
import torch

import cetd_lib.models.seed as seed_module
from cetd_lib.models.extractor import IGNORE_INDEX, make_extractor

CODES = ["def add(a, b):\n    return a + b\n", "def greet(name):\n    print('hi', name)\n"]
REQUIREMENTS = ["1. Adds two numbers.\n2. Returns the sum.", "1. Greets by name."]


def build(tiny_base, **overrides):
    model, tokenizer = tiny_base
    settings = {"base_model": "tiny-random", "decoder_feedforward": 256, "decoder_layers": 2}
    return make_extractor("seed", base=(copy.deepcopy(model), tokenizer), **settings | overrides)


def test_decoder_input_is_the_target_shifted_right_behind_bos(tiny_base, monkeypatch):
    extractor = build(tiny_base)
    seen = {}
    original = extractor.decoder_states

    def spy(decoder_input_ids, memory, memory_padding):
        seen["inputs"] = decoder_input_ids
        return original(decoder_input_ids, memory, memory_padding)

    monkeypatch.setattr(extractor, "decoder_states", spy)
    labels = extractor.token_log_probs(CODES, REQUIREMENTS).labels
    inputs = seen["inputs"]
    assert inputs.shape == labels.shape
    for row, text in enumerate(REQUIREMENTS):
        target = extractor.tokenizer(text, add_special_tokens=False)["input_ids"]
        length = len(target) + 1
        assert labels[row, :length].tolist() == [*target, extractor.eos_id]  # unshifted + EOS
        assert (labels[row, length:] == IGNORE_INDEX).all()
        assert inputs[row, 0] == extractor.bos_id
        assert inputs[row, 1:length].tolist() == target  # input at t is target t-1


def test_without_the_causal_mask_future_tokens_would_leak(tiny_base, monkeypatch):
    """The guard `test_a_future_token_never_changes_earlier_log_probs` can fail: drop the mask
    (the seed's bug) and the earlier log-probs move."""
    extractor = build(tiny_base).eval()
    first, second = "1. Parse the input.\n2. Return the sum.", "1. Parse the input.\n2. Return it."
    monkeypatch.setattr(seed_module, "causal_mask", lambda length, device=None: None)
    with torch.no_grad():
        a = extractor.token_log_probs(CODES[:1], [first]).values[0]
        b = extractor.token_log_probs(CODES[:1], [second]).values[0]
    assert (a[:3] - b[:3]).abs().max() > 1e-4


def test_heads_that_do_not_divide_the_hidden_size_are_a_clear_error(tiny_base):
    with pytest.raises(ValueError, match=r"decoder_heads=7 .* hidden size 64 .*divisor of 64"):
        build(tiny_base, decoder_heads=7)


def test_decoder_can_reuse_or_own_its_token_embeddings_and_tie_the_output(tiny_base):
    vocab, hidden = 49152, 64
    shared = build(tiny_base)
    own = build(tiny_base, decoder_embeddings="own")
    tied = build(tiny_base, tie_output_embeddings=True)
    trainable = {
        name: e.parameter_counts()[0]
        for name, e in [("shared", shared), ("own", own), ("tied", tied)]
    }
    assert trainable["own"] - trainable["shared"] == vocab * hidden
    assert trainable["shared"] - trainable["tied"] == vocab * hidden  # only a bias is left
    tied.loss(CODES, REQUIREMENTS).backward()
    assert tied.head.output_bias.grad is not None
    assert tied.encoder.get_input_embeddings().weight.grad is None


def test_generation_is_bounded_by_the_position_table(tiny_base):
    extractor = build(tiny_base, max_target_tokens=16)
    with pytest.raises(ValueError, match="max_new_tokens=20 exceeds"):
        extractor.extract_requirements(CODES, max_new_tokens=20)


def test_overfits_two_examples_and_stops_each_at_its_own_eos(tiny_base):
    extractor = build(tiny_base, decoder_dropout=0.0)
    optimizer = torch.optim.Adam(extractor.trainable_parameters(), lr=3e-3)
    extractor.train()
    for _step in range(150):  # needs ~50 steps (init seeds 0-3 measured)
        optimizer.zero_grad()
        loss = extractor.loss(CODES, REQUIREMENTS)
        if loss.item() < 0.02:
            break
        loss.backward()
        optimizer.step()
    extractor.eval()
    with torch.no_grad():
        assert extractor.loss(CODES, REQUIREMENTS).item() < 0.05
    # Targets of 15 and 6 tokens: each must end at its own EOS, not run on to the longer one.
    assert extractor.extract_requirements(CODES, max_new_tokens=40) == REQUIREMENTS


@pytest.mark.slow
def test_builds_trains_and_generates_on_smollm2(smollm2_base):
    model, tokenizer = smollm2_base
    extractor = make_extractor("seed", base=(copy.deepcopy(model), tokenizer))
    trainable, total = extractor.parameter_counts()
    assert extractor.head.decoder.layers[0].self_attn.num_heads == 8  # 576 / 8 = 72 per head
    assert 0 < trainable < total
    extractor.train()
    loss = extractor.loss(CODES, REQUIREMENTS)
    loss.backward()
    assert torch.isfinite(loss) and extractor.head.output.weight.grad is not None
    texts = extractor.extract_requirements(CODES[:1], max_new_tokens=4)
    assert len(texts) == 1 and isinstance(texts[0], str)
