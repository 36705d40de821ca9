"""Generation backends behind one interface, and a registry by name.

    backend.generate(prompts, n, temperature, max_new_tokens, seed) -> list[list[str]]

returns n completions per prompt (outer list: prompts, inner: samples). `openai` seeds sample i
with `seed + i`; `hf` seeds each batch with `seed + batch start` (reproducible for the same
prompts and batch size). Registered kinds:

- `hf`: a local transformers model from `cetd_lib.models.load_base` - batched, left-padded,
  chat template, greedy or seeded sampling, stops once every expected module's code block is
  closed;
- `local`: the fastest local path on this host (`local_backend_choice`): hf bfloat16 or hf int8;
- `llamacpp`: a private llama.cpp server over the model's GGUF (continuous batching, quantised
  kernels), started and stopped with the backend; built by `make install`;
- `openai`: any OpenAI-compatible chat-completions server (vLLM, llama.cpp, TGI, ...), with
  timeouts, retries with exponential backoff and bounded concurrency (stdlib urllib);
- `oracle` / `null`: calibration. `oracle` answers with the app's original source (must score
  100%), `null` with "" (must score 0%).

Add a backend with `@register_backend("name")` on a factory `(BackendSpec) -> Backend`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from cetd_lib.reconstruction import llama_server
from cetd_lib.reconstruction.config import BackendSpec, OrchestraConfig
from cetd_lib.reconstruction.likelihood import AnswerScorer, register_scorer
from cetd_lib.reconstruction.prompts import Prompt

log = logging.getLogger(__name__)


class Backend(Protocol):
    name: str

    def generate(
        self,
        prompts: Sequence[Prompt],
        n: int,
        temperature: float,
        max_new_tokens: int,
        seed: int,
        *,
        top_p: float = 1.0,
    ) -> list[list[str]]: ...


class BackendError(RuntimeError):
    """A backend could not produce completions (server down, bad response, bad config)."""


_REGISTRY: dict[str, Callable[[BackendSpec], Backend]] = {}


def is_generation_failure(exc: BaseException) -> bool:
    """True for errors that say the generator failed (server gone or broken, out of memory),
    not that the caller's code is wrong: those are measured as HARNESS_ERROR, never as 0."""
    if isinstance(exc, (BackendError, llama_server.LlamaServerError, MemoryError)):
        return True
    if type(exc).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError (CUDA/MPS)
        return True
    # torch on CPU reports an allocation failure as a plain RuntimeError.
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


def generate_or_none(
    backend: Backend,
    prompts: Sequence[Prompt],
    *,
    n: int,
    temperature: float,
    max_new_tokens: int,
    seed: int,
    top_p: float = 1.0,
) -> list[list[str]] | None:
    """`backend.generate(...)`, or None (logged loudly) when generation itself failed; callers
    record the affected samples as HARNESS_ERROR, excluded from scores."""
    try:
        return backend.generate(prompts, n, temperature, max_new_tokens, seed, top_p=top_p)
    except Exception as exc:
        if not is_generation_failure(exc):
            raise
        log.error(
            "HARNESS_ERROR: member %r failed to generate %d prompt(s): %s: %s",
            getattr(backend, "name", "?"),
            len(prompts),
            type(exc).__name__,
            str(exc)[:300],
        )
        return None


def register_backend(
    kind: str,
) -> Callable[[Callable[[BackendSpec], Backend]], Callable[[BackendSpec], Backend]]:
    """Decorator: register a factory `(BackendSpec) -> Backend` under `kind`."""

    def decorate(factory: Callable[[BackendSpec], Backend]) -> Callable[[BackendSpec], Backend]:
        if kind in _REGISTRY:
            raise ValueError(f"backend kind {kind!r} is already registered")
        _REGISTRY[kind] = factory
        return factory

    return decorate


def registered_backends() -> list[str]:
    return sorted(_REGISTRY)


def make_backend(spec: BackendSpec | str) -> Backend:
    """Build a backend from a spec (or just a kind name with default settings)."""
    if isinstance(spec, str):
        spec = BackendSpec(name=spec, kind=spec)
    factory = _REGISTRY.get(spec.kind)
    if factory is None:
        close = difflib.get_close_matches(spec.kind, _REGISTRY, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown backend kind {spec.kind!r} for member {spec.name!r}{hint} "
            f"(registered: {', '.join(registered_backends())})"
        )
    return factory(spec)


