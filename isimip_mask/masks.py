"""A region and a grid's own coordinates -> a boolean mask (a mask file's cells are read once
through :func:`isimip_mask.netcdf.read_mask`).

The rule: a cell belongs to a region when its centre lies inside it (edges included, as
``cdo masklonlatbox`` does). Where no centre falls inside (small countries, islands, small
drawn polygons), the cells the region overlaps are used instead, so that a valid region never
yields an empty mask. A region marked ``Touching`` keeps every cell it overlaps (the rule of
ISIMIP's own masks); a mask file keeps the cells it marks. Points keep the single nearest cell.
"""

import numpy as np
import shapely

from .errors import RegionError
from .grid import Grid, wrap_lon
from .netcdf import read_mask
from .regions import BBox, Intersection, MaskFile, Point, Region, Touching
from .regionsets import PointSet, RegionSet

# tolerance in degrees for coordinates that should sit exactly on an edge
EPS_DEG = 1e-6


def grid_mask(grid: Grid, region: Region) -> np.ndarray:
    """Boolean mask of shape ``(nlat, nlon)``: True for the cells that belong to ``region``.

    Parameters
    ----------
    grid : Grid
        Cell centres of the file, any order, longitudes in -180..180 or 0..360.
    region : Region
        Any region from :mod:`isimip_mask.regions`; an intersection keeps the cells that every
        one of its parts keeps.

    Raises
    ------
    RegionError
        For a point outside the grid, or a region that does not touch the grid at all.
    """
    if isinstance(region, Point):
        mask = point_mask(grid, region)
    elif isinstance(region, RegionSet | PointSet):  # a point off the grid raises; an area may miss
        mask = np.logical_or.reduce([_set_part_mask(grid, part) for part in region.parts])
    elif isinstance(region, Intersection):
        mask = np.logical_and.reduce([area_mask(grid, part) for part in region.parts])
    else:
        mask = area_mask(grid, region)
    if not mask.any():
        raise RegionError(f"the region {region.tag} does not overlap the grid of this file", "region")
    return mask


def _set_part_mask(grid: Grid, part) -> np.ndarray:
    return point_mask(grid, part) if isinstance(part, Point) else area_mask(grid, part)


def overlaps(grid: Grid, region: Region) -> bool:
    """Whether the region keeps any cell of the grid, without building a mask (cheap on any grid).

    An area keeps a cell exactly when it overlaps the grid's extent with some area (the cell
    its centre rule misses, the overlap rule finds); an intersection needs every part to (and
    may still keep no cell in common: that shows when the file is masked). Points and mask files
    raise RegionError with the reason when they miss the grid.
    """
    if isinstance(region, Point):
        nearest_cell(grid, region)
        return True
    if isinstance(region, MaskFile):
        return bool(area_mask(grid, region).any())
    if isinstance(region, PointSet):
        return all(overlaps(grid, point) for point in region.points)
    if isinstance(region, RegionSet):
        return any(overlaps(grid, part) for part in region.parts)
    if isinstance(region, Intersection):
        return all(overlaps(grid, part) for part in region.parts)
    south, north = grid.lat.min() - grid.dlat / 2, grid.lat.max() + grid.dlat / 2
    if grid.is_global:
        extent = shapely.box(-540, south, 540, north)
    else:
        west, east = lon_extent(grid)
        boxes = [shapely.box(west + shift, south, east + shift, north) for shift in (-720, -360, 0, 360)]
        extent = shapely.MultiPolygon(boxes)
    return bool(shapely.intersection(region.geometry, extent).area > 0)


def lon_extent(grid: Grid) -> tuple[float, float]:
    """West and east edge of a regional grid's longitudes, taken round the globe the short way
    (a grid across 0 in 0..360, or across 180 in -180..180, is one piece)."""
    lon = np.sort(wrap_lon(grid.lon, 0.0))
    gaps = np.diff(np.concatenate([lon, lon[:1] + 360.0]))
    last = int(np.argmax(gaps))  # the widest gap follows the easternmost cell
    west = lon[(last + 1) % lon.size]
    east = lon[last] + (360.0 if last + 1 < lon.size else 0.0)
    return west - grid.dlon / 2, east + grid.dlon / 2


def area_mask(grid: Grid, region: Region) -> np.ndarray:
    """The cells of one area: by centre, or the cells it overlaps where no centre lies inside."""
    if isinstance(region, MaskFile):
        return file_mask(grid, *read_mask(region.path, region.var, region.tag), region.tag)
    if isinstance(region, Touching):
        return touch_mask(grid, region.geometry)
    mask = bbox_mask(grid, region) if isinstance(region, BBox) else centre_mask(grid, region.geometry)
    return mask if mask.any() else touch_mask(grid, region.geometry)


def file_mask(grid: Grid, mask_grid: Grid, keep: np.ndarray, label: str) -> np.ndarray:
    """The cells a mask file keeps, on ``grid``: any grid whose cells are among the file's.

    Cells are matched by their coordinates, so a regional cut-out or a 0..360 file takes the
    right part of a global mask. RegionError if some cell of ``grid`` is not on the mask's grid.
    """
    tolerance = min(mask_grid.dlat, mask_grid.dlon) / 100
    rows = _match(grid.lat, mask_grid.lat, tolerance)
    cols = _match(wrap_lon(grid.lon, -180.0), wrap_lon(mask_grid.lon, -180.0), tolerance)
    if rows is None or cols is None:
        raise RegionError(
            f"the mask {label} is on another grid ({mask_grid.dlat:g}° x {mask_grid.dlon:g}°, "
            f"{mask_grid.lat.size} x {mask_grid.lon.size} cells) than this file "
            f"({grid.dlat:g}° x {grid.dlon:g}°, {grid.lat.size} x {grid.lon.size} cells)",
            "mask",
        )
    return keep[np.ix_(rows, cols)]


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


