"""A file's grid: the centres of its cells, and the one rule for moving longitudes round the globe."""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from isimip_mask.errors import RegionError

EARTH_RADIUS_M = 6_371_000.0  # the sphere of CDO's gridarea


def wrap_lon(lon, start: float = -180.0):
    """Longitudes (a number or an array) moved by multiples of 360 into [start, start + 360).

    Moved by whole turns (``lon - 360 k``), which is exact for longitudes of one or two turns:
    a centre on a region's edge stays on it (``start + (lon - start) % 360`` rounds)."""
    return lon - 360.0 * np.floor((lon - start) / 360.0)


@dataclass(frozen=True)
class Grid:
    """The centres of a regular lat/lon grid, in the file's own order and longitude range."""

    lat: np.ndarray
    lon: np.ndarray
    spacing: tuple[float, float] | None = None  # (dlat, dlon) of the grid a window is cut from

    @classmethod
    def from_arrays(cls, lat, lon) -> "Grid":
        lat = np.asarray(lat, dtype="f8")
        lon = np.asarray(lon, dtype="f8")
        if lat.ndim != 1 or lon.ndim != 1 or lat.size == 0 or lon.size == 0:
            raise RegionError("the grid needs one-dimensional, non-empty lat and lon", "grid")
        return cls(lat, lon)

    @cached_property
    def dlat(self) -> float:
        if self.spacing:
            return self.spacing[0]
        return float(np.median(np.abs(np.diff(self.lat)))) if self.lat.size > 1 else 0.5

    @cached_property
    def dlon(self) -> float:
        if self.spacing:
            return self.spacing[1]
        return float(np.median(np.abs(np.diff(self.lon)))) if self.lon.size > 1 else 0.5

    def window(self, rows: slice, cols: np.ndarray) -> "Grid":
        """The cells of ``rows`` and ``cols``, keeping this grid's cell size."""
        return Grid(self.lat[rows], self.lon[cols], (self.dlat, self.dlon))

    @property
    def shape(self) -> tuple[int, int]:
        return self.lat.size, self.lon.size

    @property
    def is_global(self) -> bool:
        """True when the longitudes go once round the globe."""
        return abs(self.lon.size * self.dlon - 360) < self.dlon / 2

    def lat_weights(self) -> np.ndarray:
        """cos(lat): proportional to the cell area on a regular grid (as ``cdo fldmean``)."""
        return np.cos(np.deg2rad(self.lat))

    def cell_areas(self) -> np.ndarray:
        """The area in m² of a cell of each row, on a sphere of ``EARTH_RADIUS_M``: the band
        between the row's edges over the cell's share of the turn (edges held to the poles)."""
        north = np.deg2rad(np.minimum(self.lat + self.dlat / 2, 90.0))
        south = np.deg2rad(np.maximum(self.lat - self.dlat / 2, -90.0))
        return EARTH_RADIUS_M**2 * np.deg2rad(self.dlon) * np.abs(np.sin(north) - np.sin(south))

    def positions_in(self, other: "Grid") -> tuple[np.ndarray, np.ndarray] | None:
        """The row and column of each of this grid's cells in ``other`` (cells matched by their
        centres, longitudes round the globe), or None if one of them is not on ``other``: so a
        regional cut-out or a 0..360 file finds its part of a global file."""
        tolerance = min(other.dlat, other.dlon) / 100
        rows = _match(self.lat, other.lat, tolerance)
        cols = _match(wrap_lon(self.lon), wrap_lon(other.lon), tolerance)
        return None if rows is None or cols is None else (rows, cols)


def _match(values: np.ndarray, reference: np.ndarray, tolerance: float) -> np.ndarray | None:
    """For each value, the index of the equal one in ``reference``; None if one has none."""
    order = np.argsort(reference)
    ordered = reference[order]
    right = np.clip(np.searchsorted(ordered, values), 0, ordered.size - 1)
    left = np.maximum(right - 1, 0)
    nearest = np.where(np.abs(ordered[left] - values) <= np.abs(ordered[right] - values), left, right)
    if np.any(np.abs(ordered[nearest] - values) > tolerance):
        return None
    return order[nearest]
