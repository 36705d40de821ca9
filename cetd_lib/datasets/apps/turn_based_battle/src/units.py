"""Combatants for the turn-based battle simulator."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Fighter:
    name: str
    hp: int
    attack: int
    defense: int
    speed: int
    max_hp: int = field(init=False)

    def __post_init__(self) -> None:
        if self.hp <= 0:
            raise ValueError("a fighter must start with positive hp")
        if self.attack < 0 or self.defense < 0:
            raise ValueError("attack and defense must be non-negative")
        self.max_hp = self.hp

    @property
    def alive(self) -> bool:
        return self.hp > 0

    def take_damage(self, amount: int) -> int:
        """Lose up to ``amount`` hp (never below 0); return the hp actually lost."""
        if amount < 0:
            raise ValueError("damage cannot be negative")
        lost = min(amount, self.hp)
        self.hp -= lost
        return lost

    def heal(self, amount: int) -> int:
        """Restore hp up to ``max_hp``; defeated fighters cannot be healed."""
        if amount < 0:
            raise ValueError("healing cannot be negative")
        if not self.alive:
            return 0
        gained = min(amount, self.max_hp - self.hp)
        self.hp += gained
        return gained


def team_hp(team: list[Fighter]) -> int:
    return sum(f.hp for f in team)
