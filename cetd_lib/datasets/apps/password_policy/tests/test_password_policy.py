import math

import pytest

from policy import PasswordPolicy, PolicyViolation, policy_from_dict
from strength import character_classes, entropy_bits, longest_run, strength_label


def test_default_policy_accepts_reasonable_password():
    policy = PasswordPolicy()
    assert policy.check("Sunny2024day") == []
    assert policy.is_valid("Sunny2024day")


def test_violation_codes_in_fixed_order():
    policy = PasswordPolicy()
    assert policy.check("abc") == ["too_short", "missing_upper", "missing_digit"]


def test_too_long():
    policy = PasswordPolicy(max_length=10)
    assert policy.check("Abcdefgh12345") == ["too_long"]


def test_symbol_requirement():
    policy = PasswordPolicy(require_symbol=True)
    assert policy.check("Sunny2024day") == ["missing_symbol"]
    assert policy.check("Sunny2024day!") == []


def test_whitespace_forbidden_by_default_and_optional():
    assert PasswordPolicy().check("Sunny 2024day") == ["whitespace"]
    assert PasswordPolicy(forbid_whitespace=False).check("Sunny 2024day") == []


def test_max_repeat():
    policy = PasswordPolicy(max_repeat=2)
    assert policy.check("Baaad12345") == ["repeated_chars"]
    assert policy.check("Baad123456") == []


def test_banned_words_case_insensitive():
    policy = PasswordPolicy(banned_words=("password", "qwerty"))
    assert policy.check("MyPassWord99") == ["banned_word"]
    assert policy.check("QWERTYuiop1") == ["banned_word"]


def test_username_check():
    policy = PasswordPolicy()
    assert policy.check("AliceRules9", username="alice") == ["contains_username"]
    assert policy.check("AliceRules9") == []


def test_validate_raises_with_codes():
    policy = PasswordPolicy()
    with pytest.raises(PolicyViolation) as info:
        policy.validate("short")
    assert info.value.codes == ["too_short", "missing_upper", "missing_digit"]
    assert isinstance(info.value, ValueError)
    policy.validate("Sunny2024day")


def test_invalid_policy_configuration():
    with pytest.raises(ValueError):
        PasswordPolicy(min_length=10, max_length=5)
    with pytest.raises(ValueError):
        PasswordPolicy(max_repeat=0)


def test_policy_from_dict():
    policy = policy_from_dict({"min_length": 4, "require_digit": False, "banned_words": ["abc"]})
    assert policy.min_length == 4
    assert policy.check("Wxyz") == []
    assert policy.check("Wxyzabc") == ["banned_word"]
    with pytest.raises(KeyError):
        policy_from_dict({"min_len": 4})


def test_character_classes():
    assert character_classes("aB3$") == {"lower", "upper", "digit", "other"}
    assert character_classes("") == set()
    assert character_classes("é") == {"other"}


def test_entropy_bits():
    assert entropy_bits("password") == pytest.approx(8 * math.log2(26))
    assert entropy_bits("Password1") == pytest.approx(9 * math.log2(62))
    assert entropy_bits("") == 0.0


def test_strength_label_thresholds():
    assert strength_label("password") == "weak"
    assert strength_label("Password1") == "fair"
    assert strength_label("Tr0ub4dor&3") == "strong"
    assert strength_label("correcthorsebatterystaple") == "very strong"


def test_longest_run():
    assert longest_run("") == 0
    assert longest_run("abc") == 1
    assert longest_run("aabbbbc") == 4
