"""Mutation operators: each looks at one AST node and proposes faulty replacements.

Registry `OPERATORS` (one function each, `register_operator`); the operators themselves are
listed in `cetd_lib.mutation.mutants`, which applies them.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator
from typing import Any

# ---------------------------------------------------------------------------------------------
# Mutants
# ---------------------------------------------------------------------------------------------


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
