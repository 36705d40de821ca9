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

Behaviour, not source: a suite earns its kill rate only if it also passes on
`MutationConfig.equivalent_variants` behaviour-preserving variants of the module (reformatted,
locals renamed, docstrings replaced, function runs reordered; every other variant also hides
its text behind a compressed `exec`). A suite that passes on the module but fails on a variant
tests the source text, not the behaviour (`assert inspect.getsource(m) == "..."`, a test
reading the module file): it is *source-coupled* and scores 0 (`SOURCE_COUPLED`). A variant
run that only timed out is run once more, uncached (load can push a slow suite over its
budget); a second timeout couples. The variants run through the same `run_many` as the
mutants.

Cheap equivalent-mutant pruning, before anything runs: docstrings, bare string statements,
annotations and dead code (`if TYPE_CHECKING:`, `if __name__ == "__main__":`, `if False:`) are
never mutated; a mutant whose `ast.dump` equals the original's is dropped; mutants are
deduplicated by the sha256 of their normalised source (`ast.unparse(ast.parse(src))`, which
drops comments and layout). What is left can still hold equivalent mutants (e.g. `<` -> `<=`
on values that never tie); they survive every test and cap the reachable kill rate below 1.
"""

from __future__ import annotations

import ast
import base64
import copy
import hashlib
import math
import random
import zlib
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
    equivalent_variants: int = help_field(
        "k behaviour-preserving variants of the module a suite must also pass to earn its kill "
        "rate (0 = off: a test of the source text then kills every mutant for free).",
        default=3,
    )

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
        if self.equivalent_variants < 0:
            raise ValueError(
                f"MutationConfig.equivalent_variants must be >= 0, got {self.equivalent_variants}"
            )


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
# Behaviour-preserving variants: the same program in another text
# ---------------------------------------------------------------------------------------------

SOURCE_COUPLED = "SOURCE_COUPLED"  # failure class of a suite that fails on a variant
_DYNAMIC_SCOPE = frozenset({"locals", "vars", "eval", "exec", "dir", "globals"})
_FUNCTIONS = ast.FunctionDef | ast.AsyncFunctionDef


def _all_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, _FUNCTIONS | ast.ClassDef):
            names.add(node.name)
    return names


def _own_stores(function: ast.AST) -> set[str]:
    """Names the function itself binds with `=`/`for`/`with`/walrus (not in nested scopes)."""
    stores: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _FUNCTIONS | ast.ClassDef | ast.Lambda):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                stores.add(child.id)
            visit(child)

    visit(function)
    return stores


def _unrenamable(function: ast.AST) -> set[str]:
    """Names that must keep their spelling anywhere under `function`: parameters (callers may
    pass them by keyword), global/nonlocal declarations, def/class/import/except/match names
    (bound by strings, not Name nodes)."""
    keep: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.arg):
            keep.add(node.arg)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            keep.update(node.names)
        elif isinstance(node, _FUNCTIONS):
            keep.add(node.name)
        elif isinstance(node, ast.ClassDef):
            keep.add(node.name)
            keep |= _own_stores(node)  # class attributes: renaming them changes the class
        elif isinstance(node, ast.alias):
            keep.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            keep.add(node.name)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            keep.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            keep.add(node.rest)
    return keep


def _rename_locals(tree: ast.Module, suffix: str) -> None:
    """Give every local of every function a new name (`total` -> `total_v1`), consistently in
    the function and the scopes nested in it. Functions calling locals()/vars()/eval/exec/dir
    are left alone: they can see their locals' names."""
    taken = _all_names(tree)
    for function in [n for n in ast.walk(tree) if isinstance(n, _FUNCTIONS)]:
        calls = {
            n.func.id
            for n in ast.walk(function)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        if calls & _DYNAMIC_SCOPE:
            continue
        mapping = {}
        for name in sorted(_own_stores(function) - _unrenamable(function)):
            new = f"{name}_{suffix}"
            while new in taken:
                new += "_"
            taken.add(new)
            mapping[name] = new
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and node.id in mapping:
                node.id = mapping[node.id]


def _replace_docstrings(tree: ast.Module, text: str) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | _FUNCTIONS) and node.body:
            if _is_docstring(node.body[0]):
                node.body[0] = ast.Expr(ast.Constant(text))


