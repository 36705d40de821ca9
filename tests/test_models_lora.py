"""`models.lora.with_lora`, the one LoRA wrapper of the extractors and the multi-task backbone:
a fresh adapter starts at the base model, only LoRA (and the asked-for token rows) train, and
a saved adapter loads back trainable with the same weights."""

from __future__ import annotations

import copy

import torch

from cetd_lib.models.config import ExtractorConfig
from cetd_lib.models.lora import with_lora

TARGETS = ("q_proj", "v_proj")


def fresh(tiny_base):
    model, _ = tiny_base
    return copy.deepcopy(model)  # with_lora injects in place: never into the shared fixture


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_a_fresh_adapter_starts_at_the_base_model_and_only_lora_trains(tiny_base):
    base = fresh(tiny_base)
    ids = torch.tensor([[1, 5, 9, 13]])
    before = logits(base, ids)
    wrapped = with_lora(base, r=4, alpha=8, targets=TARGETS, dropout=0.1, task_type="CAUSAL_LM")
    wrapped.eval()
    assert torch.allclose(logits(wrapped, ids), before)  # B = 0
    trainable = [n for n, p in wrapped.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert {n.split(".")[-4] for n in trainable if "lora_A" in n} == set(TARGETS)
    config = wrapped.peft_config["default"]
    assert (config.r, config.lora_alpha, config.lora_dropout) == (4, 8, 0.1)


def test_trainable_token_rows_train_and_the_rest_of_the_table_does_not(tiny_base):
    wrapped = with_lora(
        fresh(tiny_base), r=4, alpha=8, targets=TARGETS, trainable_token_ids=[7, 3, 7]
    )
    trainable = [n for n, p in wrapped.named_parameters() if p.requires_grad]
    token_rows = [n for n in trainable if "lora_" not in n]
    assert token_rows and all("embed_tokens" in n for n in token_rows)
    config = wrapped.peft_config["default"]
    assert config.trainable_token_indices == {"embed_tokens": [3, 7]}
    plain = with_lora(fresh(tiny_base), r=4, alpha=8, targets=TARGETS)
    assert all("lora_" in n for n, p in plain.named_parameters() if p.requires_grad)


def test_a_saved_adapter_loads_back_trainable_with_its_weights(tiny_base, tmp_path):
    torch.manual_seed(0)
    wrapped = with_lora(fresh(tiny_base), r=4, alpha=8, targets=TARGETS)
    with torch.no_grad():  # make B non-zero so the adapter changes the output
        for name, param in wrapped.named_parameters():
            if "lora_B" in name:
                param.normal_()
    ids = torch.tensor([[2, 4, 6, 8]])
    expected = logits(wrapped.eval(), ids)
    wrapped.save_pretrained(tmp_path / "adapter")
    loaded = with_lora(fresh(tiny_base), r=1, alpha=1, targets=(), adapter=tmp_path / "adapter")
    assert torch.allclose(logits(loaded.eval(), ids), expected, atol=1e-6)
    assert any(p.requires_grad for n, p in loaded.named_parameters() if "lora_" in n)


def test_an_extractor_config_gives_its_lora_fields():
    config = ExtractorConfig(
        lora_r=16, lora_alpha=32, lora_dropout=0.05, lora_target_modules=TARGETS
    )
    assert config.lora_args() == {"r": 16, "alpha": 32, "dropout": 0.05, "targets": TARGETS}
