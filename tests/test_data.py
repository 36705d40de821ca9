from pathlib import Path

import pytest

from cetd_lib.__main__ import main as cetd_main
from cetd_lib.apps.app import (
    AppFormatError,
    DataConfig,
    bundled_apps_dir,
    load_app,
    load_apps,
)
from cetd_lib.cli import validate_apps

GOLD = "# Requirements: adder\n" + "".join(f"{i}. Requirement {i}.\n" for i in range(1, 6))
SOURCE = '"""Adds."""\n\n\ndef add(a, b):\n    return a + b\n'
TESTS = "from adder import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def write_app(
    root: Path, app_id: str = "adder", files: dict[str, str | None] | None = None
) -> Path:
    """A valid app directory, with `files` (relative path -> text, None = leave out) changed."""
    layout = {
        "src/adder.py": SOURCE,
        "tests/test_adder.py": TESTS,
        "gold_requirements.md": GOLD,
        **(files or {}),
    }
    app = root / app_id
    for rel, text in layout.items():
        if text is not None:
            (app / rel).parent.mkdir(parents=True, exist_ok=True)
            (app / rel).write_text(text)
    return app


def test_load_app_reads_every_part(tmp_path):
    app = load_app(write_app(tmp_path), origin="user")
    assert app.app_id == "adder"
    assert app.sources == {"adder.py": SOURCE}
    assert app.tests == {"test_adder.py": TESTS}
    assert app.requirements == tuple(f"Requirement {i}." for i in range(1, 6))
    assert app.readme is None and app.origin == "user" and app.root == tmp_path / "adder"


def test_readme_text_goes_into_the_app(tmp_path):
    root = write_app(tmp_path)
    (root / "README.md").write_text("# Adder\nAdds two numbers.\n")
    assert load_app(root).readme == "# Adder\nAdds two numbers.\n"


def test_missing_src_names_app_and_directory(tmp_path):
    root = write_app(tmp_path, files={"src/adder.py": None})
    with pytest.raises(AppFormatError, match=r"app 'adder', src/: missing; expected a src/"):
        load_app(root)
    (root / "src").mkdir()
    with pytest.raises(AppFormatError, match=r"src/: contains no \.py file"):
        load_app(root)


def test_empty_requirements_are_an_error(tmp_path):
    root = write_app(tmp_path, files={"gold_requirements.md": "# Requirements: adder\n\n"})
    with pytest.raises(AppFormatError) as info:
        load_app(root)
    assert info.value.app_id == "adder" and info.value.file == "gold_requirements.md"
    assert "parses to 0 items" in str(info.value) and "5-20 items" in str(info.value)


def test_requirement_count_outside_5_to_20_is_an_error(tmp_path):
    many = "".join(f"{i}. R{i}.\n" for i in range(1, 22))
    with pytest.raises(AppFormatError, match="parses to 21 items"):
        load_app(write_app(tmp_path, files={"gold_requirements.md": many}))
    with pytest.raises(AppFormatError, match="gold_requirements.md: missing"):
        load_app(write_app(tmp_path, "other", {"gold_requirements.md": None}))


def test_unparsable_source_names_app_file_and_line(tmp_path):
    root = write_app(tmp_path, files={"src/adder.py": "def add(a, b):\n    return a +\n"})
    with pytest.raises(AppFormatError) as info:
        load_app(root)
    message = str(info.value)
    assert "app 'adder'" in message and "src/adder.py" in message and "line 2" in message


def test_unparsable_test_file_is_reported_too(tmp_path):
    root = write_app(tmp_path, files={"tests/test_adder.py": "def test_(:\n"})
    with pytest.raises(AppFormatError, match="tests/test_adder.py: does not parse: line 1"):
        load_app(root)


def test_tests_directory_needs_a_test_file(tmp_path):
    root = write_app(tmp_path, files={"tests/test_adder.py": None, "tests/helpers.py": "X = 1\n"})
    with pytest.raises(AppFormatError, match=r"tests/: contains no test_\*\.py file"):
        load_app(root)


