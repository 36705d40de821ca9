"""The seed paper's CET_D_Phase2, corrected: a base causal LM encodes the code, an
`nn.TransformerDecoder` head writes the requirements.

What the seed got wrong and this does right:
- a causal target mask (`causal_mask`): without it position t sees target t+1 and training
  is copying, not prediction;
- a memory key padding mask from the code's attention mask: pad positions of the encoder
  output are not attended to;
- teacher forcing with a one-step shift (`shift_right`): decoder input is [BOS, y_1 .. y_{T-1}],
  labels are [y_1 .. y_{T-1}, EOS], so position t predicts the token after what it sees;
- cross-entropy ignores padding (labels -100);
- generation stops each sequence at its own EOS.

Decoder token embeddings (`decoder_embeddings`): by default the base model's input embedding
table is reused, frozen, plus a learned position table and a LayerNorm over their sum (BERT's
embedding block). The base table already places tokens meaningfully for the encoder whose
output the decoder attends to, and reusing it saves vocab x hidden trainable parameters
(28 M for SmolLM2). 'own' learns a fresh table instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from cetd_lib.models.config import ExtractorConfig
from cetd_lib.models.extractor import (
    IGNORE_INDEX,
    RequirementExtractor,
    TokenLogProbs,
    decode,
    encode_targets,
    gather_log_probs,
    load_base_for,
    pad_right,
    require_token_id,
    truncate_code,
)
from cetd_lib.models.lora import with_lora

HEAD_FILE = "head.safetensors"
ENCODER_ADAPTER_DIR = "encoder_adapter"


def causal_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    """(length, length) bool, True above the diagonal = "may not attend" (PyTorch's bool
    attn_mask convention): position t sees positions <= t only."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(diagonal=1)


def shift_right(labels: torch.Tensor, start_id: int, pad_id: int) -> torch.Tensor:
    """Teacher-forcing input: out[:, 0] = start, out[:, t] = labels[:, t-1]; -100 -> pad.

    >>> shift_right(torch.tensor([[5, 6, 2, -100]]), start_id=1, pad_id=0).tolist()
    [[1, 5, 6, 2]]
    """
    shifted = labels.new_full(labels.shape, start_id)
    shifted[:, 1:] = labels[:, :-1]
    return shifted.masked_fill(shifted == IGNORE_INDEX, pad_id)


def check_heads(hidden_size: int, heads: int, base_model: str) -> None:
    """Multi-head attention splits d_model into `heads` equal parts: heads must divide it."""
    if hidden_size % heads:
        divisors = [d for d in range(1, min(hidden_size, 64) + 1) if hidden_size % d == 0]
        raise ValueError(
            f"decoder_heads={heads} does not divide the hidden size {hidden_size} of base model "
            f"{base_model!r} ({hidden_size} / {heads} = {hidden_size / heads:.2f}); the decoder "
            f"works at the base hidden size, so set decoder_heads to a divisor of {hidden_size}: "
            f"{divisors}"
        )


class SeedDecoderHead(nn.Module):
    """Position table, optional own token table, TransformerDecoder and vocab projection.

    Holds no base-model tensors, so its state_dict is exactly what a checkpoint saves.
    """

    def __init__(self, hidden_size: int, vocab_size: int, config: ExtractorConfig) -> None:
        super().__init__()
        self.token_embedding = (
            nn.Embedding(vocab_size, hidden_size) if config.decoder_embeddings == "own" else None
        )
        self.position_embedding = nn.Embedding(config.max_target_tokens, hidden_size)
        nn.init.normal_(self.position_embedding.weight, std=0.02)
        self.embedding_norm = nn.LayerNorm(hidden_size)
        self.embedding_dropout = nn.Dropout(config.decoder_dropout)
        layer = nn.TransformerDecoderLayer(
            d_model=hidden_size,
            nhead=config.decoder_heads,
            dim_feedforward=config.decoder_feedforward,
            dropout=config.decoder_dropout,
            batch_first=True,
        )
        self.decoder = nn.TransformerDecoder(layer, num_layers=config.decoder_layers)
        if config.tie_output_embeddings:
            self.output = None
            self.output_bias = nn.Parameter(torch.zeros(vocab_size))
        else:
            self.output = nn.Linear(hidden_size, vocab_size)
            self.output_bias = None


