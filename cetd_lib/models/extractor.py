"""One interface for requirement extractors (code -> numbered requirements) and their registry.

Both variants ('seed', 'lm') score a target the same way, so the trainers need only this:

- `token_log_probs(codes, requirements)`: log p(y_t | y_<t, code) of every requirement token
  (EOS included), left-aligned, with a mask; differentiable.
- `sequence_log_probs` = sum_t log p(y_t | ...)  (REINFORCE / GRPO / RLOO use it with gradient),
- `loss` = -sum log p / number of target tokens over the batch: the token-mean cross-entropy of
  stage 1 (what `F.cross_entropy(..., ignore_index=-100)` computes).

Generation is one loop shared by both (`decode`), so greedy/temperature/top-p and per-sequence
EOS stopping behave identically whichever variant runs.
"""

from __future__ import annotations

import difflib
import importlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from cetd_lib.models.config import ExtractorConfig

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "extractor.json"
CHECKPOINT_FORMAT = 1
IGNORE_INDEX = -100  # label value cross-entropy skips (PyTorch / HF convention)


# ---------------------------------------------------------------- text -> tokens


def truncate_code(code: str, tokenizer, max_tokens: int) -> str:
    """Keep the first whole lines of `code` that fit `max_tokens`, then a visible marker.

    The marker (`# ... [truncated N lines]`) tells the model (and a reader of the prompt) that
    the code goes on; a silent cut would invite requirements for an unfinished program.
    """

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    if count(code) <= max_tokens:
        return code
    lines = code.splitlines()
    marker_budget = count(f"\n# ... [truncated {len(lines)} lines]")
    if marker_budget >= max_tokens:
        raise ValueError(
            f"max_code_tokens={max_tokens} leaves no room for code; raise it (>= 64 is sensible)"
        )
    # Binary search on the number of kept lines: token counts are monotone in it.
    low, high = 0, len(lines)
    while low < high:
        mid = (low + high + 1) // 2
        if count("\n".join(lines[:mid])) + marker_budget <= max_tokens:
            low = mid
        else:
            high = mid - 1

    def joined(keep: int) -> str:
        marker = f"# ... [truncated {len(lines) - keep} lines]"
        return "\n".join([*lines[:keep], marker])

    while low > 0 and count(joined(low)) > max_tokens:  # merges across the join can add one
        low -= 1
    return joined(low)


def encode_targets(tokenizer, requirements: Sequence[str], max_tokens: int) -> list[list[int]]:
    """Requirement token ids + EOS, cut to `max_tokens` (EOS included).

    A cut target keeps its EOS so every training sequence teaches stopping; a warning says
    how many were cut because that also teaches stopping early.
    """
    eos = require_token_id(tokenizer, "eos")
    targets, cut = [], 0
    for text in requirements:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) + 1 > max_tokens:
            ids, cut = ids[: max_tokens - 1], cut + 1
        targets.append([*ids, eos])
    if cut:
        log.warning(
            "%d of %d requirement targets cut to max_target_tokens=%d",
            cut,
            len(targets),
            max_tokens,
        )
    return targets


def require_token_id(tokenizer, kind: str) -> int:
    """`tokenizer.<kind>_token_id`, or a ValueError naming the tokenizer (no silent fallback)."""
    token_id = getattr(tokenizer, f"{kind}_token_id", None)
    if token_id is None:
        raise ValueError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', tokenizer)!r} has no {kind} token; "
            f"set tokenizer.{kind}_token before building an extractor"
        )
    return int(token_id)


