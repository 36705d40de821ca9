"""A tiny text template engine: {{ vars|filters }}, {% if %}, {% for %}, {# comments #}."""
from __future__ import annotations

import re
from collections import ChainMap
from typing import Any, Callable, Mapping

from filters import FILTERS

_TOKEN_RE = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", re.DOTALL)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
_COMPARE_RE = re.compile(r"^(.+?)\s*(==|!=|<=|>=|<|>)\s*(.+)$")
_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


class TemplateError(Exception):
    pass


class TemplateSyntaxError(TemplateError):
    def __init__(self, message: str, lineno: int) -> None:
        super().__init__(f"{message} (line {lineno})")
        self.lineno = lineno


class UndefinedError(TemplateError):
    pass


class _Undefined:
    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()


# ---------------------------------------------------------------- expressions
class Operand:
    """A literal (quoted string / integer) or a dotted variable path."""

    def __init__(self, text: str, lineno: int) -> None:
        text = text.strip()
        self.literal: Any = UNDEFINED
        self.path: list[str] = []
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            self.literal = text[1:-1]
        elif re.fullmatch(r"-?\d+", text):
            self.literal = int(text)
        elif _NAME_RE.match(text):
            self.path = text.split(".")
        else:
            raise TemplateSyntaxError(f"bad expression {text!r}", lineno)

    def resolve(self, context: Mapping[str, Any]) -> Any:
        if not self.path:
            return self.literal
        head, *rest = self.path
        value = context.get(head, UNDEFINED)
        for part in rest:
            value = _lookup(value, part)
        return value


def _lookup(value: Any, part: str) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    if isinstance(value, Mapping):
        return value.get(part, UNDEFINED)
    if part.isdigit() and isinstance(value, (list, tuple)):
        index = int(part)
        return value[index] if index < len(value) else UNDEFINED
    return getattr(value, part, UNDEFINED)


class Expression:
    """`operand|filter|filter:arg`."""

    def __init__(self, text: str, lineno: int, filters: Mapping[str, Callable]) -> None:
        head, *chain = text.split("|")
        self.operand = Operand(head, lineno)
        self.filters = []
        for item in chain:
            name, sep, arg = item.partition(":")
            name = name.strip()
            if name not in filters:
                raise TemplateSyntaxError(f"unknown filter {name!r}", lineno)
            args = [Operand(arg, lineno)] if sep else []
            self.filters.append((name, filters[name], args))

    def evaluate(self, context: Mapping[str, Any], strict: bool) -> Any:
        value = self.operand.resolve(context)
        for name, func, args in self.filters:
            if value is UNDEFINED:
                if name != "default" and strict:
                    raise UndefinedError(".".join(self.operand.path))
                value = None
            value = func(value, *(a.resolve(context) for a in args))
        return value


def _defined(value: Any) -> Any:
    return None if value is UNDEFINED else value


class Condition:
    def __init__(self, text: str, lineno: int, filters: Mapping[str, Callable]) -> None:
        text = text.strip()
        self.negate = text.startswith("not ")
        if self.negate:
            text = text[4:]
        match = _COMPARE_RE.match(text)
        self.op = match.group(2) if match else None
        if match:
            self.left = Expression(match.group(1), lineno, filters)
            self.right: Expression | None = Expression(match.group(3), lineno, filters)
        else:
            self.left, self.right = Expression(text, lineno, filters), None

    def test(self, context: Mapping[str, Any]) -> bool:
        left = _defined(self.left.evaluate(context, strict=False))
        if self.right is None:
            result = bool(left)
        else:
            right = _defined(self.right.evaluate(context, strict=False))
            result = _COMPARATORS[self.op](left, right)
        return result != self.negate


# ---------------------------------------------------------------------- nodes
class Text:
    def __init__(self, text: str) -> None:
        self.text = text

    def render(self, ctx, strict, out) -> None:
        out.append(self.text)


class Output:
    def __init__(self, expr: Expression) -> None:
        self.expr = expr

    def render(self, ctx, strict, out) -> None:
        value = self.expr.evaluate(ctx, strict)
        if value is UNDEFINED:
            if strict:
                raise UndefinedError(".".join(self.expr.operand.path))
            return
        out.append("" if value is None else str(value))


