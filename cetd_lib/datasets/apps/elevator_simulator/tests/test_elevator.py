import pytest

from elevator import Direction, Elevator
from simulation import average_wait, simulate


def test_initial_state():
    car = Elevator(0, 5, start=2)
    assert car.floor == 2
    assert car.direction is Direction.IDLE
    assert car.pending == []
    assert car.step() is None


def test_constructor_validation():
    with pytest.raises(ValueError):
        Elevator(3, 3)
    with pytest.raises(ValueError):
        Elevator(0, 5, start=9)


def test_call_out_of_range():
    car = Elevator(0, 5)
    with pytest.raises(ValueError):
        car.call(6)
    with pytest.raises(ValueError):
        car.call(-1)


def test_moves_one_floor_per_tick_and_serves():
    car = Elevator(0, 9)
    car.call(3)
    assert car.step() is None
    assert car.floor == 1 and car.direction is Direction.UP
    assert car.step() is None
    assert car.step() == 3
    assert car.direction is Direction.IDLE
    assert car.pending == []


def test_call_at_current_floor_served_without_moving():
    car = Elevator(0, 9, start=4)
    car.call(4)
    assert car.step() == 4
    assert car.floor == 4
    assert car.moves == 0


def test_look_keeps_direction_before_reversing():
    car = Elevator(0, 9, start=5)
    car.call(8)
    car.step()  # now at 6 going up
    car.call(2)
    assert car.run_until_idle() == [8, 2]
    assert car.moves == 1 + 2 + 6


def test_idle_picks_nearest_stop_tie_goes_up():
    car = Elevator(0, 9, start=5)
    car.call(3)
    car.call(7)
    car.step()
    assert car.floor == 6
    assert car.direction is Direction.UP
    assert car.run_until_idle() == [7, 3]


def test_idle_picks_nearest_stop_down():
    car = Elevator(0, 9, start=5)
    car.call(4)
    car.call(9)
    assert car.run_until_idle() == [4, 9]


def test_pending_is_sorted_and_deduplicated():
    car = Elevator(0, 9)
    for f in (7, 2, 7, 5):
        car.call(f)
    assert car.pending == [2, 5, 7]


def test_simulate_collects_stops_on_the_way():
    result = simulate([(0, 6), (1, 3)], 0, 9, 0)
    assert result == [(2, 3), (5, 6)]


def test_simulate_late_request_behind_car():
    result = simulate([(0, 5), (2, 1)], 0, 9, 0)
    assert result == [(4, 5), (8, 1)]


def test_simulate_waits_for_future_requests():
    result = simulate([(3, 1)], 0, 5, 0)
    assert result == [(3, 1)]
    assert simulate([], 0, 5, 0) == []


def test_average_wait():
    requests = [(0, 6), (1, 3)]
    served = simulate(requests)
    assert average_wait(requests, served) == pytest.approx((5 + 1) / 2)
    assert average_wait([], []) == 0.0
    with pytest.raises(ValueError):
        average_wait([(0, 4)], [(0, 3)])
