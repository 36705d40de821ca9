import pytest

from iniparse import (
    DEFAULT_SECTION,
    IniConfig,
    IniSyntaxError,
    InterpolationError,
    load_ini,
    parse_ini,
)

SAMPLE = """
; global settings
[DEFAULT]
timeout = 30
host = localhost

[server]
Port = 8080
name: main server
url = http://${host}:${port}/api

# database block
[database]
user = admin   ; inline comment
password = "p;ss #1"
debug = Yes
"""


def test_sections_in_order_and_default_excluded():
    cfg = parse_ini(SAMPLE)
    assert cfg.sections() == ["server", "database"]
    assert cfg.has_section("server")
    assert not cfg.has_section(DEFAULT_SECTION)


def test_keys_are_case_insensitive_and_colon_separator():
    cfg = parse_ini(SAMPLE)
    assert cfg.get("server", "PORT") == "8080"
    assert cfg.get("server", "name") == "main server"


def test_defaults_are_fallback_values():
    cfg = parse_ini(SAMPLE)
    assert cfg.get("database", "timeout") == "30"
    assert cfg.get_int("server", "timeout") == 30


def test_interpolation_same_section_and_defaults():
    cfg = parse_ini(SAMPLE)
    assert cfg.get("server", "url") == "http://localhost:8080/api"


def test_cross_section_interpolation():
    cfg = parse_ini("[a]\nx = 1\n[b]\ny = ${a:x}-2\n")
    assert cfg.get("b", "y") == "1-2"


def test_inline_comments_and_quoted_values():
    cfg = parse_ini(SAMPLE)
    assert cfg.get("database", "user") == "admin"
    assert cfg.get("database", "password") == "p;ss #1"


def test_get_bool_variants():
    cfg = parse_ini("[f]\na = Yes\nb = off\nc = 1\nd = maybe\n")
    assert cfg.get_bool("f", "a") is True
    assert cfg.get_bool("f", "b") is False
    assert cfg.get_bool("f", "c") is True
    with pytest.raises(ValueError):
        cfg.get_bool("f", "d")


def test_missing_key_and_fallback():
    cfg = parse_ini(SAMPLE)
    with pytest.raises(KeyError):
        cfg.get("server", "nope")
    assert cfg.get("server", "nope", fallback="dflt") == "dflt"
    with pytest.raises(KeyError):
        cfg.get("ghost", "port")


def test_syntax_error_reports_line_number():
    with pytest.raises(IniSyntaxError) as info:
        parse_ini("[ok]\na = 1\nthis line is garbage\n")
    assert info.value.lineno == 3
    assert isinstance(info.value, ValueError)


def test_key_outside_section_is_error():
    with pytest.raises(IniSyntaxError):
        parse_ini("orphan = 1\n[s]\n")


def test_unknown_and_cyclic_references():
    cfg = parse_ini("[s]\na = ${missing}\nb = ${c}\nc = ${b}\n")
    with pytest.raises(InterpolationError):
        cfg.get("s", "a")
    with pytest.raises(InterpolationError):
        cfg.get("s", "b")


def test_repeated_section_merges_and_last_value_wins():
    cfg = parse_ini("[s]\na = 1\n[t]\n[s]\na = 2\nb = 3\n")
    assert cfg.sections() == ["s", "t"]
    assert cfg.items("s") == {"a": "2", "b": "3"}


def test_options_include_defaults_after_own_keys():
    cfg = parse_ini(SAMPLE)
    assert cfg.options("server") == ["port", "name", "url", "timeout", "host"]


def test_set_add_section_and_to_string_round_trip():
    cfg = IniConfig()
    cfg.add_section("app")
    cfg.set("app", "Workers", 4)
    cfg.set(DEFAULT_SECTION, "env", "prod")
    text = cfg.to_string()
    assert text == "[DEFAULT]\nenv = prod\n\n[app]\nworkers = 4\n"
    again = parse_ini(text)
    assert again.get_int("app", "workers") == 4
    with pytest.raises(ValueError):
        cfg.add_section("app")
    with pytest.raises(KeyError):
        cfg.set("nosuch", "k", "v")


def test_load_ini_from_file(tmp_path):
    path = tmp_path / "conf.ini"
    path.write_text("[paths]\nroot = /srv\nlogs = ${root}/logs\n", encoding="utf-8")
    cfg = load_ini(path)
    assert cfg.get("paths", "logs") == "/srv/logs"
