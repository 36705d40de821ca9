"""Configuration of the reconstruction loop (the `orchestra:` section): plain frozen
dataclasses, no heavy imports.

`cetd_lib.params` builds these from YAML; every field has a default and a help string. Derived
checks live in `__post_init__` and say how to fix a value. The sandbox's settings (`harness:`)
live in `cetd_lib.sandbox.config`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cetd_lib.config_field import help_field


@dataclass(frozen=True)
class BackendSpec:
    """One orchestra member: which backend generates reconstructions, and how."""

    name: str = help_field(
        "Label of this member in results (unique within an orchestra).", default="smollm2"
    )
    kind: str = help_field(
        "Registered backend: 'hf' (local transformers model), 'llamacpp' (a private "
        "llama-server over the packaged GGUF, built by make install; docs/serving.md), 'local' "
        "(hf in bfloat16 on CPUs with native bf16, else llamacpp: the measured winner), 'openai' "
        "(OpenAI-compatible HTTP server), 'oracle' (original source: must score 100%), 'null' "
        "(empty: 0%).",
        default="hf",
    )
    model: str = help_field(
        "hf: a name for cetd_lib.models.load_base ('smollm2-135m-instruct', "
        "'qwen2.5-coder-0.5b-instruct', 'tiny-random', a directory); llamacpp: a packaged "
        "model name or a .gguf file; openai: the model id the server expects.",
        default="smollm2-135m-instruct",
    )
    base_url: str = help_field("openai: server root, e.g. http://127.0.0.1:8000/v1.", default="")
    base_url_env: str = help_field(
        "openai: NAME of an environment variable holding the server root; it overrides base_url "
        "when set, so one params file serves machines whose servers live at different "
        "addresses (params/full.yaml, docs/serving.md).",
        default="",
    )
    api_key_env: str = help_field(
        "openai: NAME of the environment variable holding the API key ('' = no key). The key "
        "itself never goes into configs or run records.",
        default="",
    )
    request_timeout_s: float = help_field(
        "openai, llamacpp: timeout of one HTTP request.", default=120.0
    )
    max_retries: int = help_field(
        "openai: retries on connection errors, 429 and 5xx, with exponential backoff.",
        default=4,
    )
    backoff_s: float = help_field("openai: first backoff delay; doubles per retry.", default=1.0)
    concurrency: int = help_field(
        "openai: requests in flight at once; llamacpp: the server's parallel slots (sequences "
        "decoded together by continuous batching).",
        default=4,
    )
    slot_context_tokens: int = help_field(
        "llamacpp: context of one slot (prompt + completion tokens); the server allocates "
        "concurrency x this.",
        default=4096,
    )
    batch_size: int = help_field(
        "hf: rows decoded together (prompts x samples). On 2 CPU cores, SmolLM2, 40 HumanEval "
        "prompts: 2.42 s/rebuild at 40, 2.69 at 64, 3.04 at 24 (benchmarks/orchestra.py "
        "--sweep); the seed's GPU runs use vLLM instead.",
        default=40,
    )
    max_batch_tokens: int = help_field(
        "hf: cap on rows x longest prompt tokens in one batch (0 = no cap): long prompts get "
        "smaller batches instead of exhausting memory in the prompt pass.",
        default=16384,
    )
    sort_by_length: bool = help_field(
        "hf: batch prompts of similar token length together (less padding); results come back "
        "in the callers' order either way.",
        default=True,
    )
    share_prefix: bool = help_field(
        "hf (pruned loop): the chat prefix every prompt shares (system message, template head) "
        "runs once per model and its cache is expanded to every row; false runs every prompt "
        "whole (the reference).",
        default=True,
    )
    prefill_chunk_tokens: int = help_field(
        "hf (pruned loop): the prompt pass runs in length-sorted chunks of at most this many "
        "tokens (rows x longest suffix), each padded only to its own longest row (0 = the whole "
        "batch in one pass, padded to its longest prompt).",
        default=2048,
    )
    decode_loop: Literal["pruned", "transformers"] = help_field(
        "hf: 'pruned' drops each row from the batch once it stops (its code blocks closed, EOS); "
        "'transformers' is model.generate on fixed batches (every row runs until the longest "
        "one ends): the reference, and the fallback for caches that cannot drop rows.",
        default="pruned",
    )
    threads: int = help_field(
        "hf: torch intra-op threads; llamacpp: server threads; 0 = one per core.", default=0
    )
    device: str = help_field("hf: 'cpu', 'cuda' or 'auto'.", default="cpu")
    dtype: str = help_field(
        "hf: weights dtype; 'auto' = bfloat16 on a GPU or on a CPU with native bf16 "
        "(AVX512-BF16/AMX), float32 elsewhere (emulated bf16 is slower than float32); "
        "'int8' = float32 weights quantised to int8 at load, activations per call (torch "
        "dynamic quantisation, CPU only).",
        default="auto",
    )

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(
                f"member {self.name!r}: batch_size must be >= 1, got {self.batch_size}"
            )
        if self.max_batch_tokens < 0:
            raise ValueError(
                f"member {self.name!r}: max_batch_tokens must be >= 0 (0 = no cap), "
                f"got {self.max_batch_tokens}"
            )
        if self.slot_context_tokens < 256:
            raise ValueError(
                f"member {self.name!r}: slot_context_tokens must be >= 256, "
                f"got {self.slot_context_tokens}"
            )
        if self.threads < 0:
            raise ValueError(f"member {self.name!r}: threads must be >= 0, got {self.threads}")
        if self.prefill_chunk_tokens < 0:
            raise ValueError(
                f"member {self.name!r}: prefill_chunk_tokens must be >= 0 (0 = one pass), "
                f"got {self.prefill_chunk_tokens}"
            )
        if self.decode_loop not in ("pruned", "transformers"):
            raise ValueError(
                f"member {self.name!r}: decode_loop must be 'pruned' or 'transformers', "
                f"got {self.decode_loop!r}"
            )


@dataclass(frozen=True)
class OrchestraConfig:
    """Reconstruction: which members rebuild each app from its requirements, and sampling."""

    members: tuple[BackendSpec, ...] = help_field(
        "Backends that each rebuild every app; scores are reported per member and averaged.",
        default=(BackendSpec(),),
    )
    n_samples: int = help_field(
        "Reconstructions per app per member; pass@k needs n >= k (Chen et al. 2021).", default=1
    )
    temperature: float = help_field("0 = greedy; > 0 samples (seeded).", default=0.0)
    top_p: float = help_field("Nucleus sampling mass when temperature > 0.", default=0.95)
    max_new_tokens: int = help_field(
        "Generation cap per reconstruction (CPU generation dominates the loop).", default=512
    )
    seed: int = help_field("Seeds sampling; sample i of an app uses seed + i.", default=42)
    k_values: tuple[int, ...] = help_field("pass@k reported for each k <= n_samples.", default=(1,))
    gold_filter: Literal["original_passing", "all"] = help_field(
        "'original_passing': only tests that pass on the app's original code count.",
        default="original_passing",
    )
    prompt_version: Literal["reconstruct-v1", "reconstruct-v2"] = help_field(
        "Reconstruction prompt (harness/prompts.py): 'reconstruct-v2' also shows the app's "
        "public API as signatures only (what its tests import), the same for every sample, so "
        "the pass rate moves with what the requirements add; 'reconstruct-v1' shows the "
        "requirements and module names only (the prompt of study v1, docs/study.md).",
        default="reconstruct-v2",
    )

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("orchestra.members is empty: list at least one backend")
        names = [m.name for m in self.members]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"orchestra.members: duplicate name {duplicates[0]!r}; give each member a "
                "unique name"
            )
        if self.n_samples < 1:
            raise ValueError(f"orchestra.n_samples must be >= 1, got {self.n_samples}")
        if self.temperature < 0:
            raise ValueError(f"orchestra.temperature must be >= 0, got {self.temperature}")
        if self.n_samples > 1 and self.temperature == 0:
            raise ValueError(
                "orchestra.n_samples > 1 with temperature 0 gives identical greedy samples; "
                "set temperature > 0 (e.g. 0.8) or n_samples: 1"
            )
        if any(k < 1 for k in self.k_values):
            raise ValueError(f"orchestra.k_values must be >= 1, got {self.k_values}")
