"""Hostile generated code is contained and classified, and the harness keeps going.

The sandbox is NOT a security boundary (see docs/harness.md); these tests pin down what it does
stop: runaway loops, fork bombs, memory bombs, writes/deletes outside the sandbox, network,
signals to the supervisor, tampering with the tests, raising its own limits.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.failures import FailureClass
from cetd_lib.sandbox.runner import get_pool, run_app_tests, run_many

# screen=False: these cases test the run-time layers; the static screen would refuse them
# all before they run (test_harness_redteam.py checks both together).
FAST = HarnessConfig(app_timeout_s=6.0, test_timeout_s=1.0, workers=2, cache=False, screen=False)
HEALTHY = (
    {"m.py": "def f():\n    return 1\n"},
    {"test_m.py": "from m import f\n\ndef test_f():\n    assert f() == 1\n"},
)


def hostile(body: str) -> dict[str, str]:
    """A module whose f() runs `body` (indented for us)."""
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    return {
        "m.py": f"import os, sys, signal, socket, shutil, subprocess\n\ndef f():\n{indented}\n"
        "    return 1\n"
    }


def outcome_of(body: str, config: HarnessConfig = FAST):
    result = run_app_tests(hostile(body), HEALTHY[1], config=config)
    assert len(result.per_test) == 1, result.per_test
    return next(iter(result.per_test.values()))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the sandbox with a sentinel file the code will go after."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "sentinel.txt").write_text("untouched")
    (folder / "sub").mkdir()
    (folder / "sub" / "keep.txt").write_text("keep")
    return folder


def test_infinite_loop_is_a_timeout_and_the_harness_goes_on():
    assert outcome_of("while True:\n    pass").failure_class == FailureClass.TIMEOUT
    assert run_many([HEALTHY], config=FAST)[0].pass_rate == 1.0


@pytest.mark.parametrize(
    "body",
    [
        "while True:\n    os.fork()",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()",
        "subprocess.run(['sh', '-c', ':(){ :|:& };:'])",
        "os.system('sleep 100 &')",
        "os.execv('/bin/sh', ['sh', '-c', 'true'])",
    ],
)
def test_process_creation_is_blocked(body):
    outcome = outcome_of(body)
    assert outcome.failure_class == FailureClass.RESOURCE_LIMIT, outcome.detail
    assert "sandbox" in outcome.detail


@pytest.mark.parametrize(
    "body", ["import ctypes\nctypes.CDLL(None).fork()", "import ctypes\nctypes.pythonapi.fork"]
)
def test_native_calls_through_ctypes_are_refused_at_the_import(body):
    """ctypes is never loaded in the sandbox: importing it is refused, and recorded."""
    outcome = outcome_of(body)
    assert outcome.failure_class == FailureClass.REWARD_HACK_SUSPECT, outcome.detail
    assert "importing ctypes" in outcome.detail


@pytest.mark.parametrize(
    "body",
    [
        "bytearray(10 * 1024**3)",
        "import mmap\nmaps = []\nwhile True:\n    maps.append(mmap.mmap(-1, 100 * 1024**2))",
    ],
)
def test_memory_bombs_hit_the_address_space_limit(body):
    assert outcome_of(body).failure_class == FailureClass.RESOURCE_LIMIT


@pytest.mark.parametrize(
    "action",
    [
        "open(SENTINEL, 'w').write('pwned')",
        "open(SENTINEL, 'a').write('pwned')",
        "os.close(os.open(SENTINEL, os.O_WRONLY | os.O_TRUNC))",
        "os.remove(SENTINEL)",
        "os.rename(SENTINEL, SENTINEL + '.moved')",
        "shutil.rmtree(os.path.dirname(SENTINEL))",
        "os.chmod(SENTINEL, 0)",
        "os.truncate(SENTINEL, 0)",
        "os.mkdir(os.path.join(os.path.dirname(SENTINEL), 'new'))",
        "os.symlink(SENTINEL, 'link')\nopen('link', 'w').write('pwned')",
        "import pathlib\npathlib.Path(SENTINEL).write_text('pwned')",
        "shutil.copyfile(os.devnull, SENTINEL)",
    ],
)
def test_writes_and_deletes_outside_the_sandbox_are_blocked(outside: Path, action: str):
    before = snapshot(outside)
    sentinel = str(outside / "sentinel.txt")
    outcome = outcome_of(f"SENTINEL = {sentinel!r}\n{action}")
    assert outcome.failure_class == FailureClass.RESOURCE_LIMIT, outcome.detail
    assert snapshot(outside) == before


def test_writes_inside_the_sandbox_are_allowed():
    outcome = outcome_of(
        "import tempfile\nopen('scratch.txt', 'w').write('ok')\n"
        "with tempfile.NamedTemporaryFile('w') as fh:\n    fh.write('ok')\n"
        "os.remove('scratch.txt')"
    )
    assert outcome.passed, outcome.detail


def test_the_tests_cannot_be_rewritten_by_the_code():
    tamper = (
        "import os\nfor name in os.listdir('tests'):\n"
        "    try:\n        open(os.path.join('tests', name), 'w').write("
        "'def test_fake():\\n    pass\\n')\n    except PermissionError:\n        pass\n"
        "def f():\n    return 2\n"
    )
    tests = {
        "test_a.py": "from m import f\n\ndef test_a():\n    assert f() == 1\n",
        "test_b.py": "from m import f\n\ndef test_b():\n    assert f() == 1\n",
    }
    result = run_app_tests({"m.py": tamper}, tests, config=FAST)
    assert set(result.per_test) == {"tests/test_a.py::test_a", "tests/test_b.py::test_b"}
    assert result.pass_rate == 0.0


@pytest.mark.parametrize(
    "body",
    [
        "socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(('127.0.0.1', 9))",
        "socket.create_connection(('example.com', 80), timeout=1)",
        "socket.getaddrinfo('example.com', 80)",
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/', timeout=1)",
    ],
)
def test_network_is_blocked(body):
    outcome = outcome_of(body)
    assert outcome.failure_class == FailureClass.RESOURCE_LIMIT, outcome.detail
    assert "network" in outcome.detail


@pytest.mark.parametrize(
    "body",
    [
        "os.kill(os.getppid(), signal.SIGKILL)",
        "os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)",
        "os.kill(1, signal.SIGTERM)",
    ],
)
def test_signals_to_other_processes_are_blocked_and_workers_survive(body):
    pool = get_pool(FAST)
    assert run_many([HEALTHY], config=FAST)[0].pass_rate == 1.0
    pids = [w.proc.pid for w in pool.workers if w.proc is not None]
    assert outcome_of(body).failure_class == FailureClass.RESOURCE_LIMIT
    assert [w.proc.pid for w in pool.workers if w.proc is not None] == pids  # no restart
    assert run_many([HEALTHY] * 4, config=FAST)[0].pass_rate == 1.0


def test_raising_own_limits_is_blocked():
    import resource

    body = (
        f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({resource.RLIM_INFINITY}, "
        f"{resource.RLIM_INFINITY}))"
    )
    assert outcome_of(body).failure_class == FailureClass.RESOURCE_LIMIT


def test_huge_files_hit_the_file_size_limit():
    body = "with open('big.bin', 'wb') as fh:\n    while True:\n        fh.write(b'x' * 2**20)"
    outcome = outcome_of(body)
    assert outcome.failure_class == FailureClass.RESOURCE_LIMIT, outcome.detail


def test_flooding_stdout_is_contained():
    body = "while True:\n    os.write(1, b'x' * 2**20)"
    assert outcome_of(body).failure_class == FailureClass.RESOURCE_LIMIT


def test_gold_sources_of_bundled_apps_cannot_be_read():
    import cetd_lib

    datasets = Path(cetd_lib.__file__).parent / "datasets"
    source = next(datasets.rglob("*.py"), None)
    if source is None:
        pytest.skip("no bundled app sources in this checkout")
    outcome = outcome_of(f"open({str(source)!r}).read()")
    assert outcome.failure_class == FailureClass.RESOURCE_LIMIT, outcome.detail


def test_every_hostile_program_at_once_leaves_the_machine_and_harness_intact(outside: Path):
    before = snapshot(outside)
    sentinel = str(outside / "sentinel.txt")
    bodies = [
        "while True:\n    pass",
        "while True:\n    os.fork()",
        "bytearray(10 * 1024**3)",
        f"open({sentinel!r}, 'w').write('x')",
        f"shutil.rmtree({str(outside)!r})",
        "os.kill(os.getppid(), signal.SIGKILL)",
        "socket.socket().connect(('1.1.1.1', 53))",
        "os._exit(0)",
    ]
    jobs = [(hostile(b), HEALTHY[1]) for b in bodies] + [HEALTHY]
    results = run_many(jobs, config=FAST)
    assert [r.pass_rate for r in results] == [0.0] * len(bodies) + [1.0]
    assert snapshot(outside) == before
    assert all(not o.passed for r in results[:-1] for o in r.per_test.values())
    assert os.path.exists(sentinel)