def bbox_mask(grid: Grid, box: BBox) -> np.ndarray:
    """Cells whose centre lies in the box, both edges included (``cdo masklonlatbox``)."""
    east = box.east + 360 if box.crosses_antimeridian else box.east
    lon_in = wrap_lon(grid.lon, box.west - EPS_DEG) <= east + EPS_DEG
    lat_in = (grid.lat >= box.south - EPS_DEG) & (grid.lat <= box.north + EPS_DEG)
    return lat_in[:, None] & lon_in[None, :]


def centre_mask(grid: Grid, geometry) -> np.ndarray:
    """Cells whose centre lies in the (multi)polygon, boundary included.

    Each polygon part is tested only against the cells inside its own bounding box, so that
    a land mask of several thousand parts stays fast.
    """
    mask = np.zeros(grid.shape, dtype=bool)
    for part in shapely.get_parts(geometry):
        west, south, east, north = part.bounds
        rows = np.flatnonzero((grid.lat >= south - EPS_DEG) & (grid.lat <= north + EPS_DEG))
        lon = wrap_lon(grid.lon, west - EPS_DEG)
        cols = np.flatnonzero(lon <= east + EPS_DEG)
        if rows.size == 0 or cols.size == 0:
            continue
        shapely.prepare(part)
        x, y = np.meshgrid(lon[cols], grid.lat[rows])
        inside = shapely.intersects_xy(part, x, y)
        mask[np.ix_(rows, cols)] |= inside
    return mask


def touch_mask(grid: Grid, geometry) -> np.ndarray:
    """Cells whose area overlaps the (multi)polygon: the rule of ISIMIP's own country masks.

    Found without testing every cell's box: every cell whose centre is inside, plus the cells
    that the outline's segments cross (an STR-tree of the cells in the part's window), each of
    those tested exactly (touching an edge or a corner is not overlapping). Also the fallback
    of the centre rule for regions that contain no cell centre.
    """
    mask = centre_mask(grid, geometry)
    for part in shapely.get_parts(geometry):
        rows, cols, cells = cell_window(grid, part)
        if cells.size == 0:
            continue
        cells = cells.ravel()
        outline = np.concatenate([_segments(ring) for ring in (part.exterior, *part.interiors)])
        _, crossed = shapely.STRtree(cells).query(shapely.linestrings(outline), predicate="intersects")
        window = mask[np.ix_(rows, cols)].ravel()
        crossed = np.unique(crossed)
        crossed = crossed[~window[crossed]]
        if crossed.size:
            shapely.prepare(part)
            hits = shapely.intersects(part, cells[crossed]) & ~shapely.touches(part, cells[crossed])
            window[crossed[hits]] = True
            mask[np.ix_(rows, cols)] = window.reshape(rows.size, cols.size)
    return mask


def cell_window(grid: Grid, part) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows and columns of the cells that ``part``'s bounding box overlaps, and those cells
    as boxes, shape ``(rows, cols)`` (longitudes moved next to the part's)."""
    west, south, east, north = part.bounds
    half_lat, half_lon = grid.dlat / 2, grid.dlon / 2
    rows = np.flatnonzero((grid.lat + half_lat > south) & (grid.lat - half_lat < north))
    lon = wrap_lon(grid.lon, west - half_lon)
    cols = np.flatnonzero(lon - half_lon < east)
    x, y = np.meshgrid(lon[cols], grid.lat[rows])
    return rows, cols, shapely.box(x - half_lon, y - half_lat, x + half_lon, y + half_lat)


def _segments(ring) -> np.ndarray:
    points = shapely.get_coordinates(ring)
    return np.stack([points[:-1], points[1:]], axis=1)


def nearest_cell(grid: Grid, point: Point) -> tuple[int, int]:
    """Row and column of the cell nearest to the point; RegionError if it is off the grid."""
    rows, cols = nearest_cells(grid, [point])
    return int(rows[0]), int(cols[0])


def nearest_cells(grid: Grid, points) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the cells nearest to each of ``points``, found at once; RegionError
    naming the first point off the grid."""
    lat = np.array([point.lat for point in points], dtype="f8")[:, None]
    lon = np.array([point.lon for point in points], dtype="f8")[:, None]
    lat_offset = np.abs(grid.lat[None, :] - lat)
    lon_offset = np.abs(wrap_lon(grid.lon[None, :] - lon, -180.0))
    rows, cols = np.argmin(lat_offset, axis=1), np.argmin(lon_offset, axis=1)
    every = np.arange(len(rows))
    off = (lat_offset[every, rows] > grid.dlat / 2 + EPS_DEG) | (
        lon_offset[every, cols] > grid.dlon / 2 + EPS_DEG
    )
    if off.any():
        point = points[int(np.argmax(off))]
        raise RegionError(
            f"point lat={point.lat} lon={point.lon} is outside the grid of this file "
            f"(lat {grid.lat.min()}..{grid.lat.max()}, lon {grid.lon.min()}..{grid.lon.max()})",
            "point",
        )
    return rows, cols


def point_mask(grid: Grid, point: Point) -> np.ndarray:
    mask = np.zeros(grid.shape, dtype=bool)
    mask[nearest_cell(grid, point)] = True
    return mask


def mask_bounds(mask: np.ndarray, circular: bool) -> tuple[slice, np.ndarray]:
    """Rows (a slice) and columns (indices, in circular order) that enclose the True cells.

    On a global grid (``circular``) the columns take the shortest way round the globe, so a
    region across the antimeridian on a -180..180 grid gives ``[710, ..., 719, 0, ..., 9]``.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    used = mask.any(axis=0)
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
