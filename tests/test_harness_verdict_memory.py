"""The raw-memory filter of the verdict snapshot check (`_events._Units`, issue 27 item 6).

The check after every test and at the end of a run reads the bytes of the watched dicts'
headers, slot objects and lists instead of their Python references (which would copy every
page they sit on after `fork`). These tests hold it to the exact check's answers: whatever the
exact check would call a change must make the unit differ, and an accepted dict must differ
again after a later change. The red team (`test_harness_verdicts.py`) runs through this path.
In the harness the worker reads a child's `/proc/<pid>/mem`; here this process reads its own.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

import cetd_lib.sandbox
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.pool import SandboxPool, namespaces_unavailable

_PATH = Path(cetd_lib.sandbox.__file__).parent / "_events.py"
_spec = importlib.util.spec_from_file_location("cetd_events_under_test", _PATH)
events = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(events)
MEM = os.open("/proc/self/mem", os.O_RDONLY | os.O_CLOEXEC)


class Slotted:
    __slots__ = ("function", "plugin")

    def __init__(self, function, plugin) -> None:
        self.function, self.plugin = function, plugin


def build(namespace: dict, obj: Slotted, items: list):
    """Units over the three kinds of region; each payload holds its object alive, as the
    snapshot does (regions are bare addresses)."""
    units = events._Units()
    units.add("entry", ("namespace", namespace), [(id(namespace) + 16, 24)])
    assert events._slots_only(obj, ["function", "plugin"])
    units.add("slots", ("obj", obj), [(id(obj) + 8, type(obj).__basicsize__ - 8)])
    units.add("list", ("items", items), events._list_regions(items, MEM))
    assert units.freeze(MEM)
    return units


def names(units) -> list[str]:
    return [units.units[i][1][0] for i in units.differing(MEM)]


def test_this_interpreter_takes_the_raw_path():
    assert events._raw_layout_ok(MEM)


def test_regions_far_apart_and_many_are_all_read():
    """Regions in many spans (one read each): a change in the last one is still seen."""
    namespaces = [{"k": i} for i in range(3000)]
    spread = [b"x" * 9000 for _ in range(50)]  # pushes some dicts more than a page apart
    units = events._Units()
    for i, namespace in enumerate(namespaces):
        units.add("entry", (f"ns{i}", namespace, spread), [(id(namespace) + 16, 24)])
    assert units.freeze(MEM)
    assert len(units.memory.spans) > 1
    assert names(units) == []
    namespaces[-1]["k"] = -1
    namespaces[7]["new"] = 1
    assert names(units) == ["ns7", "ns2999"]


def test_nothing_changed_reads_as_nothing():
    namespace, items = {"a": len, "b": print}, [1, 2, 3]
    units = build(namespace, Slotted(len, None), items)
    for _ in range(3):
        assert names(units) == []


@pytest.mark.parametrize(
    "change",
    ["replace", "add", "delete", "replace and restore", "slot", "append", "item in place"],
)
def test_every_change_makes_its_unit_differ(change):
    namespace, obj, items = {"a": len, "b": print}, Slotted(len, None), [1, 2, 3]
    units = build(namespace, obj, items)
    expected = {
        "replace": "namespace",
        "add": "namespace",
        "delete": "namespace",
        "replace and restore": "namespace",  # the version tag moved on: the exact check decides
        "slot": "obj",
        "append": "items",
        "item in place": "items",
    }[change]
    if change == "replace":
        namespace["a"] = abs
    elif change == "add":
        namespace["c"] = abs
    elif change == "delete":
        del namespace["b"]
    elif change == "replace and restore":
        namespace["a"] = abs
        namespace["a"] = len
    elif change == "slot":
        obj.function = abs
    elif change == "append":
        items.append(4)
    else:
        items[1] = 7
    assert names(units) == [expected]


def test_rewriting_the_same_object_is_no_change():
    namespace = {"a": len}
    units = build(namespace, Slotted(len, None), [])
    namespace["a"] = len
    assert names(units) == []


def test_an_accepted_dict_differs_again_after_a_later_change():
    namespace = {"a": len}
    units = build(namespace, Slotted(len, None), [])
    namespace["flag"] = True  # e.g. an entry pytest itself sets during a run
    differing = units.differing(MEM)
    assert [units.units[i][1][0] for i in differing] == ["namespace"]
    units.accept(differing)
    assert names(units) == []
    namespace["a"] = abs
    assert names(units) == ["namespace"]
    namespace["a"] = len  # back to the snapshot's object: still differs from the accepted bytes
    assert names(units) == ["namespace"]


def test_only_dict_units_can_be_accepted():
    """A slot or list pointer may come back to an earlier value: never re-accepted, whatever
    the (keyed, but still) request says."""
    obj = Slotted(len, None)
    units = build({"a": len}, obj, [1])
    obj.function = abs
    assert names(units) == ["obj"]
    units.accept(units.differing(MEM) + [99, -1, "x"])
    assert names(units) == ["obj"]


def test_unreadable_memory_is_none_not_nothing():
    units = build({"a": len}, Slotted(len, None), [])
    assert units.differing(-1) is None


def test_an_attribute_outside_slots_is_not_read_raw():
    class Plain:
        def __init__(self) -> None:
            self.function = len

    assert not events._slots_only(Plain(), ["function"])
    assert not events._slots_only(Slotted(len, None), ["function", "missing"])


@pytest.mark.parametrize("sandbox", ["rlimits-only", "namespaces"])
def test_the_worker_reads_the_childs_memory_for_every_check(sandbox):
    """After every test and at the end the child's hook asks its worker, which reads the
    child's memory (the child itself holds no means to): every answer is a raw read, and a
    change the code makes is still named."""
    if sandbox == "namespaces" and namespaces_unavailable() is not None:
        pytest.skip("no namespaces on this machine")
    pool = SandboxPool(HarnessConfig(sandbox=sandbox, cache=False), workers=1)
    try:
        worker = pool.workers[0]
        worker.start()
        tests = {
            "test_m.py": "from m import f\n\ndef test_a():\n    assert f(3) == 9\n\n"
            "def test_b():\n    assert f(2) == 4\n"
        }
        honest = "def f(x):\n    return x * x\n"
        patched = "import json\njson.dumps = (lambda g: lambda *a, **k: g(*a, **k))(json.dumps)\n"
        messages = []
        for code in (honest, patched + honest):
            job = {"id": 1, "sources": {"m.py": code}, "tests": tests}
            messages.append(worker.run({**job, "timeout_s": 20, "test_timeout_s": 10}, 60))
    finally:
        pool.close()
    for message in messages:
        assert message["checks"] == {"served": 3, "raw": 3}  # two tests, then the end
    tampered = [e["what"] for e in messages[1]["events"] if e["ev"] == "tampered"]
    assert not [e for e in messages[0]["events"] if e["ev"] == "tampered"]
    assert tampered and all("json.dumps" in what for what in tampered)
