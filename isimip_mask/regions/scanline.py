"""Which cells of a grid an outline keeps, found row by row: the cost follows the outline's length
and the cells asked for, so that a 30-arcsec grid (933 million cells) is as feasible as 0.5°.

Testing every cell centre against a polygon (shapely) costs about a microsecond a cell: fine for
the 259,200 cells of a 0.5° grid, hours for a 30-arcsec one, and its coordinate arrays alone
would not fit in memory. Here each row of centres is crossed with the outline's edges, and the
crossings are summed along the row by their direction (the nonzero winding rule, polygons
oriented first), a band of rows at a time, in numpy. Adjacent parts of a multipolygon (the
countries of the land mask) share edges whose crossings cancel, and overlapping parts are a
union, as with shapely. Centres within :data:`TOLERANCE_DEG` of the outline (on an edge, or in
a row through a vertex) are decided again by shapely itself, so the result is exactly shapely's
``intersects_xy``, boundary included.

The cells the outline passes through (the touch rule, fractional weights) are found from the
outline cut into pieces shorter than half a cell: each piece can only meet the few cells around
its own box, which are then tested exactly.
"""

import numpy as np
import shapely

from isimip_mask.files.grid import Grid, wrap_lon

TOLERANCE_DEG = 1e-9  # centres closer than this to the outline are tested exactly
BAND_CELLS = 2**21  # cells of a band of rows worked on at once (bounds memory: ~25 bytes a cell)


def _edges(geometry) -> np.ndarray:
    """The outline's edges ``(x0, y0, x1, y1)``, rings oriented (exteriors anticlockwise)."""
    oriented = shapely.orient_polygons(geometry, exterior_cw=False)
    rings = [
        ring
        for part in shapely.get_parts(oriented)
        if not part.is_empty
        for ring in (part.exterior, *part.interiors)
    ]
    if not rings:
        return np.zeros((0, 4))
    coords, index = shapely.get_coordinates(rings, return_index=True)
    same_ring = index[1:] == index[:-1]
    return np.column_stack([coords[:-1][same_ring], coords[1:][same_ring]])


