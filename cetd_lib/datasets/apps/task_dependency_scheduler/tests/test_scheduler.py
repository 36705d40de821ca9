import pytest

from planning import critical_path, makespan, parallel_schedule
from tasks import CycleError, Task, TaskGraph, UnknownDependency


def build_graph():
    g = TaskGraph()
    g.add("fetch", duration=2)
    g.add("configure", priority=1, duration=1)
    g.add("compile", duration=4, deps=["fetch", "configure"])
    g.add("docs", priority=5, duration=3, deps=["fetch"])
    g.add("test", duration=2, deps=["compile"])
    g.add("package", duration=1, deps=["test", "docs"])
    return g


def test_add_returns_task_and_rejects_duplicates():
    g = TaskGraph()
    t = g.add("a", priority=2, duration=3, deps=["b"])
    assert t == Task("a", 2, 3, frozenset({"b"}))
    assert "a" in g and len(g) == 1
    with pytest.raises(ValueError):
        g.add("a")
    with pytest.raises(ValueError):
        g.add("z", duration=0)


def test_order_respects_dependencies():
    g = build_graph()
    order = g.order()
    assert sorted(order) == g.names
    for name in order:
        for dep in g.get(name).deps:
            assert order.index(dep) < order.index(name)


def test_order_uses_priority_then_name():
    g = build_graph()
    assert g.order() == ["configure", "fetch", "docs", "compile", "test", "package"]


def test_order_alphabetical_when_priorities_equal():
    g = TaskGraph()
    for name in ["delta", "alpha", "charlie", "bravo"]:
        g.add(name)
    assert g.order() == ["alpha", "bravo", "charlie", "delta"]


def test_unknown_dependency():
    g = TaskGraph()
    g.add("a", deps=["ghost"])
    with pytest.raises(UnknownDependency):
        g.order()
    with pytest.raises(KeyError):
        g.get("nobody")


def test_dependents():
    g = build_graph()
    assert g.dependents("fetch") == ["compile", "docs"]
    assert g.dependents("package") == []


def test_cycle_detected_and_reported():
    g = TaskGraph()
    g.add("start")
    g.add("b", deps=["start", "c"])
    g.add("c", deps=["d"])
    g.add("d", deps=["b"])
    assert g.find_cycle() == ["b", "c", "d"]
    with pytest.raises(CycleError) as info:
        g.order()
    assert info.value.cycle == ["b", "c", "d"]


def test_self_dependency_is_cycle():
    g = TaskGraph()
    g.add("x", deps=["x"])
    assert g.find_cycle() == ["x"]
    with pytest.raises(CycleError):
        g.order()


def test_acyclic_graph_has_no_cycle():
    assert build_graph().find_cycle() is None


def test_critical_path():
    assert critical_path(build_graph()) == (9, ["fetch", "compile", "test", "package"])
    assert critical_path(TaskGraph()) == (0, [])


def test_parallel_schedule_two_workers():
    sched = parallel_schedule(build_graph(), workers=2)
    assert sched == {
        "configure": (0, 1),
        "fetch": (0, 2),
        "docs": (2, 5),
        "compile": (2, 6),
        "test": (6, 8),
        "package": (8, 9),
    }
    assert makespan(sched) == 9


def test_parallel_schedule_single_worker_follows_priorities():
    sched = parallel_schedule(build_graph(), workers=1)
    starts = sorted(sched, key=lambda n: sched[n][0])
    assert starts == ["configure", "fetch", "docs", "compile", "test", "package"]
    assert makespan(sched) == 13


def test_parallel_schedule_errors():
    with pytest.raises(ValueError):
        parallel_schedule(build_graph(), workers=0)
    g = TaskGraph()
    g.add("a", deps=["b"])
    g.add("b", deps=["a"])
    with pytest.raises(CycleError):
        parallel_schedule(g, workers=2)
    assert makespan({}) == 0
