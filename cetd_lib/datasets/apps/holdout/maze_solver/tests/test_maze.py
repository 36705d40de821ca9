import pytest

from maze import Maze
from solver import bfs_path, count_turns, dead_ends, reachable, render, shortest_distance

CORRIDOR = """
#######
#S...E#
#######
"""

SNAKE = """
S.#....
#.#.##.
....#E.
"""

BLOCKED = """
S.#
###
#.E
"""


def test_parse_dimensions_and_endpoints():
    m = Maze.from_text(SNAKE)
    assert (m.height, m.width) == (3, 7)
    assert m.start == (0, 0)
    assert m.end == (2, 5)
    assert str(m) == SNAKE.strip()


def test_parse_errors():
    with pytest.raises(ValueError):
        Maze.from_text("S..\n..")
    with pytest.raises(ValueError):
        Maze.from_text("S.x\n..E")
    with pytest.raises(ValueError):
        Maze.from_text("S..\n...")
    with pytest.raises(ValueError):
        Maze.from_text("SSE")
    with pytest.raises(ValueError):
        Maze.from_text("")


def test_is_open_and_neighbors_order():
    m = Maze.from_text(SNAKE)
    assert m.is_open((0, 1))
    assert not m.is_open((0, 2))
    assert not m.is_open((-1, 0))
    assert not m.is_open((0, 99))
    assert m.neighbors((1, 1)) == [(0, 1), (2, 1)]
    assert m.neighbors((2, 2)) == [(2, 1), (2, 3)]


def test_corridor_path():
    m = Maze.from_text(CORRIDOR)
    assert bfs_path(m) == [(1, 1), (1, 2), (1, 3), (1, 4), (1, 5)]
    assert shortest_distance(m) == 4


def test_snake_path():
    m = Maze.from_text(SNAKE)
    path = bfs_path(m)
    assert path[0] == m.start and path[-1] == m.end
    assert shortest_distance(m) == len(path) - 1 == 13
    for (r1, c1), (r2, c2) in zip(path, path[1:]):
        assert abs(r1 - r2) + abs(c1 - c2) == 1
        assert m.is_open((r2, c2))


def test_tie_break_prefers_up_then_down_then_left_then_right():
    m = Maze.from_text("...\n.S.\n..E")
    assert bfs_path(m) == [(1, 1), (2, 1), (2, 2)]


def test_unreachable():
    m = Maze.from_text(BLOCKED)
    assert bfs_path(m) is None
    assert shortest_distance(m) == -1
    assert reachable(m) == {(0, 0), (0, 1)}


def test_start_equals_neighbor_of_exit():
    m = Maze.from_text("SE")
    assert bfs_path(m) == [(0, 0), (0, 1)]
    assert count_turns(bfs_path(m)) == 0


def test_dead_ends():
    m = Maze.from_text(SNAKE)
    assert dead_ends(m) == [(2, 0)]
    m2 = Maze.from_text("#.#\nS.E\n#.#")
    assert dead_ends(m2) == [(0, 1), (2, 1)]


def test_count_turns():
    assert count_turns([]) == 0
    assert count_turns([(0, 0)]) == 0
    assert count_turns([(0, 0), (0, 1), (1, 1), (2, 1), (2, 2)]) == 2
    m = Maze.from_text(SNAKE)
    assert count_turns(bfs_path(m)) == 6


def test_render_marks_path():
    m = Maze.from_text(SNAKE)
    assert render(m, bfs_path(m)) == "S*#****\n#*#*##*\n.***#E*"


def test_render_empty_path_is_plain_maze():
    m = Maze.from_text(BLOCKED)
    assert render(m, []) == "S.#\n###\n#.E"


def test_reachable_counts_all_connected_cells():
    m = Maze.from_text(SNAKE)
    assert reachable(m) == set(m.open_cells())
    assert len(m.open_cells()) == 15
