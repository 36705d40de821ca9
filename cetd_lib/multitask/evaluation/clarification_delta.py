"""Δpass@1 of the model's own clarifying question (the seed's clarification target).

Separate from `evaluate` because it is a different experiment: it rebuilds whole apps through
the Phase-2 reconstruction prompt and orchestra (cetd_lib.train.reward), with a deliberately
simple, documented answerer standing in for the user, so the number measures the question.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cetd_lib.sandbox.config import HarnessConfig

if TYPE_CHECKING:
    from cetd_lib.reconstruction.backends import Backend

# The answerer: a stand-in for the user who knows the gold requirements and answers only what
# is asked. It returns the gold item that shares the most content words with the question
# (ties: the shorter item, then the earlier one); a question sharing none gets no answer. It is
# deliberately simple and documented so Δpass@1 measures the question: a vague question draws
# an irrelevant item, a pointed one draws the item the ambiguous description lost.
_WORD = re.compile(r"[a-z0-9_]+")
_STOPWORDS = frozenset(
    "a an and are as at be by can could do does for from how i in is it its of on or should "
    "that the their this to was what when where which who why will with would you your "
    "exactly unspecified clarify clarification please tell".split()
)


def content_words(text: str) -> set[str]:
    """Lower-cased word tokens of `text` minus stop words (and the `[unspecified]` marker)."""
    return set(_WORD.findall(text.lower())) - _STOPWORDS


def answer_from_gold(question: str, gold: Sequence[str]) -> str | None:
    """The gold requirement item most relevant to `question` by content-word overlap, or None
    when no item shares a word with it.

    >>> answer_from_gold("Which port does it serve on?", ["Logs to stderr.", "Serves on port 80."])
    'Serves on port 80.'
    >>> answer_from_gold("Anything else?", ["Logs to stderr."]) is None
    True
    """
    asked = content_words(question)
    best, best_key = None, None
    for index, item in enumerate(gold):
        words = content_words(item)
        key = (len(asked & words), -len(words), -index)
        if key[0] and (best_key is None or key > best_key):
            best, best_key = item, key
    return best


def clarified(description: str, question: str | None, answer: str | None) -> list[str]:
    """The ambiguous description's items plus the clarifying question and its answer (none
    added when there is no answer)."""
    from cetd_lib.apps.requirements import parse_requirements

    items = parse_requirements(description)
    if not question or not answer:
        return items
    return [*items, f"Clarification: {normalize_space(question)} Answer: {answer}"]


def normalize_space(text: str) -> str:
    return " ".join(text.split())


def clarification_delta_pass(
    model: Any,
    records: Sequence[Mapping[str, Any]],
    apps_by_id: Mapping[str, Any],
    *,
    model_questions: Sequence[str],
    max_new_tokens: int,
    harness: HarnessConfig | None = None,
    backend: Backend | None = None,
) -> dict[str, Any]:
    """Δpass@1 of the model's own clarifying question, with the gold Q/A as its ceiling.

    Per ambiguous record the app is rebuilt three times (greedy, the Phase-2 reconstruction
    prompt, the app's original tests in the sandboxed harness): from the description alone;
    plus the model's question (`model_questions`, aligned with `records`) answered from the
    app's gold requirements by `answer_from_gold`; plus the dataset's question and answer (the
    ceiling: the question that asks exactly for the missing fact).

        delta_pass@1         = mean(pass(description + model Q/A) - pass(description))
        delta_pass@1_ceiling = mean(pass(description + gold Q/A)  - pass(description))

    The rebuilder is the model itself (`backend` replaces it, e.g. a fake in tests).
    """
    from cetd_lib.reconstruction.config import BackendSpec, OrchestraConfig
    from cetd_lib.train.reward import orchestra_pass_rates

    if len(model_questions) != len(records):
        raise ValueError(f"{len(model_questions)} model questions for {len(records)} records")

    def app_id(record: Mapping[str, Any]) -> str:
        return record.get("app_id", record["group"])

    usable = [
        (r, q)
        for r, q in zip(records, model_questions, strict=True)
        if str(r["label"]) == "1" and app_id(r) in apps_by_id
    ]
    if not usable:
        return {"n": 0, "delta_pass@1": None, "delta_pass@1_ceiling": None}
    apps = [apps_by_id[app_id(r)] for r, _ in usable]
    answers = [
        answer_from_gold(q, app.requirements) for (_, q), app in zip(usable, apps, strict=True)
    ]
    lists = [clarified(r["description"], None, None) for r, _ in usable]
    lists += [clarified(r["description"], q, a) for (r, q), a in zip(usable, answers, strict=True)]
    lists += [clarified(r["description"], r["question"], r["answer"]) for r, _ in usable]
    spec = BackendSpec(name="multitask", kind="hf", model="(the multitask model)")
    orchestra = OrchestraConfig(members=(spec,), max_new_tokens=max_new_tokens)
    padding_side = model.tokenizer.padding_side if backend is None else None
    try:
        if backend is None:
            from cetd_lib.reconstruction.backends import HFBackend

            backend = HFBackend(spec, model=model.lm, tokenizer=model.tokenizer)
        rates = orchestra_pass_rates(
            apps * 3, lists, orchestra=orchestra, backends={spec.name: backend},
            harness=harness, cache=None,
        )  # fmt: skip
    finally:
        if padding_side is not None:
            model.tokenizer.padding_side = padding_side  # the HF backend pads on the left
    n = len(usable)
    without, with_model, with_gold = rates[:n], rates[n : 2 * n], rates[2 * n :]
    rows = [
        (a, b, c)
        for a, b, c in zip(without, with_model, with_gold, strict=True)
        if a is not None and b is not None and c is not None
    ]

    def mean(values: Iterable[float]) -> float | None:
        values = list(values)
        return statistics.fmean(values) if values else None

    return {
        "n": len(rows),
        "answerer": "gold item with the most content words in common with the question",
        "answered_share": sum(a is not None for a in answers) / n,
        "pass@1_without_answer": mean(a for a, _, _ in rows),
        "pass@1_with_model_question": mean(b for _, b, _ in rows),
        "pass@1_with_gold_answer": mean(c for _, _, c in rows),
        "delta_pass@1": mean(b - a for a, b, _ in rows),
        "delta_pass@1_ceiling": mean(c - a for a, _, c in rows),
        "samples": [
            {"id": r.get("id"), "model_question": q, "answer": a, "gold_question": r["question"]}
            for (r, q), a in zip(usable, answers, strict=True)
        ],
    }
