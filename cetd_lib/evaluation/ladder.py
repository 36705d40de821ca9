"""The calibration ladder: requirement sources whose quality is known by construction.

Each rung is a registered requirement source (`phase2.register_source`) and ablation source,
so phase 2, the ablation and the calibration study all resolve `gold_drop50` or
`gold_shuffled` by name; importing this module registers them. It owns the seeded, pure
transforms that damage gold requirements and the rung table (`RUNGS`), not how a rung is
measured or judged (`calibration`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from cetd_lib.apps.app import App
from cetd_lib.apps.signatures import signature_items, split_signature_items
from cetd_lib.evaluation.ablation import (
    ABLATION_SOURCES,
    AblationSource,
    register_ablation_source,
)
from cetd_lib.evaluation.phase2 import REQUIREMENT_SOURCES, SourceContext, register_source

# Seed of the registered rungs when a caller passes a plain SourceContext (ablation, phase 2).
DEFAULT_LADDER_SEED = 0


# ---------------------------------------------------------------------------------------------
# Requirement transforms (pure)
# ---------------------------------------------------------------------------------------------


def app_rng(seed: int, app_id: str) -> np.random.Generator:
    """A generator that depends only on (seed, app id): an app's draws do not change when
    other apps join or leave the evaluated set."""
    return np.random.default_rng([seed, zlib.crc32(app_id.encode())])


def keep_count(n_items: int, fraction: float) -> int:
    """Items kept when `fraction` of `n_items` is dropped: round half up, at least one (an
    empty list is never rebuilt by the harness, which would turn the rung into `null`).

    >>> [keep_count(8, f) for f in (0.25, 0.5, 0.75)], keep_count(5, 0.5), keep_count(2, 0.75)
    ([6, 4, 2], 2, 1)
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"drop fraction {fraction} must lie in [0, 1)")
    if n_items == 0:
        return 0
    return max(1, n_items - math.floor(n_items * fraction + 0.5))


def drop_items(items: Sequence[str], fraction: float, rng: np.random.Generator) -> list[str]:
    """`items` with `fraction` of them dropped, the rest in their original order.

    The kept items are a prefix of one permutation drawn from `rng`, so with the same generator
    state the rungs nest: what survives 75% dropped also survives 50% and 25%.
    """
    order = rng.permutation(len(items))
    kept = sorted(order[: keep_count(len(items), fraction)])
    return [items[i] for i in kept]


def drop_content_items(
    app: App, fraction: float, rng: np.random.Generator, items: Sequence[str] | None = None
) -> list[str]:
    """`items` (default: the app's gold) with `fraction` of the items *beyond the signature*
    dropped (`drop_items`), every signature item kept, all in their original order.

    A drop rung that could drop the signature measured "were the names given" again: a member
    that passes exactly when the signature is present fell with the dose and looked like it
    read the content (issue 29). Gold without signature items (the bundled apps, whose items
    name the API inside prose) drops from all items.
    """
    items = list(app.requirements if items is None else items)
    signature, content = split_signature_items(items, app)
    kept = set(signature) | set(drop_items(content, fraction, rng)) if content else set(items)
    return [item for item in items if item in kept]


def derangement(n: int, rng: np.random.Generator) -> list[int]:
    """A uniformly drawn permutation of range(n) with no fixed point (rejection sampling:
    about e draws on average, Montmort 1713).

    >>> d = derangement(5, np.random.default_rng(0)); sorted(d) == list(range(5))
    True
    >>> any(i == j for i, j in enumerate(d))
    False
    """
    if n < 2:
        raise ValueError(f"a derangement needs at least 2 apps, got {n}")
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return [int(i) for i in perm]


def dose(items: Sequence[str], app: App) -> float:
    """Share of the app's own gold items present in `items` (1 for gold, 0 for another app's)."""
    own = set(app.requirements)
    return sum(item in own for item in set(items)) / len(own) if own else float("nan")


def no_item_requirements(app: App) -> list[str]:
    """One item per module naming it: what the prompt says anyway, nothing about behaviour.
    Not empty, because the harness never asks a model to rebuild from an empty list."""
    return [f"Implements the module `{name}`." for name in app.module_names]


# ---------------------------------------------------------------------------------------------
# The ladder: registered requirement sources and the harness bounds
# ---------------------------------------------------------------------------------------------


@dataclass
class LadderContext(SourceContext):
    """A SourceContext carrying the seed of the dropped-item and derangement draws."""

    seed: int = DEFAULT_LADDER_SEED


def _seed(ctx: SourceContext) -> int:
    return ctx.seed if isinstance(ctx, LadderContext) else DEFAULT_LADDER_SEED


