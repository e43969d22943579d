"""Where a region keeps cells: its window (the rows and columns its extent reaches) and the
mask over that window, packed eight cells a byte, handed out a band of rows at a time; and the
bounds of kept cells (the grid of a crop), round the globe the short way."""

from dataclasses import dataclass

import numpy as np

from isimip_mask.files.grid import Grid

POPCOUNT = np.array([bin(byte).count("1") for byte in range(256)], dtype=np.uint8)


@dataclass(frozen=True, eq=False)
class Window:
    """The rows (a slice) and columns (indices, west to east, so round the globe where a region
    crosses the grid's edge) of a grid that a region can keep cells in."""

    rows: slice
    cols: np.ndarray

    @classmethod
    def whole(cls, grid: Grid) -> "Window":
        return cls(slice(0, grid.lat.size), np.arange(grid.lon.size))

    def is_whole(self, grid: Grid) -> bool:
        """All the grid's columns in the grid's own order (the order a crop may wrap around)."""
        return self.cols.size == grid.lon.size and bool(np.all(np.diff(self.cols) == 1))


@dataclass(frozen=True, eq=False)
class RegionMask:
    """The cells a region keeps, held over its window only, eight cells a byte: land only on a
    30-arcsec grid takes 117 MB instead of the 933 MB of a boolean array of the grid, a country
    a few kB. The engine asks for the bands of rows it works on (:meth:`cells`)."""

    shape: tuple[int, int]
    window: Window
    bits: np.ndarray
    circular: bool

    @classmethod
    def of(cls, grid: Grid, window: Window, bits: np.ndarray) -> "RegionMask":
        return cls(grid.shape, window, bits, grid.is_global and window.is_whole(grid))

    def any(self) -> bool:
        return bool(self.bits.any())

    def count(self) -> int:
        """How many cells are kept."""
        return int(
            sum(POPCOUNT[self.bits[i : i + 4096]].sum(dtype=np.int64) for i in range(0, len(self.bits), 4096))
        )

    def cells(self, rows: slice, cols: np.ndarray | None = None) -> np.ndarray:
        """The mask on the grid's ``rows`` (a slice) and ``cols`` (indices; None: every column)."""
        n_cols = self.shape[1] if cols is None else cols.size
        out = np.zeros((rows.stop - rows.start, n_cols), dtype=bool)
        own = self.window.rows
        first, last = max(rows.start, own.start), min(rows.stop, own.stop)
        if first >= last:
            return out
        values = unpack(self.bits[first - own.start : last - own.start], self.window.cols.size)
        if cols is None:
            out[first - rows.start : last - rows.start, self.window.cols] = values
            return out
        position = np.full(self.shape[1], -1)
        position[cols] = np.arange(cols.size)
        where = position[self.window.cols]
        inside = where >= 0
        out[first - rows.start : last - rows.start, where[inside]] = values[:, inside]
        return out

    def full(self) -> np.ndarray:
        """The mask on the whole grid (for grids small enough to hold one)."""
        return self.cells(slice(0, self.shape[0]))

    def bounds(self) -> tuple[slice, np.ndarray]:
        """Rows (a slice) and columns (indices, round the globe the short way where the window
        is the whole of a global grid) that enclose the kept cells: the grid of a crop."""
        rows_used = self.bits.any(axis=1)
        cols_used = unpack(np.bitwise_or.reduce(self.bits, axis=0)[None], self.window.cols.size)[0]
        rows, cols = _bounds(rows_used, cols_used, self.circular)
        own = self.window.rows.start
        return slice(own + rows.start, own + rows.stop), self.window.cols[cols]


def pack(mask: np.ndarray) -> np.ndarray:
    """A boolean ``(rows, cols)`` mask as bits, eight cells a byte along each row."""
    return np.packbits(mask, axis=1)


def unpack(bits: np.ndarray, cols: int) -> np.ndarray:
    return np.unpackbits(bits, axis=1, count=cols).view(bool)


def mask_bounds(mask: np.ndarray, circular: bool) -> tuple[slice, np.ndarray]:
    """Rows (a slice) and columns (indices, in circular order) that enclose the True cells.

    On a global grid (``circular``) the columns take the shortest way round the globe, so a
    region across the antimeridian on a -180..180 grid gives ``[710, ..., 719, 0, ..., 9]``.
    """
    return _bounds(mask.any(axis=1), mask.any(axis=0), circular)


def _bounds(rows_used: np.ndarray, used: np.ndarray, circular: bool) -> tuple[slice, np.ndarray]:
    rows = np.flatnonzero(rows_used)
    n = used.size
    if not circular:
        cols = np.flatnonzero(used)
        return slice(rows[0], rows[-1] + 1), np.arange(cols[0], cols[-1] + 1)
    # the longest run of unused columns (circularly) is the gap the crop leaves out
    unused = np.concatenate([~used, ~used])
    best_len, best_end, run = 0, 0, 0
    for i, free in enumerate(unused):
        run = run + 1 if free else 0
        if run > best_len:
            best_len, best_end = run, i
    if best_len == 0:
        return slice(rows[0], rows[-1] + 1), np.arange(n)
    start = (best_end + 1) % n
    count = n - min(best_len, n)
    return slice(rows[0], rows[-1] + 1), (start + np.arange(count)) % n
