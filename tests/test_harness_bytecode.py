"""Rewritten test bytecode kept across pools (sandbox/bytecode.py): same results, no rewrite in
a fresh pool, entries checked against the source, out of reach of the sandboxed code."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from _pytest.assertion.rewrite import _rewrite_test, _write_pyc_fp

from cetd_lib.sandbox.bytecode import RewrittenTestStore, rewritten_by_pytest, valid_for
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.pool import SandboxPool, namespaces_unavailable
from cetd_lib.sandbox.results import RunJob

FAST = HarnessConfig(app_timeout_s=6.0, test_timeout_s=1.0, workers=1, cache=False)
TESTS = {
    "test_m.py": "from m import f\n\ndef test_one():\n    assert f() == 1\n",
    "helpers.py": "VALUE = 1\n",
}
MODES = ["rlimits-only"] + (["namespaces"] if namespaces_unavailable() is None else [])
GOOD = {"m.py": "def f():\n    return 1\n"}
BAD = {"m.py": "def f():\n    return 2\n"}


def pyc_of(tmp_path: Path, text: str) -> bytes:
    path = tmp_path / "test_x.py"
    path.write_text(text)
    source_hash, code = _rewrite_test(path, None)
    buffer = io.BytesIO()
    _write_pyc_fp(buffer, source_hash, code)
    return buffer.getvalue()


def test_store_round_trip_and_persistence(tmp_path: Path):
    text = TESTS["test_m.py"]
    pyc = pyc_of(tmp_path, text)
    store = RewrittenTestStore(tmp_path / "store")
    assert store.get("/sandbox/tests/test_m.py", text) is None
    store.put("/sandbox/tests/test_m.py", text, pyc, persist=True)
    assert store.get("/sandbox/tests/test_m.py", text) == pyc
    assert store.get("/elsewhere/tests/test_m.py", text) is None  # code objects carry the path
    again = RewrittenTestStore(tmp_path / "store")  # a later process
    assert again.get("/sandbox/tests/test_m.py", text) == pyc
    assert again.get("/sandbox/tests/test_m.py", text + "\n") is None
    assert (store.hits, store.misses) == (1, 2)


def test_generated_tests_stay_in_memory(tmp_path: Path):
    text = TESTS["test_m.py"]
    store = RewrittenTestStore(tmp_path / "store")
    store.put("/sandbox/tests/test_m.py", text, pyc_of(tmp_path, text), persist=False)
    assert store.get("/sandbox/tests/test_m.py", text) is not None
    assert not list((tmp_path / "store").rglob("*.pyc"))


def test_entries_that_do_not_match_their_source_are_refused(tmp_path: Path):
    text = TESTS["test_m.py"]
    other = pyc_of(tmp_path, "def test_other():\n    pass\n")
    assert not valid_for(other, text)
    assert not valid_for(b"", text)
    store = RewrittenTestStore(tmp_path / "store")
    store.put("/p/test_m.py", text, other, persist=True)  # never kept
    assert store.get("/p/test_m.py", text) is None
    # A corrupted file on disk is a miss, not bytecode.
    store.directory.mkdir(parents=True, exist_ok=True)
    (store.directory / f"{store.key('/p/test_m.py', text)}.pyc").write_bytes(b"garbage" * 10)
    assert RewrittenTestStore(tmp_path / "store").get("/p/test_m.py", text) is None


def test_names_pytest_rewrites():
    assert rewritten_by_pytest("test_a.py") and rewritten_by_pytest("sub/a_test.py")
    assert rewritten_by_pytest("conftest.py")
    assert not rewritten_by_pytest("helpers.py") and not rewritten_by_pytest("test_a.txt")


@pytest.mark.parametrize("sandbox", MODES)
def test_a_fresh_pool_reuses_the_bytecode_and_gets_the_same_results(tmp_path: Path, sandbox):
    config = replace(FAST, bytecode_cache_path=str(tmp_path / "store"), sandbox=sandbox)
    jobs = [RunJob(GOOD, TESTS), RunJob(BAD, TESTS)]
    with SandboxPool(config) as first:
        before = first.run(jobs)
        assert first.bytecode.misses >= 1
    kept = list((tmp_path / "store").rglob("*.pyc"))
    with SandboxPool(config) as second:
        after = second.run(jobs)
    if sandbox == "namespaces":
        assert len(kept) == 1  # test_m.py only
        assert second.bytecode.hits == 2 and second.bytecode.misses == 0
    else:  # a fresh temporary directory per pool: the paths never repeat, nothing is kept
        assert kept == [] and second.bytecode.misses >= 1
    for a, b in zip(before, after, strict=True):
        assert {k: o.passed for k, o in a.per_test.items()} == {
            k: o.passed for k, o in b.per_test.items()
        }
    assert [r.pass_rate for r in after] == [1.0, 0.0]
    # Still pytest's rewritten assert: the message explains the values.
    detail = after[1].per_test["tests/test_m.py::test_one"].detail
    assert "assert 2 == 1" in detail and "where 2 = f()" in detail


def test_without_a_disk_store_a_pool_keeps_bytecode_in_memory(tmp_path: Path):
    config = replace(FAST, bytecode_cache_path="")
    with SandboxPool(config) as pool:
        assert pool.bytecode.directory is None
        pool.run([RunJob(GOOD, TESTS)])
        pool.run([RunJob(BAD, TESTS)])
        assert pool.bytecode.hits == 1


# Sandboxed code tries to read the store and to replace every entry with the bytecode of a
# test that always passes, with a header forged to match the victim's source.
POISON = (
    "import glob, importlib.util, marshal\n"
    "victim = {victim!r}\n"
    "code = compile('def test_one():\\n    pass\\n', 'x', 'exec')\n"
    "forged = (importlib.util.MAGIC_NUMBER + bytes([3, 0, 0, 0])\n"
    "          + importlib.util.source_hash(victim.encode())[:8] + marshal.dumps(code))\n"
    "found = glob.glob({store!r} + '/*/*.pyc')\n"
    "for path in found:\n"
    "    try:\n"
    "        open(path, 'wb').write(forged)\n"
    "    except OSError:\n"
    "        pass\n"
)


@pytest.mark.parametrize("sandbox", MODES)
def test_sandboxed_code_cannot_read_or_poison_the_store(tmp_path: Path, sandbox: str):
    store = tmp_path / "store"
    config = replace(FAST, bytecode_cache_path=str(store), sandbox=sandbox, screen=False)
    kept = RewrittenTestStore(store)
    for tests_dir in ("/sandbox/tests", str(tmp_path / "elsewhere")):
        pyc = pyc_of(tmp_path, TESTS["test_m.py"])
        kept.put(f"{tests_dir}/test_m.py", TESTS["test_m.py"], pyc, persist=True)
    entries = {p: p.read_bytes() for p in store.rglob("*.pyc")}
    assert len(entries) == 2
    body = POISON.format(victim=TESTS["test_m.py"], store=str(store))
    attack = {"m.py": "def f():\n" + "".join(f"    {line}\n" for line in body.splitlines())}
    attack["m.py"] += "    return 2\n"  # a wrong rebuild that tries to fix later runs
    reader = {"m.py": f"def f():\n    open({str(next(iter(entries)))!r}, 'rb').read()\n"}
    reader["m.py"] += "    return 1\n"
    with SandboxPool(config) as pool:
        poisoned, read = pool.run([RunJob(attack, TESTS), RunJob(reader, TESTS)])
        victim = pool.run([RunJob(BAD, TESTS)])[0]
    assert poisoned.pass_rate == 0.0 and read.pass_rate == 0.0, read.per_test
    why = read.per_test["tests/test_m.py::test_one"].detail
    assert "SandboxViolation" in why, why  # the audit hook; the kernel layer: below
    assert victim.pass_rate == 0.0  # the wrong rebuild still fails
    assert {p: p.read_bytes() for p in store.rglob("*.pyc")} == entries


@pytest.mark.skipif(namespaces_unavailable() is not None, reason="no Linux namespaces here")
def test_under_namespaces_the_store_is_not_even_mounted(tmp_path: Path):
    """A fresh Python started by the code has no audit hook: only the mount namespace hides
    the store from it."""
    store = tmp_path / "store"
    RewrittenTestStore(store).put(
        "/sandbox/tests/test_m.py",
        TESTS["test_m.py"],
        pyc_of(tmp_path, TESTS["test_m.py"]),
        persist=True,
    )
    (entry,) = store.rglob("*.pyc")
    probe = f"import os\nprint(os.path.exists({str(entry)!r}), os.path.exists({str(store)!r}))"
    code = {
        "m.py": "import subprocess, sys\n\ndef f():\n"
        f"    out = subprocess.run([sys.executable, '-c', {probe!r}], capture_output=True, "
        "text=True, timeout=5)\n"
        "    return 1 if out.stdout.split() == ['False', 'False'] else out.stdout\n"
    }
    config = replace(
        FAST,
        bytecode_cache_path=str(store),
        sandbox="namespaces",
        screen=False,
        allow_subprocess=True,
    )
    with SandboxPool(config) as pool:
        (result,) = pool.run([RunJob(code, TESTS)])
    assert result.pass_rate == 1.0, result.per_test


def test_the_faster_location_pass_gives_pytests_own_bytecode(tmp_path: Path, monkeypatch):
    """The worker replaces the end of pytest's `visit_Assert` (`_fast_assert_locations`): the
    bytecode of every bundled test file (apps, holdout, HumanEval) must stay byte-for-byte
    pytest's, positions included."""
    import importlib.util
    import marshal
    import sys

    import _pytest.assertion.rewrite as rewrite

    from cetd_lib.apps.app import load_apps
    from cetd_lib.apps.humaneval import load_humaneval_apps

    harness = Path(__file__).resolve().parents[1] / "cetd_lib" / "sandbox"
    monkeypatch.syspath_prepend(str(harness))
    for name in ("_worker", "_comparisons", "_events", "_audit_hook", "_namespaces", "_pyc"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    spec = importlib.util.spec_from_file_location("_worker", harness / "_worker.py")
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    texts = [
        text
        for app in [*load_apps(include_holdout=True), *load_humaneval_apps()]
        for name, text in app.tests.items()
        if rewritten_by_pytest(name)
    ]
    assert len(texts) > 200

    def compiled(text: str) -> bytes:
        path = tmp_path / "test_x.py"
        path.write_text(text)
        return marshal.dumps(_rewrite_test(path, None)[1])

    before = [compiled(text) for text in texts]
    monkeypatch.setattr(
        rewrite.AssertionRewriter, "visit_Assert", rewrite.AssertionRewriter.visit_Assert
    )
    assert worker._fast_assert_locations()
    assert [compiled(text) for text in texts] == before
