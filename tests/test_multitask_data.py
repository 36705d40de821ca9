"""Multi-task data: label encoding, pairs, splits without leakage, dedup, clarification,
ontology, and a small end-to-end build."""

from __future__ import annotations

import ast
import json
import random

import pytest

from cetd_lib.apps.app import App, load_apps
from cetd_lib.langpack import Finding, get_language_pack
from cetd_lib.multitask.data.build import (
    build,
    build_sets,
    chunk_corpus,
    clarify,
    labels,
    ontology,
    pairs,
)
from cetd_lib.multitask.data.config import MultitaskDataConfig
from cetd_lib.multitask.data.corpus import (
    SourceFile,
    chunk_source,
    deduplicate,
    jaccard,
    shingles,
    split_for_group,
)
from cetd_lib.params import ParamsError, load_params

# -- labels --------------------------------------------------------------------------------


def test_vocab_keeps_labels_at_min_count_and_multi_hot_has_its_length():
    items = [{"F401"}, {"F401", "E501"}, {"F401", "B006"}, set()]
    vocab = labels.build_vocab(items, min_count=2)
    assert vocab.labels == ("F401",)
    assert vocab.counts == {"F401": 3, "E501": 1, "B006": 1}
    vocab = labels.build_vocab(items, min_count=1)
    assert vocab.labels == ("F401", "B006", "E501")  # by count, then name
    encoded = [labels.multi_hot(i, vocab) for i in items]
    assert all(len(row) == len(vocab) for row in encoded)
    assert encoded[1] == [1, 0, 1]
    # pos_weight = (N - n_k) / n_k: F401 (4-3)/3, B006 (4-1)/1
    assert labels.pos_weights(vocab) == pytest.approx([1 / 3, 3.0, 3.0])


def test_severity_weights_and_cwe_categories():
    vocab = labels.LabelVocab(("B506", "B101"), {"B506": 1, "B101": 1}, 2)
    found = [
        Finding("bandit", "B506", 3, "yaml", severity="MEDIUM", cwe=20),
        Finding("bandit", "B506", 4, "yaml", severity="HIGH", cwe=20),
    ]
    assert labels.severity_weights(found, vocab) == [3.0, 0.0]
    assert labels.cwe_categories(found) == ["input-validation"]


def test_balanced_sample_keeps_all_positives():
    items = list(range(20))
    sample = labels.balanced_sample(items, lambda i: i < 4, 1.5, random.Random(0))
    assert [i for i in sample if i < 4] == [0, 1, 2, 3]
    assert len([i for i in sample if i >= 4]) == 6


# -- pairs -----------------------------------------------------------------------------------

TESTS = """
import pytest
from hypothesis import given, strategies as st
from m import f


def test_plain():
    assert f(1) == 2


@pytest.mark.parametrize("x", [1, 2])
def test_many(x):
    assert f(x) > x


@given(st.integers())
def test_prop(x):
    assert f(x) == x + 1
"""


def test_test_types_and_both_directions():
    cases = pairs.test_cases("test_m.py", TESTS)
    assert [c.test_type for c in cases] == ["<unit>", "<parametrized>", "<property>"]
    assert cases[1].text.startswith("import pytest") and "@pytest.mark.parametrize" in cases[1].text
    records = pairs.pair_records("g", "apps", {"m.py": "def f(x):\n    return x + 1\n"}, cases[2])
    forward, backward = records
    assert (forward["direction"], backward["direction"]) == ("code_to_test", "test_to_code")
    assert forward["input"].startswith("<property>\n") and backward["input"].startswith(
        "<property>\n"
    )
    assert forward["target"] == cases[2].text
    assert backward["target"] == forward["input"].removeprefix("<property>\n")


