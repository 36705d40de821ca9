"""Teacher-forced scoring: how likely a model finds a given answer to a given chat prompt.

    scorer = TeacherForcedScorer.load("qwen2.5-coder-0.5b-instruct")
    scorer.score(prompts, answers)  # -> mean log p(answer token | prompt, earlier tokens)

One forward pass per (prompt, answer) pair, no sampling: the dense reward of [content]
(VR-CLI's likelihood improvement, Gurung & Lapata 2025, with the orchestra as the frozen judge)
is the difference of two such scores. Rows are sorted by length and batched (right-padded, so
positions need no shifting); only the answer positions go through the vocabulary projection and
the log-softmax (for Qwen's 152k-token vocabulary that projection is a quarter of the model).

Prompts are rendered exactly as the `hf` backend renders them for generation (chat template,
generation prompt appended), and the answer is tokenised after that text, as the model would
have produced it; the end-of-turn token is not scored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from cetd_lib.models.generation import MIN_SHARED_PREFIX, PrefixStore, expanded_cache, resolve_dtype


@dataclass(frozen=True)
class AnswerLogProb:
    """Sum of log-probs over the answer's tokens and how many there were."""

    total: float
    tokens: int

    @property
    def mean(self) -> float:
        return self.total / self.tokens if self.tokens else float("nan")


def encode_pair(tokenizer: Any, prompt_text: str, answer: str) -> tuple[list[int], int]:
    """Token ids of prompt + answer and where the answer starts. The prompt is tokenised on its
    own (as generation sees it), the answer after it: the boundary never merges tokens."""
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    return list(prompt_ids) + list(answer_ids), len(prompt_ids)


@torch.no_grad()
def answer_logprobs(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[tuple[str, str]],
    *,
    batch_size: int = 8,
    max_batch_tokens: int = 8192,
    share_prefix: bool = True,
    prefixes: PrefixStore | None = None,
) -> list[AnswerLogProb]:
    """log p(answer | prompt) summed over answer tokens, for each (prompt_text, answer).

    `share_prefix`: the token prefix every pair shares (the orchestra's system message and
    template head) runs once (its cache from `prefixes`, kept across calls by a caller that
    keeps the store) and every batch runs only the rest, right-padded after it."""
    encoded = [encode_pair(tokenizer, prompt, answer) for prompt, answer in pairs]
    shared = 0
    if share_prefix and len(encoded) > 1:
        shared = len(os.path.commonprefix([row for row, _ in encoded]))
        shared = min(shared, min(start for _, start in encoded) - 1)  # >= 1 prompt token own
    device = next(model.parameters()).device
    prefix_kv = None
    if shared >= MIN_SHARED_PREFIX:
        prefix_kv = (prefixes or PrefixStore()).get(model, encoded[0][0][:shared], device)
    if prefix_kv is None:  # too short to pay, or a cache that cannot be expanded
        shared = 0
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    results: list[AnswerLogProb | None] = [None] * len(encoded)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    start = 0
    while start < len(order):
        batch = [order[start]]
        while (
            start + len(batch) < len(order)
            and len(batch) < batch_size
            and (len(batch) + 1) * len(encoded[order[start + len(batch)]][0]) <= max_batch_tokens
        ):
            batch.append(order[start + len(batch)])
        start += len(batch)
        width = max(len(encoded[i][0]) for i in batch) - shared
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), shared + width), dtype=torch.long)
        for row, index in enumerate(batch):
            row_ids = encoded[index][0]
            ids[row, : len(row_ids) - shared] = torch.tensor(row_ids[shared:])
            mask[row, : len(row_ids)] = 1
        extra = {}
        if shared:
            extra = {
                "past_key_values": expanded_cache(prefix_kv, len(batch)),
                "position_ids": torch.arange(shared, shared + width, device=device).expand(
                    len(batch), width
                ),
                "use_cache": True,
            }
        hidden = model.model(input_ids=ids.to(device), attention_mask=mask.to(device), **extra)
        hidden = hidden.last_hidden_state
        for row, index in enumerate(batch):
            row_ids, answer_start = encoded[index]
            if answer_start >= len(row_ids):
                results[index] = AnswerLogProb(0.0, 0)
                continue
            # position t predicts token t + 1: answer tokens are predicted from answer_start - 1
            states = hidden[row, answer_start - 1 - shared : len(row_ids) - 1 - shared]
            logits = model.lm_head(states).float()
            targets = torch.tensor(row_ids[answer_start:], device=logits.device)
            logprobs = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None])
            results[index] = AnswerLogProb(float(logprobs.sum()), len(targets))
    return [r for r in results if r is not None]


class TeacherForcedScorer:
    """`score(prompts, answers)` -> mean log-prob per answer token, through a local model.

    What the dense reward needs of an orchestra member (reconstruction.likelihood)."""

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 8) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.prefixes = PrefixStore()  # the shared chat prefix's cache, kept across calls

    @classmethod
    def load(cls, name: str, *, dtype: str = "auto", batch_size: int = 8) -> TeacherForcedScorer:
        from cetd_lib.models import load_base

        model, tokenizer = load_base(name, dtype=resolve_dtype(dtype, "cpu"))
        return cls(model, tokenizer, batch_size=batch_size)

    def render(self, prompt: Any) -> str:
        return self.tokenizer.apply_chat_template(
            list(prompt.messages), tokenize=False, add_generation_prompt=True
        )

    def logprobs(self, prompts: Sequence[Any], answers: Sequence[str]) -> list[AnswerLogProb]:
        if len(prompts) != len(answers):
            raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
        pairs = [(self.render(p), a) for p, a in zip(prompts, answers, strict=True)]
        return answer_logprobs(
            self.model, self.tokenizer, pairs, batch_size=self.batch_size, prefixes=self.prefixes
        )

    def score(self, prompts: Sequence[Any], answers: Sequence[str]) -> list[float]:
        return [r.mean for r in self.logprobs(prompts, answers)]
