"""A region and a grid's own coordinates -> a boolean mask (a mask file's cells are read once
through :func:`isimip_mask.files.netcdf.read_mask`).

The rule: a cell belongs to a region when its centre lies inside it (edges included, as
``cdo masklonlatbox`` does). Where no centre falls inside (small countries, islands, small
drawn polygons), the cells the region overlaps are used instead, so that a valid region never
yields an empty mask. A region marked ``Touching`` keeps every cell it overlaps (the rule of
ISIMIP's own masks); a mask file keeps the cells it marks. Points keep the single nearest cell.
"""

import numpy as np
import shapely

from isimip_mask.errors import RegionError
from isimip_mask.files.grid import Grid, wrap_lon
from isimip_mask.files.netcdf import read_mask
from isimip_mask.regions.kinds import BBox, Intersection, MaskFile, Point, Region, Touching, words
from isimip_mask.regions.scanline import BAND_CELLS, Outline
from isimip_mask.regions.sets import PointSet, RegionSet
from isimip_mask.regions.window import RegionMask, Window, pack, unpack

# tolerance in degrees for coordinates that should sit exactly on an edge
EPS_DEG = 1e-6


def region_window(grid: Grid, region: Region) -> Window:
    """The rows and columns whose cells ``region`` may keep, from its extent alone (no mask)."""
    if isinstance(region, Point):
        row, col = nearest_cell(grid, region)
        return Window(slice(row, row + 1), np.array([col]))
    if isinstance(region, MaskFile | RegionSet | PointSet):
        return Window.whole(grid)
    if isinstance(region, Intersection):
        return _common_window(grid, [region_window(grid, part) for part in region.parts])
    if isinstance(region, BBox):
        lat_in, lon_in = _box_axes(grid, region)
        if lat_in.any() and lon_in.any():
            return _window(grid, lat_in, lon_in, region.west - EPS_DEG)
    west, south, east, north = region.geometry.bounds
    half_lat, half_lon = grid.dlat / 2 + EPS_DEG, grid.dlon / 2 + EPS_DEG
    lat_in = (grid.lat >= south - half_lat) & (grid.lat <= north + half_lat)
    if east - west + 2 * half_lon >= 360:
        return _window(grid, lat_in, np.ones(grid.lon.size, dtype=bool), None)
    lon_in = wrap_lon(grid.lon, west - half_lon) <= east + half_lon
    return _window(grid, lat_in, lon_in, west - half_lon)


def _window(grid: Grid, lat_in: np.ndarray, lon_in: np.ndarray, west: float | None) -> Window:
    rows = np.flatnonzero(lat_in)
    rows = slice(int(rows[0]), int(rows[-1]) + 1) if rows.size else slice(0, 0)
    cols = np.flatnonzero(lon_in)
    if west is not None and cols.size < grid.lon.size:
        cols = cols[np.argsort(wrap_lon(grid.lon[cols], west), kind="stable")]
    return Window(rows, cols)


def _common_window(grid: Grid, windows: list[Window]) -> Window:
    start = max(w.rows.start for w in windows)
    stop = max(start, min(w.rows.stop for w in windows))
    partial = [w for w in windows if not w.is_whole(grid)]
    cols = partial[0].cols if partial else np.arange(grid.lon.size)
    for window in partial[1:]:
        cols = cols[np.isin(cols, window.cols)]
    return Window(slice(start, stop), cols)


def grid_mask(grid: Grid, region: Region) -> np.ndarray:
    """Boolean mask of shape ``(nlat, nlon)``: True for the cells that belong to ``region``.

    Parameters
    ----------
    grid : Grid
        Cell centres of the file, any order, longitudes in -180..180 or 0..360.
    region : Region
        Any region from :mod:`isimip_mask.regions.kinds`; an intersection keeps the cells that every
        one of its parts keeps.

    Raises
    ------
    RegionError
        For a point outside the grid, or a region that does not touch the grid at all.

    See :func:`region_mask` for the same cells held over the region's window only (what the
    engine uses, so that a fine grid never needs a mask of its whole size).
    """
    return region_mask(grid, region).full()


def region_mask(grid: Grid, region: Region) -> RegionMask:
    """The cells ``region`` keeps on ``grid``, built over its window only; RegionError if none."""
    if isinstance(region, PointSet):  # a point off the grid has no column, as an area that misses
        window = Window.whole(grid)
        rows, cols, on_grid = placed_cells(grid, region.points)
        keep = np.zeros(grid.shape, dtype=bool)
        keep[rows[on_grid], cols[on_grid]] = True
        mask = RegionMask.of(grid, window, pack(keep))
    elif isinstance(region, RegionSet):
        window = Window.whole(grid)
        keep = np.logical_or.reduce([_set_part_mask(grid, part) for part in region.parts])
        mask = RegionMask.of(grid, window, pack(keep))
    else:
        window = region_window(grid, region)
        sub = grid.window(window.rows, window.cols)
        if sub.lat.size == 0 or sub.lon.size == 0:
            keep = np.zeros((sub.lat.size, 0), dtype=np.uint8)
        elif isinstance(region, Point):
            keep = pack(np.ones((1, 1), dtype=bool))
        elif isinstance(region, Intersection):
            keep = _intersection_bits(sub, region)
        else:
            keep = area_bits(sub, region)
        mask = RegionMask.of(grid, window, keep)
    if not mask.any():
        raise RegionError(why_empty(grid, region), "region")
    return mask


