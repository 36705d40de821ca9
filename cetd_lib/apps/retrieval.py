"""Phase-1 retrieval baseline: answer an app with the gold requirements of the most similar
other training app, similarity being BM25+ (Lv & Zhai 2011) over code tokens.

Code is tokenised by identifier parts (`parse_ini` and `parseIni` both give `parse`, `ini`)
because apps that solve similar problems share vocabulary in names, not in whole identifiers.
BM25+ rather than Okapi BM25: Okapi's IDF, log((N - n + 0.5) / (n + 0.5)), is zero or negative
for a term in half the documents, and on a corpus of tens of apps (the query app included)
that erases exactly the shared vocabulary retrieval needs; BM25+'s log((N + 1) / n) stays > 0.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rank_bm25 import BM25Plus

from cetd_lib.apps.app import App

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# camelCase / PascalCase / ACRONYMWord boundaries: "HTTPServerError" -> HTTP, Server, Error
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# Words every Python file has; they carry no information about what an app does.
_STOPWORDS = frozenset(k.lower() for k in keyword.kwlist) | {"self", "cls", "args", "kwargs"}


def code_tokens(text: str) -> list[str]:
    """Lower-cased identifier parts of `text`, plus each compound identifier whole.

    >>> code_tokens("def parse_ini(rawText): return IniConfig()")
    ['parse', 'ini', 'parse_ini', 'raw', 'text', 'rawtext', 'ini', 'config', 'iniconfig']
    """
    tokens = []
    for identifier in _IDENTIFIER.findall(text):
        parts = [p.lower() for chunk in identifier.split("_") for p in _CAMEL_PART.findall(chunk)]
        parts = [p for p in parts if len(p) > 1 and not p.isdigit() and p not in _STOPWORDS]
        tokens += parts
        whole = identifier.lower()
        if len(parts) > 1 and whole not in _STOPWORDS:
            tokens.append(whole)
    return tokens


def app_tokens(app: App) -> list[str]:
    """Tokens of the app's source modules (not its tests: a reconstruction sees only code)."""
    return [t for name in sorted(app.sources) for t in code_tokens(app.sources[name])]


@dataclass(frozen=True)
class Neighbour:
    app: App
    score: float


class Phase1Retriever:
    """BM25+ over training apps' code; `requirements_for` never returns the query app's own gold."""

    def __init__(self, train_apps: Sequence[App]) -> None:
        self.apps = sorted(train_apps, key=lambda app: app.app_id)
        if len(self.apps) < 2:
            raise ValueError(
                f"Phase1Retriever needs at least 2 training apps to leave one out, "
                f"got {len(self.apps)}"
            )
        self._bm25 = BM25Plus([app_tokens(app) for app in self.apps])

    def nearest(self, app: App, k: int = 1) -> list[Neighbour]:
        """The `k` most similar training apps other than `app` itself, best first.

        Ties (including all-zero scores when nothing is shared) break by app_id, so the
        answer is deterministic.
        """
        if k < 1:
            raise ValueError(f"k={k} must be at least 1")
        scores = self._bm25.get_scores(app_tokens(app))
        ranked = sorted(
            (
                Neighbour(other, float(score))
                for other, score in zip(self.apps, scores, strict=True)
                if other.app_id != app.app_id
            ),
            key=lambda n: (-n.score, n.app.app_id),
        )
        return ranked[:k]

    def requirements_for(self, app: App) -> list[str]:
        """Gold requirements of the nearest other training app: the phase-1 baseline answer."""
        return list(self.nearest(app, k=1)[0].app.requirements)
