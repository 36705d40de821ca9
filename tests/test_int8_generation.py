"""dtype 'int8': torch dynamic int8 quantisation of the hf path (the AVX2-host winner of
benchmarks/orchestra_candidates.py), on the tiny random model."""

from __future__ import annotations

import pytest
import torch

from cetd_lib.reconstruction.backends import BackendError, HFBackend
from cetd_lib.reconstruction.config import BackendSpec


@pytest.fixture(scope="module")
def int8_base():
    from cetd_lib.models import load_base

    return load_base("tiny-random", dtype="int8")


def test_every_linear_is_int8_and_the_logits_stay_close(int8_base, tiny_base):
    model, tokenizer = int8_base
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    quantized = [
        m for m in model.modules() if type(m).__module__.endswith("dynamic.modules.linear")
    ]
    assert not linears, f"float Linear left: {linears[:2]}"
    assert len(quantized) == 2 * 7 + 1  # q k v o gate up down per layer, and lm_head
    assert quantized[0].weight().dtype == torch.qint8
    ids = tokenizer("def add(a, b): return a + b", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        ref = tiny_base[0](ids).logits
        got = model(ids).logits
    assert not torch.equal(ref, got)  # really another path
    assert torch.allclose(ref, got, atol=0.05 * ref.abs().max().item())


TEXTS = [
    "short",
    "a considerably longer prompt with many more tokens in it than the others have " * 3,
    "medium length prompt here",
    "x",
    "another prompt of some middling size, longer than medium",
]


def test_completions_come_back_in_the_callers_order(int8_base):
    from cetd_lib.models.generation import Row, generate_batched

    model, tokenizer = int8_base
    tokenizer.padding_side = "left"
    rows = [Row(t, 0) for t in TEXTS]
    forward = generate_batched(model, tokenizer, rows, max_new_tokens=6, batch_size=8)
    backward = generate_batched(model, tokenizer, rows[::-1], max_new_tokens=6, batch_size=8)
    assert len({tuple(ids) for ids in forward}) > 2  # rows differ: a mix-up would show
    assert forward == backward[::-1]  # one batch either way, rows sorted by length inside


def test_int8_is_cpu_only(int8_base):
    model, tokenizer = int8_base
    spec = BackendSpec(name="q", model="tiny-random", dtype="int8", device="cuda")
    with pytest.raises(BackendError, match="CPU only"):
        HFBackend(spec, model=model, tokenizer=tokenizer)


AVX2_ONLY = frozenset({"avx", "avx2", "fma", "f16c"})


def test_local_runs_hf_int8_on_an_avx2_only_host(monkeypatch):
    from cetd_lib.models import generation
    from cetd_lib.reconstruction.backends import make_backend

    monkeypatch.setattr(generation, "cpu_flags", lambda: AVX2_ONLY)
    backend = make_backend(BackendSpec(name="coder", kind="local", model="tiny-random"))
    assert isinstance(backend, HFBackend) and backend.dtype == "int8"
    assert not any(isinstance(m, torch.nn.Linear) for m in backend.model.modules())
    explicit = BackendSpec(name="coder", kind="local", model="tiny-random", dtype="float32")
    assert make_backend(explicit).dtype == "float32"  # an explicit dtype in params wins


def test_local_without_fbgemm_falls_back_loudly(monkeypatch, tmp_path, caplog):
    import logging

    from cetd_lib.models import generation
    from cetd_lib.reconstruction import backends, llama_server

    monkeypatch.setattr(generation, "cpu_flags", lambda: AVX2_ONLY)
    monkeypatch.setattr(backends, "int8_supported", lambda: False)
    monkeypatch.setattr(llama_server, "server_binary", lambda: tmp_path / "absent")
    with caplog.at_level(logging.ERROR, logger="cetd_lib.reconstruction.backends"):
        backend = backends.make_backend(BackendSpec(name="c", kind="local", model="tiny-random"))
    assert "no fbgemm engine" in caplog.text and "FALLING BACK to llamacpp" in caplog.text
    assert isinstance(backend, HFBackend) and backend.dtype == "float32"  # llamacpp's own fallback
