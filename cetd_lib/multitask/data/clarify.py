"""The clarification set: clear vs ambiguous task descriptions, with the question that resolves
the ambiguity and its answer.

An ambiguous variant removes (`drop`) or blurs (`blur`) one requirement item that states a
*test-relevant fact*: a literal (number or quoted string) that also appears as a constant in
the app's tests. So the ambiguity is one the tests punish, the ground-truth question asks for
exactly that fact, and the removed item is kept as the answer — Δpass@1 with and without the
answer can be measured later by reconstructing from `description` vs `description + answer`.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass
from typing import Any

from cetd_lib.apps.app import App

BLANK = "[unspecified]"
_QUOTED = re.compile(r"`([^`]+)`|\"([^\"]+)\"|'([^']+)'")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\w)")


def test_literals(app: App) -> set[str]:
    """String forms of every str/int/float constant in the app's tests (booleans excluded)."""
    out = set()
    for text in app.tests.values():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
                if isinstance(node.value, str | int | float):
                    out.add(str(node.value))
                    out.add(repr(node.value))
    return out


@dataclass(frozen=True)
class Fact:
    """One literal in requirement item `index` that the tests also use."""

    index: int
    literal: str
    span: tuple[int, int]  # character span of the literal in the item (quotes included)


def test_relevant_facts(app: App) -> list[Fact]:
    """Facts in the requirement items; 0 and 1 are too common to count as facts."""
    literals = test_literals(app)
    facts = []
    for index, item in enumerate(app.requirements):
        for match in _QUOTED.finditer(item):
            value = next(g for g in match.groups() if g is not None)
            if value in literals and len(value) > 1:
                facts.append(Fact(index, value, match.span()))
        for match in _NUMBER.finditer(item):
            if match.group() in literals and match.group() not in ("0", "1"):
                facts.append(Fact(index, match.group(), match.span()))
    return facts


def _description(items: list[str]) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def clarification_records(app: App, per_app: int, rng: random.Random) -> list[dict[str, Any]]:
    """One clear record (label 0) and up to `per_app` ambiguous ones (label 1) for an app."""
    items = list(app.requirements)
    base = {"group": app.app_id, "app_id": app.app_id, "origin": app.origin}
    records = [
        {
            **base,
            "description": _description(items),
            "label": 0,
            "mode": "clear",
            "question": None,
            "answer": None,
            "removed_fact": None,
            "item_index": None,
        }
    ]
    facts = test_relevant_facts(app)
    by_item: dict[int, list[Fact]] = {}
    for fact in facts:
        by_item.setdefault(fact.index, []).append(fact)
    chosen_items = rng.sample(sorted(by_item), min(per_app, len(by_item)))
    for index in sorted(chosen_items):
        fact = rng.choice(by_item[index])
        item = items[index]
        # Blur every occurrence, or the other copies would give the answer away.
        shown = item[fact.span[0] : fact.span[1]]
        blurred = re.sub(rf"(?<![\w.]){re.escape(shown)}(?!\w)", BLANK, item)
        mode = rng.choice(("drop", "blur"))
        variant = (
            [*items[:index], *items[index + 1 :]]
            if mode == "drop"
            else [*items[:index], blurred, *items[index + 1 :]]
        )
        records.append(
            {
                **base,
                "description": _description(variant),
                "label": 1,
                "mode": mode,
                "question": f"What exactly is {BLANK} in: {blurred}",
                "answer": fact.literal,
                "removed_fact": item,
                "item_index": index,
            }
        )
    return records
