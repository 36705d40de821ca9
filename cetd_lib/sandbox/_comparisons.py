"""Trusted comparisons in the tests: a builtin value is compared by its builtin type's rules.

Run as part of the worker script (`_worker.py` imports it from its own directory; standard
library only). `apply` is an AST pass the worker applies to every test module right after
pytest's own assertion rewriting: each non-literal operand of a single `==`, `!=`, `<`,
`<=`, `>`, `>=`, `in` or `not in` goes through `strict()`. A value of builtin types (deep) and
an object of a class defined outside the sandbox (fractions, numpy, ...) come back unchanged;
anything else is rebuilt by the builtin base type's own C methods (an `int` subclass becomes
its `int` value, a list subclass a list) and an object with no builtin base becomes an `Opaque`
token that agrees with a builtin value only when the object's own answer survives probes (it
must not also equal a different value of that type, nor a fresh object). So an object whose
class says it equals everything is not equal to `9`, while a class that honestly compares with
ints (`Roman(5) == 5`) still does.

What it does not cover: comparisons between two rebuilt objects, trusted containers that are
not builtin-based (a `deque` or a numpy object array holding rebuilt objects), chained comparisons
outside assert statements (`if a < b < c:`; in an assert pytest splits them), comparisons inside
helpers outside the test modules (unittest's `assertEqual`, helper modules, conftest fixtures'
libraries), truth tests (`assert obj`), `isinstance`, and
`assert_rewrite: false` (no AST pass). See docs/harness.md.
"""

from __future__ import annotations

import ast
import sys
import types

STRICT_NAME = "@cetd_strict"  # not a valid identifier: test code cannot name it
BIND_NAME = "@cetd_bind"
_SCALARS = frozenset({int, float, complex, str, bytes, bool, type(None)})
# The builtin base's own method that returns the exact builtin value of a subclass instance.
_EXACT = {
    int: int.__int__,
    float: float.__float__,
    complex: complex.__complex__,
    str: str.__str__,
    bytes: bytes.__bytes__,
}
_BUILTIN_TYPES = frozenset(t for t in vars(__import__("builtins")).values() if isinstance(t, type))
_COMPARISON_DUNDERS = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__contains__")
_WATCHED = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_MAX_DEPTH = 50
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: every class made by Python code has it


class _Probe:
    """A fresh object no honest value equals or contains."""

    __slots__ = ()

    def __repr__(self):
        return "<probe>"


def _different(value):
    """A value of the same builtin type as `value`, not equal to it (None: a probe)."""
    kind = type(value)
    if kind is bool:
        return not value
    if kind is int or kind is complex:
        return value + 1
    if kind is float:
        return value + 1.0 if value == value and abs(value) < 1e15 else 0.5
    if kind is str:
        return value + "\x00"
    if kind is bytes:
        return value + b"\x00"
    if kind is list:
        return [*value, _Probe()]
    if kind is tuple:
        return (*value, _Probe())
    if kind is dict:
        return {**value, _Probe(): None}
    if kind is set or kind is frozenset:
        return kind({*value, _Probe()})
    return _Probe()


def _claims(fn) -> bool:
    """Whether a comparison of the untrusted object answered true (an error is a no)."""
    try:
        return bool(fn())
    except Exception:  # noqa: BLE001 - the object's own comparison failed: it claims nothing
        return False


_COMPLEMENT = {
    "<": (lambda a, b: a < b, lambda a, b: a >= b),
    "<=": (lambda a, b: a <= b, lambda a, b: a > b),
    ">": (lambda a, b: a > b, lambda a, b: a <= b),
    ">=": (lambda a, b: a >= b, lambda a, b: a < b),
}