def why_empty(grid: Grid, region: Region) -> str:
    """Why a region keeps no cell: it lies off the grid, or (a combination) its parts each keep
    cells but none in common."""
    if isinstance(region, Intersection) and all(overlaps(grid, part) for part in region.parts):
        tags = " and ".join(words(part) for part in region.parts)
        return (
            f"the regions {tags} keep no cell in common on the grid of this file: they do not intersect there"
        )
    if isinstance(region, PointSet):
        return (
            f"none of the {len(region.points)} points lies on the grid of this file "
            f"(lat {grid.lat.min()}..{grid.lat.max()}, lon {grid.lon.min()}..{grid.lon.max()})"
        )
    return f"{words(region)} does not overlap the grid of this file"


def _set_part_mask(grid: Grid, part) -> np.ndarray:
    return point_mask(grid, part) if isinstance(part, Point) else area_mask(grid, part)


def _intersection_bits(grid: Grid, region: Intersection) -> np.ndarray:
    bits = None
    for part in region.parts:
        part_bits = area_bits(grid, part)
        bits = part_bits if bits is None else bits & part_bits
    return bits


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
        return bool(placed_cells(grid, region.points)[2].any())
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
    """The cells of one area on the whole of ``grid`` (see :func:`area_bits`)."""
    return unpack(area_bits(grid, region), grid.lon.size)


def area_bits(grid: Grid, region: Region) -> np.ndarray:
    """The cells of one area, packed along rows (:func:`pack`): by centre, or the cells it
    overlaps where no centre lies inside; a region marked ``Touching`` keeps every cell it
    overlaps, a mask file the cells it marks. Built a band of rows at a time."""
    if isinstance(region, MaskFile):
        return pack(file_mask(grid, *read_mask(region.path, region.var, region.tag), region.tag))
    if isinstance(region, Touching):
        return touch_bits(grid, region.geometry)
    if isinstance(region, BBox):
        lat_in, lon_in = _box_axes(grid, region)
        bits = _packed_rows(grid, lambda rows: lat_in[rows, None] & lon_in[None, :])
    else:
        outline = Outline(region.geometry)
        bits = _packed_rows(grid, lambda rows: outline.centres(grid.lat[rows], grid.lon))
    return bits if bits.any() else touch_bits(grid, region.geometry)


def file_mask(grid: Grid, mask_grid: Grid, keep: np.ndarray, label: str) -> np.ndarray:
    """The cells a mask file keeps, on ``grid``: any grid whose cells are among the file's.

    Cells are matched by their coordinates, so a regional cut-out or a 0..360 file takes the
    right part of a global mask. RegionError if some cell of ``grid`` is not on the mask's grid.
    """
    positions = grid.positions_in(mask_grid)
    if positions is None:
        raise RegionError(
            f"the mask {label} is on another grid ({mask_grid.dlat:g}° x {mask_grid.dlon:g}°, "
            f"{mask_grid.lat.size} x {mask_grid.lon.size} cells) than this file "
            f"({grid.dlat:g}° x {grid.dlon:g}°, {grid.lat.size} x {grid.lon.size} cells)",
            "mask",
        )
    return keep[np.ix_(*positions)]


