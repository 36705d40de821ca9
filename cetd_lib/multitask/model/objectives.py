"""Training objectives of the multi-task backbone, as token-id examples for a causal LM.

- span-masked LM: 15% of the code tokens, in spans of 1-5, are each replaced by one `<mask>`;
  the model reads the masked code and then writes the spans back, each after a `<mask>`
  (T5's span corruption, laid out for a decoder-only model). Masking accuracy = argmax
  accuracy on the original span tokens.
- fill-in-the-middle, PSM order (Bavarian et al. 2022): `<fim_prefix>` P `<fim_suffix>` S
  `<fim_middle>` M; mixed 50/50 with the masked objective.
- causal LM on code (perplexity = exp of the mean token loss).
- prompt -> target examples for the generation tasks, led by task tokens.

Every example is a dict `input_ids`, `labels` (-100 where no loss is taken) and, for the
masked objective, `scored` (positions counted by masking accuracy).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

IGNORE_INDEX = -100

MASK = "<mask>"
MASK_SEP = "<mask_sep>"
FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE = "<fim_prefix>", "<fim_suffix>", "<fim_middle>"
TASK_TOKENS = {
    "mlm": "<task:mlm>",
    "lm": "<task:lm>",
    "onto": "<task:onto>",
    "test": "<task:test>",
    "code": "<task:code>",
    "clarify": "<task:clarify>",
    "explain": "<task:explain>",
}
TEST_TYPE_TOKENS = ("<unit>", "<property>", "<parametrized>")
AMBIGUITY_TOKENS = {"drop": "<ambiguity:drop>", "blur": "<ambiguity:blur>"}
SPECIAL_TOKENS = (
    MASK,
    MASK_SEP,
    FIM_PREFIX,
    FIM_SUFFIX,
    FIM_MIDDLE,
    *TASK_TOKENS.values(),
    *TEST_TYPE_TOKENS,
    *AMBIGUITY_TOKENS.values(),
)


def add_task_tokens(tokenizer: Any, model: Any | None = None) -> list[int]:
    """Add the sentinel and task tokens missing from `tokenizer` (as special tokens, so text
    like "<unit>" in a record encodes to one id) and resize `model`'s embeddings to match.
    Returns the ids of every token in SPECIAL_TOKENS (new rows the LoRA model must train)."""
    vocab = tokenizer.get_vocab()
    missing = [t for t in SPECIAL_TOKENS if t not in vocab]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    if model is not None and model.get_input_embeddings().weight.shape[0] != len(tokenizer):
        # mean_resizing: new rows start at the mean embedding, not at random (HF default).
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    return [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS]


def token_id(tokenizer: Any, token: str) -> int:
    ids = tokenizer.convert_tokens_to_ids(token)
    if (
        ids is None
        or ids == tokenizer.unk_token_id
        or tokenizer.convert_ids_to_tokens(ids) != token
    ):
        raise KeyError(f"token {token!r} is not in the tokenizer; call add_task_tokens first")
    return ids


def encode_text(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# ---------------------------------------------------------------------------------------------
# Span-masked LM
# ---------------------------------------------------------------------------------------------


def sample_spans(
    n_tokens: int, rng: random.Random, rate: float = 0.15, min_span: int = 1, max_span: int = 5
) -> list[tuple[int, int]]:
    """Non-overlapping, non-adjacent [start, end) spans covering round(rate * n) tokens.

    Span lengths are uniform in [min_span, max_span] (the last is cut to hit the budget); the
    unmasked tokens are spread over the k+1 gaps uniformly (stars and bars), with at least one
    token between spans so that every span stays one `<mask>`.
    """
    budget = round(rate * n_tokens)
    if n_tokens < 2 or budget == 0:
        return []
    lengths: list[int] = []
    while sum(lengths) < budget:
        lengths.append(min(rng.randint(min_span, max_span), budget - sum(lengths)))
    rng.shuffle(lengths)
    k = len(lengths)
    free = n_tokens - budget - (k - 1)  # unmasked tokens not needed as separators
    if free < 0:
        raise ValueError(f"cannot place {k} separated spans of {budget} tokens in {n_tokens}")
    bars = sorted(rng.sample(range(free + k), k))
    gaps = [b - a - 1 for a, b in zip([-1, *bars], [*bars, free + k], strict=True)]
    spans, position = [], 0
    for i, length in enumerate(lengths):
        position += gaps[i] + (1 if i > 0 else 0)
        spans.append((position, position + length))
        position += length
    return spans


def masked_example(
    ids: Sequence[int],
    spans: Sequence[tuple[int, int]],
    *,
    task_id: int,
    mask_id: int,
    sep_id: int,
    eos_id: int,
) -> dict[str, list]:
    """`<task:mlm>` masked code `<mask_sep>` (`<mask>` span)* EOS; loss after `<mask_sep>`."""
    masked, answer, cursor = [], [], 0
    for start, end in spans:
        masked += list(ids[cursor:start]) + [mask_id]
        answer += [mask_id] + list(ids[start:end])
        cursor = end
    masked += list(ids[cursor:])
    prompt = [task_id, *masked, sep_id]
    target = [*answer, eos_id]
    scored_target = [tok != mask_id for tok in answer] + [False]
    return {
        "input_ids": prompt + target,
        "labels": [IGNORE_INDEX] * len(prompt) + target,
        "scored": [False] * len(prompt) + scored_target,
    }


def masked_budget(max_len: int, rate: float) -> int:
    """Code tokens that fit: n + 2*ceil(rate*n) (one mask each side, worst case) + 3 <= max_len."""
    return max(1, int((max_len - 3) / (1 + 2 * rate)) - 1)


# ---------------------------------------------------------------------------------------------
# Fill-in-the-middle
# ---------------------------------------------------------------------------------------------


def fim_split(text: str, rng: random.Random) -> tuple[str, str, str]:
    """Two uniform character cut points -> (prefix, middle, suffix); they reassemble to text."""
    a, b = sorted(rng.randint(0, len(text)) for _ in range(2))
    return text[:a], text[a:b], text[b:]


def fim_example(
    tokenizer: Any, prefix: str, middle: str, suffix: str, *, eos_id: int
) -> dict[str, list]:
    """PSM: `<fim_prefix>` P `<fim_suffix>` S `<fim_middle>` M EOS; loss on M and EOS only."""
    prompt = (
        [token_id(tokenizer, FIM_PREFIX)]
        + encode_text(tokenizer, prefix)
        + [token_id(tokenizer, FIM_SUFFIX)]
        + encode_text(tokenizer, suffix)
        + [token_id(tokenizer, FIM_MIDDLE)]
    )
    target = encode_text(tokenizer, middle) + [eos_id]
    return {"input_ids": prompt + target, "labels": [IGNORE_INDEX] * len(prompt) + target}


# ---------------------------------------------------------------------------------------------
# Causal LM and prompt -> target
# ---------------------------------------------------------------------------------------------


def causal_example(ids: Sequence[int], *, eos_id: int) -> dict[str, list]:
    """Plain next-token prediction over the whole sequence (HF shifts labels internally)."""
    seq = [*ids, eos_id]
    return {"input_ids": seq, "labels": list(seq)}


def prompt_target_example(
    head: Sequence[int], body: Sequence[int], target: Sequence[int], *, eos_id: int, max_len: int
) -> dict[str, list]:
    """`head` (task tokens, kept whole) + `body` (cut from the end to fit) + target + EOS,
    loss on target + EOS. The target keeps at most half the budget."""
    target = list(target)[: max(1, max_len // 2) - 1] + [eos_id]
    room = max(0, max_len - len(head) - len(target))
    prompt = [*head, *list(body)[:room]]
    return {"input_ids": prompt + target, "labels": [IGNORE_INDEX] * len(prompt) + target}


def code_example(
    tokenizer: Any, text: str, rng: random.Random, *, max_len: int, rate: float, fim_rate: float,
    min_span: int = 1, max_span: int = 5, kind: str | None = None,
) -> dict[str, list]:  # fmt: skip
    """One code objective example: FIM with probability `fim_rate`, span-masked otherwise
    (`kind` = "fim" or "masked" forces one, e.g. for a balanced val set)."""
    eos = tokenizer.eos_token_id
    ids = encode_text(tokenizer, text)
    fim = rng.random() < fim_rate if kind is None else kind == "fim"
    if fim:
        ids = ids[: max_len - 4 - 1]
        prefix, middle, suffix = fim_split(tokenizer.decode(ids), rng)
        example = fim_example(tokenizer, prefix, middle, suffix, eos_id=eos)
        example["input_ids"], example["labels"] = (
            example["input_ids"][:max_len],
            example["labels"][:max_len],
        )  # re-tokenising the pieces may add a token or two at the cuts
        return example
    ids = ids[: masked_budget(max_len, rate)]
    spans = sample_spans(len(ids), rng, rate, min_span, max_span)
    return masked_example(
        ids,
        spans,
        task_id=token_id(tokenizer, TASK_TOKENS["mlm"]),
        mask_id=token_id(tokenizer, MASK),
        sep_id=token_id(tokenizer, MASK_SEP),
        eos_id=eos,
    )


def collate(examples: Sequence[dict[str, list]], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors; labels -100 and attention 0 on padding."""
    import torch

    width = max(len(e["input_ids"]) for e in examples)
    batch = {
        "input_ids": torch.full((len(examples), width), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros((len(examples), width), dtype=torch.long),
        "labels": torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long),
    }
    if any("scored" in e for e in examples):
        batch["scored"] = torch.zeros((len(examples), width), dtype=torch.bool)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        batch["input_ids"][i, :n] = torch.tensor(e["input_ids"])
        batch["attention_mask"][i, :n] = 1
        batch["labels"][i, :n] = torch.tensor(e["labels"])
        if "scored" in batch:
            batch["scored"][i, :n] = torch.tensor(e.get("scored", [False] * n))
    return batch


def masking_accuracy(logits: Any, labels: Any, scored: Any) -> tuple[int, int]:
    """(correct, total) argmax predictions of the scored (original span) tokens; logits at
    position p predict token p+1."""
    predicted = logits[:, :-1].argmax(dim=-1)
    target = labels[:, 1:]
    keep = scored[:, 1:]
    return int((predicted[keep] == target[keep]).sum()), int(keep.sum())
