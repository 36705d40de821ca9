"""Per-test events of a sandboxed run: the pytest plugin that writes them, and their check.

Run as part of the worker script (`_worker.py` imports it from its own directory; standard
library and pytest only, never imported by the package). The plugin lives in the worker and is
copied into every child by fork; each event line carries a keyed tag chained over the previous
one, so lines the tested code writes into the events file itself do not verify.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import itertools
import json
import operator
import os
import signal
import sys
import time
import types

import pytest

MAC_HEX = 32  # hex digits of each event line's keyed BLAKE2b tag


DETAIL_CHARS = 1500


MESSAGE_CHARS = 500


class TestTimeout(BaseException):  # noqa: N818 - BaseException: `except Exception` can't eat it
    """Raised by SIGALRM when a test exceeds its budget."""


class SandboxViolation(PermissionError):  # noqa: N818 - the name users see in details
    """Raised by the audit hook when generated code does something the sandbox forbids."""


class VerdictViolation(SandboxViolation):  # noqa: N818
    """Raised by the audit hook when untrusted code reaches for frames, tracing or code objects
    (the means to rewrite a verdict); the hook also records it in the verdict channel."""


class ResultPlugin:
    """Streams per-test outcomes to the worker and enforces the per-test budget."""

    def __init__(self) -> None:
        self.fd: int | None = None  # the events file, set in the child
        # Once the audit hook is installed (`seal`), events go through the audit hook, which holds
        # the key and the file (`_audit_hook.Verdict`); until then (and only in the worker's own
        # code) they are written here.
        self.sealed = False
        self.made: dict = {}  # (nodeid, when) -> the outcome pytest's report was made with
        # Each event line carries a keyed BLAKE2b tag chained over the previous one; the key is
        # made per app by the worker, so a line the tested code writes itself into the events
        # file (it holds the descriptor) does not verify. See `verify_events`.
        self.key = b""
        self.tag = b""
        self.budget = 0  # bytes of events the child may still write
        self.overflow = False
        self.root_dir = ""  # the sandbox directory, with a trailing separator
        self.src_dir = ""
        self.test_timeout_s = 5.0
        self.deadline = 0.0

    def detach(self) -> None:
        """In a process forked by the tested code: drop the events file."""
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd, self.key = None, b""

    def seal(self) -> None:
        """From now on the audit hook's channel only: forget the key."""
        self.sealed, self.key = True, b""

    def emit(self, event: dict) -> None:
        body = json.dumps(event, default=str).encode("utf-8", "replace")
        if self.sealed:
            sys.audit("cetd.verdict", body)  # tagged and written by the audit hook
            return
        if self.fd is None:
            return
        self.tag = _event_tag(self.key, self.tag, body)
        data = self.tag + b" " + body + b"\n"
        self.budget -= len(data)
        try:
            if self.budget < 0:
                raise OSError(errno.EFBIG, "result budget exhausted")
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:  # RLIMIT_FSIZE or our budget: stop reporting, exit with OVERFLOW_EXIT
            self.overflow = True
            self.fd = None

    # ---- collection ------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector):
        report = yield
        call = report.__dict__.get("call")  # pytest pops it before pytest_collectreport
        if report.failed and call is not None and call.excinfo is not None:
            value = call.excinfo.value
            # pytest wraps SyntaxError/ImportError of a test module in a CollectError.
            report._cetd_exc = value.__cause__ or value
        return report

    def pytest_collectreport(self, report):
        if report.failed:
            exc = getattr(report, "_cetd_exc", None)
            event = {"ev": "collect_error", "nodeid": report.nodeid, "facts": self.facts(exc, None)}
            if exc is None:
                event["detail"] = tail(report.longreprtext, DETAIL_CHARS)
            self.emit(event)

    def pytest_collection_finish(self, session):
        self.emit({"ev": "collected", "nodeids": [item.nodeid for item in session.items]})

    # ---- running ---------------------------------------------------------------------------
    def pytest_runtest_logstart(self, nodeid, location):
        self.deadline = time.monotonic() + self.test_timeout_s
        self.emit({"ev": "start", "nodeid": nodeid})

    def _arm(self) -> None:
        remaining = max(self.deadline - time.monotonic(), 0.001)
        # The interval re-fires the alarm: code that swallows one TestTimeout gets another.
        signal.setitimer(signal.ITIMER_REAL, remaining, 0.05)

    def _disarm(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)

    def _phase(self):
        self._arm()
        try:
            return (yield)
        finally:
            self._disarm()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):
        return (yield from self._phase())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        return (yield from self._phase())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        return (yield from self._phase())

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.excinfo is not None and report.failed:
            report._cetd_facts = self.facts(call.excinfo.value, call.excinfo.tb)
        self.made[(report.nodeid, report.when)] = (report, report.outcome)
        return report

    def pytest_runtest_logreport(self, report):
        made = self.made.pop((report.nodeid, report.when), None)
        if made is None or made[0] is not report or made[1] != report.outcome:
            self.emit(
                {
                    "ev": "tampered",
                    "what": f"the report of {report.nodeid} ({report.when}) is not the one "
                    "pytest made, or its outcome changed after it was made",
                }
            )
        event = {
            "ev": "report",
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "duration": round(report.duration, 6),
        }
        if report.failed:
            facts = getattr(report, "_cetd_facts", None)
            if facts is None:
                event["detail"] = tail(report.longreprtext, DETAIL_CHARS)
            event["facts"] = facts or {}
        elif report.skipped and isinstance(report.longrepr, tuple):
            event["detail"] = tail(str(report.longrepr[2]), DETAIL_CHARS)
        self.emit(event)

    # ---- facts about an exception (classified by the parent, see failures.py) --------------
    def facts(self, exc, tb) -> dict:
        if exc is None:
            return {}
        facts: dict = {"mro": [cls.__name__ for cls in type(exc).__mro__]}
        try:
            facts["message"] = str(exc)[:MESSAGE_CHARS]
        except BaseException:  # noqa: BLE001 - hostile __str__
            facts["message"] = "<unprintable>"
        # A denial or a timeout anywhere in the chain decides the class, also when the code (or
        # a library such as urllib) wrapped it in its own exception.
        chain = _exception_chain(exc)
        facts["timeout"] = any(isinstance(e, TestTimeout) for e in chain)
        facts["sandbox"] = any(isinstance(e, SandboxViolation) for e in chain)
        if isinstance(exc, OSError):
            facts["errno"] = exc.errno
        if isinstance(exc, AttributeError):
            facts["attr_on_src"] = self._owned_by_src(getattr(exc, "obj", None))
        if tb is None:
            tb = exc.__traceback__
        where = []  # frames in the app's own files (tests/, src/), innermost last
        last = None
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename.startswith(self.root_dir):
                where.append(
                    f"{code.co_filename[len(self.root_dir) :]}:{tb.tb_lineno} in {code.co_name}"
                )
            last = tb
            tb = tb.tb_next
        if last is not None:
            facts["raised_in_src"] = last.tb_frame.f_code.co_filename.startswith(self.src_dir)
        if isinstance(exc, SyntaxError) and exc.filename:
            where.append(f"{str(exc.filename).replace(self.root_dir, '')}:{exc.lineno}")
        head = "\n".join(where[-4:])
        message = facts["message"].replace(self.root_dir, "")
        facts["detail"] = tail(f"{head}\n{facts['mro'][0]}: {message}".strip(), DETAIL_CHARS)
        return facts

    def _owned_by_src(self, obj) -> bool:
        """Whether obj is a generated module, or a class/instance defined in one."""
        try:
            if obj is None:
                return False
            if isinstance(obj, types.ModuleType):
                module = obj
            else:
                cls = obj if isinstance(obj, type) else type(obj)
                module = sys.modules.get(cls.__module__)
            filename = getattr(module, "__file__", None) or ""
            return filename.startswith(self.src_dir)
        except BaseException:  # noqa: BLE001
            return False


