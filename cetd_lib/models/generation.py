"""Batched generation for a local causal LM that stops paying for rows that have finished.

    texts = generate_batched(model, tokenizer, prompts, stop=..., batch_size=16, ...)

Why not `model.generate`: a left-padded batch there runs until its LONGEST row ends, so every
row that closed its code block early keeps costing a full forward step until the slowest one
is done; on CPU that is most of the compute (rows of one batch differ by 2-5x in length). Here
each decoding step keeps only the live rows (`DynamicCache.batch_select_indices`, the same
call transformers' own contrastive search uses), prompts are sorted by length so a batch pads
little, and the prompt pass computes logits for the last position only (`logits_to_keep=1`,
as `generate` does).

Sampling is seeded per row (`torch.Generator(seed)`), so a row's text does not depend on which
other rows share its batch; greedy decoding is argmax, as in `generate`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cetd_lib.models.extractor import filter_top_p

#: CPU flags that make bfloat16 matmuls native (oneDNN uses them); without them bf16 is emulated
#: and slower than float32.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU feature flags of this machine (empty where /proc/cpuinfo is not readable)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def resolve_dtype(dtype: str, device: str, flags: frozenset[str] | None = None) -> str:
    """`auto` -> the fastest dtype that keeps the science: bfloat16 on a GPU or on a CPU with
    native bf16 (AVX512-BF16 or AMX), float32 elsewhere. Any other name is returned unchanged."""
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        return "bfloat16"
    flags = cpu_flags() if flags is None else flags
    return "bfloat16" if flags & NATIVE_BF16_FLAGS else "float32"


def apply_thread_policy(threads: int) -> int:
    """Set torch's intra-op threads (0 = leave torch's default) and return the count in use.

    OpenMP's wait policy can only be chosen before the OpenMP runtime starts, so it is set by the
    process entry points (`python -m cetd_lib`), not here; see docs/serving.md.
    """
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


@dataclass(frozen=True)
class Row:
    """One sequence to generate: its prompt text and the seed of its sampler."""

    text: str
    seed: int


StopFn = Callable[[int, list[int]], bool]


def generate_batched(
    model,
    tokenizer,
    rows: Sequence[Row],
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    batch_size: int = 16,
    max_batch_tokens: int = 0,
    sort_by_length: bool = True,
    stop: StopFn | None = None,
    progress: str = "",
) -> list[list[int]]:
    """New token ids of each row (EOS excluded), in the order of `rows`.

    `stop(row_index, ids)` is asked after every token a row receives; True ends that row (its
    ids so far are kept). A row also ends at EOS or after `max_new_tokens` tokens.
    `max_batch_tokens` (0 = no cap) bounds rows x longest prompt per batch, so long prompts get
    smaller batches instead of exhausting memory in the prompt pass. `progress`: the label of a
    progress bar over the batches (none when empty or when there is one batch).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    lengths = [len(tokenizer(r.text, add_special_tokens=False)["input_ids"]) for r in rows]
    order = list(range(len(rows)))
    if sort_by_length:
        # Longest first: an out-of-memory error shows on the first batch, not the last.
        order.sort(key=lambda i: -lengths[i])
    outputs: list[list[int]] = [[] for _ in rows]
    batches = _batches(order, lengths, batch_size, max_batch_tokens)
    chunks: Iterable[list[int]] = batches
    if progress and len(batches) > 1:
        from cetd_lib.tracking.progress import progress_bar

        chunks = progress_bar(batches, desc=progress, total=len(batches))
    for chunk in chunks:
        ids = _decode_batch(
            model,
            tokenizer,
            [rows[i] for i in chunk],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=None if stop is None else (lambda j, seq, chunk=chunk: stop(chunk[j], seq)),
        )
        for i, row_ids in zip(chunk, ids, strict=True):
            outputs[i] = row_ids
    return outputs


