"""Schemas: named fields for a dict, nestable through the `Nested` field."""
from __future__ import annotations

from typing import Any, Mapping

from fields import Field, ValidationError, join_path


class SchemaError(ValueError):
    def __init__(self, errors: list[ValidationError]) -> None:
        summary = "; ".join(f"{e.path or '<root>'}: {e.code}" for e in errors)
        super().__init__(f"{len(errors)} validation error(s): {summary}")
        self.errors = errors


class Schema:
    def __init__(self, fields: Mapping[str, Field], allow_extra: bool = False) -> None:
        self.fields = dict(fields)
        self.allow_extra = allow_extra

    def errors(self, data: Any, path: str = "") -> list[ValidationError]:
        if not isinstance(data, dict):
            return [ValidationError(path, "type", "expected an object")]
        found: list[ValidationError] = []
        for name, field in self.fields.items():
            found.extend(field.validate(data.get(name), join_path(path, name)))
        if not self.allow_extra:
            for extra in sorted(k for k in data if k not in self.fields):
                found.append(ValidationError(join_path(path, str(extra)), "unknown", "unexpected key"))
        return found

    def is_valid(self, data: Any) -> bool:
        return not self.errors(data)

    def apply_defaults(self, data: dict) -> dict:
        """Copy of `data` with missing/None optional fields set to their defaults."""
        out = dict(data)
        for name, field in self.fields.items():
            value = out.get(name)
            if value is None and field.default is not None:
                out[name] = field.default
            elif isinstance(field, Nested) and isinstance(value, dict):
                out[name] = field.schema.apply_defaults(value)
        return out


class Nested(Field):
    type_name = "object"

    def __init__(self, schema: Schema, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schema = schema

    def _check(self, value: Any, path: str) -> list[ValidationError]:
        if not isinstance(value, dict):
            return self._type_error(value, path)
        return self.schema.errors(value, path)


def validate(schema: Schema, data: Any) -> dict:
    """Validate and return data with defaults applied, or raise SchemaError."""
    problems = schema.errors(data)
    if problems:
        raise SchemaError(problems)
    return schema.apply_defaults(data)
