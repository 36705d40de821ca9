"""Behaviour both requirement extractors share: the interface, masking, sampling, checkpoints."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from cetd_lib.models.config import ExtractorConfig
from cetd_lib.models.extractor import (
    decode,
    filter_top_p,
    load_extractor,
    make_extractor,
    truncate_code,
)

CODES = [
    "def add(a, b):\n    return a + b\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n"
    "    def push(self, item):\n        self.items.append(item)\n",
]
REQUIREMENTS = [
    "1. Adds two numbers.\n2. Returns the sum.",
    "1. Starts empty.",
]
# Small decoder head so the seed tests stay fast; the architecture is the same.
FAST = {"seed": {"decoder_feedforward": 256, "decoder_layers": 2}, "lm": {}}
VARIANTS = [
    pytest.param("seed", {}, id="seed-frozen"),
    pytest.param("seed", {"encoder": "lora"}, id="seed-lora"),
    pytest.param("lm", {}, id="lm"),
]


def build(variant: str, tiny_base, **overrides):
    model, tokenizer = tiny_base
    settings = {"base_model": "tiny-random", **FAST[variant], **overrides}
    return make_extractor(variant, base=(copy.deepcopy(model), tokenizer), **settings)


# ---------------------------------------------------------------- pure pieces


def test_top_p_keeps_the_smallest_nucleus():
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()
    kept = lambda p: torch.isfinite(filter_top_p(logits, p)).tolist()  # noqa: E731
    assert kept(0.7) == [True, True, False, False]  # 0.5 < 0.7 <= 0.5 + 0.3
    assert kept(0.4) == [True, False, False, False]  # the top token alone reaches 0.4
    assert kept(0.9) == [True, True, True, False]
    assert kept(1.0) == [True] * 4


def test_decode_stops_each_row_at_its_own_eos():
    eos, vocab = 0, 5
    scripts = torch.tensor([[3, 0, 4, 4], [1, 2, 3, 0], [2, 2, 2, 2]])  # row 2 never ends

    def logits_for(step: int) -> torch.Tensor:
        return torch.nn.functional.one_hot(scripts[:, step], vocab).float()

    fed = []

    def step(tokens):
        fed.append(tokens.tolist())
        return logits_for(len(fed))

    out = decode(
        logits_for(0),
        step,
        eos_id=eos,
        max_new_tokens=4,
        do_sample=False,
        temperature=1.0,
        top_p=1.0,
        generator=None,
    )
    assert out == [[3], [1, 2, 3], [2, 2, 2, 2]]
    assert fed[1][0] == eos  # a finished row is fed EOS, not its own script


def test_truncate_code_keeps_whole_lines_and_says_so(tiny_base):
    _, tokenizer = tiny_base
    code = "\n".join(f"value_{i} = {i} * 2" for i in range(100))
    cut = truncate_code(code, tokenizer, max_tokens=60)
    lines = cut.splitlines()
    kept = len(lines) - 1
    assert 0 < kept < 100 and lines[:kept] == code.splitlines()[:kept]
    assert lines[-1] == f"# ... [truncated {100 - kept} lines]"
    assert len(tokenizer(cut, add_special_tokens=False)["input_ids"]) <= 60
    assert truncate_code("x = 1", tokenizer, max_tokens=60) == "x = 1"


def test_config_rejects_unknown_keys_with_a_suggestion():
    with pytest.raises(ValueError, match="did you mean.*lora_r"):
        ExtractorConfig().replace(lora_rr=8)
    with pytest.raises(ValueError, match="did you mean.*'lm'"):
        make_extractor("llm", base_model="tiny-random")
    with pytest.raises(ValueError, match="decoder_dropout"):
        ExtractorConfig(decoder_dropout=1.5)


# ---------------------------------------------------------------- both variants


@pytest.mark.parametrize(("variant", "overrides"), VARIANTS)
def test_gradients_reach_trainable_weights_and_nothing_frozen(tiny_base, variant, overrides):
    extractor = build(variant, tiny_base, **overrides)
    extractor.train()
    extractor.loss(CODES, REQUIREMENTS).backward()
    trainable, total = extractor.parameter_counts()
    assert 0 < trainable < total
    for name, param in extractor.named_parameters():
        should_train = "lora_" in name or name.startswith("head.")
        assert param.requires_grad == should_train, name
        if should_train:
            assert param.grad is not None, f"no gradient reached {name}"
        else:
            assert param.grad is None, f"frozen {name} got a gradient"
    # LoRA's B starts at zero, so its gradient (not A's) shows the signal got through.
    lora_b = [p.grad for n, p in extractor.named_parameters() if "lora_B" in n]
    assert not lora_b or any(g.abs().sum() > 0 for g in lora_b)
    head = [p.grad for n, p in extractor.named_parameters() if n.startswith("head.")]
    assert not head or all(g.abs().sum() > 0 for g in head if g.numel() > 1)


@pytest.mark.parametrize("variant", ["seed", "lm"])
def test_a_future_token_never_changes_earlier_log_probs(tiny_base, variant):
    extractor = build(variant, tiny_base).eval()
    first, second = "1. Parse the input.\n2. Return the sum.", "1. Parse the input.\n2. Return it."
    tokens = [
        extractor.tokenizer(t, add_special_tokens=False)["input_ids"] for t in (first, second)
    ]
    differ_at = next(i for i, (a, b) in enumerate(zip(*tokens, strict=False)) if a != b)
    assert differ_at > 5
    with torch.no_grad():
        a = extractor.token_log_probs(CODES[:1], [first]).values[0]
        b = extractor.token_log_probs(CODES[:1], [second]).values[0]
    torch.testing.assert_close(a[:differ_at], b[:differ_at], rtol=0, atol=1e-6)
    assert a[differ_at] != b[differ_at]


@pytest.mark.parametrize("variant", ["seed", "lm"])
def test_padding_changes_neither_log_probs_nor_loss(tiny_base, variant):
    extractor = build(variant, tiny_base).eval()
    with torch.no_grad():
        alone = extractor.token_log_probs(CODES[1:], REQUIREMENTS[1:])
        batch = extractor.token_log_probs(CODES, REQUIREMENTS)  # CODES[1] is padded here
        loss_alone = extractor.loss(CODES[1:], REQUIREMENTS[1:])
    length = int(alone.mask.sum())
    assert int(batch.mask[1].sum()) == length < batch.mask.shape[1]
    torch.testing.assert_close(batch.values[1, :length], alone.values[0], rtol=0, atol=1e-5)
    assert batch.values[1, length:].abs().sum() == 0
    assert batch.labels[1, length - 1] == extractor.eos_id  # the target ends in EOS
    torch.testing.assert_close(loss_alone, -alone.values.sum() / length)
    seq = extractor.sequence_log_probs(CODES, REQUIREMENTS)
    assert seq.shape == (2,) and seq.requires_grad


@pytest.mark.parametrize("variant", ["seed", "lm"])
def test_sampling_is_seeded_and_grouped_per_code(tiny_base, variant):
    extractor = build(variant, tiny_base)
    sample = dict(max_new_tokens=6, do_sample=True, temperature=0.9, top_p=0.95, n=2)
    rng_before = torch.random.get_rng_state()
    first = extractor.extract_requirements(CODES, seed=7, **sample)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # global stream untouched
    assert first == extractor.extract_requirements(CODES, seed=7, **sample)
    assert first != extractor.extract_requirements(CODES, seed=8, **sample)
    assert len(first) == len(CODES) * 2
    greedy = extractor.extract_requirements(CODES, max_new_tokens=4, n=3)
    assert greedy[0:3] == [greedy[0]] * 3 and greedy[3:6] == [greedy[3]] * 3


@pytest.mark.parametrize(("variant", "overrides"), VARIANTS)
def test_save_load_round_trip_gives_identical_outputs(tiny_base, tmp_path, variant, overrides):
    extractor = build(variant, tiny_base, **overrides)
    optimizer = torch.optim.Adam(extractor.trainable_parameters(), lr=1e-2)
    for _ in range(3):  # move LoRA B off zero and the head off its init
        optimizer.zero_grad()
        extractor.loss(CODES, REQUIREMENTS).backward()
        optimizer.step()
    extractor.save(tmp_path, metadata={"step": 3})
    assert not list(tmp_path.rglob("model.safetensors"))  # the base is referenced, not saved
    loaded = load_extractor(tmp_path)
    assert type(loaded) is type(extractor) and loaded.config == extractor.config
    assert loaded.checkpoint_metadata(tmp_path) == {"step": 3}
    extractor.eval(), loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            loaded.sequence_log_probs(CODES, REQUIREMENTS),
            extractor.sequence_log_probs(CODES, REQUIREMENTS),
            rtol=0,
            atol=1e-6,
        )
    assert loaded.parameter_counts() == extractor.parameter_counts()
    kwargs = dict(max_new_tokens=8)
    assert loaded.extract_requirements(CODES, **kwargs) == extractor.extract_requirements(
        CODES, **kwargs
    )


@pytest.mark.parametrize("variant", ["seed", "lm"])
def test_loss_weights_every_target_token_equally(tiny_base, variant):
    """Token mean over the batch (as F.cross_entropy with ignore_index), not a mean of
    per-sequence means: a long target weighs more than a short one."""
    extractor = build(variant, tiny_base).eval()
    with torch.no_grad():
        parts = [
            extractor.token_log_probs([c], [r]) for c, r in zip(CODES, REQUIREMENTS, strict=True)
        ]
        batch_loss = extractor.loss(CODES, REQUIREMENTS).item()
    counts = [int(p.mask.sum()) for p in parts]
    expected = -sum(p.values.sum().item() for p in parts) / sum(counts)
    assert counts[0] != counts[1]
    assert math.isclose(batch_loss, expected, rel_tol=1e-5)
    assert 9.0 < batch_loss < 12.0  # ~ln(49152) = 10.8 nats for a random model
