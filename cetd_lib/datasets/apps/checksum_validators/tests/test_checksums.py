import pytest

from iban import Iban, format_iban, is_valid_iban, make_iban
from isbn import is_valid_isbn10, is_valid_isbn13, isbn10_to_isbn13
from luhn import is_valid_luhn, luhn_check_digit, luhn_checksum


def test_luhn_valid_numbers():
    assert is_valid_luhn("79927398713")
    assert is_valid_luhn("4539 1488 0343 6467")
    assert is_valid_luhn("4539-1488-0343-6467")


def test_luhn_invalid_numbers():
    assert not is_valid_luhn("79927398710")
    assert not is_valid_luhn("4539 1488 0343 646a")
    assert not is_valid_luhn("0")
    assert not is_valid_luhn("")


def test_luhn_checksum_and_check_digit():
    assert luhn_checksum("79927398713") == 0
    assert luhn_check_digit("7992739871") == "3"
    assert is_valid_luhn("453914880343646" + luhn_check_digit("453914880343646"))
    with pytest.raises(ValueError):
        luhn_check_digit("12a4")


def test_isbn10_valid_including_x():
    assert is_valid_isbn10("0-306-40615-2")
    assert is_valid_isbn10("0-8044-2957-X")
    assert is_valid_isbn10("080442957x")


def test_isbn10_invalid():
    assert not is_valid_isbn10("0-306-40615-3")
    assert not is_valid_isbn10("0-306-4061-2")
    assert not is_valid_isbn10("X-306-40615-2")


def test_isbn13_validation():
    assert is_valid_isbn13("978-0-306-40615-7")
    assert not is_valid_isbn13("978-0-306-40615-8")
    assert not is_valid_isbn13("123-0-306-40615-7")
    assert not is_valid_isbn13("978030640615")


def test_isbn10_to_isbn13():
    assert isbn10_to_isbn13("0-306-40615-2") == "9780306406157"
    assert isbn10_to_isbn13("0-8044-2957-X") == "9780804429573"
    with pytest.raises(ValueError):
        isbn10_to_isbn13("0-306-40615-3")


def test_iban_valid_examples():
    assert is_valid_iban("GB82 WEST 1234 5698 7654 32")
    assert is_valid_iban("DE89370400440532013000")
    assert is_valid_iban("nl91abna0417164300")
    assert is_valid_iban("FR14 2004 1010 0505 0001 3M02 606")


def test_iban_invalid_examples():
    assert not is_valid_iban("GB82 WEST 1234 5698 7654 33")
    assert not is_valid_iban("GB82-WEST-1234-5698-7654-32")
    assert not is_valid_iban("12GB WEST 1234 5698 7654 32")
    assert not is_valid_iban("")


def test_make_iban_computes_check_digits():
    assert make_iban("GB", "WEST12345698765432") == "GB82WEST12345698765432"
    assert make_iban("de", "370400440532013000") == "DE89370400440532013000"


def test_known_country_length_enforced_even_with_good_checksum():
    short = make_iban("GB", "WEST1234569876543")
    assert not is_valid_iban(short)
    other = make_iban("XK", "1212012345678906")
    assert is_valid_iban(other)


def test_format_iban_groups_of_four():
    assert format_iban("gb82west12345698765432") == "GB82 WEST 1234 5698 7654 32"


def test_iban_parse_parts_and_str():
    iban = Iban.parse("DE89 3704 0044 0532 0130 00")
    assert iban.country == "DE"
    assert iban.check_digits == "89"
    assert iban.bban == "370400440532013000"
    assert iban.compact == "DE89370400440532013000"
    assert str(iban) == "DE89 3704 0044 0532 0130 00"


def test_iban_parse_rejects_invalid():
    with pytest.raises(ValueError):
        Iban.parse("DE00 3704 0044 0532 0130 00")
