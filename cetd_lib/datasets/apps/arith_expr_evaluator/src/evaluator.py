"""Recursive-descent parser and evaluator built on top of `lexer`."""
from __future__ import annotations

import math
from typing import Callable, Mapping

from lexer import ExprSyntaxError, Token, TokenKind, tokenize

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

# name -> (callable, minimum args, maximum args or None for unlimited)
FUNCTIONS: dict[str, tuple[Callable[..., float], int, int | None]] = {
    "abs": (abs, 1, 1),
    "sqrt": (math.sqrt, 1, 1),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "min": (min, 1, None),
    "max": (max, 1, None),
}


class Node:
    def eval(self, env: Mapping[str, float]) -> float:
        raise NotImplementedError

    def names(self) -> set[str]:
        return set()


class Num(Node):
    def __init__(self, value: float) -> None:
        self.value = value

    def eval(self, env):
        return self.value


class Var(Node):
    def __init__(self, name: str) -> None:
        self.name = name

    def eval(self, env):
        if self.name not in env:
            raise NameError(f"undefined variable: {self.name}")
        return float(env[self.name])

    def names(self):
        return {self.name}


class Unary(Node):
    def __init__(self, op: str, operand: Node) -> None:
        self.op, self.operand = op, operand

    def eval(self, env):
        value = self.operand.eval(env)
        return -value if self.op == "-" else value

    def names(self):
        return self.operand.names()


class BinOp(Node):
    def __init__(self, op: str, left: Node, right: Node) -> None:
        self.op, self.left, self.right = op, left, right

    def eval(self, env):
        a, b = self.left.eval(env), self.right.eval(env)
        if self.op == "+":
            return a + b
        if self.op == "-":
            return a - b
        if self.op == "*":
            return a * b
        if self.op in "/%" and b == 0:
            raise ZeroDivisionError("division by zero")
        if self.op == "/":
            return a / b
        if self.op == "%":
            return math.fmod(a, b)
        return float(a ** b)

    def names(self):
        return self.left.names() | self.right.names()


class Call(Node):
    def __init__(self, name: str, args: list[Node]) -> None:
        self.name, self.args = name, args

    def eval(self, env):
        if self.name not in FUNCTIONS:
            raise NameError(f"unknown function: {self.name}")
        func, lo, hi = FUNCTIONS[self.name]
        if len(self.args) < lo or (hi is not None and len(self.args) > hi):
            raise TypeError(f"{self.name}() got {len(self.args)} arguments")
        return float(func(*(arg.eval(env) for arg in self.args)))

    def names(self):
        found: set[str] = set()
        for arg in self.args:
            found |= arg.names()
        return found


class Parser:
    """Grammar (lowest to highest precedence):
    expr  := term (('+'|'-') term)*
    term  := unary (('*'|'/'|'%') unary)*
    unary := ('+'|'-') unary | power
    power := atom ('^' unary)?          -- right associative
    atom  := NUMBER | NAME | NAME '(' [expr (',' expr)*] ')' | '(' expr ')'
    """

    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def _advance(self) -> Token:
        tok = self.tokens[self.index]
        self.index += 1
        return tok

    def _expect(self, kind: TokenKind) -> Token:
        if self.current.kind is not kind:
            raise ExprSyntaxError(f"expected {kind.value}", self.current.pos)
        return self._advance()

    def _is_op(self, chars: str) -> bool:
        return self.current.kind is TokenKind.OP and self.current.text in chars

    def parse(self) -> Node:
        node = self._expr()
        if self.current.kind is not TokenKind.END:
            raise ExprSyntaxError("unexpected trailing input", self.current.pos)
        return node

    def _expr(self) -> Node:
        node = self._term()
        while self._is_op("+-"):
            op = self._advance().text
            node = BinOp(op, node, self._term())
        return node

    def _term(self) -> Node:
        node = self._unary()
        while self._is_op("*/%"):
            op = self._advance().text
            node = BinOp(op, node, self._unary())
        return node

    def _unary(self) -> Node:
        if self._is_op("+-"):
            op = self._advance().text
            return Unary(op, self._unary())
        return self._power()

    def _power(self) -> Node:
        base = self._atom()
        if self._is_op("^"):
            self._advance()
            return BinOp("^", base, self._unary())
        return base

    def _atom(self) -> Node:
        tok = self.current
        if tok.kind is TokenKind.NUMBER:
            self._advance()
            return Num(float(tok.text))
        if tok.kind is TokenKind.NAME:
            self._advance()
            if self.current.kind is TokenKind.LPAREN:
                self._advance()
                args: list[Node] = []
                if self.current.kind is not TokenKind.RPAREN:
                    args.append(self._expr())
                    while self.current.kind is TokenKind.COMMA:
                        self._advance()
                        args.append(self._expr())
                self._expect(TokenKind.RPAREN)
                return Call(tok.text, args)
            return Var(tok.text)
        if tok.kind is TokenKind.LPAREN:
            self._advance()
            inner = self._expr()
            self._expect(TokenKind.RPAREN)
            return inner
        raise ExprSyntaxError("unexpected token", tok.pos)


class Expression:
    """A parsed expression that can be evaluated many times."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._tree = Parser(source).parse()

    def variables(self) -> set[str]:
        return self._tree.names()

    def evaluate(self, variables: Mapping[str, float] | None = None) -> float:
        env = dict(CONSTANTS)
        env.update(variables or {})
        return self._tree.eval(env)


def evaluate(source: str, variables: Mapping[str, float] | None = None) -> float:
    """Parse and evaluate `source` in one step."""
    return Expression(source).evaluate(variables)
