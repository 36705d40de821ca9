from pathlib import Path

import pytest

from cetd_lib.params import Params, ParamsError, describe, load_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["smoke", "full", "tiny"])
def test_shipped_params_files_load(name):
    params = load_params(ROOT / "params" / f"{name}.yaml")
    assert isinstance(params, Params)
    assert Path(params.run.outputs_dir).is_absolute()


def write(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_unknown_key_names_file_and_key_and_suggests(tmp_path):
    path = write(tmp_path, "run:\n  sed: 3\n")
    with pytest.raises(ParamsError) as info:
        load_params(path)
    message = str(info.value)
    assert str(path) in message and "run.sed" in message and "'seed'" in message


def test_unknown_section_is_an_error(tmp_path):
    with pytest.raises(ParamsError, match="stage9"):
        load_params(write(tmp_path, "stage9: {}\n"))


def test_wrong_type_names_key_and_expected_type(tmp_path):
    with pytest.raises(ParamsError, match=r"run\.seed: expected int"):
        load_params(write(tmp_path, "run:\n  seed: forty-two\n"))


def test_bool_is_not_an_int_and_int_is_a_float(tmp_path):
    with pytest.raises(ParamsError, match="boolean"):
        load_params(write(tmp_path, "run:\n  seed: true\n"))
    params = load_params(write(tmp_path, "eval:\n  bleu_target: 1\n"))
    assert params.eval.bleu_target == 1.0 and isinstance(params.eval.bleu_target, float)


def test_invalid_yaml_and_missing_file_are_clear(tmp_path):
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(write(tmp_path, "run: [unclosed\n"))
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")


def test_required_value_missing_is_named():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Needs:
        base_url: str

    @dataclass(frozen=True)
    class Schema:
        backend: Needs

    with pytest.raises(ParamsError, match=r"backend\.base_url: required value missing"):
        load_params(None, {"backend": {}}, schema=Schema)


def test_overrides_are_typed_and_validated():
    params = load_params(ROOT / "params" / "smoke.yaml", ["run.seed=7", "data.max_apps=null"])
    assert params.run.seed == 7 and params.data.max_apps is None
    with pytest.raises(ParamsError, match="KEY=VALUE"):
        load_params(None, ["run.seed"])
    with pytest.raises(ParamsError, match="unknown key"):
        load_params(None, ["model.bass=x"])


def test_relative_paths_resolve_against_project_root(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "params").mkdir()
    path = tmp_path / "params" / "p.yaml"
    path.write_text("run:\n  outputs_dir: out\n")
    assert load_params(path).run.outputs_dir == str(tmp_path / "out")


def test_every_field_has_help_text():
    rows = describe()
    assert rows and all(help_text for _, _, help_text in rows)


def test_nested_lists_of_configs_are_typed_and_checked(tmp_path):
    path = write(tmp_path, "orchestra:\n  members:\n    - {name: a, kind: oracle}\n")
    (member,) = load_params(path).orchestra.members
    assert member.kind == "oracle" and member.max_retries == 4
    with pytest.raises(ParamsError, match=r"orchestra\.members\[0\]\.kindd.*'kind'"):
        load_params(write(tmp_path, "orchestra:\n  members:\n    - {name: a, kindd: x}\n"))


def test_section_consistency_checks_name_the_section_and_the_fix(tmp_path):
    path = write(tmp_path, "orchestra:\n  n_samples: 4\n  temperature: 0\n")
    with pytest.raises(ParamsError, match="set temperature > 0") as info:
        load_params(path)
    assert str(path) in str(info.value) and "orchestra" in str(info.value)
