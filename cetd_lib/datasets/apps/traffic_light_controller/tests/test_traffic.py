import pytest

from traffic import PHASES, Controller, Signal, describe, timeline


def test_initial_state():
    c = Controller()
    assert c.phase == "NS_GREEN"
    assert c.remaining == 30
    assert c.elapsed == 0
    assert c.signals() == {"NS": Signal.GREEN, "EW": Signal.RED}


def test_cycle_length():
    assert Controller().cycle_length == 30 + 20 + 2 * 4 + 2 * 2
    assert Controller(5, 5, 1, 1).cycle_length == 14


def test_invalid_durations():
    with pytest.raises(ValueError):
        Controller(ns_green=0)
    with pytest.raises(ValueError):
        Controller(all_red=-1)
    with pytest.raises(ValueError):
        Controller(walk_cutoff=0)


def test_tick_changes_phase_when_time_runs_out():
    c = Controller(ns_green=3, ew_green=2, yellow=1, all_red=1)
    assert c.tick(2) == []
    assert c.remaining == 1
    assert c.tick() == ["NS_YELLOW"]
    assert c.signals() == {"NS": Signal.YELLOW, "EW": Signal.RED}
    assert c.remaining == 1


def test_tick_over_multiple_phases():
    c = Controller(ns_green=3, ew_green=2, yellow=1, all_red=1)
    assert c.tick(5) == ["NS_YELLOW", "ALL_RED_TO_EW", "EW_GREEN"]
    assert c.elapsed == 5
    assert c.signals() == {"NS": Signal.RED, "EW": Signal.GREEN}


def test_full_cycle_returns_to_start():
    c = Controller(ns_green=3, ew_green=2, yellow=1, all_red=1)
    entered = c.tick(c.cycle_length)
    assert entered == [name for name, _, _ in PHASES[1:]] + ["NS_GREEN"]
    assert c.phase == "NS_GREEN" and c.remaining == 3


def test_tick_zero_and_negative():
    c = Controller()
    assert c.tick(0) == []
    with pytest.raises(ValueError):
        c.tick(-1)


def test_never_both_directions_green():
    c = Controller(ns_green=4, ew_green=3, yellow=2, all_red=1)
    for _ in range(50):
        s = c.signals()
        assert not (s["NS"] is not Signal.RED and s["EW"] is not Signal.RED)
        c.tick()


def test_request_walk_shortens_long_green():
    c = Controller(ns_green=30, walk_cutoff=5)
    c.tick(10)
    assert c.request_walk() is True
    assert c.remaining == 5
    assert c.tick(5) == ["NS_YELLOW"]


def test_request_walk_ignored_when_short_or_not_green():
    c = Controller(ns_green=8, yellow=3, walk_cutoff=5)
    c.tick(4)
    assert c.request_walk() is False
    assert c.remaining == 4
    c.tick(4)
    assert c.phase == "NS_YELLOW"
    assert c.request_walk() is False
    assert c.remaining == 3


def test_timeline():
    c = Controller(ns_green=3, ew_green=2, yellow=1, all_red=1)
    assert timeline(c, 9) == [
        (0, "NS_GREEN"),
        (3, "NS_YELLOW"),
        (4, "ALL_RED_TO_EW"),
        (5, "EW_GREEN"),
        (7, "EW_YELLOW"),
        (8, "ALL_RED_TO_NS"),
        (9, "NS_GREEN"),
    ]


def test_timeline_offsets_are_relative():
    c = Controller(ns_green=3, ew_green=2, yellow=1, all_red=1)
    c.tick(4)
    assert timeline(c, 3) == [(0, "ALL_RED_TO_EW"), (1, "EW_GREEN"), (3, "EW_YELLOW")]
    assert c.elapsed == 7


def test_describe():
    c = Controller(ns_green=3, ew_green=2, yellow=1, all_red=1)
    assert describe(c) == "NS_GREEN NS=green EW=red (3s left)"
    c.tick(8)
    assert describe(c) == "ALL_RED_TO_NS NS=red EW=red (1s left)"