def oracle_completion(prompt: Prompt) -> str:
    """The app's original modules, one named fenced block each (fence longer than any
    backtick run in the source, so the parser always finds the end)."""
    app = prompt.reference_app
    if app is None:
        raise BackendError(f"oracle backend needs prompt.reference_app ({prompt.app_id})")
    parts = []
    for name in prompt.module_names:
        source = app.sources[name]
        fence = "`" * max(3, _longest_backtick_run(source) + 1)
        parts.append(f'{fence}python title="{name}"\n{source.rstrip()}\n{fence}')
    return "\n\n".join(parts) + "\n"


def _longest_backtick_run(text: str) -> int:
    best = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        best = max(best, run)
    return best


class _FixedBackend:
    """A calibration backend: the same completion for every sample of a prompt."""

    def __init__(self, spec: BackendSpec) -> None:
        self.name = spec.name

    def completion(self, prompt: Prompt) -> str:
        raise NotImplementedError

    def generate(
        self,
        prompts: Sequence[Prompt],
        n: int,
        temperature: float,
        max_new_tokens: int,
        seed: int,
        *,
        top_p: float = 1.0,
    ) -> list[list[str]]:
        return [[self.completion(p)] * n for p in prompts]


class OracleBackend(_FixedBackend):
    def completion(self, prompt: Prompt) -> str:
        return oracle_completion(prompt)


class NullBackend(_FixedBackend):
    def completion(self, prompt: Prompt) -> str:
        return ""


register_backend("oracle")(OracleBackend)
register_backend("null")(NullBackend)


# ---------------------------------------------------------------------------------------------
# hf: local transformers model
# ---------------------------------------------------------------------------------------------


def _closed_blocks(text: str) -> int:
    """Fenced blocks opened and closed so far (``` or ~~~ lines, toggling)."""
    closed, open_fence = 0, None
    for line in text.split("\n"):
        stripped = line.strip()
        if open_fence is None:
            if stripped.startswith(("```", "~~~")):
                open_fence = stripped[:3]
        elif stripped.startswith(open_fence) and not stripped.strip(open_fence[0]):
            closed += 1
            open_fence = None
    return closed


