"""The fast `hf` generation path: dtype choice, length-sorted batches, dropped rows, faults."""

from __future__ import annotations

import dataclasses
import math
import os

import pytest
import torch

from cetd_lib.apps.app import App
from cetd_lib.models.generation import Row, cpu_flags, generate_batched, resolve_dtype
from cetd_lib.reconstruction.backends import BackendError, HFBackend, generate_or_none
from cetd_lib.reconstruction.config import BackendSpec, OrchestraConfig
from cetd_lib.reconstruction.prompts import build_prompt
from cetd_lib.reconstruction.reconstruct import reconstruct
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.failures import FailureClass

# ---- dtype: auto ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "device", "expected"),
    [
        ({"avx2", "fma"}, "cpu", "float32"),  # AVX2-only EPYC: bf16 would be emulated
        ({"avx512f", "avx512_bf16"}, "cpu", "bfloat16"),
        ({"amx_tile", "amx_bf16"}, "cpu", "bfloat16"),
        (set(), "cuda", "bfloat16"),
        (set(), "cuda:1", "bfloat16"),
    ],
)
def test_auto_dtype_is_bf16_only_where_native(flags, device, expected):
    assert resolve_dtype("auto", device, frozenset(flags)) == expected


def test_an_explicit_dtype_is_kept():
    assert resolve_dtype("float16", "cpu", frozenset()) == "float16"
    assert resolve_dtype("float32", "cuda", frozenset({"amx_bf16"})) == "float32"


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nflags\t: other\n")
    assert cpu_flags(info) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


# ---- the pruned decoding loop on the tiny random Llama ---------------------------------------


@pytest.fixture(scope="module")
def tiny():
    from cetd_lib.models import load_base

    model, tokenizer = load_base("tiny-random")
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model, tokenizer


TEXTS = [
    "short",
    "a considerably longer prompt with many more tokens in it than the others have " * 3,
    "medium length prompt here",
    "x",
    "another prompt of some middling size, longer than medium",
]


def test_length_sorted_batches_return_rows_in_callers_order(tiny):
    """Each row's greedy text is what it gets decoded alone, whatever batch it lands in."""
    model, tokenizer = tiny
    rows = [Row(t, 0) for t in TEXTS]
    batched = generate_batched(model, tokenizer, rows, max_new_tokens=6, batch_size=2)
    alone = [generate_batched(model, tokenizer, [r], max_new_tokens=6)[0] for r in rows]
    assert batched == alone
    unsorted = generate_batched(
        model, tokenizer, rows, max_new_tokens=6, batch_size=2, sort_by_length=False
    )
    assert unsorted == alone


def test_pruned_greedy_equals_transformers_generate(tiny):
    model, tokenizer = tiny
    app = App("a", {"m.py": "x = 1\n"}, {"test_m.py": "def test_x():\n    pass\n"}, ("x is 1",))
    prompts = [build_prompt(app, [t]) for t in TEXTS]
    spec = BackendSpec(name="t", kind="hf", model="tiny-random", dtype="float32", batch_size=2)
    pruned = HFBackend(spec, model=model, tokenizer=tokenizer)
    reference = HFBackend(
        BackendSpec(**{**spec.__dict__, "decode_loop": "transformers"}),
        model=model,
        tokenizer=tokenizer,
    )
    assert pruned.generate(prompts, 1, 0.0, 8, 0) == reference.generate(prompts, 1, 0.0, 8, 0)


def test_a_stopped_row_leaves_the_batch(tiny):
    """After row 0 stops at its 2nd token, every later forward step runs on fewer rows."""
    model, tokenizer = tiny
    widths: list[int] = []
    handle = model.register_forward_pre_hook(
        lambda module, args, kwargs: widths.append(kwargs["input_ids"].shape[0]),
        with_kwargs=True,
    )
    try:
        ids = generate_batched(
            model,
            tokenizer,
            [Row(t, 0) for t in TEXTS[:3]],
            max_new_tokens=6,
            batch_size=3,
            sort_by_length=False,
            stop=lambda row, row_ids: row == 0 and len(row_ids) == 2,
        )
    finally:
        handle.remove()
    assert len(ids[0]) == 2 and len(ids[1]) == len(ids[2]) == 6
    assert widths[:2] == [3, 3] and set(widths[2:]) == {2}


