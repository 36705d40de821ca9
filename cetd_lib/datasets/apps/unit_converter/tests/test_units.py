import pytest

from convert import convert, convert_expression, format_quantity, parse_quantity
from units import IncompatibleUnitsError, Unit, UnitRegistry, UnknownUnitError, default_registry


def test_length_conversions():
    assert convert(1, "mi", "km") == pytest.approx(1.609344)
    assert convert(12, "in", "ft") == pytest.approx(1.0)
    assert convert(3, "ft", "yd") == pytest.approx(1.0)
    assert convert(250, "cm", "m") == pytest.approx(2.5)


def test_mass_conversions():
    assert convert(1, "lb", "g") == pytest.approx(453.59237)
    assert convert(16, "oz", "lb") == pytest.approx(1.0)
    assert convert(2.5, "t", "kg") == pytest.approx(2500)


def test_temperature_conversions_use_offsets():
    assert convert(100, "C", "F") == pytest.approx(212.0)
    assert convert(32, "F", "C") == pytest.approx(0.0, abs=1e-9)
    assert convert(-40, "C", "F") == pytest.approx(-40.0)
    assert convert(0, "K", "C") == pytest.approx(-273.15)


def test_time_and_speed():
    assert convert(1.5, "h", "min") == pytest.approx(90)
    assert convert(2, "week", "day") == pytest.approx(14)
    assert convert(36, "km/h", "m/s") == pytest.approx(10.0)
    assert convert(1, "knot", "km/h") == pytest.approx(1.852)


def test_aliases():
    assert convert(3, "feet", "inches") == pytest.approx(36)
    assert convert(100, "celsius", "kelvin") == pytest.approx(373.15)
    assert convert(1, "hour", "seconds") == pytest.approx(3600)


def test_incompatible_dimensions():
    with pytest.raises(IncompatibleUnitsError):
        convert(1, "kg", "m")
    with pytest.raises(ValueError):
        convert(1, "s", "C")


def test_unknown_unit():
    with pytest.raises(UnknownUnitError):
        convert(1, "furlong", "m")
    with pytest.raises(ValueError):
        default_registry().get("parsec")


def test_units_are_case_sensitive():
    reg = default_registry()
    assert reg.get("K").dimension == "temperature"
    assert "k" not in reg
    with pytest.raises(UnknownUnitError):
        reg.get("KM")


def test_custom_registry_define_and_duplicates():
    reg = UnitRegistry()
    reg.define("byte", "data", 1, aliases=("B",))
    unit = reg.define("KiB", "data", 1024)
    assert unit == Unit("KiB", "data", 1024.0, 0.0)
    assert reg.convert(2048, "B", "KiB") == pytest.approx(2.0)
    with pytest.raises(ValueError):
        reg.define("B", "data", 8)
    with pytest.raises(ValueError):
        reg.define("nibble", "data", 0)


def test_unit_base_round_trip():
    f = default_registry().get("F")
    assert f.to_base(212) == pytest.approx(373.15)
    assert f.from_base(f.to_base(98.6)) == pytest.approx(98.6)


def test_units_for_and_dimension_of():
    reg = default_registry()
    assert reg.units_for("temperature") == ["C", "F", "K"]
    assert reg.units_for("speed") == ["km/h", "knot", "m/s", "mph"]
    assert reg.dimension_of("miles") == "length"
    assert reg.units_for("nothing") == []


def test_parse_quantity():
    assert parse_quantity("12.5 km") == (12.5, "km")
    assert parse_quantity("12.5km") == (12.5, "km")
    assert parse_quantity("  -40 C ") == (-40.0, "C")
    assert parse_quantity("1e3 m") == (1000.0, "m")
    assert parse_quantity(".5 km/h") == (0.5, "km/h")


def test_parse_quantity_rejects_garbage():
    for bad in ["km 12", "12", "twelve km", ""]:
        with pytest.raises(ValueError):
            parse_quantity(bad)


def test_convert_expression():
    assert convert_expression("5 ft to m") == pytest.approx(1.524)
    assert convert_expression("2 in in cm") == pytest.approx(5.08)
    assert convert_expression("212 F to C") == pytest.approx(100.0)
    with pytest.raises(ValueError):
        convert_expression("5 ft")


def test_format_quantity():
    assert format_quantity(1.609344, "km") == "1.61 km"
    assert format_quantity(2, "m", precision=0) == "2 m"
    assert format_quantity(-0.5, "C", precision=3) == "-0.500 C"
