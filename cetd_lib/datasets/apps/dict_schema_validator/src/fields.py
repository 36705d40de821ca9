"""Field types for validating values inside plain dicts / JSON-like data."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence


@dataclass(frozen=True)
class ValidationError:
    path: str
    code: str
    message: str = ""


def join_path(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def index_path(base: str, index: int) -> str:
    return f"{base}[{index}]"


class Field:
    """Base class.  Subclasses implement `_check` for a non-None value."""

    type_name = "value"

    def __init__(self, required: bool = True, default: Any = None) -> None:
        self.required = required
        self.default = default

    def validate(self, value: Any, path: str) -> list[ValidationError]:
        if value is None:
            if self.required:
                return [ValidationError(path, "required", "value is required")]
            return []
        return self._check(value, path)

    def _check(self, value: Any, path: str) -> list[ValidationError]:
        return []

    def _type_error(self, value: Any, path: str) -> list[ValidationError]:
        return [ValidationError(path, "type", f"expected {self.type_name}, got {type(value).__name__}")]


class String(Field):
    type_name = "string"

    def __init__(
        self,
        min_length: Optional[int] = None,
        max_length: Optional[int] = None,
        pattern: Optional[str] = None,
        choices: Optional[Sequence[str]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = re.compile(pattern) if pattern is not None else None
        self.choices = tuple(choices) if choices is not None else None

    def _check(self, value: Any, path: str) -> list[ValidationError]:
        if not isinstance(value, str):
            return self._type_error(value, path)
        errs = []
        if self.min_length is not None and len(value) < self.min_length:
            errs.append(ValidationError(path, "min_length", f"shorter than {self.min_length}"))
        if self.max_length is not None and len(value) > self.max_length:
            errs.append(ValidationError(path, "max_length", f"longer than {self.max_length}"))
        if self.pattern is not None and not self.pattern.fullmatch(value):
            errs.append(ValidationError(path, "pattern", f"does not match {self.pattern.pattern}"))
        if self.choices is not None and value not in self.choices:
            errs.append(ValidationError(path, "choice", f"not one of {list(self.choices)}"))
        return errs


class _Numeric(Field):
    accepted: tuple[type, ...] = (int,)

    def __init__(self, minimum: Optional[float] = None, maximum: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum

    def _check(self, value: Any, path: str) -> list[ValidationError]:
        if isinstance(value, bool) or not isinstance(value, self.accepted):
            return self._type_error(value, path)
        if self.minimum is not None and value < self.minimum:
            return [ValidationError(path, "minimum", f"less than {self.minimum}")]
        if self.maximum is not None and value > self.maximum:
            return [ValidationError(path, "maximum", f"greater than {self.maximum}")]
        return []


class Integer(_Numeric):
    type_name = "integer"
    accepted = (int,)


class Number(_Numeric):
    type_name = "number"
    accepted = (int, float)


class Boolean(Field):
    type_name = "boolean"

    def _check(self, value: Any, path: str) -> list[ValidationError]:
        return [] if isinstance(value, bool) else self._type_error(value, path)


class ListOf(Field):
    type_name = "list"

    def __init__(self, item: Field, min_items: int = 0, max_items: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.item = item
        self.min_items = min_items
        self.max_items = max_items

    def _check(self, value: Any, path: str) -> list[ValidationError]:
        if not isinstance(value, list):
            return self._type_error(value, path)
        errs: list[ValidationError] = []
        if len(value) < self.min_items:
            errs.append(ValidationError(path, "min_items", f"fewer than {self.min_items} items"))
        if self.max_items is not None and len(value) > self.max_items:
            errs.append(ValidationError(path, "max_items", f"more than {self.max_items} items"))
        for i, element in enumerate(value):
            errs.extend(self.item.validate(element, index_path(path, i)))
        return errs
