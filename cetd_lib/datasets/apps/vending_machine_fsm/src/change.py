"""Coin handling helpers (amounts are integer cents)."""
from __future__ import annotations

ACCEPTED_COINS: tuple[int, ...] = (100, 25, 10, 5)


def make_change(amount: int, coins: tuple[int, ...] = ACCEPTED_COINS) -> list[int]:
    """Split ``amount`` into coins, largest first, using a greedy strategy."""
    if amount < 0:
        raise ValueError("amount cannot be negative")
    result: list[int] = []
    remaining = amount
    for coin in sorted(coins, reverse=True):
        count, remaining = divmod(remaining, coin)
        result.extend([coin] * count)
    if remaining:
        raise ValueError(f"cannot make {amount} cents from {coins}")
    return result


def format_cents(amount: int) -> str:
    """Format cents as dollars, e.g. 125 -> '$1.25'."""
    sign = "-" if amount < 0 else ""
    dollars, cents = divmod(abs(amount), 100)
    return f"{sign}${dollars}.{cents:02d}"