def pad_right(rows: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    """(batch, max_len) long tensor, rows left-aligned, `value` after each row."""
    width = max(len(row) for row in rows)
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


@dataclass(frozen=True)
class TokenLogProbs:
    """log p of each target token, left-aligned: `values[i, t]` scores token t of target i.

    `mask` is False on padding (where `values` is 0), so `values.sum(-1)` is the sequence sum.
    """

    values: torch.Tensor  # (batch, T) float, differentiable
    mask: torch.Tensor  # (batch, T) bool
    labels: torch.Tensor  # (batch, T) long, IGNORE_INDEX on padding


def gather_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> TokenLogProbs:
    """log softmax(logits)[label] per position; 0 where label == IGNORE_INDEX."""
    mask = labels != IGNORE_INDEX
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return TokenLogProbs(values=picked * mask, mask=mask, labels=labels)


# ---------------------------------------------------------------- sampling


def filter_top_p(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering (Holtzman et al. 2020): keep the smallest set of most likely tokens
    whose probability mass reaches `top_p`; the rest get -inf.

    A token is dropped when the mass of the tokens ranked above it already reaches top_p, so
    the top token always survives.
    """
    if top_p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    drop_sorted = mass_before >= top_p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def next_tokens(
    logits: torch.Tensor,
    *,
    do_sample: bool,
    temperature: float = 1.0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Greedy argmax, or a sample from softmax(logits / temperature) after top-p filtering."""
    if not do_sample:
        return logits.argmax(dim=-1)
    filtered = filter_top_p(logits.float() / temperature, top_p)
    probs = filtered.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def decode(
    first_logits: torch.Tensor,
    step: Callable[[torch.Tensor], torch.Tensor],
    *,
    eos_id: int,
    max_new_tokens: int,
    do_sample: bool,
    temperature: float,
    top_p: float,
    generator: torch.Generator | None,
) -> list[list[int]]:
    """Autoregressive decoding where each row stops at its own EOS.

    `first_logits` (batch, vocab) predicts the first token; `step(tokens)` consumes the tokens
    just chosen (batch,) and returns the next logits. Finished rows keep being fed EOS (the
    batch keeps its shape) but nothing after their first EOS is returned. The loop ends when
    every row has finished or after `max_new_tokens` (EOS counts as a token, as in HF).
    """
    finished = torch.zeros(first_logits.shape[0], dtype=torch.bool, device=first_logits.device)
    chosen: list[torch.Tensor] = []
    logits = first_logits
    for position in range(max_new_tokens):
        tokens = next_tokens(
            logits, do_sample=do_sample, temperature=temperature, top_p=top_p, generator=generator
        )
        tokens = tokens.masked_fill(finished, eos_id)
        chosen.append(tokens)
        finished |= tokens == eos_id
        if bool(finished.all()) or position == max_new_tokens - 1:
            break
        logits = step(tokens)
    rows = torch.stack(chosen, dim=1).tolist()
    return [row[: row.index(eos_id)] if eos_id in row else row for row in rows]


# ---------------------------------------------------------------- the interface


class RequirementExtractor(nn.Module, ABC):
    """A model that writes a requirements list for a piece of code.

    Subclasses implement `token_log_probs`, `_generate_ids` and the weight files; everything
    the trainers and notebooks call is defined here once.
    """

    variant: ClassVar[str]

    def __init__(self, config: ExtractorConfig, tokenizer) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self.eos_id = require_token_id(tokenizer, "eos")
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id

    # --- to implement
    @abstractmethod
    def token_log_probs(self, codes: Sequence[str], requirements: Sequence[str]) -> TokenLogProbs:
        """Per-token log-probs of each requirements text (+ EOS) given its code, with grad."""

    @abstractmethod
    def _generate_ids(self, codes: Sequence[str], n: int, **decoding: Any) -> list[list[int]]:
        """Token ids (EOS excluded) of n continuations per code, grouped per code."""

    @abstractmethod
    def _save_weights(self, directory: Path) -> None: ...

    @classmethod
    @abstractmethod
    def _load(cls, config: ExtractorConfig, directory: Path) -> RequirementExtractor: ...

    @classmethod
    @abstractmethod
    def from_config(
        cls, config: ExtractorConfig, base: tuple[Any, Any] | None = None
    ) -> RequirementExtractor:
        """Build with fresh head/adapter weights; `base=(model, tokenizer)` skips loading."""

    # --- shared behaviour
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sequence_log_probs(self, codes: Sequence[str], requirements: Sequence[str]) -> torch.Tensor:
        """(batch,) sum_t log p(y_t | y_<t, code) over requirement tokens incl. EOS, with grad."""
        return self.token_log_probs(codes, requirements).values.sum(dim=-1)

    def loss(self, codes: Sequence[str], requirements: Sequence[str]) -> torch.Tensor:
        """Token-mean cross-entropy over the batch: -sum_{i,t} log p / #target tokens."""
        scored = self.token_log_probs(codes, requirements)
        return -scored.values.sum() / scored.mask.sum().clamp(min=1)

    @torch.no_grad()
    def extract_requirements(
        self,
        codes: Sequence[str],
        *,
        max_new_tokens: int = 256,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        n: int = 1,
        seed: int | None = None,
    ) -> list[str]:
        """Requirements text for each code; with n > 1, `len(codes) * n` strings grouped per code:
        result[i * n + j] is sample j of codes[i].

        Greedy (`do_sample=False`) with n > 1 repeats the same text n times. `seed` makes
        sampling reproducible and leaves the global torch RNG alone; None draws from it.
        Runs in eval mode (no dropout) and restores the previous mode afterwards.
        """
        if n < 1 or max_new_tokens < 1:
            raise ValueError(f"need n >= 1 and max_new_tokens >= 1, got n={n}, {max_new_tokens=}")
        if do_sample and temperature <= 0:
            raise ValueError(
                f"temperature must be > 0 when sampling, got {temperature}; "
                "use do_sample=False for greedy decoding"
            )
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        generator = None
        if do_sample and seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(seed)
        was_training = self.training
        self.eval()
        try:
            texts = []
            size = self.config.generation_batch_size
            for start in range(0, len(codes), size):
                ids = self._generate_ids(
                    codes[start : start + size],
                    n,
                    max_new_tokens=max_new_tokens,
                    do_sample=do_sample,
                    temperature=temperature,
                    top_p=top_p,
                    generator=generator,
                )
                texts += self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        finally:
            self.train(was_training)
        return [text.strip() for text in texts]

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters an optimizer should get (LoRA and/or decoder head)."""
        return [p for p in self.parameters() if p.requires_grad]

    def parameter_counts(self) -> tuple[int, int]:
        """(trainable, total) parameter counts; tied/shared tensors count once."""
        params = list(self.parameters())  # nn.Module.parameters() already de-duplicates
        return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)

    def save(self, directory: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
        """`extractor.json` (variant, config, your metadata e.g. step / val loss) + weights.

        The base model is referenced by `config.base_model` and not re-saved: only the head
        (safetensors) and/or the peft adapter are written.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_weights(directory)
        record = {
            "format": CHECKPOINT_FORMAT,
            "variant": self.variant,
            "config": self.config.to_dict(),
            "metadata": metadata or {},
        }
        (directory / CHECKPOINT_FILE).write_text(json.dumps(record, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> RequirementExtractor:
        """Rebuild a saved extractor: base by name, then the saved head/adapter on top."""
        directory = Path(directory)
        record = read_checkpoint_record(directory)
        config = ExtractorConfig.from_dict(record["config"])
        target = extractor_class(config.variant)
        if cls is not RequirementExtractor and not issubclass(target, cls):
            raise ValueError(
                f"{directory} holds a {config.variant!r} extractor, not a {cls.__name__}"
            )
        return target._load(config, directory)

    @staticmethod
    def checkpoint_metadata(directory: str | Path) -> dict[str, Any]:
        """The `metadata` dict passed to `save` (step, val loss, ...)."""
        return read_checkpoint_record(Path(directory))["metadata"]


def read_checkpoint_record(directory: Path) -> dict[str, Any]:
    path = directory / CHECKPOINT_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: not an extractor checkpoint (write one with extractor.save(dir))"
        )
    record = json.loads(path.read_text())
    if record.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path}: checkpoint format {record.get('format')!r}, this code reads "
            f"{CHECKPOINT_FORMAT}"
        )
    return record


# ---------------------------------------------------------------- registry

# Built-ins as "module:Class" so importing this module does not import both variants.
_REGISTRY: dict[str, str | type[RequirementExtractor]] = {
    "seed": "cetd_lib.models.seed:SeedExtractor",
    "lm": "cetd_lib.models.lm:LMExtractor",
}


def register_extractor(name: str, cls: str | type[RequirementExtractor]) -> None:
    """Add a variant (a class or a "module:Class" path) that `make_extractor` can build."""
    if name in _REGISTRY:
        raise ValueError(f"extractor variant {name!r} is already registered")
    _REGISTRY[name] = cls


def extractor_variants() -> list[str]:
    return sorted(_REGISTRY)


def extractor_class(variant: str) -> type[RequirementExtractor]:
    """The class registered as `variant`; an unknown name suggests close matches."""
    if variant not in _REGISTRY:
        close = difflib.get_close_matches(variant, _REGISTRY, n=2)
        hint = f"did you mean {close}? " if close else ""
        raise ValueError(
            f"unknown extractor variant {variant!r}; {hint}known: {extractor_variants()}"
        )
    entry = _REGISTRY[variant]
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        entry = getattr(importlib.import_module(module), name)
        _REGISTRY[variant] = entry
    return entry


def make_extractor(
    variant: str | None = None,
    config: ExtractorConfig | None = None,
    *,
    base: tuple[Any, Any] | None = None,
    **overrides: Any,
) -> RequirementExtractor:
    """Build an extractor with fresh weights: `make_extractor("lm", base_model="tiny-random")`.

    `variant` and `overrides` replace fields of `config` (default `ExtractorConfig()`).
    `base=(model, tokenizer)` reuses a loaded base instead of `load_base(config.base_model)`;
    it must be the model that name loads (checkpoints reload it by name), and it is changed
    in place (frozen, LoRA injected), so pass a copy if you still need the plain model.
    """
    config = config or ExtractorConfig()
    if variant is not None:
        overrides["variant"] = variant
    config = config.replace(**overrides)
    return extractor_class(config.variant).from_config(config, base=base)


def load_extractor(directory: str | Path) -> RequirementExtractor:
    """Load any saved extractor (the variant is read from its `extractor.json`)."""
    return RequirementExtractor.load(directory)


def load_base_for(config: ExtractorConfig, base: tuple[Any, Any] | None):
    """`base` if given, else `load_base(config.base_model, dtype=config.dtype)`."""
    if base is not None:
        return base
    from cetd_lib.models.base import load_base

    return load_base(config.base_model, dtype=config.dtype)
