"""A file's grid: the centres of its cells, and the one rule for moving longitudes round the globe."""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from isimip_mask.errors import RegionError


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