def test_module_names_must_be_importable_and_flat(tmp_path):
    (write_app(tmp_path) / "src" / "my-adder.py").write_text("X = 1\n")
    with pytest.raises(AppFormatError, match="src/my-adder.py: file name is not a Python"):
        load_app(tmp_path / "adder")
    nested = write_app(tmp_path, "nested")
    (nested / "src" / "pkg").mkdir()
    (nested / "src" / "pkg" / "util.py").write_text("X = 1\n")
    with pytest.raises(AppFormatError, match="src/pkg/util.py: module in a sub-directory"):
        load_app(nested)


def test_load_apps_sorts_and_never_loads_holdout_unless_asked(tmp_path):
    for app_id in ("zeta", "alpha"):
        write_app(tmp_path, app_id)
    write_app(tmp_path / "holdout", "secret")
    assert [a.app_id for a in load_apps(tmp_path)] == ["alpha", "zeta"]
    assert {a.origin for a in load_apps(tmp_path)} == {"user"}
    both = load_apps(tmp_path, include_holdout=True)
    assert [a.app_id for a in both] == ["alpha", "secret", "zeta"]
    only = load_apps(tmp_path, holdout_only=True)
    assert [(a.app_id, a.origin) for a in only] == [("secret", "holdout")]


def test_load_apps_raises_on_an_invalid_app_instead_of_skipping(tmp_path):
    write_app(tmp_path, "good")
    write_app(tmp_path, "bad", {"src/adder.py": "def (\n"})
    with pytest.raises(AppFormatError, match="app 'bad'"):
        load_apps(tmp_path)


def test_load_apps_refuses_a_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_apps(tmp_path / "nowhere")


def test_bundled_corpus_loads_and_keeps_holdout_apart():
    assert bundled_apps_dir().is_dir()
    apps = load_apps()
    ids = [a.app_id for a in apps]
    assert len(apps) >= 2 and ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(a.origin == "bundled" and 5 <= len(a.requirements) <= 20 for a in apps)
    assert all(1 <= len(a.sources) <= 4 for a in apps)
    holdout = load_apps(holdout_only=True)
    assert not {a.app_id for a in holdout} & set(ids)
    assert all(a.origin == "holdout" for a in holdout)


def test_content_hash_changes_with_any_file():
    app = load_apps()[0]
    from dataclasses import replace

    edited = replace(app, sources={**app.sources, "extra.py": "X = 1\n"})
    assert app.content_hash() == replace(app).content_hash() != edited.content_hash()


def test_data_config_rejects_fractions_that_do_not_sum_to_one():
    assert DataConfig().train_fraction == 0.7
    with pytest.raises(ValueError, match="sum to 1.0"):
        DataConfig(train_fraction=0.8)
    with pytest.raises(ValueError, match="degrade_rate"):
        DataConfig(degrade_rate=1.5)


def test_validate_cli_passes_good_apps(tmp_path, capsys):
    write_app(tmp_path)
    assert validate_apps(["--apps", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "adder" in out and "1/1" in out
    assert out.strip().splitlines()[-1] == "1/1 apps pass all their own tests; OK"
    assert cetd_main(["validate-apps", "--apps", str(tmp_path)]) == 0  # `python -m cetd_lib ...`
    assert "1/1 apps pass" in capsys.readouterr().out


def test_validate_cli_exits_1_when_an_app_fails_its_tests(tmp_path, capsys):
    write_app(tmp_path)
    write_app(tmp_path, "broken", {"src/adder.py": "def add(a, b):\n    return a - b\n"})
    assert validate_apps(["--apps", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "tests/test_adder.py::test_add" in out
    assert out.strip().splitlines()[-1] == "1/2 apps pass all their own tests; FAILED: broken"


def test_validate_cli_exits_2_on_an_invalid_app(tmp_path, capsys):
    write_app(tmp_path, files={"src/adder.py": None})
    assert validate_apps(["--apps", str(tmp_path)]) == 2
    assert "app 'adder', src/: missing" in capsys.readouterr().err