class HFBackend:
    """Local causal LM. Applies the chat template and stops a row once it has closed as many code
    blocks as the app has modules.

    `decode_loop: pruned` (default) sorts prompts by length, batches them and drops each row from
    the batch when it stops (cetd_lib.models.generation); `transformers` is `model.generate` on
    fixed batches in the callers' order, kept as the reference and for models whose cache cannot
    drop rows.
    """

    def __init__(self, spec: BackendSpec, model: Any = None, tokenizer: Any = None) -> None:
        import torch

        from cetd_lib.models.generation import apply_thread_policy, resolve_dtype

        self.name = spec.name
        self.spec = spec
        device = spec.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.dtype = resolve_dtype(spec.dtype, device)
        if self.dtype == "int8" and device != "cpu":
            raise BackendError(f"member {spec.name!r}: dtype 'int8' runs on the CPU only")
        self.threads = apply_thread_policy(spec.threads)
        if model is None or tokenizer is None:
            from cetd_lib.models import load_base

            model, tokenizer = load_base(spec.model, dtype=self.dtype)
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
        from cetd_lib.models.generation import PrefixStore

        self.prefixes = PrefixStore()  # the shared chat prefix's cache, kept across calls

    def render(self, prompt: Prompt) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                list(prompt.messages), tokenize=False, add_generation_prompt=True
            )
        return (
            "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt.messages) + "\n\nassistant:"
        )

    def _fences_closed(self, ids: Sequence[int], blocks: int) -> bool:
        """True once `ids` has closed `blocks` code blocks (decodes the row only when its last
        tokens hold a fence character)."""
        tail = self.tokenizer.decode(ids[-3:], skip_special_tokens=True)
        if "`" not in tail and "~" not in tail:
            return False
        return _closed_blocks(self.tokenizer.decode(ids, skip_special_tokens=True)) >= blocks

    def generate(
        self,
        prompts: Sequence[Prompt],
        n: int,
        temperature: float,
        max_new_tokens: int,
        seed: int,
        *,
        top_p: float = 1.0,
    ) -> list[list[str]]:
        if self.spec.decode_loop == "transformers":
            return self._generate_transformers(prompts, n, temperature, max_new_tokens, seed, top_p)
        from cetd_lib.models.generation import Row, generate_batched

        sampling = temperature > 0
        copies = n if sampling else 1  # greedy samples are identical: decode once
        rows, blocks = [], []
        for prompt in prompts:
            text = self.render(prompt)
            for sample in range(copies):
                rows.append(Row(text, seed + sample))  # sample i uses seed + i, as `openai`
                blocks.append(max(1, len(prompt.module_names)))
        ids = generate_batched(
            self.model,
            self.tokenizer,
            rows,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            batch_size=max(1, self.spec.batch_size),
            max_batch_tokens=self.spec.max_batch_tokens,
            sort_by_length=self.spec.sort_by_length,
            stop=lambda row, row_ids: self._fences_closed(row_ids, blocks[row]),
            progress=f"{self.spec.name}: {len(rows)} rebuilds",
            share_prefix=self.spec.share_prefix,
            prefill_chunk_tokens=self.spec.prefill_chunk_tokens,
            prefixes=self.prefixes,
        )
        texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        outputs = []
        for p in range(len(prompts)):
            samples = texts[p * copies : (p + 1) * copies]
            outputs.append(samples if sampling else samples * n)
        return outputs

    def score(self, prompts: Sequence[Prompt], answers: Sequence[str]) -> list[float]:
        """Mean log-prob per answer token under this model (teacher-forced, models.scoring)."""
        from cetd_lib.models.scoring import TeacherForcedScorer

        scorer = TeacherForcedScorer(self.model, self.tokenizer)
        scorer.prefixes = self.prefixes  # same weights: one store for both passes
        return scorer.score(prompts, answers)

    def _generate_transformers(
        self,
        prompts: Sequence[Prompt],
        n: int,
        temperature: float,
        max_new_tokens: int,
        seed: int,
        top_p: float,
    ) -> list[list[str]]:
        """`model.generate` on fixed batches; each batch is seeded with `seed + batch start`."""
        import torch
        from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

        tokenizer = self.tokenizer
        sampling = temperature > 0
        copies = n if sampling else 1
        outputs: list[list[str]] = []
        fences_closed = self._fences_closed

        class FenceStop(StoppingCriteria):
            """Stop each row after its `blocks[row]`-th closing fence."""

            def __init__(self, prompt_len: int, blocks: list[int]) -> None:
                self.prompt_len = prompt_len
                self.blocks = blocks

            def __call__(self, input_ids, scores, **kwargs):
                done = [
                    fences_closed(ids[self.prompt_len :].tolist(), self.blocks[row])
                    for row, ids in enumerate(input_ids)
                ]
                return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

        batch_size = max(1, self.spec.batch_size)
        for start in range(0, len(prompts), batch_size):
            batch = list(prompts[start : start + batch_size])
            encoded = tokenizer(
                [self.render(p) for p in batch],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(self.device)
            prompt_len = encoded["input_ids"].shape[1]
            blocks = [max(1, len(p.module_names)) for p in batch for _ in range(copies)]
            config = GenerationConfig(
                max_new_tokens=max_new_tokens,
                do_sample=sampling,
                temperature=temperature if sampling else None,
                top_p=top_p if sampling else None,
                top_k=None,
                num_return_sequences=copies,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            torch.manual_seed(seed + start)  # one seed per batch: rows share the generator
            with torch.no_grad():
                generated = self.model.generate(
                    **encoded,
                    generation_config=config,
                    stopping_criteria=StoppingCriteriaList([FenceStop(prompt_len, blocks)]),
                )
            texts = tokenizer.batch_decode(generated[:, prompt_len:], skip_special_tokens=True)
            for row in range(len(batch)):
                samples = texts[row * copies : (row + 1) * copies]
                outputs.append(samples if sampling else samples * n)
        return outputs


@register_backend("hf")
def _make_hf(spec: BackendSpec) -> Backend:
    return HFBackend(spec)


# ---------------------------------------------------------------------------------------------
# llamacpp: a private llama-server (continuous batching over the GGUF)
# ---------------------------------------------------------------------------------------------


class LlamaCppBackend:
    """Orchestra member served by a private `llama-server` over the model's GGUF
    (reconstruction.llama_server): continuous batching across `concurrency` slots, prompts rendered
    and tokenised by the model's own tokenizer, as `hf` renders them."""

    def __init__(
        self, spec: BackendSpec, tokenizer: Any = None, *, server_args: tuple[str, ...] = ()
    ) -> None:
        from cetd_lib.models import load_tokenizer

        binary = llama_server.require_binary()  # before any loading: the fallback decides on it
        self.name = spec.name
        self.spec = spec
        gguf = llama_server.gguf_for(spec.model)
        if tokenizer is None:
            if spec.model.endswith(".gguf"):
                from transformers import AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            else:
                tokenizer = load_tokenizer(spec.model)
        self.tokenizer = tokenizer
        self.threads = spec.threads or os.cpu_count() or 1
        self.parallel = max(1, spec.concurrency)
        self.server = llama_server.LlamaServer(
            gguf,
            parallel=self.parallel,
            slot_context=spec.slot_context_tokens,
            threads=self.threads,
            binary=binary,
            extra_args=server_args,
        )
        self._scorer = None
        self._lock = threading.Lock()

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        """The chat-templated prompt as token ids: the same input the `hf` backend decodes."""
        ids = self.tokenizer.apply_chat_template(
            list(prompt.messages), tokenize=True, add_generation_prompt=True
        )
        return list(ids["input_ids"] if hasattr(ids, "keys") else ids)  # BatchEncoding or list

    def generate(
        self,
        prompts: Sequence[Prompt],
        n: int,
        temperature: float,
        max_new_tokens: int,
        seed: int,
        *,
        top_p: float = 1.0,
    ) -> list[list[str]]:
        sampling = temperature > 0
        copies = n if sampling else 1  # greedy samples are identical: decode once
        tasks = [(i, s) for i in range(len(prompts)) for s in range(copies)]
        encoded = [self.prompt_ids(p) for p in prompts]

        def run(task: tuple[int, int]) -> str:
            i, s = task
            blocks = max(1, len(prompts[i].module_names))
            body = {
                "prompt": encoded[i],
                "n_predict": max_new_tokens,
                "temperature": temperature,
                "seed": seed + s,  # sample i uses seed + i, as the other backends
                "cache_prompt": True,
                # hf semantics: greedy is argmax; sampling is temperature + nucleus only.
                "top_k": 0,
                "min_p": 0.0,
                "top_p": top_p if sampling else 1.0,
                "repeat_penalty": 1.0,
            }
            return self.server.stream_completion(
                body,
                timeout=self.spec.request_timeout_s,
                stop_when=lambda text: _closed_blocks(text) >= blocks,
            )

        if self.server.process.poll() is not None:
            raise BackendError(f"{self.name}: llama-server has exited: {self.server.log_tail()}")
        with ThreadPoolExecutor(self.parallel) as executor:
            texts = list(executor.map(run, tasks))  # map keeps the callers' order
        outputs = []
        for i in range(len(prompts)):
            samples = texts[i * copies : (i + 1) * copies]
            outputs.append(samples if sampling else samples * n)
        return outputs

    def score(self, prompts: Sequence[Prompt], answers: Sequence[str]) -> list[float]:
        """Mean log-prob per answer token, through the same weights in torch."""
        with self._lock:
            if self._scorer is None:
                from cetd_lib.models.scoring import TeacherForcedScorer

                self._scorer = TeacherForcedScorer.load(self.spec.model, dtype=self.spec.dtype)
        return self._scorer.score(prompts, answers)

    def close(self) -> None:
        self.server.close()


@register_backend("llamacpp")
def _make_llamacpp(spec: BackendSpec) -> Backend:
    """llama-server where it is built; otherwise, loudly, the `hf` backend on the same model."""
    try:
        return LlamaCppBackend(spec)
    except llama_server.ServerNotInstalledError as exc:
        log.error(
            "member %r: %s. FALLING BACK to the hf backend for %s (same model, slower; its "
            "completions are not token-identical to llama.cpp's).",
            spec.name,
            exc,
            spec.model,
        )
        return HFBackend(spec)


def local_backend_choice(flags: frozenset[str] | None = None) -> tuple[str, str]:
    """(kind, dtype) of the fastest local CPU path for this host, as measured for
    Qwen2.5-Coder-0.5B (`benchmarks/orchestra.py`, `benchmarks/orchestra_candidates.py`): `hf`
    in bfloat16 where the CPU has native bf16 (2.6x its float32 on an avx512_bf16 host), `hf`
    with torch dynamic int8 elsewhere (AVX2 emulation: 2.34x float32 where llama.cpp was 1.19x;
    with the chunked prompt pass 2.46x at -1.6 points on a quiet host; docs/serving.md)."""
    from cetd_lib.models.generation import resolve_dtype

    if resolve_dtype("auto", "cpu", flags) == "bfloat16":
        return "hf", "bfloat16"
    return "hf", "int8"


def int8_supported() -> bool:
    """torch has the fbgemm engine that dtype 'int8' runs on (x86 builds)."""
    import torch

    return bool({"x86", "fbgemm"} & set(torch.backends.quantized.supported_engines))


@register_backend("local")
def _make_local(spec: BackendSpec) -> Backend:
    kind, dtype = local_backend_choice()
    if spec.dtype != "auto":
        dtype = spec.dtype  # an explicit dtype in params wins
    if dtype == "int8" and not int8_supported():
        import torch

        log.error(
            "member %r: kind 'local' wants hf int8 on this host but torch has no fbgemm engine "
            "(%s). FALLING BACK to llamacpp (slower; completions are not token-identical).",
            spec.name,
            ", ".join(torch.backends.quantized.supported_engines),
        )
        kind, dtype = "llamacpp", spec.dtype
    log.info(
        "member %r: kind 'local' resolves to %r (dtype %s) on this host", spec.name, kind, dtype
    )
    return make_backend(dataclasses.replace(spec, kind=kind, dtype=dtype))


@register_scorer("teacher_forced")
def _teacher_forced_judge(backend: Backend) -> AnswerScorer:
    """The member's own weights as the likelihood judge (`hf` and `llamacpp` members; the
    latter scores in torch, models.scoring)."""
    if not callable(getattr(backend, "score", None)):
        raise BackendError(
            f"member {getattr(backend, 'name', '?')!r} ({type(backend).__name__}) cannot score "
            "answers: teacher_forced needs an hf, llamacpp or local member"
        )
    return backend


# ---------------------------------------------------------------------------------------------
# openai: any OpenAI-compatible chat-completions server
# ---------------------------------------------------------------------------------------------

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class OpenAIBackend:
    """POST {base_url}/chat/completions, one request per sample (servers differ on `n`)."""

    def __init__(self, spec: BackendSpec) -> None:
        base_url = spec.base_url
        if spec.base_url_env:
            base_url = os.environ.get(spec.base_url_env, "") or base_url
            if not base_url:
                raise BackendError(
                    f"member {spec.name!r}: environment variable {spec.base_url_env} (named by "
                    "base_url_env) is not set and base_url is empty; export it, e.g. "
                    f"{spec.base_url_env}=http://127.0.0.1:8000/v1 (docs/serving.md)"
                )
        if not base_url:
            raise BackendError(
                f"member {spec.name!r}: openai backend needs base_url "
                "(e.g. http://127.0.0.1:8000/v1) or base_url_env"
            )
        self.name = spec.name
        self.spec = spec
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = ""
        if spec.api_key_env:
            if spec.api_key_env not in os.environ:
                raise BackendError(
                    f"member {spec.name!r}: environment variable {spec.api_key_env} (named by "
                    "api_key_env) is not set; export it or set api_key_env: ''"
                )
            self._api_key = os.environ[spec.api_key_env]

    def generate(
        self,
        prompts: Sequence[Prompt],
        n: int,
        temperature: float,
        max_new_tokens: int,
        seed: int,
        *,
        top_p: float = 1.0,
    ) -> list[list[str]]:
        tasks = [(i, s) for i in range(len(prompts)) for s in range(n)]
        outputs: list[list[str]] = [[""] * n for _ in prompts]

        def run(task: tuple[int, int]) -> tuple[int, int, str]:
            i, s = task
            return i, s, self.complete(prompts[i], temperature, max_new_tokens, seed + s, top_p)

        with ThreadPoolExecutor(max(1, self.spec.concurrency)) as executor:
            for i, s, text in executor.map(run, tasks):
                outputs[i][s] = text
        return outputs

    def complete(
        self, prompt: Prompt, temperature: float, max_new_tokens: int, seed: int, top_p: float = 1.0
    ) -> str:
        body = {
            "model": self.spec.model,
            "messages": list(prompt.messages),
            "temperature": temperature,
            "max_tokens": max_new_tokens,
            "seed": seed,
        }
        if temperature > 0:
            body["top_p"] = top_p
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        last_error = ""
        for attempt in range(self.spec.max_retries + 1):
            if attempt:
                delay = self.spec.backoff_s * 2 ** (attempt - 1)
                log.warning(
                    "%s: retry %d in %.1f s after %s", self.name, attempt, delay, last_error
                )
                time.sleep(delay)
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.spec.request_timeout_s) as resp:
                    payload = json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:300].decode("utf-8", "replace")
                if exc.code not in _RETRY_STATUS:
                    raise BackendError(
                        f"{self.name}: HTTP {exc.code} from {self.url}: {detail}"
                    ) from None
                last_error = f"HTTP {exc.code}"
                continue
            except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                continue
            try:
                return payload["choices"][0]["message"]["content"] or ""
            except (KeyError, IndexError, TypeError):
                raise BackendError(
                    f"{self.name}: unexpected response shape from {self.url}: "
                    f"{json.dumps(payload)[:300]}"
                ) from None
        raise BackendError(
            f"{self.name}: {self.url} failed after {self.spec.max_retries + 1} attempts "
            f"({last_error})"
        )


register_backend("openai")(OpenAIBackend)


def build_orchestra(orchestra: OrchestraConfig) -> dict[str, Backend]:
    """One ready backend per member, so several evaluations share loaded models."""
    return {spec.name: make_backend(spec) for spec in orchestra.members}
