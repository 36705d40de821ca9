import pytest

from board import Board
from minimax import Engine, best_move, evaluate, outcome, self_play


def test_empty_board_basics():
    b = Board()
    assert b.cells == "........."
    assert b.current_player == "X"
    assert b.available_moves() == list(range(9))
    assert b.winner() is None
    assert not b.is_over()


def test_play_returns_new_board_and_alternates():
    b = Board()
    b2 = b.play(4)
    assert b.cells == "........."
    assert b2.cells == "....X...."
    assert b2.current_player == "O"
    assert b2.play(0).cells == "O...X...."


def test_whitespace_in_constructor_ignored_and_str():
    b = Board("XO. .X. ..O")
    assert b.cells == "XO..X...O"
    assert str(b) == "XO.\n.X.\n..O"


def test_invalid_boards_rejected():
    with pytest.raises(ValueError):
        Board("XX")
    with pytest.raises(ValueError):
        Board("XXX......")
    with pytest.raises(ValueError):
        Board("Z........")


def test_illegal_moves_raise():
    b = Board().play(0)
    with pytest.raises(ValueError):
        b.play(0)
    with pytest.raises(ValueError):
        b.play(9)
    finished = Board("XXXOO....")
    with pytest.raises(ValueError):
        finished.play(8)


def test_winner_detection_diagonal_and_full_draw():
    assert Board("X.O.XO..X").winner() == "X"
    draw = Board("XOXXOOOXX")
    assert draw.winner() is None
    assert draw.is_full() and draw.is_over()


def test_evaluate_terminal_scores_depend_on_depth():
    assert evaluate(Board("XXXOO....")) == 5
    assert evaluate(Board("OOOXX.X.X")) == -3
    assert evaluate(Board("XOXXOOOXX")) == 0


def test_best_move_takes_immediate_win():
    # X to move, can win at 2 (row) -- lowest winning index chosen
    b = Board("XX.OO....")
    assert best_move(b) == 2


def test_best_move_blocks_opponent():
    # O to move; X threatens 0-4-8
    b = Board("X...X.O..")
    assert best_move(b) == 8


def test_best_move_on_finished_board_raises():
    with pytest.raises(ValueError):
        best_move(Board("XXXOO...."))


def test_outcome_from_opening_is_draw():
    assert outcome(Board().play(4)) == "draw"
    assert outcome(Board("XX.OO....")) == "X"


def test_engine_turn_checking():
    engine = Engine("O")
    with pytest.raises(ValueError):
        engine.choose(Board())
    assert engine.choose(Board("X...X.O..")) == 8
    with pytest.raises(ValueError):
        Engine("Q")


def test_self_play_from_empty_is_draw():
    moves = self_play()
    board = Board()
    for m in moves:
        board = board.play(m)
    assert board.winner() is None
    assert board.is_full()
    assert moves[0] == 0
