import pytest

from life import Grid, find_cycle, run
from patterns import PATTERNS, pattern_cells, place


def test_from_text_and_to_text_round_trip():
    text = ".#.\n..#\n###"
    g = Grid.from_text(text)
    assert g.width == 3 and g.height == 3
    assert g.population == 5
    assert g.is_alive(1, 0) and not g.is_alive(0, 0)
    assert g.to_text() == text


def test_from_text_rejects_bad_input():
    with pytest.raises(ValueError):
        Grid.from_text("##\n#")
    with pytest.raises(ValueError):
        Grid.from_text("#x")
    with pytest.raises(ValueError):
        Grid(3, 3, [(3, 0)])
    with pytest.raises(ValueError):
        Grid(0, 3)


def test_live_neighbours_bounded_edges():
    g = Grid.from_text("##.\n#..\n...")
    assert g.live_neighbours(0, 0) == 2
    assert g.live_neighbours(1, 1) == 3
    assert g.live_neighbours(2, 2) == 0


def test_live_neighbours_wrapping():
    g = Grid.from_text("#...\n....\n....\n...#", wrap=True)
    assert g.live_neighbours(0, 0) == 1
    assert g.live_neighbours(3, 0) == 2


def test_blinker_oscillates():
    g = Grid.from_text(".....\n.....\n.###.\n.....\n.....")
    g1 = g.step()
    assert g1.to_text() == ".....\n..#..\n..#..\n..#..\n....."
    assert g1.step() == g


def test_block_is_still_life():
    g = place("block", 4, 4, offset=(1, 1))
    assert g.step() == g
    assert find_cycle(g) == (0, 1)


def test_step_does_not_mutate():
    g = Grid.from_text("###")
    g.step()
    assert g.to_text() == "###"


def test_lonely_cells_die_on_bounded_grid():
    g = Grid.from_text("#...#\n.....")
    assert g.step().population == 0


def test_run_glider_moves_diagonally_on_torus():
    g = place("glider", 6, 6, wrap=True)
    moved = run(g, 4)
    expected = {(x + 1, y + 1) for x, y in g.alive}
    assert moved.alive == frozenset(expected)


def test_run_zero_and_negative():
    g = Grid.from_text("###")
    assert run(g, 0) == g
    with pytest.raises(ValueError):
        run(g, -1)


def test_find_cycle_for_blinker_and_dying_pattern():
    g = place("blinker", 5, 5, offset=(1, 2))
    assert find_cycle(g) == (0, 2)
    lonely = Grid(3, 3, [(0, 0)])
    assert find_cycle(lonely) == (1, 1)


def test_find_cycle_gives_up():
    g = place("glider", 8, 8, wrap=True)
    assert find_cycle(g, max_steps=5) is None
    assert find_cycle(g) == (0, 32)


def test_patterns_library():
    assert {"block", "blinker", "glider", "toad", "beacon"} <= set(PATTERNS)
    assert pattern_cells("blinker") == {(0, 0), (1, 0), (2, 0)}
    with pytest.raises(KeyError):
        pattern_cells("spaceship")
