"""The audit hook of a sandboxed child (PEP 578): a second layer, NOT a boundary.

Run as part of the worker script (`_worker.py` imports it from its own directory; standard
library only). The kernel-level containment is the namespaces (`_namespaces.py`); this hook
turns forbidden actions into clear `SandboxViolation`s where namespaces are unavailable and
records what was attempted. See docs/harness.md for what it does not stop.

It also holds the verdict channel (`Verdict`): the events key and file live only in this
hook's closure, which no Python reference reaches (audit hooks cannot be listed, frames and gc
are refused to the tested code), and the hook denies frame, trace and heap introspection
whenever untrusted code (the rebuilt modules, anything else in the writable sandbox, and code
compiled while such code was on the stack) is on the current stack. A denial of that kind is
recorded in the channel itself, so catching the exception does not hide it.
"""

from __future__ import annotations

import _thread
import os
import sys
from typing import TYPE_CHECKING

from _events import SandboxViolation, VerdictViolation

if TYPE_CHECKING:
    from collections.abc import Callable

    from _worker import Worker

# CO_GENERATOR, CO_COROUTINE, CO_ASYNC_GENERATOR: frames whose caller changes on each resume.
SUSPENDABLE = 0x20 | 0x80 | 0x200
# Attributes that hand out a frame (CPython audits their reads as object.__getattr__).
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
# Events that hand out frames, trace or profile other code, or build code and functions from
# raw parts: refused while untrusted code is on the stack (and in any thread but the main
# one). Not `marshal.loads`: every import from a .pyc uses it.
INTROSPECTION_EVENTS = frozenset(
    {
        "sys._getframe",
        "sys._getframemodulename",
        "sys._current_frames",
        "sys._current_exceptions",
        "sys.settrace",
        "sys.setprofile",
        "sys.monitoring.register_callback",
        "code.__new__",
        "function.__new__",
        # Raw memory through ctypes: never loaded in the child (`RAW_MEMORY_MODULES`); these
        # are a second line should a future worker load it again.
        "ctypes.cdata",
        "ctypes.call_function",
        "ctypes.string_at",
        "ctypes.wstring_at",
    }
)
# Standard-library callers whose own `sys._getframe` reads only a module name or a line of
# the caller (namedtuple, typing, enum, logging's findCaller) and never hands the frame out.
FRAME_READING_STDLIB = ("collections/__init__.py", "typing.py", "enum.py", "logging/__init__.py")
# `traceback` turns tracebacks and stacks into summaries of strings (format_exc, print_exc,
# logging.exception, extract_stack): it may read frames for that, but its generators that yield
# frames themselves may be consumed only by traceback's own code.
FRAME_YIELDING_TRACEBACK = frozenset({"walk_tb", "walk_stack", "_walk_tb_with_full_positions"})
# Modules that hand out raw memory or run code the hook does not see, refused to the child (the
# worker never loads them: see `_namespaces`). Matched on the top-level name (packages) and on
# the last dotted part (an extension's init symbol is PyInit_<last part>, whatever the spec
# says): ctypes (a Union of an int and a pointer writes anywhere, no audit event), CPython's
# test modules (raw pointers and crashes on purpose), cffi, and subinterpreters (a new
# interpreter has no audit hook).
RAW_MEMORY_PACKAGES = frozenset({"ctypes", "cffi"})
RAW_MEMORY_MODULES = frozenset(
    {
        "_ctypes",
        "_ctypes_test",
        "_cffi_backend",
        "_testcapi",
        "_testinternalcapi",
        "_testbuffer",
        "_testclinic",
        "_testmultiphase",
        "_testimportmultiple",
        "_testsinglephase",
        "_xxtestfuzz",
        "_xxsubinterpreters",
        "_xxinterpchannels",
        "_interpreters",
        "_interpchannels",
        "_interpqueues",
    }
)


class Verdict:
    """What the hook needs to own the events channel (set by the worker before the fork)."""

    def __init__(self, fd: int, key: bytes, budget: int, tag: Callable, recorder) -> None:
        self.fd, self.key, self.budget, self.tag, self.recorder = fd, key, budget, tag, recorder


