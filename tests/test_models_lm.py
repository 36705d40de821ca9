"""The lm variant (base LM + LoRA) and the prompt/SFT pieces the TRL trainer reuses."""

from __future__ import annotations

import copy

import pytest
import torch

from cetd_lib.models.config import DEFAULT_INSTRUCTION
from cetd_lib.models.extractor import IGNORE_INDEX, make_extractor
from cetd_lib.models.lm import build_sft_example, encode_sft_example, prompt_messages

CODES = ["def add(a, b):\n    return a + b\n", "def greet(name):\n    print('hi', name)\n"]
REQUIREMENTS = ["1. Adds two numbers.\n2. Returns the sum.", "1. Greets by name."]
# tiny-random's tied embeddings have std 0.02, so its logits span about +-1.3 and no adapter on
# attention alone can push the loss under ~9.5 nats (SmolLM2's embeddings are 7x larger). An
# adapter on every linear layer including lm_head gives the tiny model the room to overfit.
OVERFIT_MODULES = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "lm_head",
)


def build(tiny_base, **overrides):
    model, tokenizer = tiny_base
    return make_extractor(
        "lm", base=(copy.deepcopy(model), tokenizer), base_model="tiny-random", **overrides
    )


def test_sft_example_is_trl_prompt_completion_format():
    example = build_sft_example("x = 1", ["Sets x.", "Never prints."])
    assert example["prompt"] == prompt_messages("x = 1")
    assert example["prompt"][0]["content"].startswith(DEFAULT_INSTRUCTION)
    assert example["completion"] == [
        {"role": "assistant", "content": "1. Sets x.\n2. Never prints."}
    ]


def test_encoded_example_has_loss_on_the_target_only(tiny_base):
    _, tokenizer = tiny_base
    encoded = encode_sft_example(
        tokenizer, CODES[0], REQUIREMENTS[0], max_code_tokens=512, max_target_tokens=64
    )
    prompt_length = encoded["labels"].count(IGNORE_INDEX)
    prompt_text = tokenizer.decode(encoded["input_ids"][:prompt_length])
    assert DEFAULT_INSTRUCTION in prompt_text and "return a + b" in prompt_text
    assert prompt_text.endswith("<|im_start|>assistant\n")
    target = encoded["labels"][prompt_length:]
    assert encoded["labels"][:prompt_length] == [IGNORE_INDEX] * prompt_length
    assert target == encoded["input_ids"][prompt_length:]
    assert target[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(target[:-1]) == REQUIREMENTS[0]


def test_long_code_is_cut_with_a_visible_marker_in_the_prompt(tiny_base):
    extractor = build(tiny_base, max_code_tokens=80)
    long_code = "\n".join(f"def f{i}(x):\n    return x + {i}" for i in range(60))
    prompt = extractor.tokenizer.decode(extractor.prompt_ids(long_code))
    assert "# ... [truncated " in prompt and "def f0(x)" in prompt and "def f59" not in prompt
    assert extractor.sft_example(long_code, "1. Adds.")["prompt"][0]["content"] in prompt


@pytest.mark.filterwarnings("ignore:Model has `tie_word_embeddings=True`")
def test_overfits_two_examples_and_stops_each_at_its_own_eos(tiny_base):
    extractor = build(tiny_base, lora_dropout=0.0, lora_target_modules=OVERFIT_MODULES)
    optimizer = torch.optim.Adam(extractor.trainable_parameters(), lr=5e-3)
    extractor.train()
    for _step in range(300):  # needs 106-143 steps (init seeds 0-3 measured)
        optimizer.zero_grad()
        loss = extractor.loss(CODES, REQUIREMENTS)
        if loss.item() < 0.02:
            break
        loss.backward()
        optimizer.step()
    extractor.eval()
    with torch.no_grad():
        assert extractor.loss(CODES, REQUIREMENTS).item() < 0.05
    assert extractor.extract_requirements(CODES, max_new_tokens=40) == REQUIREMENTS


@pytest.mark.slow
def test_builds_trains_and_generates_on_smollm2(smollm2_base):
    model, tokenizer = smollm2_base
    extractor = make_extractor("lm", base=(copy.deepcopy(model), tokenizer))
    trainable, total = extractor.parameter_counts()
    assert 0 < trainable < 0.02 * total  # LoRA r=16 on q/k/v/o: ~1.4 % of the weights
    extractor.train()
    loss = extractor.loss(CODES, REQUIREMENTS)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() < 8.0  # an instruct model is not at chance
    grads = [p.grad for n, p in extractor.named_parameters() if "lora_B" in n]
    assert grads and all(g is not None for g in grads)
    texts = extractor.extract_requirements(CODES[:1], max_new_tokens=8)
    assert len(texts) == 1 and texts[0]
