"""The audit hook's stack walk and its record of verified frames (`untrusted_on_stack`).

The walk stops at a frame that is still running and was found trusted, with everything below
it, at an earlier event; a generator's frame is never such a stop, since whoever resumes it
next is below it. Run in a fresh interpreter: an audit hook cannot be removed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import cetd_lib.sandbox

HARNESS = Path(cetd_lib.sandbox.__file__).parent

SCRIPT = textwrap.dedent(
    """
    import os, sys, tempfile, types
    sys.path.insert(0, {harness!r})
    import _audit_hook, _events

    root = os.path.realpath(tempfile.mkdtemp())
    worker = types.SimpleNamespace(
        root=root, src=root + "/src", tests=root + "/tests", ini=root + "/pytest.ini"
    )
    _audit_hook.install_audit_hook(worker, allow_subprocess=True, deny_read=())

    def attempt(call):
        try:
            call()
            return "allowed"
        except _events.VerdictViolation:
            return "denied"

    def frames():  # trusted: reads frames on every resume
        while True:
            yield sys._getframe().f_lineno

    def read_frame():  # trusted
        return sys._getframe().f_lineno

    untrusted = {{}}
    source = "def resume(gen):\\n    return next(gen)\\n\\ndef call(f):\\n    return f()\\n"
    exec(compile(source, root + "/src/m.py", "exec"), untrusted)
    gen = frames()
    print(
        attempt(lambda: next(gen)),
        attempt(lambda: next(gen)),  # the same stack again: the walk stops at recorded frames
        attempt(lambda: untrusted["resume"](gen)),  # the generator's new resumer is untrusted
        attempt(read_frame),
        attempt(read_frame),
        attempt(lambda: untrusted["call"](read_frame)),
        attempt(read_frame),
    )
    """
)


def test_recorded_frames_never_hide_an_untrusted_caller():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(harness=str(HARNESS))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out == ["allowed", "allowed", "denied", "allowed", "allowed", "denied", "allowed"]
