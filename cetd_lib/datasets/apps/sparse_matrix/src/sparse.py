"""Dictionary-of-keys sparse matrix storing only non-zero entries."""

from __future__ import annotations

from typing import Iterator, Sequence

Number = float


class SparseMatrix:
    def __init__(self, rows: int, cols: int) -> None:
        if rows < 1 or cols < 1:
            raise ValueError("matrix dimensions must be positive")
        self.rows = rows
        self.cols = cols
        self._data: dict[tuple[int, int], Number] = {}

    # -- construction ----------------------------------------------------
    @classmethod
    def from_dense(cls, grid: Sequence[Sequence[Number]]) -> "SparseMatrix":
        if not grid or not grid[0]:
            raise ValueError("dense grid must be non-empty")
        width = len(grid[0])
        if any(len(row) != width for row in grid):
            raise ValueError("dense grid rows differ in length")
        m = cls(len(grid), width)
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                if v:
                    m._data[(r, c)] = v
        return m

    def to_dense(self) -> list[list[Number]]:
        grid = [[0] * self.cols for _ in range(self.rows)]
        for (r, c), v in self._data.items():
            grid[r][c] = v
        return grid

    # -- element access --------------------------------------------------
    def _check(self, key: tuple[int, int]) -> tuple[int, int]:
        r, c = key
        if not (0 <= r < self.rows and 0 <= c < self.cols):
            raise IndexError(f"position {key} outside {self.shape}")
        return r, c

    def __getitem__(self, key: tuple[int, int]) -> Number:
        return self._data.get(self._check(key), 0)

    def __setitem__(self, key: tuple[int, int], value: Number) -> None:
        pos = self._check(key)
        if value == 0:
            self._data.pop(pos, None)
        else:
            self._data[pos] = value

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    @property
    def nnz(self) -> int:
        return len(self._data)

    def entries(self) -> Iterator[tuple[int, int, Number]]:
        """Non-zero entries as (row, col, value) in row-major order."""
        for (r, c) in sorted(self._data):
            yield r, c, self._data[(r, c)]

    # -- arithmetic ------------------------------------------------------
    def transpose(self) -> "SparseMatrix":
        t = SparseMatrix(self.cols, self.rows)
        t._data = {(c, r): v for (r, c), v in self._data.items()}
        return t

    def scale(self, factor: Number) -> "SparseMatrix":
        out = SparseMatrix(self.rows, self.cols)
        if factor != 0:
            out._data = {k: v * factor for k, v in self._data.items()}
        return out

    def __add__(self, other: "SparseMatrix") -> "SparseMatrix":
        if not isinstance(other, SparseMatrix):
            return NotImplemented
        if self.shape != other.shape:
            raise ValueError("cannot add matrices of different shapes")
        out = SparseMatrix(self.rows, self.cols)
        out._data = dict(self._data)
        for k, v in other._data.items():
            total = out._data.get(k, 0) + v
            if total == 0:
                out._data.pop(k, None)
            else:
                out._data[k] = total
        return out

    def __matmul__(self, other: "SparseMatrix") -> "SparseMatrix":
        if not isinstance(other, SparseMatrix):
            return NotImplemented
        if self.cols != other.rows:
            raise ValueError("inner dimensions do not match")
        by_row: dict[int, list[tuple[int, Number]]] = {}
        for (r, c), v in other._data.items():
            by_row.setdefault(r, []).append((c, v))
        out = SparseMatrix(self.rows, other.cols)
        acc: dict[tuple[int, int], Number] = {}
        for (i, k), a in self._data.items():
            for j, b in by_row.get(k, ()):
                acc[(i, j)] = acc.get((i, j), 0) + a * b
        out._data = {key: v for key, v in acc.items() if v != 0}
        return out

    def multiply_vector(self, vector: Sequence[Number]) -> list[Number]:
        if len(vector) != self.cols:
            raise ValueError("vector length must equal number of columns")
        result = [0] * self.rows
        for (r, c), v in self._data.items():
            result[r] += v * vector[c]
        return result

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SparseMatrix):
            return NotImplemented
        return self.shape == other.shape and self._data == other._data

    def __repr__(self) -> str:
        return f"SparseMatrix({self.rows}x{self.cols}, nnz={self.nnz})"


def identity(n: int) -> SparseMatrix:
    m = SparseMatrix(n, n)
    for i in range(n):
        m[i, i] = 1
    return m


def density(matrix: SparseMatrix) -> float:
    return matrix.nnz / (matrix.rows * matrix.cols)