class If:
    def __init__(self) -> None:
        self.branches: list[tuple[Condition, list]] = []
        self.otherwise: list = []

    def render(self, ctx, strict, out) -> None:
        for condition, body in self.branches:
            if condition.test(ctx):
                _render_all(body, ctx, strict, out)
                return
        _render_all(self.otherwise, ctx, strict, out)


class For:
    def __init__(self, var: str, source: Expression) -> None:
        self.var, self.source = var, source
        self.body: list = []
        self.otherwise: list = []

    def render(self, ctx, strict, out) -> None:
        items = self.source.evaluate(ctx, strict)
        if items is UNDEFINED:
            if strict:
                raise UndefinedError(".".join(self.source.operand.path))
            items = []
        items = list(items or [])
        if not items:
            _render_all(self.otherwise, ctx, strict, out)
        for index, item in enumerate(items):
            loop = {"index": index + 1, "first": index == 0, "last": index == len(items) - 1}
            _render_all(self.body, ChainMap({self.var: item, "loop": loop}, ctx), strict, out)


def _render_all(nodes, ctx, strict, out) -> None:
    for node in nodes:
        node.render(ctx, strict, out)


# --------------------------------------------------------------------- parser
def _line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


class Template:
    def __init__(self, source: str, strict: bool = False, filters: Mapping[str, Callable] | None = None) -> None:
        self.source = source
        self.strict = strict
        self._filters = {**FILTERS, **(filters or {})}
        self._nodes = self._parse()

    def _parse(self) -> list:
        root: list = []
        # each frame: (tag name, node, list currently receiving children, line)
        stack: list[tuple[str, Any, list, int]] = []
        target = root
        pos = 0
        for match in _TOKEN_RE.finditer(self.source):
            if match.start() > pos:
                target.append(Text(self.source[pos:match.start()]))
            pos = match.end()
            token, line = match.group(0), _line_of(self.source, match.start())
            inner = token[2:-2].strip()
            if token.startswith("{#"):
                continue
            if token.startswith("{{"):
                target.append(Output(Expression(inner, line, self._filters)))
                continue
            tag, _, rest = inner.partition(" ")
            rest = rest.strip()
            if tag == "if":
                node = If()
                body: list = []
                node.branches.append((Condition(rest, line, self._filters), body))
                target.append(node)
                stack.append(("if", node, body, line))
                target = body
            elif tag == "for":
                parts = rest.split(None, 2)
                if len(parts) != 3 or parts[1] != "in" or not parts[0].isidentifier():
                    raise TemplateSyntaxError("expected 'for NAME in EXPR'", line)
                node = For(parts[0], Expression(parts[2], line, self._filters))
                target.append(node)
                stack.append(("for", node, node.body, line))
                target = node.body
            elif tag in ("elif", "else"):
                allowed = ("if",) if tag == "elif" else ("if", "for")
                if not stack or stack[-1][0] not in allowed:
                    raise TemplateSyntaxError(f"unexpected {tag}", line)
                kind, node, _, opened = stack.pop()
                if tag == "elif":
                    body = []
                    node.branches.append((Condition(rest, line, self._filters), body))
                    stack.append((kind, node, body, opened))
                    target = body
                else:
                    stack.append((kind + "-else", node, node.otherwise, opened))
                    target = node.otherwise
            elif tag in ("endif", "endfor"):
                expected = tag[3:]
                if not stack or stack[-1][0].split("-")[0] != expected:
                    raise TemplateSyntaxError(f"unexpected {tag}", line)
                stack.pop()
                target = stack[-1][2] if stack else root
            else:
                raise TemplateSyntaxError(f"unknown tag {tag!r}", line)
        if stack:
            raise TemplateSyntaxError(f"unclosed {stack[-1][0].split('-')[0]}", stack[-1][3])
        if pos < len(self.source):
            target.append(Text(self.source[pos:]))
        return root

    def render(self, context: Mapping[str, Any] | None = None, **kwargs: Any) -> str:
        ctx = ChainMap(dict(kwargs), dict(context or {}))
        out: list[str] = []
        _render_all(self._nodes, ctx, self.strict, out)
        return "".join(out)


def render_string(source: str, context: Mapping[str, Any] | None = None, **kwargs: Any) -> str:
    """Compile and render in one call (non-strict)."""
    return Template(source).render(context, **kwargs)
