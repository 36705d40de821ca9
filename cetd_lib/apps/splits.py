"""Deterministic train/val/test splits by a seeded hash of the app id.

Each app's split depends only on its own id and the seed, so adding apps never moves an
existing one (a shuffled split would). The price: on a small corpus the split sizes only
approximate the fractions, and a split can be empty.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cetd_lib.apps.app import App, DataConfig

SPLITS = ("train", "val", "test")


def split_of(app_id: str, *, seed: int, fractions: tuple[float, float, float]) -> str:
    """'train' | 'val' | 'test' for one id: sha256(seed:app_id) as a uniform draw in [0, 1)."""
    if len(fractions) != len(SPLITS) or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions {fractions} must be three non-negative shares summing to 1")
    digest = hashlib.sha256(f"{seed}:{app_id}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    cumulative = 0.0
    for name, share in zip(SPLITS, fractions, strict=True):
        cumulative += share
        if draw < cumulative:
            return name
    return SPLITS[-1]  # draw within float rounding of 1.0


@dataclass(frozen=True)
class SplitManifest:
    """Which app is in which split, with the content hash each app had when it was split."""

    seed: int
    fractions: tuple[float, float, float]
    assignments: dict[str, str]  # app_id -> split name
    content_hashes: dict[str, str] = field(default_factory=dict)  # app_id -> App.content_hash()

    def ids(self, split: str) -> list[str]:
        """Sorted app ids of one split."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return sorted(a for a, s in self.assignments.items() if s == split)

    def select(self, apps: Iterable[App], split: str) -> list[App]:
        """The apps of `split` among `apps`; an app the manifest does not know is an error."""
        apps = list(apps)
        unknown = sorted(a.app_id for a in apps if a.app_id not in self.assignments)
        if unknown:
            raise KeyError(
                f"apps not in the split manifest: {unknown}; rebuild it with make_splits"
            )
        wanted = set(self.ids(split))
        return [app for app in apps if app.app_id in wanted]

    def changed(self, apps: Iterable[App]) -> list[str]:
        """Ids whose content differs from when the manifest was made (stale results)."""
        return sorted(
            app.app_id
            for app in apps
            if app.app_id in self.content_hashes
            and self.content_hashes[app.app_id] != app.content_hash()
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "fractions": list(self.fractions),
            "splits": {name: self.ids(name) for name in SPLITS},
            "content_hashes": dict(sorted(self.content_hashes.items())),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitManifest:
        assignments = {}
        for name, ids in data["splits"].items():
            if name not in SPLITS:
                raise ValueError(f"unknown split {name!r} in manifest; expected {SPLITS}")
            for app_id in ids:
                if app_id in assignments:
                    raise ValueError(f"app {app_id!r} is in both {assignments[app_id]} and {name}")
                assignments[app_id] = name
        return cls(
            seed=data["seed"],
            fractions=tuple(data["fractions"]),
            assignments=assignments,
            content_hashes=dict(data.get("content_hashes", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> SplitManifest:
        return cls.from_dict(json.loads(text))


def make_splits(
    apps: Iterable[App],
    *,
    seed: int | None = None,
    fractions: tuple[float, float, float] | None = None,
    config: DataConfig | None = None,
) -> SplitManifest:
    """Hash-split `apps`; explicit `seed`/`fractions` override `config` (default DataConfig())."""
    config = config or DataConfig()
    seed = config.split_seed if seed is None else seed
    if fractions is None:
        fractions = (config.train_fraction, config.val_fraction, config.test_fraction)
    apps = list(apps)
    holdout = sorted(app.app_id for app in apps if app.origin == "holdout")
    if holdout:
        raise ValueError(f"holdout apps must never be split for training: {holdout}")
    ids = [app.app_id for app in apps]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate app ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    return SplitManifest(
        seed=seed,
        fractions=fractions,
        assignments={a.app_id: split_of(a.app_id, seed=seed, fractions=fractions) for a in apps},
        content_hashes={app.app_id: app.content_hash() for app in apps},
    )
