"""Two teams fight in rounds until one side is wiped out.

All randomness comes from a ``random.Random`` instance supplied by the
caller, so battles are reproducible for a given seed.
"""
from __future__ import annotations

import random
from typing import Callable

from units import Fighter


def damage_roll(
    attacker: Fighter,
    defender: Fighter,
    rng: random.Random,
    crit_chance: float = 0.1,
) -> tuple[int, bool]:
    """Roll damage for one attack; returns (damage, was_critical)."""
    base = max(1, attacker.attack - defender.defense)
    damage = max(1, base + rng.randint(-1, 1))
    critical = rng.random() < crit_chance
    if critical:
        damage *= 2
    return damage, critical


class Battle:
    def __init__(
        self,
        team_a: list[Fighter],
        team_b: list[Fighter],
        rng: random.Random,
        crit_chance: float = 0.1,
    ) -> None:
        if not team_a or not team_b:
            raise ValueError("both teams need at least one fighter")
        names = [f.name for f in team_a + team_b]
        if len(set(names)) != len(names):
            raise ValueError("fighter names must be unique")
        self.teams = {"A": list(team_a), "B": list(team_b)}
        self.rng = rng
        self.crit_chance = crit_chance
        self.rounds = 0
        self.log: list[str] = []

    def _side_of(self, fighter: Fighter) -> str:
        return "A" if any(f is fighter for f in self.teams["A"]) else "B"

    @property
    def winner(self) -> str | None:
        a_up = any(f.alive for f in self.teams["A"])
        b_up = any(f.alive for f in self.teams["B"])
        if a_up and not b_up:
            return "A"
        if b_up and not a_up:
            return "B"
        return None

    def turn_order(self) -> list[Fighter]:
        """Living fighters, fastest first; ties: team A first, then team position."""
        ranked = []
        for side_rank, side in enumerate("AB"):
            for pos, f in enumerate(self.teams[side]):
                if f.alive:
                    ranked.append((-f.speed, side_rank, pos, f))
        ranked.sort(key=lambda r: r[:3])
        return [r[3] for r in ranked]

    def choose_target(self, attacker: Fighter) -> Fighter | None:
        enemy = "B" if self._side_of(attacker) == "A" else "A"
        living = [f for f in self.teams[enemy] if f.alive]
        if not living:
            return None
        return min(living, key=lambda f: f.hp)  # min keeps the first on ties

    def play_round(self) -> list[str]:
        if self.winner is not None:
            raise RuntimeError("the battle is already decided")
        self.rounds += 1
        lines: list[str] = []
        for fighter in self.turn_order():
            if not fighter.alive:
                continue
            target = self.choose_target(fighter)
            if target is None:
                break
            damage, critical = damage_roll(fighter, target, self.rng, self.crit_chance)
            dealt = target.take_damage(damage)
            line = f"{fighter.name} hits {target.name} for {dealt}"
            lines.append(line + (" (critical)" if critical else ""))
            if not target.alive:
                lines.append(f"{target.name} is defeated")
        self.log.extend(lines)
        return lines

    def run(self, max_rounds: int = 100) -> str:
        """Fight until a side wins; returns 'A', 'B' or 'draw'."""
        while self.winner is None and self.rounds < max_rounds:
            self.play_round()
        return self.winner or "draw"


def tally(
    team_factory: Callable[[], tuple[list[Fighter], list[Fighter]]],
    seeds: list[int],
    max_rounds: int = 100,
) -> dict[str, int]:
    """Run one fresh battle per seed and count the results."""
    results = {"A": 0, "B": 0, "draw": 0}
    for seed in seeds:
        team_a, team_b = team_factory()
        outcome = Battle(team_a, team_b, random.Random(seed)).run(max_rounds)
        results[outcome] += 1
    return results
