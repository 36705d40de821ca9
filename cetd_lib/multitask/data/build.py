"""Phase-5 multi-task data: build every set into a run record, with a datasheet.

    python -m cetd_lib multitask-data build --params params/smoke.yaml [--set key=value ...]

Sets (each `artifacts/<set>/<split>.jsonl`, every record carrying `group` and `split`):
- `corpus`: deduplicated code chunks (apps, HumanEval, standard library);
- `quality`: chunk -> multi-hot over ruff checks with >= min_count train occurrences, balanced;
- `security`: chunk or generated variant -> multi-hot over bandit test ids, CWE categories,
  per-label severity weights; variants are labelled by running bandit;
- `pairs`: code <-> test in both directions with a `<unit>|<property>|<parametrized>` token;
- `clarification`: clear (0) vs ambiguous (1) descriptions, question and answer;
- `explanation`: code + finding -> reasoning + rule-doc explanation;
- `ontology`: entities, relations and serialised relation paths per file/app.
Splits are by source group (an app, or one stdlib file), so no file feeds two splits.
`datasheet.json`/`datasheet.md` hold counts per split and label, label frequencies, the
skipped files with reasons, the dataset version and a content hash of every artifact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from cetd_lib.apps.app import App, load_apps
from cetd_lib.apps.splits import SPLITS
from cetd_lib.langpack import LanguagePack, SourceFileError, get_language_pack
from cetd_lib.multitask.data import clarify, explain, labels, ontology, pairs
from cetd_lib.multitask.data.config import MultitaskDataConfig
from cetd_lib.multitask.data.corpus import (
    Chunk,
    Skipped,
    SourceFile,
    app_sources,
    chunk_source,
    deduplicate,
    gather_stdlib,
    split_for_group,
)
from cetd_lib.multitask.data.security_variants import generate_variants, label_variants
from cetd_lib.tracking.runs import RunRecord, write_json_atomic, write_text_atomic

SETS = ("corpus", "quality", "security", "pairs", "clarification", "explanation", "ontology")


@dataclasses.dataclass
class BuildResult:
    """Every set's records (each with `split`), plus what the datasheet reports."""

    sets: dict[str, list[dict[str, Any]]]
    vocabularies: dict[str, dict[str, Any]]
    skipped: list[Skipped]
    stats: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------


def chunk_corpus(
    files: Sequence[SourceFile], cfg: MultitaskDataConfig, pack: LanguagePack
) -> tuple[list[Chunk], list[Skipped], dict[str, int]]:
    """Chunk every file, deduplicate across the whole corpus, then assign splits by group.

    Dedup runs before splitting and over all origins at once, so a near copy of a train chunk
    cannot survive in val/test.
    """
    fractions = (cfg.train_fraction, cfg.val_fraction, cfg.test_fraction)
    chunks: list[Chunk] = []
    skipped: list[Skipped] = []
    for source in files:
        try:
            tree = pack.parse(source.text, source.source_id)
        except SourceFileError as exc:
            skipped.append(Skipped(source.source_id, exc.problem))
            continue
        found, dropped = chunk_source(source, tree, cfg.chunk_max_chars, cfg.chunk_min_chars)
        chunks += found
        skipped += dropped
    report = deduplicate(
        [c.text for c in chunks],
        threshold=cfg.near_dup_threshold,
        shingle_size=cfg.shingle_size,
        permutations=cfg.minhash_permutations,
        bands=cfg.minhash_bands,
        seed=cfg.seed,
    )
    kept = [
        dataclasses.replace(
            chunks[i], split=split_for_group(chunks[i].group, cfg.split_seed, fractions)
        )
        for i in report.kept
    ]
    stats = {
        "chunks_before_dedup": len(chunks),
        "exact_duplicates": len(report.exact),
        "near_duplicates": len(report.near),
        "chunks_kept": len(kept),
    }
    return kept, skipped, stats


def _chunk_record(chunk: Chunk) -> dict[str, Any]:
    return {
        "id": chunk.chunk_id,
        "group": chunk.group,
        "origin": chunk.origin,
        "role": chunk.role,
        "source_id": chunk.source_id,
        "lines": [chunk.start_line, chunk.end_line],
        "symbols": list(chunk.symbols),
        "text": chunk.text,
    }


# ---------------------------------------------------------------------------------------------
# Labelled sets
# ---------------------------------------------------------------------------------------------


