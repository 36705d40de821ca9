"""The leak guard of the stage-2 reward (v2): may a requirements text reach the reconstructor?

    fp = fingerprint(app, GuardConfig())           # once per app: what must not be copied
    verdict = check_requirements(text, fp, config)  # pure, a few ms per text
    verdict.accepted, verdict.rules, verdict.multiplier

The reconstructor rebuilds code from the requirements alone, so a text that carries the code
(or the tests' expected values) is paid for copying. Rules, all measured on the code with its
comments and docstrings stripped (restating the code's own prose is not a leak):

- `source_lcs`: the share of the code's token sequence that is a *subsequence* of the text's
  tokens (longest common subsequence, LCS). Filler tokens, " ; " joins, words before each line
  and any other insertion leave the LCS of pasted code at exactly 1.0; n-gram shingles (v1)
  broke with one filler every 8 tokens. Prose punctuation (`, . ( ) : ; ' " `` ` ``) is left
  out of both sides: it matches by chance.
- `structure_lcs`: the same on the code's keywords, operators and literals only, so renaming
  every identifier does not hide pasted code.
  Both fire when share > min(cap, floor + scale / sqrt(n)) for a code stream of n tokens: short
  programs (HumanEval) share much of their few tokens with honest prose by chance (their
  signature is a requirement), long ones far less; calibrated on every gold list
  (docs/training.md).
- `code_fragments`: Python statements anywhere in a line (`... then total = a + b`), in
  backticks or after " ; ": `def`/`class` headers, compound headers, assignments, returns of
  an expression.
- `encoded_payload`: base64/hex runs that decode to printable text (requirements are prose).
- `test_literals` / `test_cases`: literals only the tests hold (expected outputs), or the
  literal sequence of a test's assertion restated inside one item.
- the length budget against the stripped code, and `fenced_code`.
- `repeated_items` (not a leak): more than `max_repeated_items` items that restate an earlier
  one (token LCS similarity >= `repeat_similarity`). A list that says the signature ten times
  rebuilt as well as gold for a names-only orchestra (issue 29); gold repeats at most 3.

What it does not stop: a plain-English paraphrase of the code line by line (measured, see
docs/training.md), other encodings (rot13, reversed text), or values the tests share with the
source. It is a filter calibrated on data, not a proof of no leakage.
"""

from __future__ import annotations

import ast
import base64
import binascii
import keyword
import logging
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cetd_lib.apps.app import App
from cetd_lib.apps.requirements import format_requirements, parse_requirements
from cetd_lib.train.config import GuardConfig

log = logging.getLogger(__name__)

RULES = (
    "empty",
    "fenced_code",
    "source_lcs",
    "structure_lcs",
    "code_fragments",
    "encoded_payload",
    "test_literals",
    "test_cases",
    "over_length",
    "too_many_items",
    "repeated_items",
)
LEAK_RULES = (
    "fenced_code",
    "source_lcs",
    "structure_lcs",
    "code_fragments",
    "encoded_payload",
    "test_literals",
    "test_cases",
)

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\S")
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
# Prose punctuation: in every English sentence, so it only adds chance matches.
PROSE_PUNCTUATION = frozenset(",.():;'\"`?")
_KEYWORDS = frozenset(keyword.kwlist)


# ---------------------------------------------------------------------------------------------
# Token streams and the LCS share
# ---------------------------------------------------------------------------------------------


def code_tokens(text: str) -> list[str]:
    """Identifiers, numbers and single punctuation marks: `f(a, b)` -> f ( a , b )."""
    return _TOKEN.findall(text)


def lexical_stream(text: str) -> list[str]:
    """Every token but prose punctuation."""
    return [t for t in _TOKEN.findall(text) if t not in PROSE_PUNCTUATION]


