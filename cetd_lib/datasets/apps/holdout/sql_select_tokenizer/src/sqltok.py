"""Tokenizer for a small subset of SQL, mainly SELECT statements."""
from __future__ import annotations

from enum import Enum
from typing import NamedTuple

KEYWORDS = frozenset(
    """SELECT DISTINCT FROM WHERE AND OR NOT AS ORDER BY ASC DESC LIMIT OFFSET
    IN IS NULL LIKE BETWEEN GROUP HAVING JOIN ON INNER LEFT TRUE FALSE""".split()
)
_TWO_CHAR_OPS = ("<=", ">=", "<>", "!=", "||")
_ONE_CHAR_OPS = "=<>+-*/%"
_PUNCT = "(),.;"


class TokenType(Enum):
    KEYWORD = "keyword"
    IDENT = "ident"
    NUMBER = "number"
    STRING = "string"
    OPERATOR = "operator"
    PUNCT = "punct"
    PARAM = "param"


class Token(NamedTuple):
    type: TokenType
    value: str
    position: int


class SqlTokenizeError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at {position}")
        self.position = position


class _Scanner:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.i = 0
        self.tokens: list[Token] = []

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.sql[j] if j < len(self.sql) else ""

    def emit(self, kind: TokenType, value: str, start: int) -> None:
        self.tokens.append(Token(kind, value, start))

    def quoted(self, quote: str) -> str:
        """Read a quoted run starting at the opening quote; doubled quotes escape."""
        start = self.i
        self.i += 1
        chars = []
        while True:
            if self.i >= len(self.sql):
                raise SqlTokenizeError("unterminated quoted text", start)
            ch = self.sql[self.i]
            if ch == quote:
                if self.peek(1) == quote:
                    chars.append(quote)
                    self.i += 2
                    continue
                self.i += 1
                return "".join(chars)
            chars.append(ch)
            self.i += 1

    def run(self) -> list[Token]:
        sql = self.sql
        while self.i < len(sql):
            ch, start = sql[self.i], self.i
            if ch.isspace():
                self.i += 1
            elif sql.startswith("--", self.i):
                end = sql.find("\n", self.i)
                self.i = len(sql) if end == -1 else end + 1
            elif sql.startswith("/*", self.i):
                end = sql.find("*/", self.i + 2)
                if end == -1:
                    raise SqlTokenizeError("unterminated comment", start)
                self.i = end + 2
            elif ch == "'":
                self.emit(TokenType.STRING, self.quoted("'"), start)
            elif ch == '"':
                self.emit(TokenType.IDENT, self.quoted('"'), start)
            elif ch.isdigit() or (ch == "." and self.peek(1).isdigit()):
                self.i += 1
                while self.peek().isdigit() or (self.peek() == "." and "." not in sql[start:self.i]):
                    self.i += 1
                self.emit(TokenType.NUMBER, sql[start:self.i], start)
            elif ch.isalpha() or ch == "_":
                while self.peek().isalnum() or self.peek() == "_":
                    self.i += 1
                word = sql[start:self.i]
                if word.upper() in KEYWORDS:
                    self.emit(TokenType.KEYWORD, word.upper(), start)
                else:
                    self.emit(TokenType.IDENT, word, start)
            elif ch == "?":
                self.i += 1
                self.emit(TokenType.PARAM, "?", start)
            elif ch == ":" and (self.peek(1).isalpha() or self.peek(1) == "_"):
                self.i += 1
                while self.peek().isalnum() or self.peek() == "_":
                    self.i += 1
                self.emit(TokenType.PARAM, sql[start:self.i], start)
            elif sql[self.i:self.i + 2] in _TWO_CHAR_OPS:
                self.i += 2
                self.emit(TokenType.OPERATOR, sql[start:self.i], start)
            elif ch in _ONE_CHAR_OPS:
                self.i += 1
                self.emit(TokenType.OPERATOR, ch, start)
            elif ch in _PUNCT:
                self.i += 1
                self.emit(TokenType.PUNCT, ch, start)
            else:
                raise SqlTokenizeError(f"unexpected character {ch!r}", start)
        return self.tokens


def tokenize(sql: str) -> list[Token]:
    """Split SQL text into tokens; comments and whitespace are dropped."""
    return _Scanner(sql).run()


def _text(token: Token) -> str:
    if token.type is TokenType.STRING:
        return "'" + token.value.replace("'", "''") + "'"
    return token.value


def render_tokens(tokens: list[Token]) -> str:
    """Join tokens back into compact canonical SQL text."""
    out = ""
    prev: Token | None = None
    for tok in tokens:
        glue = prev is None
        glue = glue or tok.value in (".", ")", ",") and tok.type is TokenType.PUNCT
        glue = glue or prev.value in (".", "(") and prev.type is TokenType.PUNCT
        glue = glue or (tok.value == "(" and prev.type is TokenType.IDENT)
        out += ("" if glue else " ") + _text(tok)
        prev = tok
    return out