def test_each_case_carries_the_module_code_it_needs_and_no_other_test():
    source = (
        '"""Docstring."""\nimport pytest\nfrom m import f\n\ncandidate = f\nLIMIT = 3\n\n\n'
        "def helper(x):\n    return candidate(x)\n\n\n"
        "@pytest.fixture\ndef one():\n    return 1\n\n\n"
        "def test_a(one):\n    assert helper(one) == 2\n\n\n"
        "class TestGroup:\n    def test_in_class(self):\n        assert True\n\n\n"
        "def test_b():\n    assert candidate(LIMIT) == 4\n\n\n"
        "if __name__ == '__main__':\n    pytest.main()\n"
    )
    first, second = pairs.test_cases("test_m.py", source)
    for case in (first, second):
        assert "candidate = f" in case.text and "LIMIT = 3" in case.text
        assert "@pytest.fixture\ndef one():" in case.text and "def helper(x):" in case.text
        assert "Docstring" not in case.text and "__main__" not in case.text
        assert "TestGroup" not in case.text
    assert "def test_a" in first.text and "def test_b" not in first.text
    assert "def test_b" in second.text and "def test_a" not in second.text


def test_every_gold_code_to_test_target_passes_on_its_own_code():
    """The generated-test target (pass@1 on the reference code) is reachable by the gold."""
    from cetd_lib.apps.app import load_apps
    from cetd_lib.apps.humaneval import load_humaneval_apps
    from cetd_lib.sandbox.config import HarnessConfig
    from cetd_lib.sandbox.results import RunJob
    from cetd_lib.sandbox.runner import run_many

    jobs, ids = [], []
    for app in [*load_apps(), *load_humaneval_apps()]:
        for record in pairs.app_pairs(app, "apps"):
            if record["direction"] == "code_to_test":
                jobs.append(RunJob(app.sources, {"test_gold.py": record["target"]}))
                ids.append(f"{app.app_id}/{record['test_id']}")
    results = run_many(jobs, config=HarnessConfig(cache=False))
    failing = [i for i, r in zip(ids, results, strict=True)
               if not r.per_test or not all(o.passed for o in r.per_test.values())]  # fmt: skip
    assert len(jobs) > 1500 and failing == []


def test_property_candidates_follow_annotations():
    source = (
        "def encode(s: str) -> str:\n    return s[::-1]\n\n"
        "def decode(s: str) -> str:\n    return s[::-1]\n\n"
        "def helper(x, y):\n    return x\n"
    )
    found = {(c.template, c.functions) for c in pairs.property_candidates(source, 5)}
    assert ("round_trip", ("encode", "decode")) in found
    assert ("idempotence", ("encode",)) in found
    assert all("helper" not in c[1] for c in found)
    text = pairs.property_test_file("m", pairs.property_candidates(source, 5))
    ast.parse(text)


def test_parametrized_test_folds_simple_asserts_only():
    tests = (
        "from solution import add, poly\n\ncandidate = add\n\n\n"
        "def test_case_00():\n    assert candidate(1, 2) == 3\n\n\n"
        "def test_case_01():\n    assert add([1], x=2) == 3\n\n\n"  # keyword: skipped
        "def test_case_02():\n    assert candidate(poly(1), 2) == 3\n\n\n"  # not a builtin
        "def test_case_03():\n    x = 1\n    assert candidate(x, 2) == 3\n\n\n"  # setup
        "def test_case_04():\n    assert candidate((1,), len('ab')) == 3\n"
    )
    entry, rows = pairs.parametrize_rows(tests)
    assert entry == "add" and rows == [("(1, 2)", "3"), ("((1,), len('ab'))", "3")]
    text = pairs.parametrized_test_file(entry, rows)
    (case,) = pairs.test_cases(pairs.PARAMETRIZED_FILE, text)
    assert case.test_type == "<parametrized>" and '"args, expected"' in case.text


