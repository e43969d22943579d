"""How much of each grid cell a region covers: the weights of fractional area means.

A cell's share is the area of its intersection with the region over its own area, both in
degrees of longitude and latitude (within one cell the difference to true areas is negligible);
the area weight of a mean is that share times cos(lat), as for whole cells. Cells wholly inside
count 1 without computing an intersection; each row of cells is cut against its own band of the
outline, so that a long coastline is not intersected whole with every cell along it.
"""

import numpy as np
import shapely

from isimip_mask.files.grid import Grid
from isimip_mask.regions.kinds import MaskFile, Point
from isimip_mask.regions.masks import cell_window, grid_mask


def cell_fractions(grid: Grid, geometry) -> np.ndarray:
    """The share (0..1) of each cell of ``grid`` that ``geometry`` covers, shape ``(nlat, nlon)``."""
    fractions = np.zeros(grid.shape)
    for part in shapely.get_parts(geometry):
        rows, cols, cells = cell_window(grid, part)
        if cells.size == 0:
            continue
        west, _, east, _ = part.bounds
        half_lat = grid.dlat / 2
        shapely.prepare(part)
        share = shapely.contains(part, cells).astype("f8")
        for i in np.flatnonzero((share < 1).any(axis=1)):
            edge = np.flatnonzero(share[i] < 1)
            lat = grid.lat[rows[i]]
            band = shapely.intersection(part, shapely.box(west, lat - half_lat, east, lat + half_lat))
            if band.is_empty:
                continue
            shapely.prepare(band)
            crossing = edge[shapely.intersects(band, cells[i, edge])]
            share[i, crossing] = shapely.area(shapely.intersection(band, cells[i, crossing]))
            share[i, crossing] /= grid.dlat * grid.dlon
        fractions[np.ix_(rows, cols)] += share
    return np.minimum(fractions, 1.0)


def cell_shares(grid: Grid, region, fractional: bool = False) -> np.ndarray:
    """How much of each cell counts for a mean over ``region``: its share inside it
    (``fractional``), else 1 for the cells its rule keeps (a boolean mask). A mask file or a
    point has no outline: its cells count whole either way."""
    outlined = not any(isinstance(part, MaskFile | Point) for part in getattr(region, "parts", (region,)))
    if fractional and outlined and not isinstance(region, MaskFile | Point):
        return cell_fractions(grid, region.geometry)
    return grid_mask(grid, region)


def cell_weights(grid: Grid, region, fractional: bool = False) -> np.ndarray:
    """Area weights of a mean over ``region``: cos(lat) times :func:`cell_shares`."""
    return grid.lat_weights()[:, None] * cell_shares(grid, region, fractional)