class Opaque:
    """An object of an untrusted class with no builtin base, as a comparison operand.

    Against a builtin value it is equal (or ordered, or a container of it) only when its own
    comparison says so AND it does not say the same of a probe: a value of the same type that
    differs, and a fresh object (equality, membership), or the complementary order. An object
    that answers true to everything is therefore unequal to everything (membership is probed
    with the fresh object only). Against another Opaque
    the two objects decide (nothing builtin to hold them to)."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value

    def __eq__(self, other):
        if type(other) is Opaque:
            return self.value == other.value
        value = self.value
        return (
            _claims(lambda: value == other)
            and not _claims(lambda: value == _different(other))
            and not _claims(lambda: value == _Probe())
        )

    def __ne__(self, other):
        return not self.__eq__(other)

    def _order(self, other, op: str):
        if type(other) is Opaque:
            return _COMPLEMENT[op][0](self.value, other.value)
        holds, complement = _COMPLEMENT[op]
        value = self.value
        return _claims(lambda: holds(value, other)) and not _claims(
            lambda: complement(value, other)
        )

    def __lt__(self, other):
        return self._order(other, "<")

    def __le__(self, other):
        return self._order(other, "<=")

    def __gt__(self, other):
        return self._order(other, ">")

    def __ge__(self, other):
        return self._order(other, ">=")

    def __contains__(self, item):
        value = self.value
        if type(item) is Opaque:
            return item.value in value
        # Only a fresh object as probe: a probabilistic set (a Bloom filter) may honestly
        # hold a near-copy of the item.
        return _claims(lambda: item in value) and not _claims(lambda: _Probe() in value)

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return repr(self.value)


# The audit hook's "this file name is untrusted code" predicate, set by the child (`install`); a
# list so that setting it leaves the module's dict as the worker's verdict snapshot saw it
# (the child adds the list's contents to that snapshot).
UNTRUSTED_FILE: list = [lambda name: True]


def install(untrusted_file) -> list:
    """Use the audit hook's predicate (`_audit_hook.install_audit_hook`); returns the holder
    to watch."""
    UNTRUSTED_FILE[0] = untrusted_file
    return UNTRUSTED_FILE


def _trusted_class(cls: type) -> bool:
    """A class defined outside the sandbox whose comparisons are not the tested code's."""
    untrusted_file = UNTRUSTED_FILE[0]
    for klass in type.__dict__["__mro__"].__get__(cls):
        if klass in _BUILTIN_TYPES or not klass.__flags__ & _HEAPTYPE:
            continue  # a static type: written in C, not by the tested code
        module = sys.modules.get(klass.__dict__.get("__module__"))
        filename = getattr(module, "__file__", None)
        if type(filename) is not str:
            if module is None or module.__name__ not in sys.builtin_module_names:
                return False
        elif untrusted_file(filename):
            return False
        for name in _COMPARISON_DUNDERS:
            method = klass.__dict__.get(name)
            if type(method) is types.FunctionType and untrusted_file(method.__code__.co_filename):
                return False
    return True


def _trusted(value, depth: int = 0) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth > _MAX_DEPTH:
        return False
    if kind is list or kind is tuple or kind is set or kind is frozenset:
        return all(_trusted(item, depth + 1) for item in value)
    if kind is dict:
        return all(_trusted(k, depth + 1) and _trusted(v, depth + 1) for k, v in value.items())
    if kind in _BUILTIN_TYPES or not _trusted_class(kind):
        return False
    # A trusted subclass of a builtin container (OrderedDict, defaultdict, Counter) compares
    # by its items: they must be trusted too.
    for base in type.__dict__["__mro__"].__get__(kind):
        if base is list or base is tuple or base is set or base is frozenset:
            return all(_trusted(item, depth + 1) for item in base.__iter__(value))
        if base is dict:
            return all(
                _trusted(k, depth + 1) and _trusted(v, depth + 1) for k, v in dict.items(value)
            )
    return True


def _exact(value, depth: int = 0):
    kind = type(value)
    if kind in _SCALARS:
        return value
    if depth > _MAX_DEPTH:
        return Opaque(value)
    if _trusted(value, depth):
        return value
    for base in type.__dict__["__mro__"].__get__(kind):
        if base in _EXACT:
            return _EXACT[base](value)
        if base is list or base is tuple or base is set or base is frozenset:
            return base(_exact(item, depth + 1) for item in base.__iter__(value))
        if base is dict:
            return {_exact(k, depth + 1): _exact(v, depth + 1) for k, v in dict.items(value)}
    return Opaque(value)


# The globals of every test module the pass bound `strict` into (`bind`): the verdict check
# (`_events.VerdictState`) makes sure each still holds this very `strict`.
BOUND: list = []


def bind(module_name: str):
    """Called first thing by every rewritten test module: record its globals, return strict."""
    BOUND.append(sys.modules[module_name].__dict__)
    return strict


def strict(value):
    """`value` if its comparisons can be trusted, else its builtin value / an Opaque token."""
    if type(value) in _SCALARS or _trusted(value):
        return value
    return _exact(value)


# ---------------------------------------------------------------------------------------------
# The AST pass
# ---------------------------------------------------------------------------------------------


def _literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _literal(node.operand)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _literal(k) for k in node.keys) and all(
            _literal(v) for v in node.values
        )
    return False


# pytest's rewriting asks `'name' in @py_builtins.locals()` to decide what to display; the name
# is not a valid identifier, so test code cannot spell it.
_PYTEST_BUILTINS = "@py_builtins"