def structure_stream(text: str) -> list[str]:
    """Keywords, numbers and operators: what survives renaming every identifier."""
    return [
        t
        for t in _TOKEN.findall(text)
        if t not in PROSE_PUNCTUATION and (t in _KEYWORDS or not (t[0].isalpha() or t[0] == "_"))
    ]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences.

    Bit-parallel (Allison & Dix 1986; Hyyrö 2004, "Bit-parallel LCS-length computation
    revisited"): one row of the DP table is a bit vector over `b`, updated per token of `a` as
    V <- (V + (V & M)) | (V & ~M); the LCS is the number of zero bits. O(|a| |b| / 64) with
    Python integers, ~10 ms for a 3000-token program against a 2000-token text.

    >>> lcs_length("a x b y c".split(), "a b c".split())
    3
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for index, token in enumerate(b):
        masks[token] = masks.get(token, 0) | (1 << index)
    full = (1 << len(b)) - 1
    row = full
    for token in a:
        match = masks.get(token, 0)
        if match:
            row = ((row + (row & match)) | (row & ~match)) & full
    return len(b) - row.bit_count()


def lcs_share(code: Sequence[str], text: Sequence[str]) -> float:
    """Share of `code`'s tokens that appear, in order, in `text` (1.0 = all of it, however
    spread out); 0.0 for an empty code stream."""
    return lcs_length(code, text) / len(code) if code else 0.0


def max_lcs_share(n_tokens: int, config: GuardConfig) -> float:
    """The share above which a text copies a code stream of `n_tokens`:
    min(cap, floor + scale / sqrt(n)). Chance overlap of honest prose falls with n."""
    if n_tokens <= 0:
        return config.lcs_share_cap
    return min(
        config.lcs_share_cap, config.lcs_share_floor + config.lcs_share_scale / math.sqrt(n_tokens)
    )


# ---------------------------------------------------------------------------------------------
# What the guard compares against, computed once per app
# ---------------------------------------------------------------------------------------------


def _literal_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        if isinstance(node.value, str):
            return node.value.strip() or None
        if isinstance(node.value, int | float):
            return repr(node.value)
    return None


def literals(sources: Mapping[str, str]) -> set[str]:
    """String and number literals (as text) in Python files; unparsable files add none."""
    found: set[str] = set()
    for name, text in sources.items():
        try:
            tree = ast.parse(text, filename=name)
        except SyntaxError:
            log.warning("%s does not parse; its literals are not collected", name)
            continue
        for node in ast.walk(tree):
            value = _literal_text(node)
            if value is not None:
                found.add(value)
    return found


def stripped_code(app: App) -> str:
    """Every module of `app` without comments and docstrings, in file-name order (a module that
    does not parse is kept as written)."""
    from cetd_lib.apps.degrade import strip_comments_and_docstrings

    parts = []
    for name in sorted(app.sources):
        try:
            parts.append(strip_comments_and_docstrings(app.sources[name], name))
        except SyntaxError:
            parts.append(app.sources[name])
    return "\n".join(parts)


def assertion_literals(tests: Mapping[str, str]) -> list[tuple[str, ...]]:
    """Per `assert` in the tests, the lexical tokens of its literals in source order:
    `assert f([1, 2]) == 'ab c'` -> ('1', '2', 'ab', 'c')."""
    found = []
    for name, text in sorted(tests.items()):
        try:
            tree = ast.parse(text, filename=name)
        except SyntaxError:
            log.warning("%s does not parse; its assertions are not collected", name)
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Assert):
                continue
            constants = sorted(
                (c for c in ast.walk(node.test) if isinstance(c, ast.Constant)),
                key=lambda c: (c.lineno, c.col_offset),
            )
            tokens: list[str] = []
            for constant in constants:
                value = constant.value
                shown = value if isinstance(value, str) else repr(value)
                tokens += lexical_stream(shown)
            found.append(tuple(tokens))
    return found


def is_subsequence(needle: Sequence[str], haystack: Sequence[str]) -> bool:
    """Whether `needle` occurs in `haystack` in order (gaps allowed); greedy is exact here."""
    it = iter(haystack)
    return all(token in it for token in needle)