# Modules whose objects decide a verdict: pytest, pluggy, this plugin, the audit hook, the trusted
# comparisons and the JSON encoder the events go through. CRITICAL ones are checked after
# every test (~0.1 ms), all of them at the end of the session (~0.9 ms; docs/harness.md).
PROTECTED_MODULES = (
    "_pytest",
    "pytest",
    "pluggy",
    "_events",
    "_audit_hook",
    "_comparisons",
    "json",
    "builtins",
)
CRITICAL_MODULES = frozenset(
    {
        "_pytest.runner",
        "_pytest.reports",
        "_pytest.python",
        "pluggy._callers",
        "pluggy._hooks",
        "pluggy._result",
        "_events",
        "_comparisons",
        "json",
        "json.encoder",
    }
)
_MISSING = object()
# Entries pytest itself sets while it runs tests: the assertion plugin's per-test hooks in
# `_pytest.assertion.util`, and a flag NodeMeta leaves on each Node class it instantiates.
MUTABLE_ENTRIES = frozenset(
    {"_reprcompare", "_assertion_pass", "_config", "_pytest_diamond_inheritance_warning_shown"}
)


class _Memory:
    """Many small regions of a process's memory, compared with a copy taken in the worker.

    Why raw bytes: comparing a snapshot through Python references increments the reference
    count of every object in it, and after `fork` each page so written is copied: the end-of-run
    check of ~9500 entries cost 3-11 ms per app that way. Reading the bytes of dict headers
    (`ma_version_tag`, which CPython renews on every change), slot objects and lists writes
    nothing. Why from the worker: the child must not hold any means of reading or writing raw
    memory (ctypes' types are such a means wherever `_ctypes` was ever loaded, and a readable
    `/proc/self/mem` descriptor would hand out the events key), so the worker reads the
    child's `/proc/<pid>/mem` when the child's audit hook asks (`VerdictState.serve`); those
    reads do not pin, so unlike `process_vm_readv` they make the kernel copy no shared page of
    the child. The kernel serves each read vector of that file as a read of its own (~1 us
    each), so regions less than a page apart are read as one span into one buffer (one
    `pread` each), and the regions are cut out of it by one C-level `itemgetter`."""

    PAGE = 4096
    MAX_SPAN = 1 << 16

    def __init__(self, regions: list[tuple[int, int]], mem_fd: int) -> None:
        order = sorted(range(len(regions)), key=lambda i: regions[i][0])
        spans: list[list] = []  # [start, end]
        where = [0] * len(regions)  # each region's span
        for i in order:
            address, size = regions[i]
            last = spans[-1] if spans else None
            if (
                last is not None
                and address - last[1] < self.PAGE
                and max(last[1], address + size) - last[0] <= self.MAX_SPAN
            ):
                last[1] = max(last[1], address + size)
            else:
                spans.append([address, address + size])
            where[i] = len(spans) - 1
        self.buffer = bytearray(sum(end - start for start, end in spans))
        view = memoryview(self.buffer)
        self.spans, offset = [], 0  # (remote start, buffer view)
        span_offsets = []
        for start, end in spans:
            self.spans.append((start, view[offset : offset + end - start]))
            span_offsets.append(offset)
            offset += end - start
        cuts = []
        for i, (address, size) in enumerate(regions):
            local = span_offsets[where[i]] + address - spans[where[i]][0]
            cuts.append(slice(local, local + size))
        cuts.append(slice(0, 0))  # itemgetter of one item would not return a tuple
        self.cut = operator.itemgetter(*cuts)
        self.size = sum(size for _, size in regions)
        self.last: tuple = ()
        self.ok = self.read(mem_fd)
        self.base = self.last
        self.expected = self.base

    def reset(self) -> None:
        """Back to the worker's copy (at the start of every app: `accept` changes it)."""
        self.expected = self.base

    def read(self, mem_fd: int) -> bool:
        """Read every span and cut out the regions (`last`); False when the kernel refuses."""
        pread = os.preadv
        try:
            for start, view in self.spans:
                if pread(mem_fd, (view,), start) != len(view):
                    return False
        except OSError:
            return False
        self.last = self.cut(self.buffer)
        return True

    def same(self, mem_fd: int) -> bool | None:
        """Whether every region reads as in the copy (None: unreadable)."""
        if not self.read(mem_fd):
            return None
        return self.last == self.expected

    def accept(self, first: int, last: int) -> None:
        """Take the last read of regions first..last-1 as their copy."""
        self.expected = self.expected[:first] + self.last[first:last] + self.expected[last:]


