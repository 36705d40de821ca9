"""The data build's sets as training reads them back, and the per-task example formats.

`multitask.data` writes the sets; this module owns their reading side (`MultitaskData`) and
`TaskFormats`, which turns a record into the token example of its task (head tokens, body,
target) with one tokenizer and length budget. The trainer and the held-out evaluation must cut
prompts identically, so both take them from here.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cetd_lib.multitask.model import objectives as obj
from cetd_lib.multitask.model.train_config import MultitaskTrainConfig

CLASSIFY = ("quality", "security", "clarification")
SET_FILES = ("corpus", "quality", "security", "pairs", "clarification", "explanation", "ontology")


@dataclass
class MultitaskData:
    """Every set per split, as the data build wrote them, plus the label vocabularies."""

    sets: dict[str, dict[str, list[dict[str, Any]]]]
    quality_vocab: dict[str, Any]
    security_vocab: dict[str, Any]
    source: str

    @classmethod
    def from_artifacts(cls, artifacts: str | Path) -> MultitaskData:
        root = Path(artifacts)
        sets: dict[str, dict[str, list]] = {}
        for name in SET_FILES:
            sets[name] = {}
            for split in ("train", "val", "test"):
                path = root / name / f"{split}.jsonl"
                if not path.exists():
                    raise FileNotFoundError(
                        f"{path}: missing; point multitask_train.data_run_id at a finished "
                        "`python -m cetd_lib multitask-data build` run"
                    )
                sets[name][split] = [json.loads(x) for x in path.read_text().splitlines() if x]
        vocabs = []
        for name in ("quality_labels.json", "security_labels.json"):
            path = root / name
            if not path.exists():
                raise FileNotFoundError(f"{path}: missing label vocabulary of the data build")
            vocabs.append(json.loads(path.read_text()))
        return cls(sets, vocabs[0], vocabs[1], str(root))

    def split(self, name: str, split: str) -> list[dict[str, Any]]:
        return self.sets[name][split]

    def ontology_by_group(self) -> dict[str, dict[str, Any]]:
        return {r["group"]: r for rows in self.sets["ontology"].values() for r in rows}


def sample(rows: Sequence[Any], k: int | None, rng: random.Random) -> list[Any]:
    rows = list(rows)
    return rows if k is None or k >= len(rows) else rng.sample(rows, k)


# ---------------------------------------------------------------------------------------------
# Task formats: (head tokens, body text, target text) per record
# ---------------------------------------------------------------------------------------------


def ontology_paths(record: dict[str, Any], symbols: Sequence[str], hops: str, k: int) -> list[str]:
    """Relation paths for a chunk: one-hop (`simple`) or multi-hop, those naming one of the
    chunk's symbols first; multi-hop falls back to one-hop where a file has none."""
    paths = record.get("paths", [])
    multi = [p for p in paths if " ; " in p]
    chosen = (multi or paths) if hops == "multi" else [p for p in paths if " ; " not in p]
    named = [p for p in chosen if any(f".{s} " in p or p.endswith(f".{s}") for s in symbols)]
    rest = [p for p in chosen if p not in named]
    return (named + rest)[:k]


def explanation_doc(record: dict[str, Any], max_chars: int) -> str:
    """The rule's documentation (the data build puts it after "Explanation:" in the target)."""
    _, _, doc = record["target"].partition("Explanation:")
    return doc.strip()[:max_chars]


