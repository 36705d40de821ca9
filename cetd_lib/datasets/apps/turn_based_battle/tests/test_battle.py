import random

import pytest

from battle import Battle, damage_roll, tally
from units import Fighter, team_hp


class StubRng(random.Random):
    """Deterministic stand-in: fixed variance and fixed crit roll."""

    def __init__(self, variance=0, roll=0.5):
        super().__init__(0)
        self.variance = variance
        self.roll = roll
        self.calls = []

    def randint(self, a, b):
        self.calls.append(("randint", a, b))
        return self.variance

    def random(self):
        self.calls.append(("random",))
        return self.roll


def knight():
    return Fighter("Knight", 30, 8, 4, 5)


def goblin():
    return Fighter("Goblin", 12, 5, 1, 7)


def test_fighter_basics():
    f = knight()
    assert f.max_hp == 30 and f.alive
    assert f.take_damage(12) == 12
    assert f.heal(50) == 12
    assert f.hp == 30
    with pytest.raises(ValueError):
        Fighter("Ghost", 0, 1, 1, 1)
    with pytest.raises(ValueError):
        f.take_damage(-1)


def test_damage_never_below_zero_hp_and_no_heal_when_dead():
    f = goblin()
    assert f.take_damage(100) == 12
    assert f.hp == 0 and not f.alive
    assert f.heal(5) == 0
    assert team_hp([knight(), f]) == 30


def test_damage_roll_uses_rng_in_order():
    rng = StubRng(variance=1, roll=0.5)
    assert damage_roll(knight(), goblin(), rng) == (8, False)
    assert rng.calls == [("randint", -1, 1), ("random",)]


def test_damage_roll_critical_and_minimum():
    assert damage_roll(knight(), goblin(), StubRng(0, 0.05)) == (14, True)
    weak = Fighter("Rat", 3, 1, 0, 1)
    assert damage_roll(weak, knight(), StubRng(-1, 0.9)) == (1, False)
    assert damage_roll(knight(), goblin(), StubRng(0, 0.05), crit_chance=0.0) == (7, False)


def test_battle_validation():
    with pytest.raises(ValueError):
        Battle([], [goblin()], StubRng())
    with pytest.raises(ValueError):
        Battle([goblin()], [goblin()], StubRng())


def test_turn_order_speed_then_team_then_position():
    a1 = Fighter("A1", 10, 1, 0, 5)
    a2 = Fighter("A2", 10, 1, 0, 9)
    b1 = Fighter("B1", 10, 1, 0, 5)
    b2 = Fighter("B2", 10, 1, 0, 5)
    battle = Battle([a1, a2], [b1, b2], StubRng())
    assert [f.name for f in battle.turn_order()] == ["A2", "A1", "B1", "B2"]
    a2.take_damage(10)
    assert [f.name for f in battle.turn_order()] == ["A1", "B1", "B2"]


def test_target_is_weakest_living_enemy():
    b1 = Fighter("B1", 10, 1, 0, 1)
    b2 = Fighter("B2", 6, 1, 0, 1)
    b3 = Fighter("B3", 6, 1, 0, 1)
    a = knight()
    battle = Battle([a], [b1, b2, b3], StubRng())
    assert battle.choose_target(a) is b2
    b2.take_damage(6)
    assert battle.choose_target(a) is b3
    assert battle.choose_target(b1) is a


def test_play_round_log():
    battle = Battle([knight()], [goblin()], StubRng())
    lines = battle.play_round()
    assert lines == ["Goblin hits Knight for 1", "Knight hits Goblin for 7"]
    assert battle.rounds == 1
    assert battle.winner is None


def test_defeat_message_and_dead_fighters_skip_turn():
    strong = Fighter("Ogre", 50, 20, 0, 1)
    fast = Fighter("Imp", 5, 3, 0, 9)
    battle = Battle([strong], [fast, Fighter("Bat", 4, 2, 0, 0)], StubRng(0, 0.05))
    lines = battle.play_round()
    assert lines == [
        "Imp hits Ogre for 6 (critical)",
        "Ogre hits Bat for 4 (critical)",
        "Bat is defeated",
    ]
    assert battle.log == lines


def test_run_until_winner_and_round_after_end():
    battle = Battle([knight()], [goblin()], StubRng())
    assert battle.run() == "A"
    assert battle.winner == "A"
    assert battle.rounds == 2
    assert battle.log[-1] == "Goblin is defeated"
    with pytest.raises(RuntimeError):
        battle.play_round()


def test_run_draw_when_round_limit_hit():
    tank1 = Fighter("Wall", 1000, 1, 50, 1)
    tank2 = Fighter("Rock", 1000, 1, 50, 1)
    battle = Battle([tank1], [tank2], StubRng())
    assert battle.run(max_rounds=3) == "draw"
    assert battle.rounds == 3
    assert tank1.hp == 997


def test_seeded_battles_are_reproducible():
    def fight(seed):
        b = Battle([knight(), goblin()], [Fighter("Troll", 40, 9, 3, 2)], random.Random(seed))
        result = b.run()
        return result, list(b.log)

    assert fight(42) == fight(42)
    result, log = fight(7)
    assert result in ("A", "B")
    assert log[-1].endswith("is defeated")


def test_tally_counts_every_seed():
    def factory():
        return [knight()], [goblin()]

    counts = tally(factory, list(range(20)))
    assert sum(counts.values()) == 20
    assert set(counts) == {"A", "B", "draw"}
    assert counts["A"] == 20
