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

import functools
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
    share_prefix: bool = True,
    prefill_chunk_tokens: int = 0,
    prefixes: PrefixStore | None = None,
) -> list[list[int]]:
    """New token ids of each row (EOS excluded), in the order of `rows`.

    `stop(row_index, ids)` is asked after every token a row receives; True ends that row (its
    ids so far are kept). A row also ends at EOS or after `max_new_tokens` tokens.
    `max_batch_tokens` (0 = no cap) bounds rows x longest prompt per batch, so long prompts get
    smaller batches instead of exhausting memory in the prompt pass. `progress`: the label of a
    progress bar over the batches (none when empty or when there is one batch).
    `share_prefix`, `prefill_chunk_tokens`: how the prompt pass runs (`_prompt_pass`); the
    shared prefix's cache is kept in `prefixes` (a fresh store per call when None), so a caller
    that keeps one computes it once across calls.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if prefill_chunk_tokens < 0:
        raise ValueError(f"prefill_chunk_tokens must be >= 0, got {prefill_chunk_tokens}")
    prefixes = PrefixStore() if prefixes is None else prefixes
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
            share_prefix=share_prefix,
            prefill_chunk_tokens=prefill_chunk_tokens,
            prefixes=prefixes,
        )
        for i, row_ids in zip(chunk, ids, strict=True):
            outputs[i] = row_ids
    return outputs


#: A shared prompt prefix shorter than this is recomputed per row (not worth a separate pass).
MIN_SHARED_PREFIX = 16


class PrefixStore:
    """The KV cache of shared prompt prefixes, computed once per (model weights, prefix ids).

    Every prompt of an orchestra starts with the same system message and template head: its
    cache is the same for every batch and every call, so it is kept (batch 1, a few MB) and
    expanded to each batch. An entry is dropped when any parameter of the model changes in place
    (`Tensor._version`, which optimizer steps bump), so a model trained between calls never
    decodes from a stale prefix.
    """

    def __init__(self, max_entries: int = 4) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]] | None] = {}
        self._weights: tuple[int, ...] | None = None
        self.computed = 0  # prefix passes run (for tests and benchmarks)

    def get(
        self, model, prefix: Sequence[int], device
    ) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """Per layer (keys, values), batch 1, of `prefix` under `model`; None where the model's
        cache is not plain (sliding windows, recurrent state): the caller then runs the prefix
        itself."""
        weights = (id(model), *(p._version for p in model.parameters()))
        if weights != self._weights:
            self._entries.clear()
            self._weights = weights
        key = tuple(prefix)
        if key not in self._entries:
            cache = prefix_cache(model, prefix, device)
            self.computed += 1
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (
                [(layer.keys, layer.values) for layer in cache.layers]
                if _plain_layers(cache)
                else None
            )
        return self._entries[key]


def prefix_cache(model, prefix: Sequence[int], device):
    """The model's cache after one row of `prefix` (only the last position's logits made)."""
    return model(
        input_ids=torch.tensor([list(prefix)], device=device), use_cache=True, logits_to_keep=1
    ).past_key_values


def _plain_layers(cache) -> bool:
    """True when every layer of `cache` is a plain growing DynamicLayer (no sliding window, no
    linear attention state): the only kind whose rows can be expanded, padded and merged."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def expanded_cache(prefix_kv: list[tuple[torch.Tensor, torch.Tensor]], rows: int):
    """A DynamicCache of `rows` rows over one prefix's (keys, values), as views (no copies)."""
    from transformers import DynamicCache

    return DynamicCache(
        ddp_cache_data=[
            (k.expand(rows, *k.shape[1:]), v.expand(rows, *v.shape[1:])) for k, v in prefix_kv
        ]
    )