def _order_free(run: list[ast.stmt]) -> bool:
    """No redefinition in the run, and no default or annotation (evaluated at def time) names
    a function of the run."""
    names = {f.name for f in run}
    if len(names) < len(run):
        return False
    for function in run:
        evaluated = [*function.args.defaults, *filter(None, function.args.kw_defaults)]
        evaluated += [a.annotation for a in ast.walk(function.args) if isinstance(a, ast.arg)]
        evaluated.append(function.returns)
        for expr in filter(None, evaluated):
            if any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(expr)):
                return False
    return True


def _reorder_functions(body: list[ast.stmt], rng: random.Random) -> None:
    """Shuffle each run of consecutive undecorated defs (a run is order-free: nothing runs
    between its definitions); recurse into class bodies."""
    start = 0
    while start < len(body):
        end = start
        while (
            end < len(body) and isinstance(body[end], _FUNCTIONS) and not body[end].decorator_list
        ):
            end += 1
        run = body[start:end]
        if len(run) > 1 and _order_free(run):
            rotation = 1 + rng.randrange(len(run) - 1)  # never the original order
            body[start:end] = run[rotation:] + run[:rotation]
        start = max(end, start + 1)
    for node in body:
        if isinstance(node, ast.ClassDef):
            _reorder_functions(node.body, rng)


def _hidden(source: str) -> str:
    """`source` run by `exec` from a zlib+base64 payload: the module behaves the same, but its
    file holds none of the code's text (`inspect.getsource` fails, reading the file gives the
    payload)."""
    payload = base64.b64encode(zlib.compress(source.encode())).decode()
    return (
        '"""A behaviour-preserving variant: the module\'s code, compressed."""\n'
        "import base64 as _cetd_base64, zlib as _cetd_zlib\n"
        "exec(compile(_cetd_zlib.decompress(_cetd_base64.b64decode(\n"
        f"    {payload!r}\n"
        ')).decode(), __file__, "exec", dont_inherit=True))\n'
        "del _cetd_base64, _cetd_zlib\n"
    )


def equivalent_variants(source: str, module: str, k: int, seed: int = 0) -> list[str]:
    """k variants of `source` with its behaviour and a different text: reformatted
    (ast.unparse: comments and layout gone), locals renamed, docstrings replaced, runs of
    functions reordered; odd-numbered variants also hide the code behind a compressed `exec`.
    Deterministic in `seed` (stable harness cache keys)."""
    variants = []
    for index in range(k):
        tree = ast.parse(source, filename=module)
        rng = random.Random(f"{seed}:{index}")
        _rename_locals(tree, f"v{index + 1}")
        _replace_docstrings(tree, f"Documentation, variant {index + 1}.")
        _reorder_functions(tree.body, rng)
        text = f"# behaviour-preserving variant {index + 1}\n" + ast.unparse(tree) + "\n"
        variants.append(_hidden(text) if index % 2 else text)
    return variants