def test_a_sampled_row_does_not_depend_on_its_batch(tiny):
    model, tokenizer = tiny
    rows = [Row(TEXTS[0], 11), Row(TEXTS[1], 12), Row(TEXTS[2], 13)]
    sample = dict(max_new_tokens=6, temperature=1.0, top_p=0.95)
    together = generate_batched(model, tokenizer, rows, batch_size=3, **sample)
    alone = generate_batched(model, tokenizer, rows[1:2], **sample)
    assert together[1] == alone[0]
    other_seed = generate_batched(model, tokenizer, [Row(TEXTS[1], 99)], **sample)
    assert other_seed[0] != alone[0]


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size"):
        BackendSpec(batch_size=0)
    with pytest.raises(ValueError, match="decode_loop"):
        BackendSpec(decode_loop="vllm")


# ---- faults: a failed generation is a HARNESS_ERROR, never a 0 -------------------------------

APP = App(
    "one",
    {"m.py": "def f():\n    return 1\n"},
    {"test_m.py": "from m import f\n\ndef test_f():\n    assert f() == 1\n"},
    ("f() returns 1.",),
)


class Failing:
    def __init__(self, error: BaseException) -> None:
        self.name = "down"
        self.error = error

    def generate(self, prompts, n, temperature, max_new_tokens, seed, *, top_p=1.0):
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        BackendError("http://127.0.0.1:9/v1 failed after 5 attempts"),
        MemoryError(),
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 GB"),
    ],
)
def test_a_generation_failure_is_a_harness_error_not_a_zero(error):
    orchestra = OrchestraConfig(
        members=(BackendSpec(name="down", kind="null"), BackendSpec(name="oracle", kind="oracle"))
    )
    result = reconstruct(
        [APP],
        orchestra,
        HarnessConfig(cache=False),
        backends={"down": Failing(error)},
        cache=None,
    )
    down = [r for r in result.records if r.member == "down"]
    assert len(down) == 1 and math.isnan(down[0].score.pass_rate)
    assert down[0].score.failure_counts == {FailureClass.HARNESS_ERROR.value: 1}
    oracle = [r for r in result.records if r.member == "oracle"]
    assert oracle[0].score.pass_rate == 1.0
    assert result.score.mean == 1.0  # the failed member is left out, not averaged in as 0


def test_a_bug_in_the_caller_is_not_swallowed():
    with pytest.raises(ValueError, match="a real bug"):
        generate_or_none(
            Failing(ValueError("a real bug")),
            [build_prompt(APP)],
            n=1,
            temperature=0.0,
            max_new_tokens=8,
            seed=0,
        )


def test_batches_respect_the_row_and_token_caps():
    from cetd_lib.models.generation import _batches

    lengths = [100, 90, 50, 40, 10]
    assert _batches([0, 1, 2, 3, 4], lengths, 2, 0) == [[0, 1], [2, 3], [4]]
    # Cap 150 tokens: 2 x 100 and 2 x 90 are over it, so rows 0 and 1 go alone; 3 x 50 fits.
    assert _batches([0, 1, 2, 3, 4], lengths, 8, 150) == [[0], [1], [2, 3, 4]]
    assert _batches([0], [10_000], 8, 150) == [[0]]  # a row longer than the cap still runs


