import pytest

from metrics import completion_times, gantt, summarize, utilization
from process import Process, Slice
from scheduler import RoundRobin, fcfs, round_robin


def sample():
    return [
        Process("P1", 0, 5),
        Process("P2", 1, 3),
        Process("P3", 2, 1),
    ]


def test_process_validation():
    with pytest.raises(ValueError):
        Process("P", -1, 3)
    with pytest.raises(ValueError):
        Process("P", 0, 0)


def test_slice_length():
    assert Slice("A", 2, 7).length == 5


def test_quantum_must_be_positive():
    with pytest.raises(ValueError):
        RoundRobin(0)
    with pytest.raises(ValueError):
        round_robin(sample(), -2)


def test_duplicate_pids_rejected():
    with pytest.raises(ValueError):
        round_robin([Process("A", 0, 1), Process("A", 1, 1)], 2)


def test_round_robin_basic_timeline():
    assert round_robin(sample(), 2) == [
        Slice("P1", 0, 2),
        Slice("P2", 2, 4),
        Slice("P3", 4, 5),
        Slice("P1", 5, 7),
        Slice("P2", 7, 8),
        Slice("P1", 8, 9),
    ]


def test_new_arrival_queued_before_preempted_process():
    procs = [Process("A", 0, 4), Process("B", 2, 2)]
    assert round_robin(procs, 2) == [Slice("A", 0, 2), Slice("B", 2, 4), Slice("A", 4, 6)]


def test_contiguous_slices_are_merged():
    assert round_robin([Process("solo", 0, 7)], 2) == [Slice("solo", 0, 7)]


def test_idle_gap_until_next_arrival():
    procs = [Process("A", 0, 2), Process("B", 5, 1)]
    slices = round_robin(procs, 4)
    assert slices == [Slice("A", 0, 2), Slice("B", 5, 6)]
    assert gantt(slices) == "A[0-2] | idle[2-5] | B[5-6]"
    assert utilization(slices) == pytest.approx(3 / 6)


def test_equal_arrivals_keep_input_order():
    procs = [Process("Z", 0, 1), Process("Y", 0, 1), Process("X", 0, 1)]
    assert [s.pid for s in round_robin(procs, 1)] == ["Z", "Y", "X"]
    assert round_robin([], 3) == []


def test_fcfs():
    procs = [Process("B", 3, 2), Process("A", 0, 2), Process("C", 4, 1)]
    assert fcfs(procs) == [Slice("A", 0, 2), Slice("B", 3, 5), Slice("C", 5, 6)]


def test_summarize_round_robin():
    procs = sample()
    report = summarize(procs, round_robin(procs, 2))
    assert report.completion == {"P1": 9, "P2": 8, "P3": 5}
    assert report.turnaround == {"P1": 9, "P2": 7, "P3": 3}
    assert report.waiting == {"P1": 4, "P2": 4, "P3": 2}
    assert report.response == {"P1": 0, "P2": 1, "P3": 2}
    assert report.average_turnaround == pytest.approx(19 / 3)
    assert report.average_waiting == pytest.approx(10 / 3)


def test_round_robin_beats_fcfs_on_waiting_for_short_jobs():
    procs = [Process("long", 0, 10), Process("short", 1, 1)]
    rr = summarize(procs, round_robin(procs, 2))
    fc = summarize(procs, fcfs(procs))
    assert rr.waiting["short"] == 1
    assert fc.waiting["short"] == 9


def test_completion_times_and_missing_process():
    slices = [Slice("A", 0, 2), Slice("B", 2, 3), Slice("A", 3, 4)]
    assert completion_times(slices) == {"A": 4, "B": 3}
    with pytest.raises(ValueError):
        summarize([Process("C", 0, 1)], slices)
    assert utilization([]) == 0.0
    assert gantt([]) == ""