class SeedExtractor(RequirementExtractor):
    """Encoder (base LM, frozen or LoRA) + Transformer decoder head."""

    variant = "seed"

    def __init__(
        self, config: ExtractorConfig, model, tokenizer, *, encoder_adapter: Path | None = None
    ) -> None:
        super().__init__(config, tokenizer)
        self.bos_id = require_token_id(tokenizer, "bos")
        hidden_size = model.config.hidden_size
        check_heads(hidden_size, config.decoder_heads, config.base_model)
        embeddings = model.get_input_embeddings()
        if config.encoder == "lora":
            model = with_lora(model, **config.lora_args(), adapter=encoder_adapter)
        else:
            model.requires_grad_(False)
        self.encoder = model
        self.head = SeedDecoderHead(hidden_size, embeddings.num_embeddings, config)

    @classmethod
    def from_config(cls, config: ExtractorConfig, base=None) -> SeedExtractor:
        model, tokenizer = load_base_for(config, base)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.init_seed)
            return cls(config, model, tokenizer)

    def train(self, mode: bool = True) -> SeedExtractor:
        super().train(mode)
        if self.config.encoder == "frozen":
            self.encoder.eval()  # a frozen feature extractor never runs its dropout
        return self

    # --- forward pieces
    def encode(self, codes: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder memory (batch, S, hidden) = the base's last hidden state over [BOS] + code,
        and its key padding mask (batch, S), True on padding."""
        rows = [
            [
                self.bos_id,
                *self.tokenizer(
                    truncate_code(code, self.tokenizer, self.config.max_code_tokens),
                    add_special_tokens=False,
                )["input_ids"],
            ]
            for code in codes
        ]
        input_ids = pad_right(rows, self.pad_id).to(self.device)
        attention_mask = pad_right([[1] * len(row) for row in rows], 0).to(self.device)
        # Right padding is safe here: the base is causal, so real positions never see pads.
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.config.encoder == "lora"):
            out = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                output_hidden_states=True,
                logits_to_keep=1,  # the encoder's own vocab logits are not needed
            )
        return out.hidden_states[-1], attention_mask == 0

    def decoder_states(
        self, decoder_input_ids: torch.Tensor, memory: torch.Tensor, memory_padding: torch.Tensor
    ) -> torch.Tensor:
        """(batch, T, hidden) decoder output for teacher-forced or partial inputs."""
        head = self.head
        length = decoder_input_ids.shape[1]
        if length > self.config.max_target_tokens:
            raise ValueError(
                f"decoder input of {length} tokens exceeds max_target_tokens="
                f"{self.config.max_target_tokens} (the position table size)"
            )
        table = head.token_embedding
        if table is None:
            table = self.encoder.get_input_embeddings()
        positions = torch.arange(length, device=decoder_input_ids.device)
        x = table(decoder_input_ids) + head.position_embedding(positions)
        x = head.embedding_dropout(head.embedding_norm(x))
        # No target key padding mask: targets are right-padded and the mask is causal, so a
        # real position only ever sees real positions; pad rows are dropped by the labels.
        return head.decoder(
            x,
            memory,
            tgt_mask=causal_mask(length, x.device),
            memory_key_padding_mask=memory_padding,
        )

    def vocab_logits(self, states: torch.Tensor) -> torch.Tensor:
        if self.head.output is not None:
            return self.head.output(states)
        weight = self.encoder.get_input_embeddings().weight
        return nn.functional.linear(states, weight, self.head.output_bias)

    def token_log_probs(self, codes: Sequence[str], requirements: Sequence[str]) -> TokenLogProbs:
        if len(codes) != len(requirements):
            raise ValueError(f"{len(codes)} codes but {len(requirements)} requirements")
        memory, memory_padding = self.encode(codes)
        targets = encode_targets(self.tokenizer, requirements, self.config.max_target_tokens)
        labels = pad_right(targets, IGNORE_INDEX).to(self.device)
        decoder_input_ids = shift_right(labels, self.bos_id, self.pad_id)
        logits = self.vocab_logits(self.decoder_states(decoder_input_ids, memory, memory_padding))
        return gather_log_probs(logits, labels)

    def _generate_ids(self, codes: Sequence[str], n: int, **decoding: Any) -> list[list[int]]:
        max_new_tokens = decoding["max_new_tokens"]
        if max_new_tokens > self.config.max_target_tokens:
            raise ValueError(
                f"max_new_tokens={max_new_tokens} exceeds the seed decoder's position table "
                f"(max_target_tokens={self.config.max_target_tokens}); lower max_new_tokens or "
                "train with a larger max_target_tokens"
            )
        memory, memory_padding = self.encode(codes)
        memory = memory.repeat_interleave(n, dim=0)
        memory_padding = memory_padding.repeat_interleave(n, dim=0)
        tokens = torch.full((memory.shape[0], 1), self.bos_id, dtype=torch.long, device=self.device)

        def last_logits(prefix: torch.Tensor) -> torch.Tensor:
            # No KV cache: the head is small; recomputing the prefix keeps one code path.
            states = self.decoder_states(prefix, memory, memory_padding)
            return self.vocab_logits(states[:, -1])

        def step(chosen: torch.Tensor) -> torch.Tensor:
            nonlocal tokens
            tokens = torch.cat([tokens, chosen[:, None]], dim=1)
            return last_logits(tokens)

        return decode(last_logits(tokens), step, eos_id=self.eos_id, **decoding)

    # --- checkpoints
    def _save_weights(self, directory: Path) -> None:
        state = {k: v.detach().contiguous() for k, v in self.head.state_dict().items()}
        save_file(state, str(directory / HEAD_FILE))
        if self.config.encoder == "lora":
            self.encoder.save_pretrained(directory / ENCODER_ADAPTER_DIR)

    @classmethod
    def _load(cls, config: ExtractorConfig, directory: Path) -> SeedExtractor:
        model, tokenizer = load_base_for(config, None)
        adapter = directory / ENCODER_ADAPTER_DIR if config.encoder == "lora" else None
        extractor = cls(config, model, tokenizer, encoder_adapter=adapter)
        extractor.head.load_state_dict(load_file(str(directory / HEAD_FILE)), strict=True)
        return extractor