def _chunks(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Row indices in chunks for the prompt pass: longest first, each chunk at most `budget`
    tokens of rows x its longest row (a row alone always forms a chunk; 0 = one chunk)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if budget <= 0:
        return [order]
    chunks: list[list[int]] = []
    for i in order:
        if chunks and (len(chunks[-1]) + 1) * lengths[chunks[-1][0]] <= budget:
            chunks[-1].append(i)
        else:
            chunks.append([i])
    return chunks


def _prompt_pass(
    model,
    tokenizer,
    texts: Sequence[str],
    device,
    *,
    share_prefix: bool = True,
    prefill_chunk_tokens: int = 0,
    prefixes: PrefixStore | None = None,
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """The forward pass over the prompts: (attention mask, last-position logits, cache).

    Layout of every row: shared prefix | left padding | own suffix; the mask hides the padding
    and positions count real tokens only (as `generate` computes them for left padding).

    - `share_prefix`: rows of an orchestra share a long chat prefix (system message, template
      head): its cache comes from `prefixes` (computed once) and is expanded to every row, so only
      each row's own suffix runs.
    - `prefill_chunk_tokens` (0 = one pass): the suffixes run in length-sorted chunks of at most
      this many tokens (rows x longest suffix), each padded only to its own longest row, and their
      caches are laid side by side with zero keys where the padding is (masked, never attended).
      One pass over a whole batch pads every row to the longest (a third of the compute for 40
      HumanEval prompts) and streams activations too big for the caches.
    """
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    shared = len(os.path.commonprefix(ids)) if share_prefix and len(ids) > 1 else 0
    shared = min(shared, min(len(row) for row in ids) - 1)  # every row keeps >= 1 own token
    if shared < MIN_SHARED_PREFIX:
        shared = 0
    prefix_kv = None
    if shared:
        prefix_kv = (prefixes or PrefixStore()).get(model, ids[0][:shared], device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    suffixes = [row[shared:] for row in ids]
    width = max(len(row) for row in suffixes)
    own = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(suffixes):
        own[i, width - len(row) :] = 1
    mask = torch.cat([torch.ones((len(ids), shared), dtype=torch.long), own], dim=1).to(device)

    def run(rows: list[int]):
        """Forward over `rows`' suffixes, padded to the longest of them."""
        w = max(len(suffixes[i]) for i in rows)
        input_ids = torch.full((len(rows), w), pad_id, dtype=torch.long)
        for r, i in enumerate(rows):
            input_ids[r, w - len(suffixes[i]) :] = torch.tensor(suffixes[i], dtype=torch.long)
        sub_mask = torch.cat([mask[rows, :shared], mask[rows, shared + width - w :]], dim=1)
        positions = (sub_mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
        cache = None
        if prefix_kv is not None:
            cache = expanded_cache(prefix_kv, len(rows))
        elif shared:  # a cache that is not plain: the prefix runs here, repeated per row
            cache = prefix_cache(model, ids[0][:shared], device)
            cache.batch_repeat_interleave(len(rows))
        out = model(
            input_ids=input_ids.to(device),
            attention_mask=sub_mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1, :], out.past_key_values

    chunks = _chunks([len(s) for s in suffixes], prefill_chunk_tokens)
    if len(chunks) == 1:
        logits, cache = run(list(range(len(ids))))
        return mask, logits, cache
    logits = None
    merged: list[tuple[torch.Tensor, torch.Tensor]] = []
    for chunk in chunks:
        chunk_logits, cache = run(chunk)
        if not _plain_layers(cache):  # cannot lay out rows by hand: one pass over all rows
            logits, cache = run(list(range(len(ids))))
            return mask, logits, cache
        index = torch.tensor(chunk, device=device)
        if logits is None:
            logits = chunk_logits.new_empty((len(ids), chunk_logits.shape[-1]))
            for layer in cache.layers:
                k, v = layer.keys, layer.values
                shape = (len(ids), k.shape[1], shared + width, k.shape[3])
                merged.append((k.new_zeros(shape), v.new_zeros(shape)))
        logits[index] = chunk_logits
        for (full_k, full_v), layer in zip(merged, cache.layers, strict=True):
            w = layer.keys.shape[2] - shared
            full_k[index, :, :shared] = layer.keys[:, :, :shared]
            full_k[index, :, shared + width - w :] = layer.keys[:, :, shared:]
            full_v[index, :, :shared] = layer.values[:, :, :shared]
            full_v[index, :, shared + width - w :] = layer.values[:, :, shared:]
    from transformers import DynamicCache

    return mask, logits, DynamicCache(ddp_cache_data=merged)


def _growing(cache):
    """`cache` with its plain layers swapped for GrowingLayers holding the same tensors (the
    decoding loop's cache; other kinds are returned as they are)."""
    if not _plain_layers(cache):
        return cache
    layers = []
    for layer in cache.layers:
        grown = _growing_layer_class()()
        grown.lazy_initialization(layer.keys, layer.values)
        grown.keys, grown.values = layer.keys, layer.values
        layers.append(grown)
    cache.layers = layers
    return cache


@functools.cache
def _growing_layer_class() -> type:
    """GrowingLayer, defined on first use (transformers is imported lazily)."""
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        """A DynamicLayer that writes each new token's keys and values into spare capacity.

        DynamicLayer concatenates, copying the layer's whole cache (every row, every position)
        at every decoding step; here the copy happens once per `GROW` tokens and when rows leave.
        The keys handed to attention are a view of the first positions of the buffer.
        """

        GROW = 128

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            n = self.keys.shape[-2] if self.keys.numel() else 0
            end = n + key_states.shape[-2]
            buffer = getattr(self, "_key_buffer", None)
            if (
                buffer is None
                or self.keys.numel() == 0
                or buffer.data_ptr() != self.keys.data_ptr()  # replaced (rows selected, cropped)
                or buffer.shape[0] != key_states.shape[0]
                or buffer.shape[-2] < end
            ):
                shape = (*key_states.shape[:2], end + self.GROW, key_states.shape[-1])
                self._key_buffer = key_states.new_empty(shape)
                self._value_buffer = value_states.new_empty((*shape[:3], value_states.shape[-1]))
                if n:
                    self._key_buffer[:, :, :n] = self.keys
                    self._value_buffer[:, :, :n] = self.values
            self._key_buffer[:, :, n:end] = key_states
            self._value_buffer[:, :, n:end] = value_states
            self.keys = self._key_buffer[:, :, :end]
            self.values = self._value_buffer[:, :, :end]
            return self.keys, self.values

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            """Keep the capacity: select the rows of the buffers, not of the views."""
            buffer = getattr(self, "_key_buffer", None)
            if buffer is None or buffer.data_ptr() != self.keys.data_ptr():
                super().batch_select_indices(indices)
                return
            n = self.keys.shape[-2]
            self._key_buffer = self._key_buffer[indices]
            self._value_buffer = self._value_buffer[indices]
            self.keys = self._key_buffer[:, :, :n]
            self.values = self._value_buffer[:, :, :n]

    return GrowingLayer


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
    share_prefix: bool = True,
    prefill_chunk_tokens: int = 0,
    prefixes: PrefixStore | None = None,
) -> list[list[int]]:
    device = next(model.parameters()).device
    mask, logits, cache = _prompt_pass(
        model,
        tokenizer,
        [r.text for r in rows],
        device,
        share_prefix=share_prefix,
        prefill_chunk_tokens=prefill_chunk_tokens,
        prefixes=prefixes,
    )
    cache = _growing(cache)
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
