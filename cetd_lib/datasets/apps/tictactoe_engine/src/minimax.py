"""Perfect-play search for tic-tac-toe using memoised minimax."""
from __future__ import annotations

from functools import lru_cache

from board import Board

WIN_SCORE = 10


@lru_cache(maxsize=None)
def _search(cells: str) -> int:
    board = Board(cells)
    won = board.winner()
    depth = 9 - cells.count(".")
    if won == "X":
        return WIN_SCORE - depth
    if won == "O":
        return depth - WIN_SCORE
    if board.is_full():
        return 0
    scores = [_search(board.play(i).cells) for i in board.available_moves()]
    return max(scores) if board.current_player == "X" else min(scores)


def evaluate(board: Board) -> int:
    """Minimax value of ``board`` from X's point of view.

    Positive means X wins with perfect play, negative means O wins, 0 is a draw.
    Quicker wins are worth more: a win reached after ``d`` total marks scores
    ``10 - d`` (or ``d - 10`` for O).
    """
    return _search(board.cells)


def outcome(board: Board) -> str:
    """'X', 'O' or 'draw' under perfect play from this position."""
    value = evaluate(board)
    if value > 0:
        return "X"
    if value < 0:
        return "O"
    return "draw"


def best_move(board: Board) -> int:
    """The best cell for the player to move; ties go to the lowest index."""
    if board.is_over():
        raise ValueError("no moves on a finished board")
    maximise = board.current_player == "X"
    best_index, best_value = -1, 0
    for index in board.available_moves():
        value = evaluate(board.play(index))
        if best_index < 0 or (value > best_value if maximise else value < best_value):
            best_index, best_value = index, value
    return best_index


class Engine:
    """Convenience wrapper that plays moves for one side."""

    def __init__(self, mark: str) -> None:
        if mark not in ("X", "O"):
            raise ValueError("mark must be 'X' or 'O'")
        self.mark = mark

    def choose(self, board: Board) -> int:
        if board.current_player != self.mark:
            raise ValueError(f"it is not {self.mark}'s turn")
        return best_move(board)


def self_play(board: Board | None = None) -> list[int]:
    """Let perfect players finish the game; return the moves made."""
    board = board or Board()
    moves: list[int] = []
    while not board.is_over():
        move = best_move(board)
        moves.append(move)
        board = board.play(move)
    return moves