def _dict_of(mapping):
    """The dict behind a module's or a class's namespace (a mappingproxy), else None."""
    import gc

    if type(mapping) is dict:
        return mapping
    inner = gc.get_referents(mapping)
    return inner[0] if len(inner) == 1 and type(inner[0]) is dict else None


# CPython's PyDictObject: ob_refcnt, ob_type, ma_used, ma_version_tag, ma_keys, ...; the
# reference count (first word) is left out of every region: reading it is what we avoid.
_DICT_REGION = (16, 24)  # ma_used, ma_version_tag, ma_keys
_LIST_HEADER = (8, 32)  # ob_type, ob_size, ob_item, allocated


def _word(mem_fd: int, address: int) -> int:
    return int.from_bytes(os.pread(mem_fd, 8, address), sys.byteorder)


def _raw_layout_ok(mem_fd: int) -> bool:
    """Whether this interpreter's dicts and lists look as `_DICT_REGION`/`_LIST_HEADER` say
    (a future CPython without `ma_version_tag` makes the check take its exact path)."""
    if sys.implementation.name != "cpython" or sys.maxsize != 2**63 - 1:
        return False
    probe = {"a": 1}
    before = _word(mem_fd, id(probe) + 24)
    probe["a"] = object()
    after = _word(mem_fd, id(probe) + 24)
    probe["b"] = 2
    items = [1, 2, 3]
    return (
        _word(mem_fd, id(probe) + 16) == 2
        and before != after != _word(mem_fd, id(probe) + 24)
        and _word(mem_fd, id(items) + 16) == 3
        and _word(mem_fd, _word(mem_fd, id(items) + 24)) == id(1)
    )