# ---------------------------------------------------------------------------------------------
# Running mutants through the sandbox
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MutationScore:
    """Outcome of one test suite against one module's mutants.

    `kill_rate` is killed / (killed + survived), 0.0 when the tests are unusable on the
    original (then `failure_class` says why, e.g. SYNTAX_ERROR, ASSERTION_FAILURE) or
    source-coupled (`SOURCE_COUPLED`: a test passing on the module fails on a
    behaviour-preserving variant of it), None when nothing could be measured (no mutants, or
    the harness failed on the original).
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
    source_coupled: bool = False  # passes on the module, fails on a behaviour-preserving variant
    variants_checked: int = 0  # variants the suite ran on (harness errors left out)

    def __post_init__(self) -> None:
        # FailureClass is a str enum: keep the plain name so infos are JSON and compare as str.
        if self.failure_class is not None:
            object.__setattr__(
                self, "failure_class", str(getattr(self.failure_class, "value", self.failure_class))
            )

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _unscreened(job: Any) -> Any:
    """Variants and mutants are our own rewrites of the original module (a variant may even
    `exec` a compressed copy of it): the screen is for model output, which the suite's run on
    the original has already passed."""
    import dataclasses

    return dataclasses.replace(job, original_code=True)


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
    originals, one for every usable suite's behaviour-preserving variants and (suite, mutant)
    pairs, so the warm workers stay busy. A suite failing on a variant scores 0
    (source-coupled); its mutant runs are not counted."""
    from cetd_lib.harness.failures import EXCLUDED_FROM_SCORES, FailureClass
    from cetd_lib.harness.runner import RunJob, run_many

    config = config or MutationConfig()
    if module not in sources:
        raise KeyError(f"module {module!r} is not among the sources {sorted(sources)}")
    # The suites are screened like model output: a suite that reaches for inspect, gc or the
    # module's file fails here (REWARD_HACK_SUSPECT) and scores 0 before any mutant runs.
    originals = run_many(
        [
            RunJob(dict(sources), dict(t), generated_tests=True, original_code=True)
            for t in test_suites
        ],
        config=harness,
        cache=cache,
    )
    variants = (
        equivalent_variants(sources[module], module, config.equivalent_variants, config.seed)
        if config.equivalent_variants
        else []
    )
    scores: list[MutationScore | None] = [None] * len(test_suites)
    plan: list[tuple[int, Mutant, RunJob]] = []
    checks: list[tuple[int, int, RunJob]] = []  # (suite, variant index, job)
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
        for v, variant in enumerate(variants):
            checks.append(
                (
                    i,
                    v,
                    _unscreened(RunJob({**sources, module: variant}, dict(tests), passing, budget)),
                )
            )
        for mutant in mutants:
            job_sources = {**sources, module: mutant.source}
            plan.append((i, mutant, _unscreened(RunJob(job_sources, dict(tests), passing, budget))))
    jobs = [job for *_, job in checks] + [job for *_, job in plan]
    ran = run_many(jobs, config=harness, cache=cache) if jobs else []
    coupled: dict[int, str] = {}
    checked: dict[int, int] = {}

    def judge(i: int, v: int, job: RunJob, result: Any, retry: list) -> None:
        if result.status == "harness_error":
            return  # the instrument failed, not the tests
        failed = [
            (test_id, result.per_test[test_id])
            for test_id in job.expected_tests or ()
            if not result.per_test[test_id].passed
            and result.per_test[test_id].failure_class not in EXCLUDED_FROM_SCORES
        ]
        if (
            failed
            and all(o.failure_class == FailureClass.TIMEOUT for _, o in failed)
            and (retry is not None)
        ):
            retry.append((i, v, job))  # load can push a slow suite over budget: run it again
            return
        checked[i] = checked.get(i, 0) + 1
        if failed and i not in coupled:
            test_id, outcome = failed[0]
            coupled[i] = (
                f"{test_id} passes on {module} but fails on behaviour-preserving variant "
                f"{v + 1} ({outcome.failure_class}: {outcome.detail})"
            )[:500]

    timed_out: list[tuple[int, int, RunJob]] = []
    for (i, v, job), result in zip(checks, ran[: len(checks)], strict=True):
        judge(i, v, job, result, timed_out)
    if timed_out:  # uncached, once: a second timeout is the suite's own doing
        again = run_many([job for *_, job in timed_out], config=harness, cache=None)
        for (i, v, job), result in zip(timed_out, again, strict=True):
            judge(i, v, job, result, None)
    for i, detail in coupled.items():
        scores[i] = MutationScore(
            0.0,
            failure_class=SOURCE_COUPLED,
            detail=detail,
            n_tests=sum(o.passed for o in originals[i].per_test.values()),
            original_duration_s=originals[i].duration_s,
            source_coupled=True,
            variants_checked=checked.get(i, 0),
        )
    results = ran[len(checks) :]

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
            variants_checked=checked.get(i, 0),
        )
    return [s for s in scores if s is not None]