class Outline:
    """A polygonal geometry prepared for rasterising: its edges sorted by their lowest latitude."""

    def __init__(self, geometry):
        self.geometry = geometry
        shapely.prepare(geometry)
        self.west, self.south, self.east, self.north = geometry.bounds
        edges = _edges(geometry)
        self.vertex_lat = np.unique(edges[:, 1]) if edges.size else np.zeros(0)
        edges = edges[edges[:, 1] != edges[:, 3]]  # a horizontal edge crosses no row
        low, high = np.minimum(edges[:, 1], edges[:, 3]), np.maximum(edges[:, 1], edges[:, 3])
        order = np.argsort(low, kind="stable")
        self.edges, self.low, self.high = edges[order], low[order], high[order]
        self.sign = np.where(self.edges[:, 3] > self.edges[:, 1], 1.0, -1.0)

    def frames(self, lon: np.ndarray, margin: float = TOLERANCE_DEG) -> list[np.ndarray]:
        """The longitudes moved next to the outline (from ``margin`` west of it): one copy, or
        two where the outline spans over 360°."""
        x = wrap_lon(lon, self.west - margin)
        return [x] + ([x + 360.0] if self.east + margin > self.west - margin + 360.0 else [])

    def centres(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """``(lat.size, lon.size)``: True where the cell centre lies inside or on the outline."""
        inside = np.zeros((lat.size, lon.size), dtype=bool)
        if lat.size == 0 or lon.size == 0 or self.edges.size == 0:
            return inside
        band = max(1, BAND_CELLS // lon.size)
        for x in self.frames(lon):
            order = np.argsort(x, kind="stable")
            xs = x[order]
            for start in range(0, lat.size, band):
                rows = slice(start, min(lat.size, start + band))
                inside[rows][:, order] |= self._band(lat[rows], xs)
        return inside

    def _band(self, lat: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Inside-or-on for rows ``lat`` and ascending longitudes ``xs``."""
        k, n = lat.size, xs.size
        lat_order = np.argsort(lat, kind="stable")
        ys = lat[lat_order]
        last = np.searchsorted(self.low, ys[-1], side="right")
        pick = np.flatnonzero(self.high[:last] > ys[0])
        low, high = self.low[pick], self.high[pick]
        first_row = np.searchsorted(ys, low, side="left")  # rows with low <= y < high
        counts = np.searchsorted(ys, high, side="left") - first_row
        edge = np.repeat(pick, counts)
        row = np.repeat(first_row - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        x0, y0, x1, y1 = self.edges[edge].T
        y = ys[row]
        crossing = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        column = np.searchsorted(xs, crossing, side="right")  # first centre east of the crossing
        inside = np.zeros((k, n), dtype=bool)
        if row.size:  # only the columns between the first and the last crossing can be inside
            west, east = int(column.min()), int(min(n, column.max()))
            width = east - west + 1
            winding = np.bincount(
                row * width + column - west, weights=self.sign[edge], minlength=k * width
            ).reshape(k, width)[:, : east - west]
            inside[:, west:east] = np.cumsum(winding, axis=1) != 0
        self._decide_near(inside, ys, xs, row, column, crossing)
        result = np.empty_like(inside)
        result[lat_order] = inside
        return result

    def _decide_near(self, inside, ys, xs, row, column, crossing) -> None:
        """Let shapely decide the centres too near the outline for the arithmetic to."""
        near_rows = np.flatnonzero(_near(ys, self.vertex_lat))
        for r in near_rows:
            within = (xs >= self.west - TOLERANCE_DEG) & (xs <= self.east + TOLERANCE_DEG)
            inside[r] = within & shapely.intersects_xy(self.geometry, xs, np.full(xs.size, ys[r]))
        for side in (column - 1, column):
            valid = (side >= 0) & (side < xs.size)
            close = valid & (np.abs(xs[np.clip(side, 0, xs.size - 1)] - crossing) <= TOLERANCE_DEG)
            r, c = row[close], side[close]
            if r.size:
                inside[r, c] = shapely.intersects_xy(self.geometry, xs[c], ys[r])

    def passes(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of every cell whose box the outline may pass through (a few more
        than it does: the pieces' boxes), each once."""
        half_lat, half_lon = grid.dlat / 2, grid.dlon / 2
        found = []
        for x in self.frames(grid.lon, half_lon + TOLERANCE_DEG):
            # only the outline within a cell of the grid's extent: its new edges meet no cell
            near = shapely.clip_by_rect(
                self.geometry,
                x.min() - 2 * half_lon,
                grid.lat.min() - 2 * half_lat,
                x.max() + 2 * half_lon,
                grid.lat.max() + 2 * half_lat,
            )
            pieces = _edges(shapely.segmentize(near, max(min(grid.dlat, grid.dlon) / 2, 1e-9)))
            if pieces.size == 0:
                continue
            rows = _spans(grid.lat, pieces[:, [1, 3]], half_lat)
            cols = _spans(x, pieces[:, [0, 2]], half_lon)
            for dr in range(3):
                for dc in range(3):
                    ok = (rows[0] + dr < rows[1]) & (cols[0] + dc < cols[1])
                    found.append(rows[2][rows[0][ok] + dr] * grid.lon.size + cols[2][cols[0][ok] + dc])
        cells = np.unique(np.concatenate(found)) if found else np.zeros(0, int)
        return np.divmod(cells, grid.lon.size)


def _near(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Which of ``values`` lie within TOLERANCE_DEG of one of ``reference`` (ascending)."""
    if reference.size == 0:
        return np.zeros(values.size, dtype=bool)
    right = np.clip(np.searchsorted(reference, values), 0, reference.size - 1)
    left = np.maximum(right - 1, 0)
    gap = np.minimum(np.abs(reference[left] - values), np.abs(reference[right] - values))
    return gap <= TOLERANCE_DEG


def _spans(centres: np.ndarray, ends: np.ndarray, half: float):
    """For pieces with coordinates ``ends`` (n, 2): the first and end position, among the
    centres sorted, of the cells whose extent meets the piece's (at most 3), and the order."""
    order = np.argsort(centres, kind="stable")
    ordered = centres[order]
    low, high = ends.min(axis=1), ends.max(axis=1)
    first = np.searchsorted(ordered, low - half - TOLERANCE_DEG, side="left")
    stop = np.minimum(np.searchsorted(ordered, high + half + TOLERANCE_DEG, side="right"), first + 3)
    return first, stop, order
