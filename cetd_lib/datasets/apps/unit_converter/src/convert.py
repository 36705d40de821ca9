"""Text-level helpers on top of the default unit registry."""
from __future__ import annotations

import re

from units import UnitRegistry, default_registry

_REGISTRY = default_registry()

_QUANTITY = re.compile(
    r"^\s*(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>[A-Za-z][A-Za-z/]*)\s*$"
)
_EXPRESSION = re.compile(r"^\s*(?P<qty>.*\S)\s+(?:to|in)\s+(?P<target>\S+)\s*$")


def convert(value: float, from_unit: str, to_unit: str) -> float:
    return _REGISTRY.convert(value, from_unit, to_unit)


def parse_quantity(text: str) -> tuple[float, str]:
    """'12.5 km' or '12.5km' -> (12.5, 'km')."""
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"cannot parse quantity: {text!r}")
    return float(match["num"]), match["unit"]


def convert_expression(text: str, registry: UnitRegistry | None = None) -> float:
    """Evaluate '5 ft to m' / '5 in in cm' style requests."""
    match = _EXPRESSION.match(text)
    if not match:
        raise ValueError(f"expected '<quantity> to <unit>': {text!r}")
    value, unit = parse_quantity(match["qty"])
    return (registry or _REGISTRY).convert(value, unit, match["target"])


def format_quantity(value: float, unit: str, precision: int = 2) -> str:
    return f"{value:.{precision}f} {unit}"
