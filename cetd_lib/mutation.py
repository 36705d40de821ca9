"""Mutation testing on the AST: small faults planted in a module, run through the sandbox.

    mutants = generate_mutants(source, "roman.py", MutationConfig(max_mutants=40, seed=0))
    # (default: a seeded sample of 30; max_mutants=0 keeps every mutant)
    score = mutation_score({"roman.py": source}, "roman.py", {"test_roman.py": tests}, mutants)
    score.kill_rate, score.killed, score.survived, score.failure_class

A mutant is *killed* when a test that passes on the original code fails, errors or times out
on it (DeMillo, Lipton & Sayward 1978; TIMEOUT counts as killed, as in mutmut and PIT). The
kill rate is killed / (killed + survived); mutants whose run hit a HARNESS_ERROR are left out
of both (the instrument failed, not the tests).

Operators (registry `OPERATORS`, one function each): `arithmetic` (+ <-> -, * <-> /, ...),
`comparison` (< <-> <=, == <-> !=, in <-> not in, ...), `boolean` (and <-> or, not x -> x),
`constant` (n -> n+1, 0 <-> 1, True <-> False, "" <-> "x", "abc" -> ""), `return_value`
(return x -> return None; a boolean expression is also negated), `condition` (if c -> if not c,
also while / x if c else y), `statement_deletion` (an assignment, call, raise, assert, break or
continue -> pass).

Cheap equivalent-mutant pruning, before anything runs: docstrings, bare string statements,
annotations and dead code (`if TYPE_CHECKING:`, `if __name__ == "__main__":`, `if False:`) are
never mutated; a mutant whose `ast.dump` equals the original's is dropped; mutants are
deduplicated by the sha256 of their normalised source (`ast.unparse(ast.parse(src))`, which
drops comments and layout). What is left can still hold equivalent mutants (e.g. `<` -> `<=`
on values that never tie); they survive every test and cap the reachable kill rate below 1.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cetd_lib.config_field import help_field

# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MutationConfig:
    """Which mutants to make and how long a mutant's tests may run."""

    operators: tuple[str, ...] = help_field(
        "Mutation operators to apply (names in cetd_lib.mutation.OPERATORS).",
        default=(
            "arithmetic",
            "comparison",
            "boolean",
            "constant",
            "return_value",
            "condition",
            "statement_deletion",
        ),
    )
    max_mutants: int = help_field(
        "Keep at most this many mutants per module, a seeded sample (0 = all; a 140-line module "
        "has ~150). The same sample is used for every test file of a module, so rewards are "
        "comparable across RL steps and mutant runs hit the harness cache.",
        default=30,
    )
    seed: int = help_field("Seeds the mutant sample.", default=0)
    timeout_factor: float = help_field(
        "A mutant's wall-clock budget = max(min_timeout_s, this x the original run's duration), "
        "rounded up to whole seconds (stable budgets keep the harness cache keys stable).",
        default=5.0,
    )
    min_timeout_s: float = help_field("Floor of a mutant's wall-clock budget.", default=1.0)

    def __post_init__(self) -> None:
        unknown = [name for name in self.operators if name not in OPERATORS]
        if unknown:
            raise ValueError(
                f"MutationConfig.operators: unknown operator(s) {unknown}; known: {list(OPERATORS)}"
            )
        if self.max_mutants < 0:
            raise ValueError(f"MutationConfig.max_mutants must be >= 0, got {self.max_mutants}")
        if self.timeout_factor <= 0 or self.min_timeout_s <= 0:
            raise ValueError("MutationConfig: timeout_factor and min_timeout_s must be > 0")


# ---------------------------------------------------------------------------------------------
# Mutants
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    """One planted fault. `source` is the whole mutated module (normalised by ast.unparse)."""

    id: str  # "<module>:<lineno>:<operator>:<hash8>": stable across runs
    operator: str
    module: str
    lineno: int
    description: str
    source: str


# An operator looks at ONE node and proposes replacements for it: (new node, description).
Operator = Callable[[ast.AST], Iterator[tuple[ast.AST, str]]]
OPERATORS: dict[str, Operator] = {}


def register_operator(name: str) -> Callable[[Operator], Operator]:
    def decorate(fn: Operator) -> Operator:
        if name in OPERATORS:
            raise ValueError(f"mutation operator {name!r} is registered twice")
        OPERATORS[name] = fn
        return fn

    return decorate


def _with(node: ast.AST, **changes: Any) -> ast.AST:
    new = copy.copy(node)  # shallow: children are shared, never edited in place
    for key, value in changes.items():
        setattr(new, key, value)
    return new


def _src(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:37] + "..."