def _packed_rows(grid: Grid, rows_mask) -> np.ndarray:
    """Bits of ``rows_mask(rows) -> bool (rows, ncols)``, built a band of rows at a time."""
    nlat, nlon = grid.shape
    bits = np.zeros((nlat, (nlon + 7) // 8), dtype=np.uint8)
    band = max(1, BAND_CELLS // max(1, nlon))
    for start in range(0, nlat, band):
        rows = slice(start, min(nlat, start + band))
        bits[rows] = pack(rows_mask(rows))
    return bits


def _box_axes(grid: Grid, box: BBox) -> tuple[np.ndarray, np.ndarray]:
    east = box.east + 360 if box.crosses_antimeridian else box.east
    lon_in = wrap_lon(grid.lon, box.west - EPS_DEG) <= east + EPS_DEG
    lat_in = (grid.lat >= box.south - EPS_DEG) & (grid.lat <= box.north + EPS_DEG)
    return lat_in, lon_in


def bbox_mask(grid: Grid, box: BBox) -> np.ndarray:
    """Cells whose centre lies in the box, both edges included (``cdo masklonlatbox``)."""
    lat_in, lon_in = _box_axes(grid, box)
    return lat_in[:, None] & lon_in[None, :]


def centre_mask(grid: Grid, geometry) -> np.ndarray:
    """Cells whose centre lies in the (multi)polygon, boundary included (see :mod:`.scanline`)."""
    return Outline(geometry).centres(grid.lat, grid.lon)


def touch_mask(grid: Grid, geometry) -> np.ndarray:
    """Cells whose area overlaps the (multi)polygon: the rule of ISIMIP's own country masks."""
    return unpack(touch_bits(grid, geometry), grid.lon.size)


def touch_bits(grid: Grid, geometry) -> np.ndarray:
    """:func:`touch_mask` as bits: every cell whose centre is inside, plus those of the cells
    the outline passes through that overlap one of its parts with some area (touching an edge
    or a corner is not overlapping), each tested exactly against the parts it meets."""
    outline = Outline(geometry)
    bits = _packed_rows(grid, lambda rows: outline.centres(grid.lat[rows], grid.lon))
    rows, cols = outline.passes(grid)
    todo = (bits[rows, cols >> 3] & (0x80 >> (cols & 7)).astype(np.uint8)) == 0
    rows, cols = rows[todo], cols[todo]
    if rows.size == 0:
        return bits
    half_lat, half_lon = grid.dlat / 2, grid.dlon / 2
    frames = outline.frames(grid.lon[cols], half_lon + EPS_DEG)  # a second where it spans 360°
    x, y = np.concatenate(frames), np.tile(grid.lat[rows], len(frames))
    cells = shapely.box(x - half_lon, y - half_lat, x + half_lon, y + half_lat)
    parts = shapely.get_parts(geometry)
    shapely.prepare(parts)
    cell, part = shapely.STRtree(parts).query(cells, predicate="intersects")
    overlapping = ~shapely.touches(parts[part], cells[cell])
    hit = np.unique(cell[overlapping] % rows.size)
    np.bitwise_or.at(bits, (rows[hit], cols[hit] >> 3), (0x80 >> (cols[hit] & 7)).astype(np.uint8))
    return bits


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


def nearest_cell(grid: Grid, point: Point) -> tuple[int, int]:
    """Row and column of the cell nearest to the point; RegionError if it is off the grid."""
    rows, cols = nearest_cells(grid, [point])
    return int(rows[0]), int(cols[0])


def nearest_cells(grid: Grid, points) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the cells nearest to each of ``points``, found at once; RegionError
    naming the first point off the grid."""
    rows, cols, on_grid = placed_cells(grid, points)
    if not on_grid.all():
        point = points[int(np.argmin(on_grid))]
        raise RegionError(
            f"point lat={point.lat} lon={point.lon} is outside the grid of this file "
            f"(lat {grid.lat.min()}..{grid.lat.max()}, lon {grid.lon.min()}..{grid.lon.max()})",
            "point",
        )
    return rows, cols


def placed_cells(grid: Grid, points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows and columns of the cells nearest to each of ``points``, and whether each point lies
    on the grid at all (within half a cell of its nearest centre)."""
    lat = np.array([point.lat for point in points], dtype="f8")[:, None]
    lon = np.array([point.lon for point in points], dtype="f8")[:, None]
    lat_offset = np.abs(grid.lat[None, :] - lat)
    lon_offset = np.abs(wrap_lon(grid.lon[None, :] - lon, -180.0))
    rows, cols = np.argmin(lat_offset, axis=1), np.argmin(lon_offset, axis=1)
    every = np.arange(len(rows))
    rows = _tie_as_upstream(grid.lat, lat[:, 0], rows, lat_offset[every, rows])
    cols = _tie_as_upstream(grid.lon, lon[:, 0], cols, lon_offset[every, cols], turn=360.0)
    off = (lat_offset[every, rows] > grid.dlat / 2 + EPS_DEG) | (
        lon_offset[every, cols] > grid.dlon / 2 + EPS_DEG
    )
    return rows, cols, ~off


def _tie_as_upstream(centres, values, nearest, offset, turn: float | None = None) -> np.ndarray:
    """A point as near to two cells (on their shared edge) takes the one the ISIMIP files API
    picks: its fractional index rounded half to even. Only ties change: on a regular axis."""
    if centres.size < 2:
        return nearest
    step = centres[1] - centres[0]
    distance = values - centres[0]
    if turn is not None:  # longitudes: counted from the first centre, round the globe
        distance = np.where(step > 0, np.mod(distance, turn), -np.mod(-distance, turn))
    index = np.rint(distance / step).astype(int)
    inside = (index >= 0) & (index < centres.size)
    picked = np.clip(index, 0, centres.size - 1)
    gap = np.abs(centres[picked] - values)
    if turn is not None:
        gap = np.abs(wrap_lon(centres[picked] - values, -180.0))
    tie = inside & (np.abs(gap - offset) <= EPS_DEG)
    return np.where(tie, picked, nearest)


def point_mask(grid: Grid, point: Point) -> np.ndarray:
    mask = np.zeros(grid.shape, dtype=bool)
    mask[nearest_cell(grid, point)] = True
    return mask
