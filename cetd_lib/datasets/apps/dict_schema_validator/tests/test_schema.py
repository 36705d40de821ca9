import pytest

from fields import Boolean, Integer, ListOf, Number, String, ValidationError
from schema import Nested, Schema, SchemaError, validate


def user_schema():
    address = Schema({"city": String(min_length=1), "zip": String(pattern=r"\d{5}")})
    return Schema(
        {
            "name": String(min_length=2, max_length=20),
            "age": Integer(minimum=0, maximum=150),
            "admin": Boolean(required=False, default=False),
            "tags": ListOf(String(), required=False, max_items=3),
            "address": Nested(address, required=False),
        }
    )


def codes(errors):
    return [(e.path, e.code) for e in errors]


def test_valid_document_has_no_errors():
    data = {"name": "Ada", "age": 36, "tags": ["x"], "address": {"city": "London", "zip": "12345"}}
    assert user_schema().errors(data) == []
    assert user_schema().is_valid(data)


def test_missing_required_fields():
    assert codes(user_schema().errors({})) == [("name", "required"), ("age", "required")]


def test_none_is_treated_as_missing():
    assert codes(user_schema().errors({"name": "Ada", "age": None, "admin": None})) == [("age", "required")]


def test_type_errors():
    errs = user_schema().errors({"name": 5, "age": "36", "admin": "yes"})
    assert codes(errs) == [("name", "type"), ("age", "type"), ("admin", "type")]
    assert all(isinstance(e, ValidationError) for e in errs)


def test_bool_is_not_an_integer():
    assert codes(Schema({"n": Integer()}).errors({"n": True})) == [("n", "type")]


def test_string_constraints_report_all_failures():
    schema = Schema({"code": String(min_length=3, pattern=r"[A-Z]+", choices=["ABC", "XYZ"])})
    assert codes(schema.errors({"code": "a"})) == [("code", "min_length"), ("code", "pattern"), ("code", "choice")]
    assert codes(schema.errors({"code": "QQQ"})) == [("code", "choice")]


def test_numeric_bounds():
    assert codes(user_schema().errors({"name": "Ada", "age": -1})) == [("age", "minimum")]
    assert codes(user_schema().errors({"name": "Ada", "age": 200})) == [("age", "maximum")]
    number = Schema({"x": Number(minimum=0.5)})
    assert number.errors({"x": 0.75}) == []
    assert number.errors({"x": 1}) == []
    assert codes(number.errors({"x": 0.25})) == [("x", "minimum")]


def test_unknown_keys_reported_sorted_unless_allowed():
    data = {"name": "Ada", "age": 3, "zeta": 1, "beta": 2}
    assert codes(user_schema().errors(data)) == [("beta", "unknown"), ("zeta", "unknown")]
    relaxed = Schema(user_schema().fields, allow_extra=True)
    assert relaxed.errors(data) == []


def test_list_item_paths_and_limits():
    data = {"name": "Ada", "age": 3, "tags": ["ok", 7, "x", 9]}
    assert codes(user_schema().errors(data)) == [("tags", "max_items"), ("tags[1]", "type"), ("tags[3]", "type")]
    schema = Schema({"ids": ListOf(Integer(), min_items=1)})
    assert codes(schema.errors({"ids": []})) == [("ids", "min_items")]
    assert codes(schema.errors({"ids": "1,2"})) == [("ids", "type")]


def test_nested_paths():
    data = {"name": "Ada", "age": 3, "address": {"city": "", "zip": "1234", "extra": 1}}
    assert codes(user_schema().errors(data)) == [
        ("address.city", "min_length"),
        ("address.zip", "pattern"),
        ("address.extra", "unknown"),
    ]
    assert codes(user_schema().errors({"name": "Ada", "age": 3, "address": "x"})) == [("address", "type")]


def test_list_of_nested_objects():
    item = Schema({"sku": String(), "qty": Integer(minimum=1)})
    order = Schema({"items": ListOf(Nested(item))})
    errs = order.errors({"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 0}, {"qty": 2}]})
    assert codes(errs) == [("items[1].qty", "minimum"), ("items[2].sku", "required")]


def test_non_dict_root():
    assert codes(user_schema().errors(["not", "a", "dict"])) == [("", "type")]


def test_validate_applies_defaults_recursively():
    inner = Schema({"lang": String(required=False, default="en")})
    schema = Schema({"id": Integer(), "prefs": Nested(inner, required=False), "active": Boolean(required=False, default=True)})
    result = validate(schema, {"id": 1, "prefs": {}})
    assert result == {"id": 1, "prefs": {"lang": "en"}, "active": True}


def test_validate_raises_schema_error():
    with pytest.raises(SchemaError) as info:
        validate(user_schema(), {"name": "A"})
    assert isinstance(info.value, ValueError)
    assert codes(info.value.errors) == [("name", "min_length"), ("age", "required")]