def test_a_shared_prompt_prefix_is_run_once(tiny):
    """Rows sharing a long prefix: the prefix runs once (batch 1), then only the suffixes;
    the greedy text is the same as decoding each row alone."""
    model, tokenizer = tiny
    prefix = "You are an expert Python programmer who writes complete modules. " * 3
    rows = [Row(prefix + t, 0) for t in TEXTS[:3]]
    widths: list[tuple[int, int]] = []
    handle = model.register_forward_pre_hook(
        lambda module, args, kwargs: widths.append(tuple(kwargs["input_ids"].shape)),
        with_kwargs=True,
    )
    try:
        together = generate_batched(model, tokenizer, rows, max_new_tokens=5, batch_size=3)
    finally:
        handle.remove()
    shared = len(tokenizer(prefix, add_special_tokens=False)["input_ids"])
    assert widths[0][0] == 1 and widths[0][1] >= shared - 1  # the prefix, once
    assert widths[1][0] == 3 and widths[1][1] < max(
        len(tokenizer(r.text, add_special_tokens=False)["input_ids"]) for r in rows
    )
    alone = [generate_batched(model, tokenizer, [r], max_new_tokens=5)[0] for r in rows]
    assert together == alone


# ---- prompt pass: prefix kept across calls, chunked prefill -----------------------------------


def test_prefill_chunks_are_length_sorted_and_capped():
    from cetd_lib.models.generation import _chunks

    lengths = [10, 50, 40, 45, 5]
    assert _chunks(lengths, 0) == [[1, 3, 2, 0, 4]]  # one pass, longest first
    # 2 x 50 fits 100, 3 x 50 does not; 2 x 40 fits, 3 x 40 does not.
    assert _chunks(lengths, 100) == [[1, 3], [2, 0], [4]]
    assert _chunks(lengths, 120) == [[1, 3], [2, 0, 4]]
    assert _chunks(lengths, 1) == [[1], [3], [2], [0], [4]]  # a row alone always runs
    with pytest.raises(ValueError, match="prefill_chunk_tokens"):
        BackendSpec(prefill_chunk_tokens=-1)


def test_chunked_prefill_pads_each_chunk_to_its_own_longest_row(tiny):
    model, tokenizer = tiny
    prefix = "You are an expert Python programmer who writes complete modules. " * 3
    rows = [Row(prefix + t, 0) for t in TEXTS]
    ids = [tokenizer(r.text, add_special_tokens=False)["input_ids"] for r in rows]
    shared = min(len(os.path.commonprefix(ids)), min(map(len, ids)) - 1)  # each row keeps 1
    suffix = [len(row) - shared for row in ids]
    prompt_passes: list[tuple[int, int]] = []  # (rows, width) of the suffix passes

    def record(module, args, kwargs):
        if "logits_to_keep" in kwargs and kwargs.get("past_key_values") is not None:
            prompt_passes.append(tuple(kwargs["input_ids"].shape))

    handle = model.register_forward_pre_hook(record, with_kwargs=True)
    try:
        chunked = generate_batched(
            model, tokenizer, rows, max_new_tokens=5, batch_size=5, prefill_chunk_tokens=30
        )
    finally:
        handle.remove()
    assert len(prompt_passes) >= 2
    assert sum(rows_ for rows_, _ in prompt_passes) == len(rows)
    assert max(w for _, w in prompt_passes) == max(suffix)
    assert min(w for _, w in prompt_passes) < max(suffix)  # a chunk not padded to the max
    whole = generate_batched(model, tokenizer, rows, max_new_tokens=5, batch_size=5)
    alone = [generate_batched(model, tokenizer, [r], max_new_tokens=5)[0] for r in rows]
    assert chunked == whole == alone