_ARITHMETIC = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
    ast.LShift: ast.RShift, ast.RShift: ast.LShift,
    ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.BitXor: ast.BitAnd,
}  # fmt: skip
_COMPARISON = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
_SYMBOL = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|",
    ast.BitXor: "^", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
    ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
    ast.And: "and", ast.Or: "or",
}  # fmt: skip


@register_operator("arithmetic")
def _arithmetic(node: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _ARITHMETIC:
        new_op = _ARITHMETIC[type(node.op)]
        yield (
            _with(node, op=new_op()),
            f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[new_op]} in `{_src(node)}`",
        )


@register_operator("comparison")
def _comparison(node: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _COMPARISON:
                new_op = _COMPARISON[type(op)]
                ops = [*node.ops[:i], new_op(), *node.ops[i + 1 :]]
                yield (
                    _with(node, ops=ops),
                    f"{_SYMBOL[type(op)]} -> {_SYMBOL[new_op]} in `{_src(node)}`",
                )


@register_operator("boolean")
def _boolean(node: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    if isinstance(node, ast.BoolOp):
        new_op = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield (
            _with(node, op=new_op()),
            f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[new_op]} in `{_src(node)}`",
        )
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield node.operand, f"`{_src(node)}` -> `{_src(node.operand)}`"


def _changed_constant(value: Any) -> Any:
    """n -> n+1 (0 <-> 1), True <-> False, "" -> "x", "abc" -> ""; `_NO_CHANGE` otherwise."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return {0: 1, 1: 0}.get(value, value + 1)
    if isinstance(value, float):
        return value + 1.0
    if isinstance(value, str):
        return "x" if value == "" else ""
    return _NO_CHANGE


_NO_CHANGE = object()


@register_operator("constant")
def _constant(node: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    if isinstance(node, ast.Constant):
        new = _changed_constant(node.value)
        if new is not _NO_CHANGE:
            yield _with(node, value=new, kind=None), f"{node.value!r} -> {new!r}"


_BOOLEAN_EXPR = (ast.Compare, ast.BoolOp)


@register_operator("return_value")
def _return_value(node: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    if not isinstance(node, ast.Return) or node.value is None:
        return
    value = node.value
    if not (isinstance(value, ast.Constant) and value.value is None):
        yield _with(node, value=ast.Constant(None)), f"`return {_src(value)}` -> `return None`"
    if isinstance(value, _BOOLEAN_EXPR):
        negated = ast.UnaryOp(ast.Not(), value)
        yield _with(node, value=negated), f"`return {_src(value)}` -> `return not (...)`"


@register_operator("condition")
def _condition(node: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    if isinstance(node, ast.If | ast.While | ast.IfExp):
        test = node.test
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            negated = test.operand  # `not not c` would be the same mutant as dropping `not`
        else:
            negated = ast.UnaryOp(ast.Not(), test)
        keyword = {ast.If: "if", ast.While: "while", ast.IfExp: "if"}[type(node)]
        yield _with(node, test=negated), f"`{keyword} {_src(test)}` -> `{keyword} not (...)`"


_DELETABLE = (ast.Assign, ast.AugAssign, ast.Raise, ast.Assert, ast.Delete, ast.Break, ast.Continue)


@register_operator("statement_deletion")
def _statement_deletion(node: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    deletable = isinstance(node, _DELETABLE) or (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
    ) or (isinstance(node, ast.AnnAssign) and node.value is not None)  # fmt: skip
    if deletable:
        yield ast.Pass(), f"`{_src(node)}` -> `pass`"


# ---------------------------------------------------------------------------------------------
# Where mutations may go (docstrings, annotations and dead code are skipped)
# ---------------------------------------------------------------------------------------------

_ANNOTATION_FIELDS = {"annotation", "returns", "type_comment", "type_params"}


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _is_dead_branch(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:`, `if typing.TYPE_CHECKING:`, `if __name__ == "__main__":`, `if False:`
    — code the tests never run, so every mutant in it would survive."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Constant) and test.value is False:
        return True
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


# A site is where a replacement node goes: (parent, field name, index in the list or None).
Site = tuple[ast.AST, str, int | None]


def _sites(tree: ast.AST) -> Iterator[tuple[ast.AST, Site]]:
    """Every mutable node with its site, in a deterministic depth-first order."""

    def visit(parent: ast.AST) -> Iterator[tuple[ast.AST, Site]]:
        for name, value in ast.iter_fields(parent):
            if name in _ANNOTATION_FIELDS or name == "decorator_list":
                continue
            if isinstance(parent, ast.JoinedStr):  # f-string: only the {expressions}
                for i, part in enumerate(value):
                    if isinstance(part, ast.FormattedValue):
                        yield from one(part, (parent, name, i), skip_self=True)
                continue
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        if (
                            i == 0
                            and name == "body"
                            and _is_docstring(child)
                            and _documented(parent)
                        ):
                            continue
                        yield from one(child, (parent, name, i))
            elif isinstance(value, ast.AST):
                yield from one(value, (parent, name, None))

    def one(node: ast.AST, site: Site, skip_self: bool = False) -> Iterator[tuple[ast.AST, Site]]:
        if _is_dead_branch(node):
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # a bare string/number statement does nothing: every mutant is equivalent
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Global | ast.Nonlocal):
            return
        if not skip_self:
            yield node, site
        yield from visit(node)

    yield from visit(tree)


def _documented(node: ast.AST) -> bool:
    return isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)


def _replace_at(site: Site, new: ast.AST) -> ast.AST:
    """Put `new` at `site`; returns what was there (so the caller can put it back)."""
    parent, name, index = site
    if index is None:
        old = getattr(parent, name)
        setattr(parent, name, new)
    else:
        seq = getattr(parent, name)
        old = seq[index]
        seq[index] = new
    return old


def normalised_hash(source: str) -> str:
    """sha256 of `ast.unparse(ast.parse(source))`: equal for sources differing only in
    comments, quotes and layout."""
    return hashlib.sha256(ast.unparse(ast.parse(source)).encode()).hexdigest()


def generate_mutants(
    source: str, module: str, config: MutationConfig | None = None
) -> list[Mutant]:
    """Every pruned mutant of `source` (or a seeded sample of `config.max_mutants`).

    >>> [m.description for m in generate_mutants("def f(a):\\n    return a + 1\\n", "m.py")]
    ['`return a + 1` -> `return None`', '+ -> - in `a + 1`', '1 -> 0']
    """
    config = config or MutationConfig()
    tree = ast.parse(source, filename=module)
    seen = {normalised_hash(source)}
    mutants: list[Mutant] = []
    for node, site in list(_sites(tree)):
        for name in config.operators:
            for new, description in OPERATORS[name](node):
                if ast.dump(new) == ast.dump(node):
                    continue  # changed nothing (the rest of the tree is shared, so comparing
                    # the node's dump is comparing the module's)
                old = _replace_at(site, new)
                try:
                    mutated = ast.unparse(tree)
                finally:
                    _replace_at(site, old)
                try:
                    ast.parse(mutated)  # not every swap is legal everywhere
                except SyntaxError:
                    continue
                # `mutated` is ast.unparse output, already normalised: hash it directly.
                digest = hashlib.sha256(mutated.encode()).hexdigest()
                if digest in seen:
                    continue  # the same program as the original or an earlier mutant
                seen.add(digest)
                lineno = getattr(node, "lineno", None) or getattr(site[0], "lineno", 0)
                mutants.append(
                    Mutant(
                        id=f"{module}:{lineno}:{name}:{digest[:8]}",
                        operator=name,
                        module=module,
                        lineno=lineno,
                        description=description,
                        source=mutated,
                    )
                )
    if config.max_mutants and len(mutants) > config.max_mutants:
        keep = sorted(random.Random(config.seed).sample(range(len(mutants)), config.max_mutants))
        mutants = [mutants[i] for i in keep]
    return mutants


def mutate_once(source: str, *, seed: int, module: str = "module.py") -> str:
    """One mutant of `source`, picked by `seed` (the language pack's `mutate`). Raises
    ValueError when nothing in `source` can be mutated."""
    mutants = generate_mutants(source, module, MutationConfig(max_mutants=0))
    if not mutants:
        raise ValueError(f"{module}: no mutable code (only docstrings, imports or dead code?)")
    return random.Random(seed).choice(mutants).source


# ---------------------------------------------------------------------------------------------
# Running mutants through the sandbox
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MutationScore:
    """Outcome of one test suite against one module's mutants.

    `kill_rate` is killed / (killed + survived), 0.0 when the tests are unusable on the
    original (then `failure_class` says why, e.g. SYNTAX_ERROR, ASSERTION_FAILURE), None when
    nothing could be measured (no mutants, or the harness failed on the original).
    """

    kill_rate: float | None
    killed: int = 0
    survived: int = 0
    errored: int = 0  # HARNESS_ERROR on the mutant: left out of the rate
    n_tests: int = 0  # tests passing on the original (the ones that can kill)
    failure_class: str | None = None
    detail: str = ""
    original_duration_s: float = 0.0
    status: dict[str, str] = field(default_factory=dict)  # mutant id -> killed|survived|errored
    killed_by_timeout: int = 0

    def __post_init__(self) -> None:
        # FailureClass is a str enum: keep the plain name so infos are JSON and compare as str.
        if self.failure_class is not None:
            object.__setattr__(
                self, "failure_class", str(getattr(self.failure_class, "value", self.failure_class))
            )

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def mutant_timeout_s(original_duration_s: float, config: MutationConfig) -> float:
    """max(min_timeout_s, timeout_factor x duration), rounded up to whole seconds."""
    return float(math.ceil(max(config.min_timeout_s, config.timeout_factor * original_duration_s)))


def mutation_score(
    sources: Mapping[str, str],
    module: str,
    tests: Mapping[str, str],
    mutants: list[Mutant],
    config: MutationConfig | None = None,
    *,
    harness: Any = None,
    cache: Any = None,
) -> MutationScore:
    """Run `tests` on the original `sources`, then on every mutant of `module` (the other
    source files unchanged), all through `run_many`. See `MutationScore` for the result."""
    return mutation_scores(sources, module, [tests], mutants, config, harness=harness, cache=cache)[
        0
    ]


def mutation_scores(
    sources: Mapping[str, str],
    module: str,
    test_suites: list[Mapping[str, str]],
    mutants: list[Mutant],
    config: MutationConfig | None = None,
    *,
    harness: Any = None,
    cache: Any = None,
) -> list[MutationScore]:
    """`mutation_score` for several test suites of one module, batched: one `run_many` for the
    originals, one for every (suite, mutant) pair, so the warm workers stay busy."""
    from cetd_lib.harness.failures import EXCLUDED_FROM_SCORES, FailureClass
    from cetd_lib.harness.runner import RunJob, run_many

    config = config or MutationConfig()
    if module not in sources:
        raise KeyError(f"module {module!r} is not among the sources {sorted(sources)}")
    originals = run_many(
        [RunJob(dict(sources), dict(t)) for t in test_suites], config=harness, cache=cache
    )
    scores: list[MutationScore | None] = [None] * len(test_suites)
    plan: list[tuple[int, Mutant, RunJob]] = []
    for i, (tests, original) in enumerate(zip(test_suites, originals, strict=True)):
        if original.status == "harness_error" or original.harness_error:
            scores[i] = MutationScore(
                None, failure_class=FailureClass.HARNESS_ERROR, detail=original.detail
            )
            continue
        failing = [(k, o) for k, o in original.per_test.items() if not o.passed and o.failure_class]
        passing = tuple(k for k, o in original.per_test.items() if o.passed)
        if failing or not passing:
            test_id, outcome = failing[0] if failing else ("", None)
            scores[i] = MutationScore(
                0.0,
                failure_class=(outcome.failure_class if outcome else FailureClass.COLLECTION_ERROR),
                detail=(f"{test_id}: {outcome.detail}" if outcome else "no test passed/collected")[
                    :500
                ],
                original_duration_s=original.duration_s,
            )
            continue
        budget = mutant_timeout_s(original.duration_s, config)
        for mutant in mutants:
            job_sources = {**sources, module: mutant.source}
            plan.append((i, mutant, RunJob(job_sources, dict(tests), passing, budget)))
    results = run_many([job for _, _, job in plan], config=harness, cache=cache) if plan else []
    per_suite: dict[int, dict[str, Any]] = {}
    for (i, mutant, job), result in zip(plan, results, strict=True):
        tally = per_suite.setdefault(
            i, {"status": {}, "killed": 0, "survived": 0, "errored": 0, "timeout": 0}
        )
        outcomes = [result.per_test[t] for t in job.expected_tests or ()]
        if result.status == "harness_error" or any(
            o.failure_class in EXCLUDED_FROM_SCORES for o in outcomes
        ):
            verdict = "errored"
        elif all(o.passed for o in outcomes):
            verdict = "survived"
        else:
            verdict = "killed"
            if result.status == "timeout" or any(
                o.failure_class == FailureClass.TIMEOUT for o in outcomes
            ):
                tally["timeout"] += 1
        tally[verdict] += 1
        tally["status"][mutant.id] = verdict
    for i, original in enumerate(originals):
        if scores[i] is not None:
            continue
        tally = per_suite.get(i, {"status": {}, "killed": 0, "survived": 0, "errored": 0})
        measured = tally["killed"] + tally["survived"]
        scores[i] = MutationScore(
            tally["killed"] / measured if measured else None,
            killed=tally["killed"],
            survived=tally["survived"],
            errored=tally["errored"],
            n_tests=sum(o.passed for o in original.per_test.values()),
            detail="" if measured else "no mutant could be measured",
            original_duration_s=original.duration_s,
            status=tally["status"],
            killed_by_timeout=tally.get("timeout", 0),
        )
    return [s for s in scores if s is not None]