@dataclass(frozen=True)
class AppFingerprint:
    """What a requirements text of `app_id` must not copy."""

    app_id: str
    source_chars: int  # of the stripped code: the length budget's base
    lexical: tuple[str, ...]  # token streams of the stripped code
    structure: tuple[str, ...]
    test_only_literals: frozenset[str]  # in the tests, not in the source nor the gold text
    test_cases: tuple[tuple[str, ...], ...]  # assertion literal sequences the gold does not hold


def fingerprint(app: App, config: GuardConfig) -> AppFingerprint:
    code = stripped_code(app)
    gold = format_requirements(app.requirements)
    source_literals = literals(app.sources)
    test_only = {
        value
        for value in literals(app.tests) - source_literals
        if len(value) >= config.min_literal_chars and value not in gold
    }
    return AppFingerprint(
        app_id=app.app_id,
        source_chars=len(code),
        lexical=tuple(lexical_stream(code)),
        structure=tuple(structure_stream(code)),
        test_only_literals=frozenset(test_only),
        test_cases=tuple(hidden_test_cases(app, config)),
    )


def hidden_test_cases(app: App, config: GuardConfig) -> list[tuple[str, ...]]:
    """The literal sequences of the tests' assertions that pin values (at least
    `min_case_tokens` tokens and `min_literal_chars` characters) and that no gold item states
    itself: what a text could only know from the tests."""
    gold_items = [lexical_stream(item) for item in app.requirements]
    cases = []
    for case in dict.fromkeys(assertion_literals(app.tests)):  # unique, in order
        if len(case) < config.min_case_tokens or sum(map(len, case)) < config.min_literal_chars:
            continue
        if not any(is_subsequence(case, item) for item in gold_items):
            cases.append(case)
    return cases


# ---------------------------------------------------------------------------------------------
# Detectors on one text
# ---------------------------------------------------------------------------------------------

# Where a statement may start inside a line of prose.
_STATEMENT_START = re.compile(
    r"(?<![\w.])(?:async\s+def|def|class|return|for|while|if|elif|with|raise|lambda)\b"
    r"|(?<![\w.])[A-Za-z_][\w.]*(?:\[[^\]\n]*\])?\s*(?:[-+*/%|&^@]|//|\*\*|<<|>>)?=(?!=)"
)
_NUMBERING = re.compile(r"^\s*(?:\d+[.)]|[-*+•])\s*")
_BACKTICKS = re.compile(r"`([^`\n]+)`")
_HEADERS = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor, ast.While,
    ast.If, ast.With, ast.AsyncWith,
)  # fmt: skip


def _is_trivial(value: ast.expr | None) -> bool:
    """A name, a literal (`-1`, `[1, 2]`, `("a", "b")`), an attribute: what a spec states as
    a constant or a default (`MAX_VALUE = 3999`, `wrap=False`), not computation."""
    if value is None or isinstance(value, ast.Name | ast.Attribute):
        return True
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _statement_kind(candidate: str) -> str | None:
    """'header' (def/class/for/if/while/with ...:), 'statement' (an assignment or return/raise
    that computes something) or None, for a piece of text that must parse to its end."""
    candidate = candidate.strip()
    if not candidate:
        return None
    if candidate.endswith(":"):
        candidate += "\n    pass"
    try:
        with warnings.catch_warnings():  # prose like "a\ b" is no reason to warn
            warnings.simplefilter("ignore")
            tree = ast.parse(candidate)
    except (SyntaxError, ValueError):
        return None
    if len(tree.body) != 1:
        return None
    stmt = tree.body[0]
    if isinstance(stmt, _HEADERS):
        return "header"
    if isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Return):
        return None if _is_trivial(stmt.value) else "statement"
    if isinstance(stmt, ast.Raise):
        return None if _is_trivial(stmt.exc) else "statement"
    return None


def _segments(text: str) -> Iterable[str]:
    for raw in text.splitlines():
        line = _NUMBERING.sub("", raw.strip(), count=1)
        spans = _BACKTICKS.findall(line)
        yield from spans
        yield from _BACKTICKS.sub(" ; ", line).split(";")  # a span is its own segment