@dataclass(frozen=True)
class Rung:
    """One rung. `kind` "source": a registered requirement source rebuilt by each member;
    "bound": `<kind>_backend`, a harness calibration backend (`oracle`/`null`) on gold, once
    per family.
    `dose`: nominal share of the app's own gold items (None for bounds).
    `in_chain`: whether the rung is a step of the dose chain (gold > drops > shuffled); the
    `signature_only` control is not: its dose is neither 0 nor a share of the content."""

    name: str
    kind: Literal["source", "bound"]
    dose: float | None
    description: str
    in_chain: bool = True


RUNGS: dict[str, Rung] = {}


def _register_rung(rung: Rung) -> Rung:
    if rung.kind == "source":
        register_ablation_source(
            AblationSource(rung.name, "requirements", rung.description, rung.name)
        )
    RUNGS[rung.name] = rung
    return rung


def drop_rung_name(fraction: float) -> str:
    """`gold_drop25` for 0.25; rejects fractions that do not map to a whole percent."""
    pct = round(fraction * 100)
    if not 0 < fraction < 1 or abs(pct - fraction * 100) > 1e-9:
        raise ValueError(f"drop fraction {fraction}: expected a whole percent in (0, 1)")
    return f"gold_drop{pct}"


def register_drop_rung(fraction: float) -> Rung:
    """Register `gold_drop<pct>` (requirement source, ablation source, rung); idempotent."""
    name = drop_rung_name(fraction)
    if name in RUNGS:
        return RUNGS[name]

    def source(apps: Sequence[App], ctx: SourceContext) -> dict[str, list[str]]:
        seed = _seed(ctx)
        return {
            app.app_id: drop_content_items(app, fraction, app_rng(seed, app.app_id)) for app in apps
        }

    source.__doc__ = (
        f"Gold with {fraction:.0%} of its non-signature items dropped (seeded per app, nested)."
    )
    register_source(name)(source)
    return _register_rung(
        Rung(
            name,
            "source",
            1 - fraction,
            f"gold with {fraction:.0%} of the items beyond the signature dropped",
        )
    )


@register_source("gold_shuffled")
def shuffled_source(apps: Sequence[App], ctx: SourceContext) -> dict[str, list[str]]:
    """Gold of another app of the same set (a seeded derangement: no app gets its own)."""
    ordered = sorted(apps, key=lambda a: a.app_id)
    perm = derangement(len(ordered), np.random.default_rng([_seed(ctx), 0xD3]))
    return {app.app_id: list(ordered[j].requirements) for app, j in zip(ordered, perm, strict=True)}


@register_source("no_items")
def no_items_source(apps: Sequence[App], ctx: SourceContext) -> dict[str, list[str]]:
    """Module names only (`no_item_requirements`)."""
    return {app.app_id: no_item_requirements(app) for app in apps}


@register_source("signature_only")
def signature_only_source(apps: Sequence[App], ctx: SourceContext) -> dict[str, list[str]]:
    """The app's public signatures only (`apps.signatures.signature_items`): the control that
    gold must beat for the reward to pay for content rather than names."""
    return {app.app_id: signature_items(app) for app in apps}


DEFAULT_DROP_FRACTIONS = (0.25, 0.5, 0.75)
RUNGS["gold"] = Rung("gold", "source", 1.0, "gold requirements")  # gold is registered already
for _fraction in DEFAULT_DROP_FRACTIONS:
    register_drop_rung(_fraction)
_register_rung(Rung("gold_shuffled", "source", 0.0, "gold of another app (derangement)"))
_register_rung(Rung("no_items", "source", 0.0, "no items: module names only"))
_register_rung(
    Rung(
        "signature_only",
        "source",
        None,
        "the public signatures only (HumanEval: the signature and helper items; other apps: "
        "the definitions the tests import, as at context level 3)",
        in_chain=False,
    )
)
# Bound rungs are named <backend kind>_backend: a bare `null` would read as None in YAML.
RUNGS["oracle_backend"] = Rung(
    "oracle_backend", "bound", None, "oracle backend: the original source"
)
RUNGS["null_backend"] = Rung("null_backend", "bound", None, "null backend: an empty answer")
assert all(r.kind == "bound" or r.name in REQUIREMENT_SOURCES for r in RUNGS.values())
assert all(r.kind == "bound" or r.name in ABLATION_SOURCES for r in RUNGS.values())

DROP_PLACEHOLDER = "gold_drop"  # in `rungs`: one rung per `drop_fractions` entry
DEFAULT_RUNGS = (
    "gold",
    "signature_only",
    DROP_PLACEHOLDER,
    "gold_shuffled",
    "no_items",
    "oracle_backend",
    "null_backend",
)
