import pytest

from sparse import SparseMatrix, density, identity
from csr import CSR, from_csr, to_csr


def sample():
    return SparseMatrix.from_dense([
        [0, 2, 0],
        [1, 0, 0],
        [0, 0, 3],
        [0, 0, 0],
    ])


def test_get_set_and_zero_removes():
    m = SparseMatrix(2, 3)
    assert m[1, 2] == 0
    m[1, 2] = 5
    assert m[1, 2] == 5
    assert m.nnz == 1
    m[1, 2] = 0
    assert m.nnz == 0


def test_out_of_range_index():
    m = SparseMatrix(2, 2)
    with pytest.raises(IndexError):
        m[2, 0]
    with pytest.raises(IndexError):
        m[0, -1] = 4


def test_invalid_dimensions():
    with pytest.raises(ValueError):
        SparseMatrix(0, 3)
    with pytest.raises(ValueError):
        SparseMatrix.from_dense([[1, 2], [3]])


def test_dense_round_trip_and_shape():
    m = sample()
    assert m.shape == (4, 3)
    assert m.nnz == 3
    assert m.to_dense() == [[0, 2, 0], [1, 0, 0], [0, 0, 3], [0, 0, 0]]


def test_entries_row_major():
    m = SparseMatrix(3, 3)
    m[2, 0] = 7
    m[0, 2] = 4
    m[0, 1] = 9
    assert list(m.entries()) == [(0, 1, 9), (0, 2, 4), (2, 0, 7)]


def test_transpose():
    t = sample().transpose()
    assert t.shape == (3, 4)
    assert t[1, 0] == 2
    assert t[0, 1] == 1


def test_add_cancels_to_zero():
    a = SparseMatrix.from_dense([[1, 2], [0, 3]])
    b = SparseMatrix.from_dense([[-1, 0], [4, 0]])
    c = a + b
    assert c.to_dense() == [[0, 2], [4, 3]]
    assert c.nnz == 3
    with pytest.raises(ValueError):
        a + SparseMatrix(3, 2)


def test_matmul_matches_dense():
    a = SparseMatrix.from_dense([[1, 0, 2], [0, 3, 0]])
    b = SparseMatrix.from_dense([[4, 0], [0, 5], [6, 0]])
    assert (a @ b).to_dense() == [[16, 0], [0, 15]]
    with pytest.raises(ValueError):
        a @ a


def test_identity_and_equality():
    m = sample()
    assert m @ identity(3) == m
    assert identity(2) != SparseMatrix(2, 2)
    assert identity(3).nnz == 3


def test_multiply_vector():
    m = sample()
    assert m.multiply_vector([1, 10, 100]) == [20, 1, 300, 0]
    with pytest.raises(ValueError):
        m.multiply_vector([1, 2])


def test_scale_and_density():
    m = sample()
    assert m.scale(2)[2, 2] == 6
    assert m.scale(0).nnz == 0
    assert density(m) == pytest.approx(0.25)


def test_to_csr():
    csr = to_csr(sample())
    assert csr.values == [2, 1, 3]
    assert csr.col_indices == [1, 0, 2]
    assert csr.row_ptr == [0, 1, 2, 3, 3]
    assert csr.rows == 4 and csr.cols == 3


def test_from_csr_round_trip_and_validation():
    m = sample()
    assert from_csr(to_csr(m)) == m
    with pytest.raises(ValueError):
        from_csr(CSR([1, 2], [0], [0, 2], 2))