class TaskFormats:
    """Turns records into token examples for every task, with one tokenizer and budget."""

    def __init__(self, tokenizer: Any, config: MultitaskTrainConfig, data: MultitaskData) -> None:
        self.tok = tokenizer
        self.cfg = config
        self.onto = data.ontology_by_group()
        self.eos = tokenizer.eos_token_id

    def ids(self, text: str) -> list[int]:
        return obj.encode_text(self.tok, text)

    def head(self, *tokens: str) -> list[int]:
        return [obj.token_id(self.tok, t) for t in tokens]

    def prompt(
        self, task: str, record: dict[str, Any], hops: str = "multi"
    ) -> tuple[list, str, str]:
        """(head ids, body text, target text) of a generation task."""
        if task == "ontology":
            paths = ontology_paths(
                self.onto[record["group"]], record.get("symbols", []), hops,
                self.cfg.ontology_paths_in_prompt,
            )  # fmt: skip
            return self.head(obj.TASK_TOKENS["onto"]), "\n".join(paths) + "\n", record["text"]
        if task == "test":
            token = "test" if record["direction"] == "code_to_test" else "code"
            return self.head(obj.TASK_TOKENS[token]), record["input"], record["target"]
        if task == "clarify_question":
            ambiguity = obj.AMBIGUITY_TOKENS[record["mode"]]
            return (
                self.head(obj.TASK_TOKENS["clarify"], ambiguity),
                record["description"],
                record["question"],
            )
        if task == "explain":
            doc = explanation_doc(record, self.cfg.rule_doc_max_chars)
            body = f"rule: {record['tool']} {record['code']}\ncontext: {doc}\n\n{record['input']}\n"
            return self.head(obj.TASK_TOKENS["explain"]), body, record["target"]
        raise KeyError(f"no generation format for task {task!r}")

    def prompt_ids(
        self, task: str, record: dict[str, Any], max_new_tokens: int, hops: str = "multi"
    ):
        """The prompt cut as in training (`prompt_target_example`: the target takes at most
        half of max_seq_len), so a generation cap above max_seq_len never leaves the model
        only the task token; generation may then run past max_seq_len."""
        head, body, _ = self.prompt(task, record, hops)
        reserved = min(max_new_tokens, self.cfg.max_seq_len // 2)
        room = max(0, self.cfg.max_seq_len - reserved - len(head))
        return head + self.ids(body)[:room]

    def example(self, task: str, record: dict[str, Any], rng: random.Random, hops: str = "multi",
                kind: str | None = None):  # fmt: skip
        cfg = self.cfg
        if task == "code":
            return obj.code_example(
                self.tok, record["text"], rng, max_len=cfg.max_seq_len, rate=cfg.mask_rate,
                fim_rate=cfg.fim_rate, min_span=cfg.mask_span_min, max_span=cfg.mask_span_max,
                kind=kind,
            )  # fmt: skip
        if task in CLASSIFY:
            text = record["description"] if task == "clarification" else record["text"]
            ids = self.ids(text)[: cfg.max_seq_len]
            targets = [int(record["label"])] if task == "clarification" else record["multi_hot"]
            example = {"input_ids": ids, "targets": targets}
            if task == "security":
                example["severity"] = record["severity_weight"]
            return example
        head, body, target = self.prompt(task, record, hops)
        return obj.prompt_target_example(
            head, self.ids(body), self.ids(target), eos_id=self.eos, max_len=cfg.max_seq_len
        )

    def records(self, data: MultitaskData, task: str, split: str) -> list[dict[str, Any]]:
        """The records a task trains/evaluates on."""
        if task == "ontology":
            return [r for r in data.split("corpus", split) if r["group"] in self.onto]
        if task == "test":
            return data.split("pairs", split)
        if task == "clarify_question":
            return [r for r in data.split("clarification", split) if int(r["label"]) == 1]
        if task == "explain":
            return data.split("explanation", split)
        name = {"code": "corpus"}.get(task, task)
        return data.split(name, split)


def collate_classify(examples: Sequence[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(e["input_ids"]) for e in examples)
    batch = {
        "input_ids": torch.full((len(examples), width), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros((len(examples), width), dtype=torch.long),
        "targets": torch.tensor([e["targets"] for e in examples], dtype=torch.float32),
    }
    for i, e in enumerate(examples):
        batch["input_ids"][i, : len(e["input_ids"])] = torch.tensor(e["input_ids"])
        batch["attention_mask"][i, : len(e["input_ids"])] = 1
    if "severity" in examples[0]:
        batch["severity"] = torch.tensor([e["severity"] for e in examples], dtype=torch.float32)
    return batch
