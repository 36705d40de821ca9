"""Generation backends behind one interface, and a registry by name.

    backend.generate(prompts, n, temperature, max_new_tokens, seed) -> list[list[str]]

returns n completions per prompt (outer list: prompts, inner: samples). `openai` seeds sample i
with `seed + i`; `hf` seeds each batch with `seed + batch start` (reproducible for the same
prompts and batch size). Registered kinds:

- `hf`: a local transformers model from `cetd_lib.models.load_base` - batched, left-padded,
  chat template, greedy or seeded sampling, stops once every expected module's code block is
  closed;
- `openai`: any OpenAI-compatible chat-completions server (vLLM, llama.cpp, TGI, ...), with
  timeouts, retries with exponential backoff and bounded concurrency (stdlib urllib);
- `oracle` / `null`: calibration. `oracle` answers with the app's original source (must score
  100%), `null` with "" (must score 0%).

Add a backend with `@register_backend("name")` on a factory `(BackendSpec) -> Backend`.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from cetd_lib.harness.config import BackendSpec
from cetd_lib.harness.prompts import Prompt

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
    """Local causal LM. Batches prompts (left padding), applies the chat template, and stops a
    row once it has closed as many code blocks as the app has modules."""

    def __init__(self, spec: BackendSpec, model: Any = None, tokenizer: Any = None) -> None:
        self.name = spec.name
        self.spec = spec
        if model is None or tokenizer is None:
            from cetd_lib.models import load_base

            model, tokenizer = load_base(spec.model, dtype=spec.dtype)
        import torch

        device = spec.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # decoder-only models continue from the right edge

    def render(self, prompt: Prompt) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                list(prompt.messages), tokenize=False, add_generation_prompt=True
            )
        return (
            "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt.messages) + "\n\nassistant:"
        )

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
        import torch
        from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

        tokenizer = self.tokenizer
        sampling = temperature > 0
        copies = n if sampling else 1  # greedy samples are identical: decode once
        outputs: list[list[str]] = []

        class FenceStop(StoppingCriteria):
            """Stop each row after its `blocks[row]`-th closing fence."""

            def __init__(self, prompt_len: int, blocks: list[int]) -> None:
                self.prompt_len = prompt_len
                self.blocks = blocks

            def __call__(self, input_ids, scores, **kwargs):
                done = []
                for row, ids in enumerate(input_ids):
                    tail = tokenizer.decode(ids[-3:], skip_special_tokens=True)
                    if "`" not in tail and "~" not in tail:
                        done.append(False)
                        continue
                    text = tokenizer.decode(ids[self.prompt_len :], skip_special_tokens=True)
                    done.append(_closed_blocks(text) >= self.blocks[row])
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
# openai: any OpenAI-compatible chat-completions server
# ---------------------------------------------------------------------------------------------

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class OpenAIBackend:
    """POST {base_url}/chat/completions, one request per sample (servers differ on `n`)."""

    def __init__(self, spec: BackendSpec) -> None:
        if not spec.base_url:
            raise BackendError(
                f"member {spec.name!r}: openai backend needs base_url "
                "(e.g. http://127.0.0.1:8000/v1)"
            )
        self.name = spec.name
        self.spec = spec
        self.url = spec.base_url.rstrip("/") + "/chat/completions"
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