def install_audit_hook(
    worker: Worker,
    *,
    allow_subprocess: bool,
    deny_read: tuple[str, ...],
    trusted_tests: bool = True,
    verdict: Verdict | None = None,
    integrity: Callable[[bool, Callable], list[str]] | None = None,
    on_overflow: Callable[[], None] | None = None,
    checker: tuple[int, int] | None = None,
) -> Callable[[str], bool]:
    """Install the hook; returns the predicate "this file name is untrusted code" (shared
    with the trusted comparisons, `_comparisons.py`). `checker`: this child's ends of the
    pipes to the worker, which reads the child's memory for the snapshot check (`ask`)."""
    realpath, join, isabs = os.path.realpath, os.path.join, os.path.isabs
    fsdecode, getcwd, readlink, getpid, getpgrp = (
        os.fsdecode,
        os.getcwd,
        os.readlink,
        os.getpid,
        os.getpgrp,
    )
    root = worker.root + os.sep
    protected_dirs = (worker.src + os.sep, worker.tests + os.sep)
    protected = frozenset({worker.root, worker.src, worker.tests, worker.ini})
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    af_unix = 1  # socket.AF_UNIX on Linux; no socket import needed
    # Everything the hook calls is bound here: the tested code can rebind module globals and
    # builtins, not this closure's cells (it cannot reach this function at all).
    getframe, current_thread, main_thread = sys._getframe, _thread.get_ident, _thread.get_ident()
    tests_prefix = worker.tests + os.sep
    compiled_untrusted: set = set()  # file names compiled while untrusted code was running
    add_compiled, is_str, str_type, bytes_type = compiled_untrusted.add, isinstance, str, bytes
    exact_str = str.__str__  # a str subclass's exact value, without its own methods
    function = type(install_audit_hook)
    stdlib = os.path.dirname(os.__file__) + os.sep
    frame_readers = frozenset(stdlib + name for name in FRAME_READING_STDLIB)
    traceback_file = stdlib + "traceback.py"
    namedtuple_file = stdlib + "collections/__init__.py"
    busy = [False]  # the hook's own frame reads are audited too: not re-entered
    state = {"tag": b"", "budget": 0, "closed": False}
    fd = key = recorder = tag_of = None
    if verdict is not None:
        fd, key, tag_of = verdict.fd, verdict.key, verdict.tag
        recorder = verdict.recorder.__code__
        state["budget"] = verdict.budget
        verdict.key = b""
    os_write, os_read, memview, urandom = os.write, os.read, memoryview, os.urandom
    json_module = __import__("json")
    json_dumps, json_loads = json_module.dumps, json_module.loads
    compare_digest = __import__("hmac").compare_digest
    mem_file = __import__("re").compile(r"/proc/[^/]+/(task/[^/]+/)?mem$").match

    def untrusted_file(name) -> bool:
        if type(name) is not str_type:
            return True
        return (
            name.startswith(root) and (not trusted_tests or not name.startswith(tests_prefix))
        ) or name in compiled_untrusted

    # The main thread's last stack found trusted: its frames (not generators'), innermost
    # first, and their positions. Below a frame that is still running nothing can change
    # (frames are not re-entered; a generator's caller changes on each resume, hence none
    # here), so a walk may stop at one: ~20 of a test's ~27 frames are the same at every event
    # of the verdict channel. The frames are held so that their ids cannot be reused; the
    # record is dropped when a file name turns untrusted (`on_compile`).
    verified: list = [[], {}]

    def untrusted_on_stack(frame) -> bool:
        main = current_thread() == main_thread
        chain, position = verified if main else ((), {})
        seen = []
        while frame is not None:
            if frame in position:
                seen.extend(chain[position[frame] :])
                break
            code = frame.f_code
            if untrusted_file(code.co_filename):
                return True
            if not code.co_flags & SUSPENDABLE:
                seen.append(frame)
            frame = frame.f_back
        if main:
            verified[:] = [seen, {f: i for i, f in enumerate(seen)}]
        return False

    def look(depth: int = 3):
        """(caller's file name, untrusted code on the stack?, a traceback formatter?) for the
        code that caused the event: frame 0 is look(), 1 a handler, 2 hook(), 3 the Python
        caller (C is frameless)."""
        busy[0] = True
        try:
            frame = getframe(depth)
            code = frame.f_code
            untrusted = untrusted_on_stack(frame) or current_thread() != main_thread
            formatter = code.co_filename == traceback_file
            if formatter and code.co_name in FRAME_YIELDING_TRACEBACK:
                # A generator that yields frames: only traceback's own summaries may consume it
                consumer = frame.f_back
                formatter = consumer is not None and consumer.f_code.co_filename == traceback_file
            return code.co_filename, untrusted, formatter
        finally:
            busy[0] = False

    def write_line(body: bytes) -> None:
        if fd is None or state["closed"]:
            return
        state["tag"] = tag = tag_of(key, state["tag"], body)
        data = tag + b" " + body + b"\n"
        state["budget"] -= len(data)
        try:
            if state["budget"] < 0:
                raise OSError("result budget exhausted")
            view = memview(data)
            while view:
                view = view[os_write(fd, view) :]
        except OSError:  # RLIMIT_FSIZE or our budget: stop reporting, exit with OVERFLOW_EXIT
            state["closed"] = True
            if on_overflow is not None:
                on_overflow()

    def tampered(what: str) -> None:
        write_line(json_dumps({"ev": "tampered", "what": what[:300]}).encode())

    def read_exact(size: int) -> bytes | None:
        chunks, left = [], size
        while left:
            chunk = os_read(checker[1], left)
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def ask(full: bool, accept: list):
        """The worker's raw read of this child's memory (`VerdictState.serve`): per phase,
        the units whose bytes differ; None: unreadable, check every identity. Both ways are
        keyed with the events key (a forged or replayed answer does not verify), and the
        worker answers only keyed requests; a closed or foreign pipe is tampering."""
        if checker is None or key is None:
            return None
        nonce = urandom(16)
        body = nonce + json_dumps({"full": full, "accept": accept}).encode()
        frame = tag_of(key, b"check-request", body) + body
        try:
            view = memview(len(frame).to_bytes(4, "little") + frame)
            while view:
                view = view[os_write(checker[0], view) :]
            while True:
                head = read_exact(4)
                data = head and read_exact(int.from_bytes(head, "little"))
                if not data:
                    raise OSError("the verdict check channel was closed")
                mac, reply = data[:32], data[32:]
                if not compare_digest(mac, tag_of(key, b"check-reply", reply)):
                    raise OSError("a verdict check answer did not verify")
                if reply[:16] == nonce:
                    return json_loads(reply[16:])["differing"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            tampered(f"verdict check channel: {exc}")
            return None

    def deny_introspection(what: str):
        tampered(what)
        raise VerdictViolation(f"sandbox: {what} while untrusted code is running is not allowed")

    def on_verdict(args):  # the recorder's events, and only the recorder's
        busy[0] = True
        try:
            caller = getframe(2)
            genuine = caller.f_code is recorder and not untrusted_on_stack(caller)
            genuine = genuine and current_thread() == main_thread
        finally:
            busy[0] = False
        body = args[0]
        if not genuine or not is_str(body, bytes_type):
            tampered("an event was sent to the verdict channel by other code than the recorder")
            return
        end = b'"ev": "end"' in body
        if integrity is not None and (end or b'"when": "teardown"' in body):
            changed = integrity(end, ask)
            if changed:
                tampered("changed during the run: " + ", ".join(changed[:8]))
        write_line(body)

    def resolve(path, dir_fd=None):
        path = fsdecode(path)
        if not isabs(path):
            base = getcwd() if dir_fd in (None, -1) else readlink(f"/proc/self/fd/{dir_fd}")
            path = join(base, path)
        return realpath(path)

    def check_write(path, dir_fd=None, what="write to"):
        if isinstance(path, int) or path is None:
            return  # an already-open descriptor
        target = resolve(path, dir_fd)
        if target == os.devnull:
            return
        if not target.startswith(root) or target.startswith(protected_dirs) or target in protected:
            raise SandboxViolation(f"sandbox: {what} {target} is outside the writable sandbox")

    def on_open(args):
        path, mode, flags = args
        if isinstance(path, int):
            return
        if isinstance(flags, int) and flags >= 0:
            writing = bool(flags & write_flags)
        else:
            writing = any(c in (mode or "") for c in "wax+")
        target = resolve(path)
        if mem_file(target) or target.startswith(("/dev/mem", "/dev/kmem", "/dev/port")):
            raw_memory(f"opening {target}")
        if writing:
            check_write(path)
        elif deny_read and target.startswith(deny_read):
            raise SandboxViolation(f"sandbox: reading {target} is not allowed")

    def raw_memory(what: str):
        """Refused always; recorded as tampering when untrusted code asked for it."""
        if look(4)[1]:
            deny_introspection(what)
        raise SandboxViolation(f"sandbox: {what} (raw memory) is not allowed")

    def on_import(args):  # (name, file name or None, sys.path, meta_path, path_hooks)
        name, filename = args[0], args[1]
        if type(name) is not str_type:
            return
        parts = exact_str(name).split(".")
        if parts[0] in RAW_MEMORY_PACKAGES or parts[-1] in RAW_MEMORY_MODULES:
            raw_memory(f"importing {name}")
        if filename is not None and not is_str(filename, str_type):
            raw_memory("loading an extension module from a non-str path")
        if filename is not None:
            target = resolve(exact_str(filename))
            base = target.rsplit("/", 1)[-1].split(".")[0]
            if target.startswith(root) or base in RAW_MEMORY_MODULES:
                raw_memory(f"loading the extension module {target}")

    def path_dirfd(args):  # (path, dir_fd) / (path, mode, dir_fd) / (path, uid, gid, dir_fd)
        check_write(
            args[0], args[-1] if len(args) > 1 and isinstance(args[-1], int) else None, "changing"
        )

    def two_paths(args):  # (src, dst, src_dir_fd, dst_dir_fd)
        check_write(args[0], args[2] if len(args) > 2 else None, "moving/linking")
        check_write(args[1], args[3] if len(args) > 3 else None, "moving/linking")

    def symlink(args):  # (src, dst, dir_fd): only where the link is created matters
        check_write(args[1], args[2] if len(args) > 2 else None, "creating a link at")

    def truncate(args):
        check_write(args[0], None, "truncating")

    def deny(message):
        def handler(args):
            raise SandboxViolation(f"sandbox: {message}")

        return handler

    def kill(args):
        pid = args[0]
        if pid not in (0, getpid()):
            raise SandboxViolation(f"sandbox: sending a signal to process {pid} is not allowed")

    def killpg(args):
        if args[0] not in (0, getpgrp()):
            raise SandboxViolation(f"sandbox: signalling process group {args[0]} is not allowed")

    def new_socket(args):
        if args[1] != af_unix:
            raise SandboxViolation("sandbox: network access is disabled")

    handlers = {
        "open": on_open,
        "os.remove": path_dirfd,
        "os.rmdir": path_dirfd,
        "os.mkdir": path_dirfd,
        "os.chmod": path_dirfd,
        "os.chown": path_dirfd,
        "os.utime": path_dirfd,
        "os.chflags": path_dirfd,
        "os.lchflags": path_dirfd,
        "shutil.rmtree": path_dirfd,
        "os.rename": two_paths,
        "os.link": two_paths,
        "os.symlink": symlink,
        "os.truncate": truncate,
        "os.kill": kill,
        "os.killpg": killpg,
        "socket.__new__": new_socket,
        "socket.getaddrinfo": deny("network access is disabled"),
        "socket.gethostbyname": deny("network access is disabled"),
        "socket.gethostbyaddr": deny("network access is disabled"),
        "socket.getnameinfo": deny("network access is disabled"),
        "resource.setrlimit": deny("changing resource limits is not allowed"),
        "resource.prlimit": deny("changing resource limits is not allowed"),
        # Walking the heap reaches this hook's handler table and the result plugin's key.
        "gc.get_objects": deny("walking the heap with gc is not allowed"),
        "gc.get_referrers": deny("walking the heap with gc is not allowed"),
        "gc.get_referents": deny("walking the heap with gc is not allowed"),
        # Native code could undo every check below, so loading it through ctypes is refused.
        "ctypes.dlopen": deny("loading native libraries with ctypes is not allowed"),
        "ctypes.dlsym": deny("loading native symbols with ctypes is not allowed"),
        "ctypes.dlsym/handle": deny("loading native symbols with ctypes is not allowed"),
    }
    if not allow_subprocess:
        no_process = deny("creating processes is not allowed")
        for event in (
            "os.fork",
            "os.forkpty",
            "os.system",
            "os.exec",
            "os.posix_spawn",
            "os.spawn",
            "subprocess.Popen",
            "pty.spawn",
        ):
            handlers[event] = no_process

    # Bytecode is not checked by CPython (out-of-range operands read and write memory), so
    # while untrusted code runs, `marshal` may only load a .pyc that importlib's own loaders
    # (exact types, `get_data` not replaced) or pytest's read from outside the writable
    # sandbox (pytest's: the worker-written tests/__pycache__).
    bootstrap = sys.modules["importlib._bootstrap_external"]
    compile_bytecode = bootstrap._compile_bytecode.__code__
    loader_codes = {bootstrap.SourceLoader.get_code, bootstrap.SourcelessFileLoader.get_code}
    loader_codes = frozenset(code.__code__ for code in loader_codes)
    loader_types = (bootstrap.SourceFileLoader, bootstrap.SourcelessFileLoader)
    rewrite = sys.modules.get("_pytest.assertion.rewrite")
    read_pyc = rewrite._read_pyc.__code__ if rewrite is not None else None
    pytest_pycs = worker.tests + os.sep + "__pycache__" + os.sep

    def trusted_pyc(frame) -> bool:
        code, local = frame.f_code, frame.f_locals
        if code is read_pyc:
            path = local.get("pyc")
            return path is not None and resolve(path).startswith(pytest_pycs)
        if code is not compile_bytecode:
            return False
        path, caller = local.get("bytecode_path"), frame.f_back
        if type(path) is not str_type or caller is None or caller.f_code not in loader_codes:
            return False
        loader = caller.f_locals.get("self")
        return (
            type(loader) in loader_types
            and "get_data" not in vars(loader)
            and not resolve(exact_str(path)).startswith(root)
        )

    def on_marshal(args):
        busy[0] = True
        try:
            frame = getframe(2)  # 0 this handler, 1 hook(), 2 the Python caller
            untrusted = untrusted_on_stack(frame) or current_thread() != main_thread
            allowed = not untrusted or trusted_pyc(frame)
        finally:
            busy[0] = False
        if not allowed:
            deny_introspection("loading bytecode with marshal")

    handlers["marshal.loads"] = on_marshal
    handlers["marshal.load"] = on_marshal

    def on_compile(args):  # code built at run time by untrusted code is untrusted code too
        filename, untrusted = args[1], look()[1]
        if untrusted:
            # Only exact strs go into the set: a str subclass's own __eq__/__hash__ would run
            # inside the hook's stack walks, where nested events are not checked.
            if is_str(filename, str_type):
                add_compiled(exact_str(filename))
            else:
                add_compiled("<compiled from a non-str file name>")
            verified[:] = [[], {}]  # a frame of that name may run below a verified one

    def on_introspection_event(event):
        def handler(args):
            caller, untrusted, formatter = look()
            if not untrusted:
                return
            if event == "sys._getframe" and (caller in frame_readers or formatter):
                return
            deny_introspection(event)

        return handler

    def on_getattr(args):
        if args[1] in FRAME_ATTRIBUTES:
            _, untrusted, formatter = look()
            if untrusted and not formatter:
                deny_introspection(f"reading {args[1]}")

    def on_setattr(args):  # swapping the code or defaults of a function we did not write
        target, name = args[0], args[1]
        if name in ("__code__", "__defaults__", "__kwdefaults__") and type(target) is function:
            caller, untrusted, _ = look()
            if not untrusted or untrusted_file(target.__code__.co_filename):
                return  # the code's own functions are its business
            # namedtuple(..., defaults=...) sets its own __new__'s defaults
            if name == "__code__" or caller != namedtuple_file:
                deny_introspection(f"replacing a function's {name}")

    handlers["compile"] = on_compile
    handlers["import"] = on_import
    # A subinterpreter runs with none of this interpreter's audit hooks.
    handlers["cpython.PyInterpreterState_New"] = lambda args: raw_memory("a new interpreter")
    handlers["object.__getattr__"] = on_getattr
    handlers["object.__setattr__"] = on_setattr
    handlers["cetd.verdict"] = on_verdict
    for event in INTROSPECTION_EVENTS:
        handlers[event] = on_introspection_event(event)
    for event in ("sys._current_frames", "sys._current_exceptions"):  # every thread's frames
        handlers[event] = lambda args, event=event: deny_introspection(event)
    get = handlers.get

    def hook(event, args):
        if busy[0]:
            return
        handler = get(event)
        if handler is not None:
            handler(args)

    sys.addaudithook(hook)
    return untrusted_file
