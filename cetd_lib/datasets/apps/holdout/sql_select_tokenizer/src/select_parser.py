"""Parse a single SELECT statement into a structured SelectQuery."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqltok import Token, TokenType, render_tokens, tokenize

_UNSUPPORTED = {"GROUP", "HAVING", "JOIN"}


class SqlParseError(ValueError):
    pass


@dataclass
class SelectItem:
    expression: str
    alias: str | None = None

    @property
    def output_name(self) -> str:
        return self.alias or self.expression


@dataclass
class SelectQuery:
    items: list[SelectItem]
    table: str
    table_alias: str | None = None
    distinct: bool = False
    where: str | None = None
    order_by: list[tuple[str, str]] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None

    @property
    def columns(self) -> list[str]:
        return [item.output_name for item in self.items]

    def to_sql(self) -> str:
        parts = ["SELECT"]
        if self.distinct:
            parts.append("DISTINCT")
        parts.append(", ".join(i.expression + (f" AS {i.alias}" if i.alias else "") for i in self.items))
        parts.append(f"FROM {self.table}" + (f" AS {self.table_alias}" if self.table_alias else ""))
        if self.where:
            parts.append(f"WHERE {self.where}")
        if self.order_by:
            parts.append("ORDER BY " + ", ".join(f"{expr} {way}" for expr, way in self.order_by))
        if self.limit is not None:
            parts.append(f"LIMIT {self.limit}")
        if self.offset is not None:
            parts.append(f"OFFSET {self.offset}")
        return " ".join(parts)


def _ends_operand(tok: Token) -> bool:
    if tok.type in (TokenType.IDENT, TokenType.NUMBER, TokenType.STRING, TokenType.PARAM):
        return True
    return tok.type is TokenType.PUNCT and tok.value == ")"


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def at_keyword(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.type is TokenType.KEYWORD and tok.value in words

    def at_punct(self, char: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.type is TokenType.PUNCT and tok.value == char

    def expect_keyword(self, word: str) -> None:
        if not self.at_keyword(word):
            raise SqlParseError(f"expected {word}")
        self.pos += 1

    def take_until(self, stop_words: set[str], stop_on_comma: bool, bare_alias: bool = False) -> list[Token]:
        """Collect tokens up to a stop keyword / comma / ';' at parenthesis depth 0.

        With bare_alias, an identifier directly after a complete operand also stops
        (as in `SELECT price p`).
        """
        taken: list[Token] = []
        depth = 0
        while (tok := self.peek()) is not None:
            if depth == 0:
                if tok.type is TokenType.KEYWORD and tok.value in stop_words:
                    break
                if tok.type is TokenType.PUNCT and (tok.value == ";" or (stop_on_comma and tok.value == ",")):
                    break
                if bare_alias and tok.type is TokenType.IDENT and taken and _ends_operand(taken[-1]):
                    break
            if tok.type is TokenType.PUNCT and tok.value == "(":
                depth += 1
            elif tok.type is TokenType.PUNCT and tok.value == ")":
                depth -= 1
                if depth < 0:
                    raise SqlParseError("unbalanced parenthesis")
            taken.append(tok)
            self.pos += 1
        if depth:
            raise SqlParseError("unbalanced parenthesis")
        return taken

    def alias(self) -> str | None:
        if self.at_keyword("AS"):
            self.pos += 1
            tok = self.peek()
            if tok is None or tok.type is not TokenType.IDENT:
                raise SqlParseError("expected alias after AS")
            self.pos += 1
            return tok.value
        tok = self.peek()
        if tok is not None and tok.type is TokenType.IDENT:
            self.pos += 1
            return tok.value
        return None

    def identifier(self, what: str) -> Token:
        tok = self.peek()
        if tok is None or tok.type is not TokenType.IDENT:
            raise SqlParseError(f"expected {what}")
        self.pos += 1
        return tok

    def integer(self, what: str) -> int:
        tok = self.peek()
        if tok is None or tok.type is not TokenType.NUMBER or not tok.value.isdigit():
            raise SqlParseError(f"{what} needs a non-negative integer")
        self.pos += 1
        return int(tok.value)

    def parse(self) -> SelectQuery:
        for tok in self.tokens:
            if tok.type is TokenType.KEYWORD and tok.value in _UNSUPPORTED:
                raise SqlParseError(f"{tok.value} is not supported")
        self.expect_keyword("SELECT")
        distinct = self.at_keyword("DISTINCT")
        if distinct:
            self.pos += 1
        items = []
        while True:
            expr = self.take_until({"AS", "FROM"}, stop_on_comma=True, bare_alias=True)
            if not expr:
                raise SqlParseError("empty select item")
            items.append(SelectItem(render_tokens(expr), self.alias()))
            if not self.at_punct(","):
                break
            self.pos += 1
        self.expect_keyword("FROM")
        table_tokens = [self.identifier("table name")]
        while self.at_punct("."):
            table_tokens.append(self.tokens[self.pos])
            self.pos += 1
            table_tokens.append(self.identifier("name after '.'"))
        query = SelectQuery(items, render_tokens(table_tokens), distinct=distinct)
        query.table_alias = self.alias()
        if self.at_keyword("WHERE"):
            self.pos += 1
            cond = self.take_until({"ORDER", "LIMIT", "OFFSET"}, stop_on_comma=False)
            if not cond:
                raise SqlParseError("empty WHERE clause")
            query.where = render_tokens(cond)
        if self.at_keyword("ORDER"):
            self.pos += 1
            self.expect_keyword("BY")
            while True:
                expr = self.take_until({"ASC", "DESC", "LIMIT", "OFFSET"}, stop_on_comma=True)
                if not expr:
                    raise SqlParseError("empty ORDER BY item")
                direction = "ASC"
                if self.at_keyword("ASC", "DESC"):
                    direction = self.peek().value
                    self.pos += 1
                query.order_by.append((render_tokens(expr), direction))
                if not self.at_punct(","):
                    break
                self.pos += 1
        if self.at_keyword("LIMIT"):
            self.pos += 1
            query.limit = self.integer("LIMIT")
        if self.at_keyword("OFFSET"):
            self.pos += 1
            query.offset = self.integer("OFFSET")
        if self.at_punct(";"):
            self.pos += 1
        if self.peek() is not None:
            raise SqlParseError(f"unexpected {self.peek().value!r}")
        return query


def parse_select(sql: str) -> SelectQuery:
    """Tokenize and parse one SELECT statement (optionally ending in ';')."""
    return _Parser(tokenize(sql)).parse()