def test_the_shared_prefix_is_computed_once_per_model_weights(tiny):
    from cetd_lib.models.generation import PrefixStore

    model, tokenizer = tiny
    prefix = "You are an expert Python programmer who writes complete modules. " * 3
    rows = [Row(prefix + t, 0) for t in TEXTS]
    store = PrefixStore()
    first = generate_batched(model, tokenizer, rows, max_new_tokens=4, batch_size=2, prefixes=store)
    again = generate_batched(model, tokenizer, rows, max_new_tokens=4, batch_size=3, prefixes=store)
    assert store.computed == 1 and first == again  # three batches, two calls: one prefix pass
    weight = model.get_input_embeddings().weight
    saved = weight.detach().clone()
    try:
        with torch.no_grad():
            weight.mul_(1.5)  # an in-place update, as an optimizer step makes
        changed = generate_batched(model, tokenizer, rows, max_new_tokens=4, prefixes=store)
        assert store.computed == 2
        fresh = generate_batched(model, tokenizer, rows, max_new_tokens=4)
        assert changed == fresh
    finally:
        with torch.no_grad():
            weight.copy_(saved)


def test_smollm2_prefix_reuse_gives_the_plain_greedy_tokens(smollm2_base):
    """The real chat template and a real model: prompts of different lengths that share the
    system message; the default prompt pass (prefix kept, chunked) decodes the same greedy
    tokens as running every prompt whole in one padded pass."""
    model, tokenizer = smollm2_base
    apps = [
        App("a", {"m.py": "x = 1\n"}, {}, ("m.py defines x, equal to 1.",)),
        App(
            "b",
            {"m.py": "def add(a, b):\n    return a + b\n"},
            {},
            (
                "m.py defines add(a, b) that returns the sum of a and b.",
                "add works for ints, floats and strings alike.",
                "add raises TypeError when the two values cannot be added.",
            ),
        ),
        App("c", {"m.py": "def f():\n    return []\n"}, {}, ("f() returns an empty list.",)),
    ]
    prompts = [build_prompt(app, list(app.requirements), "reconstruct-v1") for app in apps]
    spec = BackendSpec(name="s", kind="hf", model="smollm2-135m-instruct", dtype="float32")
    kept = HFBackend(spec, model=model, tokenizer=tokenizer)
    plain = HFBackend(
        BackendSpec(**{**spec.__dict__, "share_prefix": False, "prefill_chunk_tokens": 0}),
        model=model,
        tokenizer=tokenizer,
    )
    lengths = {
        len(tokenizer(kept.render(p), add_special_tokens=False)["input_ids"]) for p in prompts
    }
    assert len(lengths) == 3
    kept.spec = dataclasses.replace(spec, prefill_chunk_tokens=1)  # every row its own chunk
    chunked = kept.generate(prompts, 1, 0.0, 24, 0)
    assert kept.prefixes.computed == 1
    kept.spec = spec
    assert (
        chunked == kept.generate(prompts, 1, 0.0, 24, 0) == plain.generate(prompts, 1, 0.0, 24, 0)
    )
    assert kept.prefixes.computed == 1  # the second call reused the prefix
    assert plain.prefixes.computed == 0


def test_the_decoding_cache_grows_in_place_and_keeps_rows_right():
    """Keys and values equal what concatenation gives, through appends and dropped rows, and
    appends within the capacity write into the same buffer (no copy of the whole cache)."""
    from transformers import DynamicCache

    from cetd_lib.models.generation import _growing

    generator = torch.Generator().manual_seed(0)

    def kv(rows, length):
        return [torch.randn(rows, 2, length, 4, generator=generator) for _ in range(2)]

    start = kv(3, 5)
    cache = _growing(DynamicCache(ddp_cache_data=[tuple(start)]))
    reference = [t.clone() for t in start]
    layer = cache.layers[0]
    pointers = set()
    for step in range(6):
        if step == 3:  # row 1 stops
            index = torch.tensor([0, 2])
            cache.batch_select_indices(index)
            reference = [t[index] for t in reference]
        new = kv(reference[0].shape[0], 1)
        keys, values = layer.update(*new)
        reference = [torch.cat([r, n], dim=-2) for r, n in zip(reference, new, strict=True)]
        assert torch.equal(keys, reference[0]) and torch.equal(values, reference[1])
        pointers.add(keys.data_ptr())
        assert cache.get_seq_length() == 5 + step + 1
    assert len(pointers) == 2  # one buffer before the row left, one after