def quality_set(
    chunks: Sequence[Chunk], by_chunk: dict[str, list], cfg: MultitaskDataConfig
) -> tuple[list[dict[str, Any]], labels.LabelVocab]:
    """Multi-hot ruff labels; the vocabulary counts train chunks only (no peeking at val/test)."""
    train = [c for c in chunks if c.split == "train"]
    vocab = labels.build_vocab(
        ({f.code for f in by_chunk[c.chunk_id]} for c in train), cfg.quality_min_count
    )
    rows = []
    for chunk in chunks:
        codes = {f.code for f in by_chunk[chunk.chunk_id]}
        rows.append(
            {
                "id": chunk.chunk_id,
                "group": chunk.group,
                "split": chunk.split,
                "text": chunk.text,
                "labels": sorted(codes & set(vocab.labels)),
                "multi_hot": labels.multi_hot(codes, vocab),
                "findings": [labels.finding_summary(f) for f in by_chunk[chunk.chunk_id]],
            }
        )
    return _balanced(rows, cfg), vocab


def _balanced(rows: list[dict[str, Any]], cfg: MultitaskDataConfig) -> list[dict[str, Any]]:
    out = []
    for split in SPLITS:
        part = [r for r in rows if r["split"] == split]
        rng = random.Random(f"{cfg.seed}:balance:{split}")
        out += labels.balanced_sample(
            part, lambda r: any(r["multi_hot"]), cfg.negatives_per_positive, rng
        )
    return out


def security_set(
    chunks: Sequence[Chunk],
    by_chunk: dict[str, list],
    variants: Sequence[Any],
    cfg: MultitaskDataConfig,
) -> tuple[list[dict[str, Any]], labels.LabelVocab]:
    """Bandit labels on corpus chunks and on generated variants (labelled by running bandit)."""
    fractions = (cfg.train_fraction, cfg.val_fraction, cfg.test_fraction)
    items = [(c.chunk_id, c.group, c.split, "corpus", c.text, by_chunk[c.chunk_id]) for c in chunks]
    items += [
        (
            f"variant:{v.variant_id}",
            v.group,
            split_for_group(v.group, cfg.split_seed, fractions),
            "variant_unsafe" if v.unsafe else "variant_safe",
            v.text,
            list(v.findings),
        )
        for v in variants
    ]
    vocab = labels.build_vocab(
        ({f.code for f in found} for *_, split, _, _, found in items if split == "train"),
        cfg.security_min_count,
    )
    rows = []
    for item_id, group, split, origin, text, found in items:
        rows.append(
            {
                "id": item_id,
                "group": group,
                "split": split,
                "origin": origin,
                "text": text,
                "labels": sorted({f.code for f in found} & set(vocab.labels)),
                "multi_hot": labels.multi_hot((f.code for f in found), vocab),
                "severity_weight": labels.severity_weights(found, vocab),
                "cwe_categories": labels.cwe_categories(found),
                "findings": [labels.finding_summary(f) for f in found],
            }
        )
    corpus_rows = _balanced([r for r in rows if r["origin"] == "corpus"], cfg)
    return corpus_rows + [r for r in rows if r["origin"] != "corpus"], vocab


