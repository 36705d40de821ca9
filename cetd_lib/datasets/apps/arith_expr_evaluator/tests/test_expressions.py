import math

import pytest

from evaluator import Expression, evaluate
from lexer import ExprSyntaxError, TokenKind, tokenize


def test_tokenize_kinds_and_positions():
    toks = tokenize("3.5 * (x+1)")
    kinds = [t.kind for t in toks]
    assert kinds == [
        TokenKind.NUMBER, TokenKind.OP, TokenKind.LPAREN, TokenKind.NAME,
        TokenKind.OP, TokenKind.NUMBER, TokenKind.RPAREN, TokenKind.END,
    ]
    assert [t.text for t in toks[:4]] == ["3.5", "*", "(", "x"]
    assert toks[3].pos == 7
    assert toks[-1].pos == 11


def test_tokenize_scientific_notation():
    toks = tokenize("2.5e-3+1E2")
    assert [t.text for t in toks if t.kind is TokenKind.NUMBER] == ["2.5e-3", "1E2"]


def test_tokenize_rejects_unknown_character():
    with pytest.raises(ExprSyntaxError) as info:
        tokenize("1 $ 2")
    assert info.value.pos == 2


def test_precedence_and_parentheses():
    assert evaluate("2 + 3 * 4") == pytest.approx(14)
    assert evaluate("(2 + 3) * 4") == pytest.approx(20)
    assert evaluate("10 - 4 - 3") == pytest.approx(3)
    assert evaluate("7 % 4 + 8 / 2") == pytest.approx(7)


def test_power_is_right_associative_and_beats_unary_minus():
    assert evaluate("2 ^ 3 ^ 2") == pytest.approx(512)
    assert evaluate("-2 ^ 2") == pytest.approx(-4)
    assert evaluate("2 ^ -1") == pytest.approx(0.5)


def test_result_is_float():
    assert isinstance(evaluate("1 + 1"), float)


def test_variables_and_constants():
    assert evaluate("x * y + 1", {"x": 3, "y": 4}) == pytest.approx(13)
    assert evaluate("2 * pi") == pytest.approx(2 * math.pi)
    assert evaluate("pi", {"pi": 3}) == pytest.approx(3)


def test_functions():
    assert evaluate("max(1, 7, 3) + min(4, 2)") == pytest.approx(9)
    assert evaluate("sqrt(16) + abs(-2.5)") == pytest.approx(6.5)
    assert evaluate("floor(2.7) + ceil(2.1)") == pytest.approx(5)


def test_undefined_variable_and_unknown_function_raise_name_error():
    with pytest.raises(NameError):
        evaluate("a + 1")
    with pytest.raises(NameError):
        evaluate("frobnicate(1)")


def test_wrong_argument_count_raises_type_error():
    with pytest.raises(TypeError):
        evaluate("sqrt(1, 2)")
    with pytest.raises(TypeError):
        evaluate("max()")


def test_division_and_modulo_by_zero():
    with pytest.raises(ZeroDivisionError):
        evaluate("1 / (2 - 2)")
    with pytest.raises(ZeroDivisionError):
        evaluate("5 % 0")


def test_syntax_errors():
    for bad in ["", "1 +", "(1 + 2", "1 2", "* 3", "f(1,)"]:
        with pytest.raises(ExprSyntaxError):
            evaluate(bad)
    assert issubclass(ExprSyntaxError, ValueError)


def test_trailing_input_position():
    with pytest.raises(ExprSyntaxError) as info:
        evaluate("1 + 2 )")
    assert info.value.pos == 6


def test_expression_reuse_and_variables():
    expr = Expression("a * x ^ 2 + b * x + sqrt(c) + pi")
    assert expr.variables() == {"a", "x", "b", "c", "pi"}
    assert expr.evaluate({"a": 1, "b": 0, "c": 4, "x": 3}) == pytest.approx(11 + math.pi)
    assert expr.evaluate({"a": 0, "b": 2, "c": 9, "x": 1}) == pytest.approx(5 + math.pi)