def code_fragments(text: str) -> tuple[int, int]:
    """(headers, statements): segments (a line, a " ; "-separated part, a backtick span)
    holding Python from some word to the segment's end. Headers: `def`/`class`/`for`/`if`/
    `while`/`with` lines. Statements: assignments and `return`/`raise` that compute something
    (`total = price * qty`); constants and defaults (`MAX = 10`, `wrap=False`) are spec facts.

    >>> code_fragments("1. Then def total(price, qty): ; return price * qty + tax")
    (1, 1)
    >>> code_fragments("2. `add(x: int, y: int) -> int` returns x plus y; MAX_VALUE = 3999.")
    (0, 0)
    """
    counts = {"header": 0, "statement": 0}
    for segment in _segments(text):
        for match in _STATEMENT_START.finditer(segment):
            kind = _statement_kind(segment[match.start() :])
            if kind:
                counts[kind] += 1
                break
    return counts["header"], counts["statement"]


def count_code_fragments(text: str) -> int:
    """Headers plus computing statements (`code_fragments`), anywhere in a line."""
    return sum(code_fragments(text))


_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}){16,}")


def _printable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    shown = sum(ch.isprintable() or ch in "\n\t" for ch in text)
    return text if text and shown / len(text) >= 0.95 else None


def decoded_payloads(text: str, min_chars: int = 16) -> list[str]:
    """Printable texts hidden as base64 (standard or URL-safe) or hex runs in `text`
    (runs split by whitespace are joined first, as MIME wraps base64 at 76 columns)."""
    joined = re.sub(r"(?<=[A-Za-z0-9+/=_-])\s+(?=[A-Za-z0-9+/_-])", "", text)
    found = []
    for source in (text, joined):
        for run in _HEX_RUN.findall(source):
            decoded = _printable(binascii.unhexlify(run))
            if decoded and len(decoded) >= min_chars:
                found.append(decoded)
        for run in _B64_RUN.findall(source):
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                padded = run + "=" * (-len(run) % 4)
                try:
                    decoded = _printable(decode(padded))
                except (binascii.Error, ValueError):
                    continue
                if decoded and len(decoded) >= min_chars:
                    found.append(decoded)
                    break
    return list(dict.fromkeys(found))