def _slots_only(obj, attrs: list[str]) -> bool:
    """Whether each of `attrs` lives in `obj`'s own memory (a `__slots__` member) and `obj`
    has no `__dict__`: then its bytes say whether those attributes changed."""
    kind = type(obj)
    if kind.__dictoffset__ != 0:
        return False
    for attr in attrs:
        for klass in kind.__mro__:
            if attr in klass.__dict__:
                if type(klass.__dict__[attr]).__name__ != "member_descriptor":
                    return False
                break
        else:
            return False
    return True


def _list_regions(items: list, mem_fd: int) -> list[tuple[int, int]]:
    """The list's header (size, item array, capacity) and its item pointers."""
    regions = [(id(items) + _LIST_HEADER[0], _LIST_HEADER[1])]
    if items:
        regions.append((_word(mem_fd, id(items) + 24), 8 * len(items)))
    return regions


class _Units:
    """Things checked together, each with its memory regions: `differing()` names the units
    whose bytes changed since the snapshot (None: memory unreadable, check everything)."""

    def __init__(self) -> None:
        self.units: list = []  # (kind, payload)
        self.regions: list = []  # (address, size) of every unit, in order
        self.first: list = [0]  # index of each unit's first region (and one past the last)
        self.always: list = []  # units without a readable region: compared every time

    def add(self, kind: str, payload, regions: list[tuple[int, int]]) -> None:
        self.units.append((kind, payload))
        self.regions.extend(regions)
        self.first.append(len(self.regions))

    def freeze(self, mem_fd: int) -> bool:
        self.memory = _Memory(self.regions, mem_fd)
        return self.memory.ok

    def differing(self, mem_fd: int) -> list[int] | None:
        """Indexes of the units whose bytes differ; None: unreadable. In the worker."""
        same = self.memory.same(mem_fd)
        if same is None:
            return None
        if same:
            return []
        now, then, first = self.memory.last, self.memory.expected, self.first
        found = []
        for i in range(len(self.units)):
            start, end = first[i], first[i + 1]
            if now[start:end] != then[start:end]:
                found.append(i)
        return found

    def accept(self, unit_indexes: list[int]) -> None:
        """Take the last read bytes of these units as the new reference. Only for dict units
        that the exact check found unchanged: a dict's version tag never comes back to an
        earlier value, so a later change still differs (a slot or list pointer could: never
        here)."""
        for i in unit_indexes:
            if type(i) is int and 0 <= i < len(self.units) and self.units[i][0] in ACCEPTABLE:
                self.memory.accept(self.first[i], self.first[i + 1])


ACCEPTABLE = ("entry", "plugins")  # unit kinds whose bytes may be re-accepted (`_Units.accept`)


def _size_ok(mapping, size: int) -> bool:
    return size < 0 or len(mapping) == size


