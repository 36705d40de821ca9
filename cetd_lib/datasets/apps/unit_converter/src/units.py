"""Unit definitions and a registry that converts through per-dimension base units.

Every unit maps a value to its dimension's base unit as  base = value * factor + offset,
which covers both plain scale units (km, lb) and affine ones (Celsius, Fahrenheit).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


class UnknownUnitError(ValueError):
    pass


class IncompatibleUnitsError(ValueError):
    pass


@dataclass(frozen=True)
class Unit:
    name: str
    dimension: str
    factor: float
    offset: float = 0.0

    def to_base(self, value: float) -> float:
        return value * self.factor + self.offset

    def from_base(self, value: float) -> float:
        return (value - self.offset) / self.factor


class UnitRegistry:
    def __init__(self) -> None:
        self._units: dict[str, Unit] = {}
        self._aliases: dict[str, str] = {}

    def define(
        self,
        name: str,
        dimension: str,
        factor: float,
        offset: float = 0.0,
        aliases: Iterable[str] = (),
    ) -> Unit:
        if factor <= 0:
            raise ValueError("factor must be positive")
        aliases = tuple(aliases)
        for label in (name, *aliases):
            if label in self._units or label in self._aliases:
                raise ValueError(f"unit name already defined: {label!r}")
        unit = Unit(name, dimension, float(factor), float(offset))
        self._units[name] = unit
        for alias in aliases:
            self._aliases[alias] = name
        return unit

    def get(self, name: str) -> Unit:
        canonical = self._aliases.get(name, name)
        try:
            return self._units[canonical]
        except KeyError:
            raise UnknownUnitError(f"unknown unit: {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._units or name in self._aliases

    def dimension_of(self, name: str) -> str:
        return self.get(name).dimension

    def units_for(self, dimension: str) -> list[str]:
        return sorted(u.name for u in self._units.values() if u.dimension == dimension)

    def convert(self, value: float, from_unit: str, to_unit: str) -> float:
        src, dst = self.get(from_unit), self.get(to_unit)
        if src.dimension != dst.dimension:
            raise IncompatibleUnitsError(
                f"cannot convert {src.dimension} ({src.name}) to {dst.dimension} ({dst.name})"
            )
        return dst.from_base(src.to_base(value))


def default_registry() -> UnitRegistry:
    reg = UnitRegistry()
    # length, base metre
    reg.define("m", "length", 1, aliases=("meter", "meters", "metre"))
    reg.define("km", "length", 1000, aliases=("kilometer", "kilometers"))
    reg.define("cm", "length", 0.01)
    reg.define("mm", "length", 0.001)
    reg.define("in", "length", 0.0254, aliases=("inch", "inches"))
    reg.define("ft", "length", 0.3048, aliases=("foot", "feet"))
    reg.define("yd", "length", 0.9144, aliases=("yard", "yards"))
    reg.define("mi", "length", 1609.344, aliases=("mile", "miles"))
    # mass, base kilogram
    reg.define("kg", "mass", 1)
    reg.define("g", "mass", 0.001, aliases=("gram", "grams"))
    reg.define("mg", "mass", 1e-6)
    reg.define("t", "mass", 1000, aliases=("tonne",))
    reg.define("lb", "mass", 0.45359237, aliases=("lbs", "pound", "pounds"))
    reg.define("oz", "mass", 0.028349523125, aliases=("ounce", "ounces"))
    # time, base second
    reg.define("s", "time", 1, aliases=("sec", "second", "seconds"))
    reg.define("min", "time", 60, aliases=("minute", "minutes"))
    reg.define("h", "time", 3600, aliases=("hr", "hour", "hours"))
    reg.define("day", "time", 86400, aliases=("days",))
    reg.define("week", "time", 604800, aliases=("weeks",))
    # temperature, base kelvin
    reg.define("K", "temperature", 1, aliases=("kelvin",))
    reg.define("C", "temperature", 1, offset=273.15, aliases=("celsius",))
    reg.define("F", "temperature", 5 / 9, offset=273.15 - 32 * 5 / 9, aliases=("fahrenheit",))
    # speed, base metre per second
    reg.define("m/s", "speed", 1)
    reg.define("km/h", "speed", 1000 / 3600, aliases=("kph",))
    reg.define("mph", "speed", 0.44704)
    reg.define("knot", "speed", 1852 / 3600, aliases=("knots", "kn"))
    return reg
