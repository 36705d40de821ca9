"""The practical extractor: the base causal LM itself + a peft LoRA adapter, chat-prompted.

Prompt: the chat template around one user turn, "Write the numbered requirements for this
code." + the code in a fenced block (cut to `max_code_tokens` with a visible marker), then the
assistant header. Target: the requirements text + EOS (SmolLM2's `<|im_end|>`). Loss is on
target tokens only; prompt tokens never get logits computed (the same as labelling them -100).

Batches are laid out [left-padded prompt | right-padded target]: every target starts at the
same column, which is also how generation appends tokens, and position ids count real tokens
only, so a sequence scores the same alone or padded in a batch.

`prompt_messages` / `build_sft_example` / `encode_sft_example` are the pieces the TRL SFT
trainer (or a plain HF Trainer) reuses, so training and inference see the same prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from cetd_lib.models.config import DEFAULT_INSTRUCTION, ExtractorConfig
from cetd_lib.models.extractor import (
    IGNORE_INDEX,
    RequirementExtractor,
    TokenLogProbs,
    decode,
    encode_targets,
    gather_log_probs,
    load_base_for,
    truncate_code,
)
from cetd_lib.models.lora import with_lora

ADAPTER_DIR = "adapter"


def prompt_messages(code: str, instruction: str = DEFAULT_INSTRUCTION) -> list[dict[str, str]]:
    """Chat messages asking for the requirements of `code` (already truncated if need be).

    >>> prompt_messages("x = 1")[0]["content"]
    'Write the numbered requirements for this code.\\n\\n```python\\nx = 1\\n```'
    """
    return [{"role": "user", "content": f"{instruction}\n\n```python\n{code}\n```"}]


def build_sft_example(
    code: str,
    requirements: str | Sequence[str],
    *,
    tokenizer=None,
    max_code_tokens: int | None = None,
    instruction: str = DEFAULT_INSTRUCTION,
) -> dict[str, list[dict[str, str]]]:
    """One TRL conversational prompt-completion example: {"prompt": [...], "completion": [...]}.

    TRL's SFTTrainer computes the loss on the completion only for this format. `requirements`
    is the numbered text or a list of items (numbered with `format_requirements`). Pass
    `tokenizer` and `max_code_tokens` to cut the code exactly as the extractor does.
    """
    if not isinstance(requirements, str):
        from cetd_lib.apps.requirements import format_requirements

        requirements = format_requirements(requirements)
    if tokenizer is not None and max_code_tokens is not None:
        code = truncate_code(code, tokenizer, max_code_tokens)
    return {
        "prompt": prompt_messages(code, instruction),
        "completion": [{"role": "assistant", "content": requirements}],
    }


def prompt_token_ids(
    tokenizer, code: str, *, max_code_tokens: int, instruction: str = DEFAULT_INSTRUCTION
) -> list[int]:
    """Token ids of the chat prompt, ending with the assistant header (generation prompt)."""
    messages = prompt_messages(truncate_code(code, tokenizer, max_code_tokens), instruction)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def encode_sft_example(
    tokenizer,
    code: str,
    requirements: str,
    *,
    max_code_tokens: int,
    max_target_tokens: int,
    instruction: str = DEFAULT_INSTRUCTION,
) -> dict[str, list[int]]:
    """input_ids / attention_mask / labels for a plain HF Trainer: labels are -100 on the
    prompt, the target ids (requirements + EOS) after it."""
    prompt = prompt_token_ids(
        tokenizer, code, max_code_tokens=max_code_tokens, instruction=instruction
    )
    (target,) = encode_targets(tokenizer, [requirements], max_target_tokens)
    return {
        "input_ids": prompt + target,
        "attention_mask": [1] * (len(prompt) + len(target)),
        "labels": [IGNORE_INDEX] * len(prompt) + target,
    }


class LMExtractor(RequirementExtractor):
    """Base causal LM + LoRA on `lora_target_modules`; the base weights stay frozen."""

    variant = "lm"

    def __init__(
        self, config: ExtractorConfig, model, tokenizer, *, adapter: Path | None = None
    ) -> None:
        super().__init__(config, tokenizer)
        self.model = with_lora(model, **config.lora_args(), adapter=adapter, task_type="CAUSAL_LM")

    @classmethod
    def from_config(cls, config: ExtractorConfig, base=None) -> LMExtractor:
        model, tokenizer = load_base_for(config, base)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.init_seed)
            return cls(config, model, tokenizer)

    def prompt_ids(self, code: str) -> list[int]:
        return prompt_token_ids(
            self.tokenizer,
            code,
            max_code_tokens=self.config.max_code_tokens,
            instruction=self.config.instruction,
        )

    def sft_example(self, code: str, requirements: str | Sequence[str]) -> dict:
        """`build_sft_example` with this extractor's instruction and code budget."""
        return build_sft_example(
            code,
            requirements,
            tokenizer=self.tokenizer,
            max_code_tokens=self.config.max_code_tokens,
            instruction=self.config.instruction,
        )

    def _layout(self, prompts: list[list[int]], targets: list[list[int]]):
        """[left-padded prompt | right-padded target] ids, attention mask, position ids."""
        width_p = max(len(p) for p in prompts)
        width_t = max((len(t) for t in targets), default=0)
        batch = len(prompts)
        input_ids = torch.full((batch, width_p + width_t), self.pad_id, dtype=torch.long)
        attention = torch.zeros_like(input_ids)
        for i, (prompt, target) in enumerate(zip(prompts, targets, strict=True)):
            row = torch.tensor(prompt + target, dtype=torch.long)
            start = width_p - len(prompt)
            input_ids[i, start : start + len(row)] = row
            attention[i, start : start + len(row)] = 1
        positions = (attention.cumsum(dim=-1) - 1).clamp(min=0)
        device = self.device
        return input_ids.to(device), attention.to(device), positions.to(device), width_p

    def token_log_probs(self, codes: Sequence[str], requirements: Sequence[str]) -> TokenLogProbs:
        if len(codes) != len(requirements):
            raise ValueError(f"{len(codes)} codes but {len(requirements)} requirements")
        prompts = [self.prompt_ids(code) for code in codes]
        targets = encode_targets(self.tokenizer, requirements, self.config.max_target_tokens)
        input_ids, attention, positions, start = self._layout(prompts, targets)
        width_t = input_ids.shape[1] - start
        # Logits only where they predict a target token: position p-1 predicts token p.
        keep = torch.arange(start - 1, start - 1 + width_t, device=input_ids.device)
        logits = self.model(
            input_ids=input_ids,
            attention_mask=attention,
            position_ids=positions,
            logits_to_keep=keep,
        ).logits
        labels = input_ids[:, start:].masked_fill(attention[:, start:] == 0, IGNORE_INDEX)
        return gather_log_probs(logits, labels)

    def _generate_ids(self, codes: Sequence[str], n: int, **decoding: Any) -> list[list[int]]:
        prompts = [self.prompt_ids(code) for code in codes]
        input_ids, attention, positions, _ = self._layout(prompts, [[] for _ in prompts])
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )
        cache = out.past_key_values
        if n > 1:  # encode each prompt once, then copy its cache for the n samples
            cache.batch_repeat_interleave(n)
        attention = attention.repeat_interleave(n, dim=0)
        next_position = positions[:, -1].repeat_interleave(n, dim=0) + 1

        def step(chosen: torch.Tensor) -> torch.Tensor:
            nonlocal attention, next_position
            attention = torch.cat([attention, attention.new_ones(attention.shape[0], 1)], dim=1)
            logits = self.model(
                input_ids=chosen[:, None],
                attention_mask=attention,
                position_ids=next_position[:, None],
                past_key_values=cache,
                use_cache=True,
            ).logits
            next_position = next_position + 1
            return logits[:, -1]

        first = out.logits[:, -1].repeat_interleave(n, dim=0)
        return decode(first, step, eos_id=self.eos_id, **decoding)

    # --- checkpoints
    def _save_weights(self, directory: Path) -> None:
        self.model.save_pretrained(directory / ADAPTER_DIR)

    @classmethod
    def _load(cls, config: ExtractorConfig, directory: Path) -> LMExtractor:
        model, tokenizer = load_base_for(config, None)
        return cls(config, model, tokenizer, adapter=directory / ADAPTER_DIR)
