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
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

from cetd_lib.mutation.config import MutationConfig
from cetd_lib.mutation.operators import OPERATORS


@dataclass(frozen=True)
class Mutant:
    """One planted fault. `source` is the whole mutated module (normalised by ast.unparse)."""

    id: str  # "<module>:<lineno>:<operator>:<hash8>": stable across runs
    operator: str
    module: str
    lineno: int
    description: str
    source: str


# ---------------------------------------------------------------------------------------------
# Where mutations may go (docstrings, annotations and dead code are skipped)
# ---------------------------------------------------------------------------------------------

_ANNOTATION_FIELDS = {"annotation", "returns", "type_comment", "type_params"}


def is_docstring(stmt: ast.stmt) -> bool:
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
                            and is_docstring(child)
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