#: A shared prompt prefix shorter than this is recomputed per row (not worth a separate pass).
MIN_SHARED_PREFIX = 16


def _prompt_pass(model, tokenizer, texts: Sequence[str], device) -> tuple[torch.Tensor, Any]:
    """The forward pass over the prompts: (attention mask, model output with the cache).

    Rows of one orchestra share a long chat prefix (system message, instructions): it is run once
    and its cache repeated for every row, then only each row's own suffix runs, left-padded
    after the prefix (layout: prefix | padding | suffix; the mask hides the padding and the
    positions count real tokens only, as `generate` computes them for left padding).
    """
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    shared = len(os.path.commonprefix(ids)) if len(ids) > 1 else 0
    shared = min(shared, min(len(row) for row in ids) - 1)  # every row keeps >= 1 own token
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    cache = None
    if shared >= MIN_SHARED_PREFIX:
        prefix = model(
            input_ids=torch.tensor([ids[0][:shared]], device=device),
            use_cache=True,
            logits_to_keep=1,
        )
        cache = prefix.past_key_values
        cache.batch_repeat_interleave(len(ids))
    else:
        shared = 0
    suffixes = [row[shared:] for row in ids]
    width = max(len(row) for row in suffixes)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    own = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(suffixes):
        input_ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        own[i, width - len(row) :] = 1
    mask = torch.cat([torch.ones((len(ids), shared), dtype=torch.long), own], dim=1).to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
    out = model(
        input_ids=input_ids.to(device),
        attention_mask=mask,
        position_ids=positions,
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=1,
    )
    return mask, out


def _batches(
    order: list[int], lengths: list[int], batch_size: int, max_batch_tokens: int
) -> list[list[int]]:
    """Consecutive runs of `order`: at most `batch_size` rows, and (with a token cap) at most
    `max_batch_tokens` in rows x longest prompt; a row alone always forms a batch."""
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        width = max(longest, lengths[i])
        over_cap = max_batch_tokens and (len(current) + 1) * width > max_batch_tokens
        if current and (len(current) == batch_size or over_cap):
            batches.append(current)
            current, width = [], lengths[i]
        current.append(i)
        longest = width
    if current:
        batches.append(current)
    return batches


@torch.inference_mode()
def _decode_batch(
    model,
    tokenizer,
    rows: Sequence[Row],
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    stop: StopFn | None,
) -> list[list[int]]:
    device = next(model.parameters()).device
    mask, out = _prompt_pass(model, tokenizer, [r.text for r in rows], device)
    cache = out.past_key_values
    logits = out.logits[:, -1, :]
    sampling = temperature > 0
    generators = [torch.Generator(device=device).manual_seed(r.seed) for r in rows]
    eos_id = tokenizer.eos_token_id
    live = list(range(len(rows)))  # batch position -> index into rows
    produced: list[list[int]] = [[] for _ in rows]
    for step in range(max_new_tokens):
        if sampling:
            probs = filter_top_p(logits.float() / temperature, top_p).softmax(dim=-1)
            chosen = torch.cat(
                [
                    torch.multinomial(probs[j], 1, generator=generators[i])
                    for j, i in enumerate(live)
                ]
            )
        else:
            chosen = logits.argmax(dim=-1)
        keep: list[int] = []
        for j, i in enumerate(live):
            token = int(chosen[j])
            if token == eos_id:
                continue
            produced[i].append(token)
            if stop is not None and stop(i, produced[i]):
                continue
            keep.append(j)
        if not keep or step == max_new_tokens - 1:
            break
        if len(keep) < len(live):
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            mask = mask[index]
            chosen = chosen[index]
            live = [live[j] for j in keep]
        mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
        out = model(
            input_ids=chosen.unsqueeze(1),
            attention_mask=mask,
            position_ids=mask.long().sum(-1, keepdim=True) - 1,
            past_key_values=cache,
            use_cache=True,
        )
        logits = out.logits[:, -1, :]
    return produced