def test_parametrized_pairs_pass_on_canonical_solution_in_both_directions():
    from cetd_lib.apps.humaneval import load_humaneval_apps

    apps = {a.app_id: a for a in load_humaneval_apps()}
    good, one_assert = apps["humaneval_000"], apps["humaneval_002"]
    broken = App(
        app_id="humaneval_broken",
        sources={"solution.py": "def has_close_elements(numbers, threshold):\n    return True\n"},
        tests=good.tests,
        requirements=good.requirements,
        origin="humaneval",
    )
    cfg = MultitaskDataConfig()
    rows, skipped, stats = pairs.parametrized_pairs([good, one_assert, broken], cfg)
    assert stats == {"candidates": 2, "kept": 1, "kept_cases": 7,
                     "skipped/failed": 1, "skipped/shape": 1}  # fmt: skip
    assert {s.source_id.split("/")[1] for s in skipped} == {"humaneval_002", "humaneval_broken"}
    assert [r["direction"] for r in rows] == ["code_to_test", "test_to_code"]
    forward, backward = rows
    assert all(r["test_type"] == "<parametrized>" and r["group"] == "humaneval_000" for r in rows)
    assert forward["input"].startswith("<parametrized>\n# file: solution.py")
    assert backward["input"] == f"<parametrized>\n{forward['target']}"
    assert (
        forward["split"]
        == backward["split"]
        == split_for_group(
            "humaneval_000",
            cfg.split_seed,
            (cfg.train_fraction, cfg.val_fraction, cfg.test_fraction),
        )
    )
    tree = ast.parse(forward["target"])
    assert "@pytest.mark.parametrize" in forward["target"] and tree.body


# -- corpus: chunking, dedup, splits ------------------------------------------------------


def test_chunks_end_at_top_level_boundaries_and_parse():
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(30))
    source = SourceFile("m.py", "stdlib", "m.py", "import os\n\n\n" + body)
    chunks, skipped = chunk_source(source, ast.parse(source.text), 200, 10)
    assert skipped == [] and len(chunks) > 3
    assert all(len(c.text) <= 200 for c in chunks)
    for chunk in chunks:
        ast.parse(chunk.text)
    covered = [line for c in chunks for line in range(c.start_line, c.end_line + 1)]
    assert covered == sorted(set(covered))  # spans are disjoint and in order


def test_big_class_is_split_between_methods():
    methods = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(40))
    source = SourceFile("c.py", "stdlib", "c.py", f"class Big:\n{methods}")
    chunks, _ = chunk_source(source, ast.parse(source.text), 300, 10)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.startswith("class Big:")
        ast.parse(chunk.text)


def test_dedup_drops_exact_and_near_copies_only():
    base = "\n".join(f"def f{i}(a, b):\n    return a * {i} + b - {i}" for i in range(30))
    near = base.replace("return a * 29 + b - 29", "return a * 29 + b - 28")
    other = "\n".join(f"class K{i}:\n    value = '{i}'" for i in range(30))
    report = deduplicate([base, base + "\n\n", near, other], threshold=0.8)
    assert report.kept == [0, 3]
    assert report.exact == {1: 0}
    assert report.near[2][0] == 0 and report.near[2][1] >= 0.8
    assert jaccard(shingles(base, 5), shingles(other, 5)) < 0.1


def test_no_group_crosses_splits():
    cfg = MultitaskDataConfig(include_stdlib=False, include_humaneval=False)
    files = []
    for app in load_apps():
        files += [SourceFile(f"apps/{app.app_id}/{n}", "apps", app.app_id, t) for n, t in
                  {**app.sources, **app.tests}.items()]  # fmt: skip
    chunks, _, _ = chunk_corpus(files, cfg, get_language_pack("python"))
    split_of_group: dict[str, set[str]] = {}
    for chunk in chunks:
        split_of_group.setdefault(chunk.group, set()).add(chunk.split)
    assert all(len(s) == 1 for s in split_of_group.values())
    assert {s for v in split_of_group.values() for s in v} >= {"train"}


# -- clarification -----------------------------------------------------------------------


def test_ambiguous_variant_hides_a_fact_the_tests_use():
    app = App(
        app_id="toy",
        sources={"toy.py": "LIMIT = 42\n"},
        tests={
            "test_toy.py": "from toy import LIMIT\n\ndef test_limit():\n    assert LIMIT == 42\n"
        },
        requirements=(
            "`toy.py` defines a constant.",
            "The constant `LIMIT` equals 42; 42 is the answer.",
            "Nothing else is exported.",
            "Values are integers.",
            "The module has no side effects.",
        ),
    )
    records = clarify.clarification_records(app, 2, random.Random(0))
    clear, ambiguous = records[0], records[1:]
    assert clear["label"] == 0 and "42" in clear["description"]
    assert ambiguous and all(r["label"] == 1 for r in ambiguous)
    assert {r["answer"] for r in ambiguous} <= {"42", "LIMIT"}
    for record in ambiguous:
        assert record["removed_fact"] == app.requirements[1]
        assert record["answer"] not in record["question"].replace("[unspecified]", "")
        assert record["removed_fact"] not in record["description"]


