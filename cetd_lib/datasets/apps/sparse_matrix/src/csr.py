"""Conversion between :class:`SparseMatrix` and compressed sparse row arrays."""

from __future__ import annotations

from dataclasses import dataclass

from sparse import SparseMatrix


@dataclass
class CSR:
    values: list
    col_indices: list[int]
    row_ptr: list[int]
    cols: int

    @property
    def rows(self) -> int:
        return len(self.row_ptr) - 1


def to_csr(matrix: SparseMatrix) -> CSR:
    values: list = []
    cols: list[int] = []
    row_ptr = [0] * (matrix.rows + 1)
    for r, c, v in matrix.entries():
        values.append(v)
        cols.append(c)
        row_ptr[r + 1] += 1
    for i in range(matrix.rows):
        row_ptr[i + 1] += row_ptr[i]
    return CSR(values, cols, row_ptr, matrix.cols)


def from_csr(csr: CSR) -> SparseMatrix:
    if len(csr.values) != len(csr.col_indices) or csr.row_ptr[-1] != len(csr.values):
        raise ValueError("inconsistent CSR arrays")
    m = SparseMatrix(csr.rows, csr.cols)
    for r in range(csr.rows):
        for idx in range(csr.row_ptr[r], csr.row_ptr[r + 1]):
            m[r, csr.col_indices[idx]] = csr.values[idx]
    return m
