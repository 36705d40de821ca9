import pytest

from bowling import Game, GameOverError, play
from notation import parse_rolls, score_line, to_notation


def test_gutter_game():
    g = play([0] * 20)
    assert g.is_complete()
    assert g.score() == 0


def test_all_ones():
    assert play([1] * 20).score() == 20


def test_spare_bonus():
    g = play([5, 5, 3, 0] + [0] * 16)
    assert g.score() == 16


def test_strike_bonus():
    g = play([10, 3, 4] + [0] * 16)
    assert g.score() == 24


def test_perfect_game():
    g = play([10] * 12)
    assert g.is_complete()
    assert g.score() == 300


def test_tenth_frame_spare_gets_one_bonus_ball():
    g = play([0] * 18 + [7, 3, 5])
    assert g.is_complete()
    assert g.score() == 15


def test_frame_scores_running_and_pending():
    g = Game()
    for pins in [10, 7, 3, 9, 0, 10]:
        g.roll(pins)
    assert g.frame_scores() == [20, 39, 48, None, None, None, None, None, None, None]
    assert g.score() == 48
    assert g.current_frame == 5


def test_new_game_state():
    g = Game()
    assert g.score() == 0
    assert g.frame_scores() == [None] * 10
    assert g.current_frame == 1
    assert not g.is_complete()


def test_invalid_rolls():
    g = Game()
    with pytest.raises(ValueError):
        g.roll(11)
    with pytest.raises(ValueError):
        g.roll(-1)
    g.roll(6)
    with pytest.raises(ValueError):
        g.roll(5)
    assert g.rolls == [6]


def test_tenth_frame_bonus_validation():
    g = play([0] * 18 + [10, 6])
    with pytest.raises(ValueError):
        g.roll(5)
    g.roll(4)
    assert g.score() == 20
    g2 = play([0] * 18 + [10, 10])
    g2.roll(10)
    assert g2.score() == 30


def test_roll_after_game_over():
    g = play([3, 4] * 10)
    with pytest.raises(GameOverError):
        g.roll(1)
    g2 = play([0] * 18 + [4, 5])
    assert g2.is_complete()
    with pytest.raises(GameOverError):
        g2.roll(0)


def test_parse_rolls():
    assert parse_rolls("X 7/ 9- -8") == [10, 7, 3, 9, 0, 0, 8]
    assert parse_rolls("x|5/|") == [10, 5, 5]
    with pytest.raises(ValueError):
        parse_rolls("/5")
    with pytest.raises(ValueError):
        parse_rolls("X/")
    with pytest.raises(ValueError):
        parse_rolls("7?")


def test_score_line_full_games():
    assert score_line("X X X X X X X X X XXX") == 300
    assert score_line("9- 9- 9- 9- 9- 9- 9- 9- 9- 9-") == 90
    assert score_line("5/ 5/ 5/ 5/ 5/ 5/ 5/ 5/ 5/ 5/5") == 150
    assert score_line("X 7/ 9- X -8 8/ -6 X X X81") == 167


def test_to_notation_round_trip():
    rolls = [10, 7, 3, 9, 0, 10, 0, 8, 8, 2, 0, 6, 10, 10, 10, 8, 1]
    text = to_notation(rolls)
    assert text == "X7/9-X-88/-6XXX81"
    assert parse_rolls(text) == rolls