# -- ontology --------------------------------------------------------------------------------


def test_ontology_relations_on_a_small_module():
    module = (
        "import json\n\n\nclass Base:\n    pass\n\n\nclass Store(Base):\n"
        "    def save(self, key):\n        return dump(key)\n\n\n"
        "def dump(obj):\n    return json.dumps(obj)\n"
    )
    tests = "from store import dump\n\n\ndef test_dump():\n    assert dump(1) == '1'\n"
    onto = ontology.annotate({"store.py": module}, {"test_store.py": tests})
    rel = onto.relations
    assert ("module:store", "imports", "module:json") in rel
    assert ("module:store", "defines", "class:store.Store") in rel
    assert ("class:store.Store", "inherits", "class:store.Base") in rel
    assert ("class:store.Store", "defines", "function:store.Store.save") in rel
    assert ("function:store.Store.save", "has_param", "param:store.Store.save.key") in rel
    assert ("function:store.Store.save", "calls", "function:store.dump") in rel
    assert ("function:test_store.test_dump", "tests", "function:store.dump") in rel
    two_hop = [p for p in onto.paths(2) if len(p) == 2]
    assert [
        ("function:test_store.test_dump", "tests", "function:store.dump"),
        ("function:store.dump", "calls", "external:dumps"),
    ] in two_hop
    record = ontology.ontology_record(onto, 2, 10, random.Random(0))
    assert record["conditioning"].count("\n") == len(record["paths"]) - 1


# -- params and an end-to-end build ------------------------------------------------------


def test_params_section_is_strict(tmp_path):
    with pytest.raises(ParamsError, match="multitask_data.stdlib_max_file"):
        load_params(None, ["multitask_data.stdlib_max_file=3"])
    with pytest.raises(ParamsError, match="sum to 1.0"):
        load_params(None, ["multitask_data.train_fraction=0.9"])


def test_small_build_writes_every_set_with_a_datasheet(tmp_path):
    params = load_params(
        None,
        {
            "run.outputs_dir": str(tmp_path),
            "multitask_data.include_humaneval": False,
            "multitask_data.stdlib_max_files": 6,
            "multitask_data.property_max_sources": 2,
            "multitask_data.security_variants_per_kind": 1,
            "multitask_data.quality_min_count": 2,
        },
    )
    from cetd_lib.tracking.runs import RunRecord

    record = RunRecord.open(tmp_path, kind="mtdata")
    sheet = build(params.multitask_data, record, apps_dir=params.data.apps_dir, log=lambda _: None)
    assert record.status == "completed"
    artifacts = record.dir / "artifacts"
    assert set(sheet["counts"]) == {
        "corpus", "quality", "security", "pairs", "clarification", "explanation", "ontology"
    }  # fmt: skip
    splits_of_group: dict[str, set[str]] = {}
    for path in artifacts.glob("*/*.jsonl"):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            assert row["split"] == path.stem
            splits_of_group.setdefault(row["group"], set()).add(row["split"])
    assert all(len(s) == 1 for s in splits_of_group.values()), "a group leaked across splits"
    quality = [json.loads(x) for x in (artifacts / "quality/train.jsonl").read_text().splitlines()]
    n_labels = len(sheet["quality"]["vocabulary"]["labels"])
    assert n_labels > 0 and all(len(r["multi_hot"]) == n_labels for r in quality)
    assert sheet["content_hash"] == record.manifest()["data_hashes"]["multitask_data"]
    assert sheet["skipped"]["count"] == len(sheet["skipped"]["items"])
    assert (artifacts / "datasheet.md").read_text().startswith("# Multi-task dataset")


def test_build_is_deterministic_for_a_seed():
    cfg = MultitaskDataConfig(
        include_humaneval=False, include_apps=False, stdlib_max_files=4,
        property_max_sources=0, security_variants_per_kind=1,
    )  # fmt: skip
    first = build_sets(cfg, log=lambda _: None)
    second = build_sets(cfg, log=lambda _: None)
    assert first.sets == second.sets