def property_pairs(
    modules: Sequence[tuple[str, str, dict[str, str], str]],
    cfg: MultitaskDataConfig,
    pack: LanguagePack,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Generate hypothesis tests per module, run them in the sandbox, pair the passing ones.

    `modules`: (group, origin, all sources of the app, module file name).
    """
    suitable = []
    for group, origin, sources, module_file in modules:
        found = pairs.property_candidates(sources[module_file], cfg.property_max_examples)
        if found:
            suitable.append((group, origin, sources, module_file, found))
    random.Random(f"{cfg.seed}:property").shuffle(suitable)
    if cfg.property_max_sources is not None:
        suitable = suitable[: cfg.property_max_sources]
    jobs = []
    for _, _, sources, module_file, found in suitable:
        module = module_file.removesuffix(".py")
        tests = {f"test_property_{module}.py": pairs.property_test_file(module, found)}
        jobs.append((sources, tests))
    results = pack.run_tests(jobs, timeout_s=cfg.property_timeout_s) if jobs else []
    out: list[dict[str, Any]] = []
    stats: Counter[str] = Counter()
    for (group, _origin, sources, module_file, found), result in zip(
        suitable, results, strict=True
    ):
        module = module_file.removesuffix(".py")
        for candidate in found:
            node = f"tests/test_property_{module}.py::{candidate.test_name}"
            outcome = result.per_test.get(node)
            stats[f"candidates/{candidate.template}"] += 1
            if outcome is None or not outcome.passed:
                continue
            stats[f"kept/{candidate.template}"] += 1
            case = pairs.property_case(module, candidate)
            out += pairs.pair_records(group, "generated", {module_file: sources[module_file]}, case)
    return out, dict(sorted(stats.items()))


def explanation_set(
    chunks: Sequence[Chunk],
    findings: dict[str, dict[str, list]],
    cfg: MultitaskDataConfig,
    pack: LanguagePack,
) -> list[dict[str, Any]]:
    """At most `explanations_per_rule` examples per (tool, rule), drawn in a seeded order."""
    candidates = [
        (chunk, finding)
        for chunk in chunks
        for tool in ("ruff", "bandit")
        for finding in findings[tool][chunk.chunk_id]
    ]
    random.Random(f"{cfg.seed}:explain").shuffle(candidates)
    taken: Counter[tuple[str, str]] = Counter()
    docs: dict[tuple[str, str], str] = {}
    out = []
    for chunk, finding in candidates:
        key = (finding.tool, finding.code)
        if taken[key] >= cfg.explanations_per_rule:
            continue
        if key not in docs:
            docs[key] = pack.rule_doc(*key)
        record = explanation_record_for(chunk, finding, docs[key], cfg)
        if record is not None:
            taken[key] += 1
            out.append({**record, "split": chunk.split})
    return sorted(out, key=lambda r: (r["chunk_id"], r["tool"], r["code"], r["input"]))


def explanation_record_for(chunk, finding, doc, cfg) -> dict[str, Any] | None:
    return explain.explanation_record(chunk, finding, doc, cfg.explanation_context_lines)


def ontology_set(
    apps: Iterable[tuple[App, str]], stdlib: Iterable[SourceFile], cfg: MultitaskDataConfig
) -> list[dict[str, Any]]:
    """One record per app (src + tests, so `tests` relations exist) and per stdlib file."""
    fractions = (cfg.train_fraction, cfg.val_fraction, cfg.test_fraction)
    out = []
    units = [(a.app_id, origin, dict(a.sources), dict(a.tests)) for a, origin in apps]
    units += [(f.group, f.origin, {f.source_id.rsplit("/", 1)[-1]: f.text}, {}) for f in stdlib]
    for group, origin, sources, tests in units:
        onto = ontology.annotate(sources, tests)
        rng = random.Random(f"{cfg.seed}:ontology:{group}")
        record = ontology.ontology_record(onto, cfg.ontology_max_hops, cfg.ontology_max_paths, rng)
        out.append(
            {
                "id": group,
                "group": group,
                "origin": origin,
                "split": split_for_group(group, cfg.split_seed, fractions),
                **record,
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------------


def build_sets(
    cfg: MultitaskDataConfig,
    *,
    apps_dir: str | None = None,
    log: Callable[[str], None] = print,
) -> BuildResult:
    """Every set in memory; `write_build` puts them into a run record."""
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - started - sum(timings.values()), 2)
        log(f"[mt-data] {name}: {timings[name]:.1f}s")

    fractions = (cfg.train_fraction, cfg.val_fraction, cfg.test_fraction)
    pack = get_language_pack(cfg.language, ruff_select=cfg.ruff_select)
    apps: list[tuple[App, str]] = []
    if cfg.include_apps:
        apps += [(a, "apps") for a in load_apps(apps_dir)]
    if cfg.include_humaneval:
        from cetd_lib.apps.humaneval import load_humaneval_apps

        apps += [(a, "humaneval") for a in load_humaneval_apps()]
    files: list[SourceFile] = []
    for app, origin in apps:
        files += app_sources([app], origin)
    skipped: list[Skipped] = []
    stdlib: list[SourceFile] = []
    if cfg.include_stdlib:
        stdlib, stdlib_skipped = gather_stdlib(
            cfg.stdlib_dir,
            cfg.stdlib_exclude_dirs,
            cfg.stdlib_max_files,
            cfg.max_file_chars,
            cfg.seed,
            pack,
        )
        files += stdlib
        skipped += stdlib_skipped
    lap("gather")

    chunks, chunk_skipped, dedup_stats = chunk_corpus(files, cfg, pack)
    skipped += chunk_skipped
    lap("chunk+dedup")

    texts = {f.source_id: f.text for f in files}
    ruff = labels.findings_by_chunk(chunks, pack.lint_quality(texts))
    bandit = labels.findings_by_chunk(chunks, pack.security_scan(texts))
    variants = label_variants(generate_variants(cfg.security_variants_per_kind, cfg.seed), pack)
    lap("analyzers")

    quality_rows, quality_vocab = quality_set(chunks, ruff, cfg)
    security_rows, security_vocab = security_set(chunks, bandit, variants.kept, cfg)

    pair_rows = []
    modules = []
    for app, origin in apps:
        pair_rows += app_pairs_with_split(app, origin, cfg)
        modules += [(app.app_id, origin, dict(app.sources), name) for name in sorted(app.sources)]
    generated, property_stats = property_pairs(modules, cfg, pack)
    pair_rows += [
        {**r, "split": split_for_group(r["group"], cfg.split_seed, fractions)} for r in generated
    ]
    humaneval = [app for app, origin in apps if origin == "humaneval"]
    parametrized, parametrized_skipped, parametrized_stats = pairs.parametrized_pairs(
        humaneval, cfg
    )
    pair_rows += parametrized
    skipped += parametrized_skipped
    lap("pairs")

    clar_rows = []
    for app, _ in apps:
        rng = random.Random(f"{cfg.seed}:clarify:{app.app_id}")
        split = split_for_group(app.app_id, cfg.split_seed, fractions)
        clar_rows += [
            {**r, "split": split}
            for r in clarify.clarification_records(app, cfg.clarifications_per_app, rng)
        ]
    explain_rows = explanation_set(chunks, {"ruff": ruff, "bandit": bandit}, cfg, pack)
    onto_rows = ontology_set(apps, stdlib, cfg)
    lap("clarification+explanation+ontology")

    corpus_rows = [{**_chunk_record(c), "split": c.split} for c in chunks]
    sets = {
        "corpus": corpus_rows,
        "quality": quality_rows,
        "security": security_rows,
        "pairs": _with_ids(pair_rows, "pair"),
        "clarification": _with_ids(clar_rows, "clarify"),
        "explanation": _with_ids(explain_rows, "explain"),
        "ontology": onto_rows,
    }
    stats = {
        "sources": dict(Counter(f.origin for f in files)),
        "dedup": dedup_stats,
        "property_tests": property_stats,
        "parametrized_tests": parametrized_stats,
        "variant_mismatches": variants.mismatches,
        "timings_s": timings,
    }
    vocabularies = {"quality": quality_vocab.to_dict(), "security": security_vocab.to_dict()}
    return BuildResult(sets, vocabularies, skipped, stats)


def app_pairs_with_split(app: App, origin: str, cfg: MultitaskDataConfig) -> list[dict]:
    fractions = (cfg.train_fraction, cfg.val_fraction, cfg.test_fraction)
    split = split_for_group(app.app_id, cfg.split_seed, fractions)
    return [{**r, "split": split} for r in pairs.app_pairs(app, origin)]


def _with_ids(rows: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i:06d}", **r} for i, r in enumerate(rows)]


# ---------------------------------------------------------------------------------------------
# Writing: JSONL per set and split, datasheet, hashes
# ---------------------------------------------------------------------------------------------


def _label_counts(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        counts = Counter(label for r in rows if r["split"] == split for label in r["labels"])
        out[split] = dict(sorted(counts.items()))
    return out


def datasheet(result: BuildResult, cfg: MultitaskDataConfig, hashes: dict[str, str]) -> dict:
    sets = result.sets
    per_split = {
        name: {split: sum(r["split"] == split for r in rows) for split in SPLITS}
        for name, rows in sets.items()
    }
    content_hash = hashlib.sha256(json.dumps(sorted(hashes.items())).encode()).hexdigest()
    sheet = {
        "version": cfg.version,
        "content_hash": content_hash,
        "counts": per_split,
        "groups_per_split": {
            split: len({r["group"] for r in sets["corpus"] if r["split"] == split})
            for split in SPLITS
        },
        "quality": {
            "vocabulary": result.vocabularies["quality"],
            "labels_per_split": _label_counts(sets["quality"]),
            "positives_per_split": {
                s: sum(any(r["multi_hot"]) for r in sets["quality"] if r["split"] == s)
                for s in SPLITS
            },
        },
        "security": {
            "vocabulary": result.vocabularies["security"],
            "labels_per_split": _label_counts(sets["security"]),
            "origin_per_split": {
                s: dict(Counter(r["origin"] for r in sets["security"] if r["split"] == s))
                for s in SPLITS
            },
            "cwe_categories": dict(
                Counter(c for r in sets["security"] for c in r["cwe_categories"])
            ),
            "severities": dict(
                Counter(f["severity"] for r in sets["security"] for f in r["findings"])
            ),
        },
        "pairs": {
            s: dict(
                Counter(
                    f"{r['direction']}/{r['test_type']}" for r in sets["pairs"] if r["split"] == s
                )
            )
            for s in SPLITS
        },
        "clarification": {
            s: dict(Counter(r["mode"] for r in sets["clarification"] if r["split"] == s))
            for s in SPLITS
        },
        "explanation": dict(Counter(f"{r['tool']}" for r in sets["explanation"])),
        "ontology_relations": dict(
            Counter(rel[1] for r in sets["ontology"] for rel in r["relations"])
        ),
        "skipped": {
            "count": len(result.skipped),
            "reasons": dict(
                Counter(s.reason.split(":")[0].split(" of ")[0] for s in result.skipped)
            ),
            "items": [dataclasses.asdict(s) for s in result.skipped],
        },
        **result.stats,
        "artifact_sha256": hashes,
        "config": dataclasses.asdict(cfg),
    }
    return sheet


def _datasheet_md(sheet: dict[str, Any]) -> str:
    lines = [
        f"# Multi-task dataset {sheet['version']}",
        "",
        f"content hash `{sheet['content_hash']}`",
        "",
        "| set | train | val | test |",
        "|---|---:|---:|---:|",
    ]
    for name, counts in sheet["counts"].items():
        lines.append(f"| {name} | {counts['train']} | {counts['val']} | {counts['test']} |")
    for head in ("quality", "security"):
        vocab = sheet[head]["vocabulary"]
        lines += [
            "",
            f"## {head} labels ({len(vocab['labels'])}, over {vocab['n_items']} train items)",
            "",
            "| label | count | freq | pos_weight |",
            "|---|---:|---:|---:|",
        ]
        for label in vocab["labels"]:
            lines.append(
                f"| {label} | {vocab['counts'][label]} | {vocab['frequencies'][label]:.3f} "
                f"| {vocab['pos_weight'][label]:.1f} |"
            )
    lines += ["", f"## Skipped: {sheet['skipped']['count']}", ""]
    lines += [f"- `{s['source_id']}`: {s['reason']}" for s in sheet["skipped"]["items"]]
    return "\n".join(lines) + "\n"


def write_build(result: BuildResult, cfg: MultitaskDataConfig, record: RunRecord) -> dict:
    """JSONL per set and split under artifacts/, then the datasheet; returns the datasheet."""
    hashes = {}
    for name, rows in result.sets.items():
        for split in SPLITS:
            lines = [
                json.dumps(r, sort_keys=True, ensure_ascii=False)
                for r in rows
                if r["split"] == split
            ]
            text = "".join(line + "\n" for line in lines)
            rel = f"{name}/{split}.jsonl"
            write_text_atomic(record.artifact(rel), text)
            hashes[rel] = hashlib.sha256(text.encode()).hexdigest()
    for name, vocab in result.vocabularies.items():
        write_json_atomic(record.artifact(f"{name}_labels.json"), vocab)
    sheet = datasheet(result, cfg, hashes)
    write_json_atomic(record.artifact("datasheet.json"), sheet)
    write_text_atomic(record.artifact("datasheet.md"), _datasheet_md(sheet))
    record.add_data_hashes({"multitask_data": sheet["content_hash"]})
    return sheet


def build(
    cfg: MultitaskDataConfig,
    record: RunRecord,
    *,
    apps_dir: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Build every set into the run record `record` (summary and report.md; completed on
    return, failed on an exception); returns the datasheet."""
    from cetd_lib.apps.splits import SPLITS
    from cetd_lib.tracking.report import write_report

    with record:
        result = build_sets(cfg, apps_dir=apps_dir, log=log)
        sheet = write_build(result, cfg, record)
        record.write_summary(
            {
                "version": sheet["version"],
                "content_hash": sheet["content_hash"],
                "counts": sheet["counts"],
                "skipped": sheet["skipped"]["count"],
            }
        )
        counts = ["| set | " + " | ".join(SPLITS) + " |", "|---" * (len(SPLITS) + 1) + "|"]
        counts += [
            f"| {name} | " + " | ".join(str(c.get(s, 0)) for s in SPLITS) + " |"
            for name, c in sheet["counts"].items()
        ]
        write_report(
            record.dir / "report.md",
            f"Multi-task data build {record.run_id}",
            {
                "Dataset": f"{sheet['version']}, content hash {sheet['content_hash']}",
                "Examples per set and split": "\n".join(counts),
                "Skipped": f"{sheet['skipped']['count']} (listed in artifacts/datasheet.json)",
            },
        )
    return sheet
