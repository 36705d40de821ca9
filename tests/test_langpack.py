"""The language pack: registry, ruff/bandit labelling, CWE mapping, the mutate placeholder."""

from __future__ import annotations

import pytest

from cetd_lib.langpack import (
    LanguagePack,
    SourceFileError,
    available_language_packs,
    cwe_category,
    get_language_pack,
)
from cetd_lib.multitask.data.security_variants import (
    TEMPLATES,
    generate_variants,
    label_variants,
)


@pytest.fixture(scope="module")
def pack() -> LanguagePack:
    return get_language_pack("python")


def test_registry_returns_a_pack_and_suggests_close_names(pack):
    assert "python" in available_language_packs()
    assert isinstance(pack, LanguagePack)
    with pytest.raises(KeyError, match="did you mean 'python'"):
        get_language_pack("pyton")


def test_parse_error_names_the_file(pack):
    with pytest.raises(SourceFileError, match=r"broken\.py.*line 1"):
        pack.parse("def f(:\n", "broken.py")


def test_ruff_findings_per_file(pack):
    found = pack.lint_quality({"a/b.py": "import os\n", "clean.py": "X = 1\n"})
    assert [f.code for f in found["a/b.py"]] == ["F401"]
    assert found["clean.py"] == []


def test_bandit_findings_keep_severity_and_cwe(pack):
    found = pack.security_scan({"y.py": "import yaml\n\nyaml.load(data)\n"})["y.py"]
    (finding,) = found
    assert (finding.code, finding.severity, finding.cwe) == ("B506", "MEDIUM", 20)


def test_cwe_categories():
    assert cwe_category(78) == "injection"
    assert cwe_category(502) == "deserialization"
    assert cwe_category(327) == "cryptography"
    assert cwe_category(259) == "credentials"
    assert cwe_category(99999) == "other"
    assert cwe_category(None) == "none"


def test_variants_are_labelled_by_running_bandit(pack):
    labelled = label_variants(generate_variants(1, seed=3), pack)
    assert labelled.mismatches == []
    assert len(labelled.kept) == 2 * len(TEMPLATES)
    by_id = {v.variant_id: {f.code for f in v.findings} for v in labelled.kept}
    # Safe variants of these templates are clean; unsafe ones carry the template's test id.
    for kind, test_id in [("yaml_load", "B506"), ("weak_hash_md5", "B324"), ("eval", "B307"),
                          ("mktemp", "B306"), ("requests_no_verify", "B501")]:  # fmt: skip
        assert test_id in by_id[f"{kind}/0/unsafe"]
        assert by_id[f"{kind}/0/safe"] == set()
    cwes = {f.cwe for v in labelled.kept if v.kind == "pickle_loads" for f in v.findings}
    assert 502 in cwes


def test_rule_docs_come_from_the_tools(pack):
    assert "## What it does" in pack.rule_doc("ruff", "F401")
    assert "yaml" in pack.rule_doc("bandit", "B506").lower()
    with pytest.raises(KeyError, match="no rule"):
        pack.rule_doc("ruff", "ZZZ999")


def test_mutate_returns_a_seeded_mutant_that_differs_from_the_source(pack):
    source = "def f(a, b):\n    return a + b\n"
    first = pack.mutate(source, seed=0)
    assert first != source
    compile(first, "mutant.py", "exec")
    assert pack.mutate(source, seed=0) == first
