"""The audit-hook guard of a sandboxed child (PEP 578): a second layer, NOT a boundary.

Run as part of the worker script (`_worker.py` imports it from its own directory; standard
library only). The kernel-level containment is the namespaces (`_namespaces.py`); this hook
turns forbidden actions into clear `SandboxViolation`s where namespaces are unavailable and
records what was attempted. See docs/harness.md for what it does not stop.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from _events import SandboxViolation

if TYPE_CHECKING:
    from _worker import Worker


def install_guard(worker: Worker, *, allow_subprocess: bool, deny_read: tuple[str, ...]) -> None:
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
        if writing:
            check_write(path)
        elif deny_read:
            target = resolve(path)
            if target.startswith(deny_read):
                raise SandboxViolation(f"sandbox: reading {target} is not allowed")

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
    get = handlers.get

    def hook(event, args):
        handler = get(event)
        if handler is not None:
            handler(args)

    sys.addaudithook(hook)