class _Group:
    """Watched mappings, also flattened into parallel tuples for one C-level pass."""

    def __init__(self) -> None:
        self.entries: list = []  # (owner, mapping, size or -1, keys, values, set of keys)

    def freeze(self) -> None:
        # One pass per mapping type with its own C `get` (dicts: modules, plugin manager;
        # mappingproxies: classes): no Python call per entry.
        self.flat = []
        for kind in {type(e[1]) for e in self.entries}:
            maps, keys, values = [], [], []
            for _, mapping, _, entry_keys, entry_values, _ in self.entries:
                if type(mapping) is kind:
                    maps.extend([mapping] * len(entry_keys))
                    keys.extend(entry_keys)
                    values.extend(entry_values)
            self.flat.append((kind.get, tuple(maps), tuple(keys), tuple(values)))
        self.mappings = tuple(e[1] for e in self.entries)
        self.sizes = tuple(e[2] for e in self.entries)


class VerdictState:
    """Identity snapshot of everything that decides a verdict in the tested process: the
    plugin set and every hook's implementations, the plugin manager, and the dicts of the
    PROTECTED_MODULES and the classes they define. `changed()` names what differs."""

    def __init__(self, config, modules: dict, tests_dir: str, comparisons=None) -> None:
        # The app's own conftest.py files register as plugins during collection: allowed.
        self.conftest_prefix = tests_dir + os.sep
        self.untrusted_file = lambda name: True  # the audit hook's predicate, set in the child
        self.critical, self.rest = _Group(), _Group()
        slots: list = []  # (object, attribute, value): after every test
        rest_slots: list = []  # at the end
        self.lists: list = []  # (owner name, list, tuple of its items)
        pm = config.pluginmanager
        self._add(self.critical, "plugin manager", vars(pm))
        self.plugins = ("plugin names", pm._name2plugin, dict(pm._name2plugin))
        # Test modules' bindings of the trusted comparison (`_comparisons.bind`).
        self.bound = comparisons.BOUND if comparisons is not None else []
        self.strict = comparisons.strict if comparisons is not None else None
        self.strict_name = comparisons.STRICT_NAME if comparisons is not None else ""
        self.bound_seen = 0
        self._add(self.critical, "config", vars(config))
        self._add(self.critical, "hooks", vars(config.hook))
        for name, caller in vars(config.hook).items():
            slots.append((caller, "_hookimpls", getattr(caller, "_hookimpls", None)))
            for attr in ("_hookexec", "spec"):
                rest_slots.append((caller, attr, getattr(caller, attr, None)))
            impls = getattr(caller, "_hookimpls", None)
            if isinstance(impls, list):
                self.lists.append((f"hook {name}", impls, tuple(impls)))
                for impl in impls:
                    slots.append((impl, "function", impl.function))
                    for attr in ("plugin", "wrapper", "hookwrapper", "tryfirst", "trylast"):
                        rest_slots.append((impl, attr, getattr(impl, attr)))
        for name, module in sorted(modules.items()):
            if module is None or not name.startswith(PROTECTED_MODULES):
                continue
            target = self.critical if name in CRITICAL_MODULES else self.rest
            self._add(target, name, vars(module), additions=False)
            for value in list(vars(module).values()):
                if isinstance(value, type) and value.__module__ == name:
                    self._add(target, f"{name}.{value.__qualname__}", value.__dict__)
        self.slots = tuple(zip(*slots, strict=True)) if slots else ((), (), ())
        self.rest_slots = tuple(zip(*rest_slots, strict=True)) if rest_slots else ((), (), ())
        self.critical.freeze()
        self.rest.freeze()
        self.accepted: list = [[], []]  # per phase: units to re-accept at the next check
        self.raw = self._build_raw()

    @staticmethod
    def _add(target: _Group, owner: str, mapping, additions: bool = True) -> None:
        """Watch `mapping`'s entries; with `additions`, new keys too (a class attribute added
        overrides an inherited one; a name added to a module changes nothing that exists)."""
        keys = tuple(k for k in mapping if k not in MUTABLE_ENTRIES)
        values = tuple(mapping[k] for k in keys)
        size = len(mapping) if additions else -1
        target.entries.append((owner, mapping, size, keys, values, frozenset(keys)))

    def _build_raw(self) -> list | None:
        """[per-test units, end-of-run units] of the raw-memory filter (`_Memory`), built and
        first read in the worker (its own `/proc/self/mem`, closed again); None where this
        interpreter's layout is not the one expected or the kernel refuses."""
        try:
            mem_fd = os.open("/proc/self/mem", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            return self._units(mem_fd) if _raw_layout_ok(mem_fd) else None
        except OSError:
            return None
        finally:
            os.close(mem_fd)

    def _units(self, mem_fd: int) -> list | None:
        phases = []
        for group, slots in ((self.critical, self.slots), (self.rest, self.rest_slots)):
            units = _Units()
            for entry in group.entries:
                inner = _dict_of(entry[1])
                if inner is None:
                    units.always.append(("entry", entry))
                else:
                    units.add("entry", entry, [(id(inner) + _DICT_REGION[0], _DICT_REGION[1])])
            by_object: dict = {}
            for obj, attr, value in zip(*slots, strict=True):
                by_object.setdefault(id(obj), (obj, []))[1].append((obj, attr, value))
            for obj, triples in by_object.values():
                if _slots_only(obj, [attr for _, attr, _ in triples]):
                    size = type(obj).__basicsize__ - 8  # all but the reference count
                    units.add("slots", triples, [(id(obj) + 8, size)])
                else:
                    units.always.append(("slots", triples))
            if group is self.critical:
                for item in self.lists:
                    units.add("list", item, _list_regions(item[1], mem_fd))
                units.add("plugins", self.plugins, [(id(self.plugins[1]) + 16, 24)])
            if not units.freeze(mem_fd):
                return None
            phases.append(units)
        self.raw_lists = len(self.lists)  # lists added later (in the child) are not in it
        return phases

    def reset(self) -> None:
        """In the worker, before each app: forget what the last app's checks accepted."""
        for units in self.raw or ():
            units.memory.reset()

    def serve(self, mem_fd: int, full: bool, accept: list) -> list | None:
        """In the worker, for the child's hook: apply `accept` (per phase: unit indexes the
        child found unchanged at its last check), read the child's memory and return, per
        phase checked, the indexes of the units whose bytes differ (None: unreadable)."""
        if self.raw is None or mem_fd < 0:
            return None
        answer = []
        for phase, units in enumerate(self.raw if full else self.raw[:1]):
            if phase < len(accept) and isinstance(accept[phase], list):
                units.accept(accept[phase])
            differing = units.differing(mem_fd)
            if differing is None:
                return None
            answer.append(differing)
        return answer

    def changed(self, full: bool = False, ask=None) -> list[str]:
        """What differs from the snapshot (empty: nothing). Identity only: an always-equal
        object put in place of a function is a change. The raw-memory filter (`_Memory`,
        read by the worker: `ask(full, accept)` returns `serve`'s answer) skips every unit
        whose bytes are as in the snapshot, which implies the identities."""
        answer = None
        if self.raw is not None and ask is not None:
            answer = ask(full, self.accepted)
            self.accepted = [[], []]
        if answer is None:
            return self._changed_exact(full)
        found: list = []
        for phase, differing in enumerate(answer):
            units = self.raw[phase]
            for index in differing:
                kind, payload = units.units[index]
                news = self._check(kind, payload)
                if not news and kind in ACCEPTABLE:
                    self.accepted[phase].append(index)
                found.extend(news)
            for kind, payload in units.always:
                found.extend(self._check(kind, payload))
        for item in self.lists[self.raw_lists :]:
            found.extend(self._check("list", item))
        found.extend(self._check_bound())
        return found

    def _check(self, kind: str, payload, _missing=_MISSING) -> list[str]:
        found = []
        if kind == "entry":
            owner, mapping, size, keys, values, keyset = payload
            if size >= 0 and len(mapping) != size:
                added = [k for k in list(mapping) if k not in keyset]
                found.extend(f"{owner}.{k} (added)" for k in added if k not in MUTABLE_ENTRIES)
            found.extend(
                f"{owner}.{k}"
                for k, v in zip(keys, values, strict=True)
                if mapping.get(k, _missing) is not v
            )
        elif kind == "slots":
            found.extend(
                f"{type(o).__name__}.{a}" for o, a, v in payload if getattr(o, a, _missing) is not v
            )
        elif kind == "list":
            owner, items, copy = payload
            current = tuple(items)
            if len(current) == len(copy) and all(map(operator.is_, current, copy)):
                return found
            kept = tuple(i for i in current if any(i is c for c in copy))
            same = len(kept) == len(copy) and all(map(operator.is_, kept, copy))
            if not same or not all(
                any(i is c for c in copy) or self._conftest_impl(i) for i in current
            ):
                found.append(f"{owner} implementations")
        elif kind == "plugins":
            owner, names, copy = payload
            for name, plugin in list(names.items()):
                if copy.get(name, _missing) is not plugin and not self._conftest(plugin):
                    found.append(f"{owner}: {name}")
            if any(name not in names for name in copy):
                found.append(f"{owner}: a plugin was unregistered")
        return found

    def _check_bound(self, _missing=_MISSING) -> list[str]:
        found = []
        bound = self.bound
        if len(bound) < self.bound_seen:
            found.append("test modules' trusted comparisons (bindings removed)")
        self.bound_seen = len(bound)
        for namespace in bound:
            if namespace.get(self.strict_name, _missing) is not self.strict:
                found.append(f"{namespace.get('__name__')}: its trusted comparison")
        return found

    def _changed_exact(
        self,
        full: bool = False,
        _len=len,
        _all=all,
        _map=map,
        _is=operator.is_,
        _repeat=itertools.repeat,
        _getattr=getattr,
        _missing=_MISSING,
    ) -> list[str]:
        """`changed()` without the raw-memory filter: every identity, at C speed (`map` of
        `operator.is_`) where nothing changed."""
        found = []
        for group in (self.critical, self.rest) if full else (self.critical,):
            if _all(
                _all(_map(_is, _map(get, maps, keys, _repeat(_missing)), values))
                for get, maps, keys, values in group.flat
            ) and _all(_map(_size_ok, group.mappings, group.sizes)):
                continue
            for entry in group.entries:
                found.extend(self._check("entry", entry))
        for objects, attrs, values in (self.slots, self.rest_slots) if full else (self.slots,):
            if not _all(_map(_is, _map(_getattr, objects, attrs, _repeat(_missing)), values)):
                found.extend(self._check("slots", zip(objects, attrs, values, strict=True)))
        for item in self.lists:
            found.extend(self._check("list", item))
        found.extend(self._check_bound())
        found.extend(self._check("plugins", self.plugins))
        return found

    def _conftest(self, plugin) -> bool:
        filename = getattr(plugin, "__file__", None) if type(plugin) is types.ModuleType else None
        return (
            type(filename) is str
            and filename.startswith(self.conftest_prefix)
            and os.path.basename(filename) == "conftest.py"
            and not self.untrusted_file(filename)
        )

    def _conftest_impl(self, impl) -> bool:
        """A hook implementation of the app's conftest.py: defined in that very file."""
        plugin = getattr(impl, "plugin", None)
        code = getattr(getattr(impl, "function", None), "__code__", None)
        return self._conftest(plugin) and getattr(code, "co_filename", None) == plugin.__file__


def _event_tag(key: bytes, previous: bytes, body: bytes, _blake2b=hashlib.blake2b) -> bytes:
    # blake2b bound at definition: a `hashlib` rebound by the tested code never sees the key
    return _blake2b(previous + body, key=key, digest_size=MAC_HEX // 2).hexdigest().encode()


def verify_events(data: bytes, key: bytes) -> tuple[list[dict], int, int]:
    """Parse the events file: (events, malformed lines, forged lines). A line whose tag does
    not continue the chain was not written by the result plugin; it is dropped and counted."""
    events, malformed, forged, tag = [], 0, 0, b""
    for line in data.split(b"\n"):
        if not line:
            continue
        head, _, body = line.partition(b" ")
        if len(head) != MAC_HEX or not hmac.compare_digest(head, _event_tag(key, tag, body)):
            forged += 1
            continue
        tag = head
        try:
            events.append(json.loads(body))
        except ValueError:
            malformed += 1
    return events, malformed, forged


def _exception_chain(exc: BaseException, limit: int = 10) -> list[BaseException]:
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen and len(chain) < limit:
        seen.add(id(exc))
        chain.append(exc)
        reason = getattr(exc, "reason", None)  # urllib.error.URLError keeps the cause here
        if isinstance(reason, BaseException) and id(reason) not in seen:
            chain.append(reason)
            seen.add(id(reason))
        exc = exc.__cause__ or exc.__context__
    return chain


def tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]
