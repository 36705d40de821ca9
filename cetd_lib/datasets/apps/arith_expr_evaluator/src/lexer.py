"""Tokenizer for arithmetic expressions."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class TokenKind(Enum):
    NUMBER = "number"
    NAME = "name"
    OP = "op"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end"


class ExprSyntaxError(ValueError):
    """Bad input text; `pos` is the 0-based offset where the problem was found."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(f"{message} at position {pos}")
        self.pos = pos


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    pos: int


OPERATORS = "+-*/%^"
_SINGLE = {"(": TokenKind.LPAREN, ")": TokenKind.RPAREN, ",": TokenKind.COMMA}


def _scan_number(src: str, i: int) -> int:
    """Return the index just past a number literal starting at i."""
    n = len(src)
    j = i
    while j < n and src[j].isdigit():
        j += 1
    if j < n and src[j] == ".":
        j += 1
        while j < n and src[j].isdigit():
            j += 1
    if src[i:j] == ".":
        raise ExprSyntaxError("lonely decimal point", i)
    if j < n and src[j] in "eE":
        k = j + 1
        if k < n and src[k] in "+-":
            k += 1
        if k < n and src[k].isdigit():
            while k < n and src[k].isdigit():
                k += 1
            j = k
    return j


def tokenize(source: str) -> list[Token]:
    """Split an expression into tokens, always ending with an END token."""
    tokens: list[Token] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit() or ch == ".":
            end = _scan_number(source, i)
            tokens.append(Token(TokenKind.NUMBER, source[i:end], i))
            i = end
        elif ch.isalpha() or ch == "_":
            end = i + 1
            while end < len(source) and (source[end].isalnum() or source[end] == "_"):
                end += 1
            tokens.append(Token(TokenKind.NAME, source[i:end], i))
            i = end
        elif ch in OPERATORS:
            tokens.append(Token(TokenKind.OP, ch, i))
            i += 1
        elif ch in _SINGLE:
            tokens.append(Token(_SINGLE[ch], ch, i))
            i += 1
        else:
            raise ExprSyntaxError(f"unexpected character {ch!r}", i)
    tokens.append(Token(TokenKind.END, "", len(source)))
    return tokens