def _pytest_own(expr: ast.expr) -> bool:
    """An operand pytest's assertion rewriting generated for its explanations."""
    return (
        type(expr) is ast.Call
        and type(expr.func) is ast.Attribute
        and type(expr.func.value) is ast.Name
        and expr.func.value.id == _PYTEST_BUILTINS
    )


def _wrap(expr: ast.expr, where: ast.AST) -> ast.expr:
    if _literal(expr) or _pytest_own(expr):
        return expr
    call = ast.Call(ast.Name(STRICT_NAME, ast.Load()), [expr], [])
    for node in (call, call.func):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            value = getattr(expr, attr, None)
            setattr(node, attr, getattr(where, attr, None) if value is None else value)
    return call


# Nodes that hold no expression: the walk does not descend into them.
_LEAVES = frozenset(
    [ast.Constant, ast.Name, ast.alias]
    + [
        kind
        for kind in vars(ast).values()
        if isinstance(kind, type)
        and issubclass(kind, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop))
    ]
)


def _failure_branch(node: ast.If) -> bool:
    """pytest's `if not @py_assertN: ... raise AssertionError(...)`: what runs once an
    assert has failed (its explanation and message), where no comparison decides a verdict.
    Half of a rewritten test file's nodes; the names are not valid identifiers, so test code
    cannot spell this."""
    test, body = node.test, node.body
    if not (
        type(test) is ast.UnaryOp
        and type(test.op) is ast.Not
        and type(test.operand) is ast.Name
        and test.operand.id.startswith("@py_assert")
        and body
        and type(body[-1]) is ast.Raise
    ):
        return False
    exc = body[-1].exc
    return type(exc) is ast.Call and type(exc.func) is ast.Name and exc.func.id == "AssertionError"


def _comparisons_in(tree: ast.AST) -> list[ast.Compare]:
    """Every Compare node under `tree` but in pytest's failure branches (`_failure_branch`):
    `ast.walk` less its generators (2.5x faster on the ~1100 nodes of a rewritten HumanEval
    test file, where this pass is on every cold app)."""
    found, stack = [], [tree]
    pop, push, node_type, compare, leaves = stack.pop, stack.append, ast.AST, ast.Compare, _LEAVES
    while stack:
        node = pop()
        if type(node) is compare:
            found.append(node)
        elif type(node) is ast.If and _failure_branch(node):
            push(node.test)
            stack.extend(node.orelse)
            continue
        for field in node._fields:
            value = getattr(node, field, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, node_type) and type(item) not in leaves:
                        push(item)
            elif isinstance(value, node_type) and type(value) not in leaves:
                push(value)
    return found


def wrap_comparisons(tree: ast.AST) -> None:
    """Wrap each non-literal operand of every single watched comparison in `strict()`, in
    place. Run on the tree pytest's assertion rewriting made: its comparisons are then single
    ones between temporaries (a chained `a < b < c` in an assert is one per link), and the
    strict() calls are not part of what pytest explains. All comparisons are found before any
    is wrapped, so one inside another's operand is wrapped too."""
    for node in _comparisons_in(tree):
        if len(node.ops) == 1 and isinstance(node.ops[0], _WATCHED):
            node.left = _wrap(node.left, node)
            node.comparators = [_wrap(node.comparators[0], node)]


def apply(tree: ast.Module) -> None:
    """Rewrite `tree` (a test module, after pytest's assertion rewriting) in place; the import
    of `strict` goes first, after the docstring and `from __future__` imports."""
    wrap_comparisons(tree)
    body = tree.body
    pos = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        pos = 1
    while (
        pos < len(body)
        and isinstance(body[pos], ast.ImportFrom)
        and body[pos].module == "__future__"
    ):
        pos += 1
    lineno = body[pos].lineno if pos < len(body) else 1
    # @cetd_strict = __import__("_comparisons").bind(__name__), spelt as an import
    statements = [
        ast.ImportFrom("_comparisons", [ast.alias("bind", BIND_NAME)], 0),
        ast.Assign(
            [ast.Name(STRICT_NAME, ast.Store())],
            ast.Call(ast.Name(BIND_NAME, ast.Load()), [ast.Name("__name__", ast.Load())], []),
        ),
    ]
    for statement in statements:
        for node in ast.walk(statement):
            if "lineno" in node._attributes:
                node.lineno, node.col_offset = lineno, 0
                node.end_lineno, node.end_col_offset = lineno, 0
    body[pos:pos] = statements
