import pytest

from bloom import BloomFilter
from hashing import hash_positions, optimal_parameters


def test_hash_positions_are_deterministic_sha256_double_hashing():
    assert hash_positions("apple", 64, 3) == [41, 48, 55]
    assert hash_positions("é", 1000, 4) == [51, 93, 135, 177]


def test_hash_positions_str_and_bytes_agree():
    assert hash_positions(b"apple", 64, 3) == hash_positions("apple", 64, 3)


def test_hash_positions_reject_other_types():
    with pytest.raises(TypeError):
        hash_positions(42, 64, 3)


def test_optimal_parameters():
    assert optimal_parameters(1000, 0.01) == (9586, 7)
    assert optimal_parameters(100, 0.05) == (624, 4)


def test_optimal_parameters_validation():
    with pytest.raises(ValueError):
        optimal_parameters(0, 0.1)
    with pytest.raises(ValueError):
        optimal_parameters(10, 1.0)
    with pytest.raises(ValueError):
        optimal_parameters(10, 0)


def test_added_items_are_always_found():
    bf = BloomFilter(512, 4)
    words = [f"word{i}" for i in range(40)]
    bf.update(words)
    assert all(w in bf for w in words)
    assert bf.items_added == 40


def test_empty_filter_contains_nothing():
    bf = BloomFilter(128, 3)
    assert "anything" not in bf
    assert bf.bit_count() == 0
    assert bf.estimated_false_positive_rate() == 0.0


def test_bit_layout_in_bytes():
    bf = BloomFilter(16, 2)
    bf.add("x")
    assert hash_positions("x", 16, 2) == [4, 9]
    assert bf.to_bytes() == b"\x10\x02"
    assert bf.bit_count() == 2


def test_to_bytes_length_rounds_up():
    assert len(BloomFilter(17, 1).to_bytes()) == 3
    assert len(BloomFilter(8, 1).to_bytes()) == 1


def test_round_trip_bytes():
    bf = BloomFilter(256, 5)
    bf.update(["red", "green", "blue"])
    clone = BloomFilter.from_bytes(bf.to_bytes(), 256, 5)
    assert "green" in clone
    assert clone.to_bytes() == bf.to_bytes()
    with pytest.raises(ValueError):
        BloomFilter.from_bytes(b"\x00", 256, 5)


def test_union_combines_membership():
    a = BloomFilter(200, 3)
    b = BloomFilter(200, 3)
    a.add("cat")
    b.add("dog")
    u = a.union(b)
    assert "cat" in u and "dog" in u
    assert u.items_added == 2
    with pytest.raises(ValueError):
        a.union(BloomFilter(200, 4))


def test_false_positive_rate_estimate():
    bf = BloomFilter(1000, 7)
    bf.update(str(i) for i in range(100))
    assert bf.estimated_false_positive_rate() == pytest.approx(0.0082, abs=1e-4)


def test_for_capacity_and_invalid_construction():
    bf = BloomFilter.for_capacity(100, 0.05)
    assert (bf.size_bits, bf.num_hashes) == (624, 4)
    with pytest.raises(ValueError):
        BloomFilter(0, 3)
    with pytest.raises(ValueError):
        BloomFilter(10, 0)


def test_observed_false_positives_are_low():
    bf = BloomFilter.for_capacity(200, 0.01)
    bf.update(f"in-{i}" for i in range(200))
    false_hits = sum(f"out-{i}" in bf for i in range(2000))
    assert false_hits < 60