def copied_literals(text: str, candidates: frozenset[str]) -> tuple[str, ...]:
    """The test-only literals that occur in `text` (numbers as whole numbers, not digits of
    longer ones)."""
    found = []
    for value in candidates:
        if re.fullmatch(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", value):
            hit = re.search(rf"(?<![\w.]){re.escape(value)}(?![\w]|\.\d)", text)
        else:
            hit = value in text
        if hit:
            found.append(value)
    return tuple(sorted(found))


def copied_test_cases(items: Sequence[str], cases: Sequence[tuple[str, ...]]) -> int:
    """How many test assertions have their literal sequence restated inside a single item."""
    streams = [lexical_stream(item) for item in items]
    return sum(any(is_subsequence(case, s) for s in streams) for case in cases)


def repeated_items(items: Sequence[str], similarity: float = 0.9) -> int:
    """How many items restate an earlier one: 2 x LCS(a, b) / (|a| + |b|) >= `similarity` on
    their lower-cased lexical token sequences (Dice coefficient of the LCS).

    >>> repeated_items(["f(x) returns x.", "F(x) returns x", "g adds one.", "f(x) returns x."])
    2
    """
    streams = [[t.lower() for t in lexical_stream(item)] for item in items]
    repeats = 0
    for j, later in enumerate(streams):
        for earlier in streams[:j]:
            total = len(later) + len(earlier)
            if total == 0 or 2 * lcs_length(earlier, later) / total >= similarity:
                repeats += 1
                break
    return repeats


# ---------------------------------------------------------------------------------------------
# The verdict
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardVerdict:
    """The guard's decision on one requirements text."""

    accepted: bool  # goes to reconstruction
    rules: tuple[str, ...]  # every rule that fired (rejecting or penalising)
    multiplier: float  # reward factor when accepted (1.0, or < 1 when over budget)
    items: list[str]
    chars: int
    budget_chars: int
    compression_ratio: float  # text characters / stripped source characters
    source_share: float  # LCS share of the code's lexical stream found in the text
    structure_share: float  # the same for the keyword/operator/literal stream
    code_fragments: int
    copied_literals: tuple[str, ...]
    copied_cases: int = 0  # hidden test cases restated inside one item
    payloads: int = 0  # decoded base64/hex texts
    repeated_items: int = 0  # items restating an earlier item

    @property
    def leak(self) -> bool:
        return any(rule in LEAK_RULES for rule in self.rules)


def check_requirements(text: str, app: AppFingerprint, config: GuardConfig) -> GuardVerdict:
    """Apply every rule of `config` to one requirements `text` of the app `app`."""
    items = parse_requirements(text)
    chars = len(text.strip())
    budget = max(config.min_budget_chars, math.floor(config.max_length_ratio * app.source_chars))
    source_share = lcs_share(app.lexical, lexical_stream(text))
    structure_share = lcs_share(app.structure, structure_stream(text))
    headers, statements = code_fragments(text)
    payloads = decoded_payloads(text)
    copied = copied_literals(text, app.test_only_literals)
    cases = copied_test_cases(items, app.test_cases)
    repeats = repeated_items(items, config.repeat_similarity)

    rejecting: list[str] = []
    penalising: list[str] = []
    multiplier = 1.0
    if config.enabled:
        if len(items) < config.min_items:
            rejecting.append("empty")
        if config.reject_fenced_code and _FENCE.search(text):
            rejecting.append("fenced_code")
        if source_share > max_lcs_share(len(app.lexical), config):
            rejecting.append("source_lcs")
        if structure_share > max_lcs_share(len(app.structure), config):
            rejecting.append("structure_lcs")
        if headers > config.max_code_headers or statements > config.max_code_statements:
            rejecting.append("code_fragments")
        if payloads:
            rejecting.append("encoded_payload")
        if repeats > config.max_repeated_items:
            rejecting.append("repeated_items")
        if len(copied) > config.max_test_literals:
            rejecting.append("test_literals")
        hidden = len(app.test_cases)
        if cases > config.max_test_cases or (
            cases and cases / hidden >= config.max_test_case_share
        ):
            rejecting.append("test_cases")
        over = []
        if chars > budget:
            over.append("over_length")
            multiplier *= budget / chars
        if len(items) > config.max_items:
            over.append("too_many_items")
            multiplier *= config.max_items / len(items)
        (rejecting if config.over_budget == "reject" else penalising).extend(over)
    return GuardVerdict(
        accepted=not rejecting,
        rules=tuple(rejecting + penalising),
        multiplier=multiplier if not rejecting else 0.0,
        items=items,
        chars=chars,
        budget_chars=budget,
        compression_ratio=chars / app.source_chars if app.source_chars else float("nan"),
        source_share=source_share,
        structure_share=structure_share,
        code_fragments=headers + statements,
        copied_literals=copied,
        copied_cases=cases,
        payloads=len(payloads),
        repeated_items=repeats,
    )


def guard_screen(config: GuardConfig):  # -> evaluation.phase2.RequirementsScreen
    """The guard as the evaluation applies it: `screen(app, items)` -> the rules that reject
    the list (() when accepted; penalising rules do not reject). Fingerprints are cached per
    app content."""
    fingerprints: dict[str, AppFingerprint] = {}

    def screen(app: App, requirements: Sequence[str]) -> tuple[str, ...]:
        key = app.content_hash()
        if key not in fingerprints:
            fingerprints[key] = fingerprint(app, config)
        verdict = check_requirements(format_requirements(requirements), fingerprints[key], config)
        return () if verdict.accepted else verdict.rules

    return screen
