"""Many series in one pass: the area-weighted mean of each of many regions, or the values at
many points, as one table (rows time, a column per region or point).

Every column is a list of (cell, weight) entries, all columns in one sparse array in the
order of the cells in the field (gathering them in that order takes half the time of gathering
them column by column); each time step is read once, its entries gathered, summed per run of
one column's entries and the runs per column, both with ``np.add.reduceat``. A point is a
column of one cell of weight 1, so its "mean" is its value. A region that covers no cell of
the file has no column.
"""

import csv
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from isimip_mask.engine.series import stream_series
from isimip_mask.engine.statistics import (
    Entries,
    Groups,
    cell_method,
    stream_statistics,
    suffix,
    units_of,
    weighing_for,
)
from isimip_mask.engine.streaming import Progress, write_window_bounds
from isimip_mask.errors import RegionError
from isimip_mask.files.grid import wrap_lon
from isimip_mask.files.netcdf import (
    atomic_output,
    copy_global_attributes,
    fill_value,
    open_dataset,
    read_layout,
)
from isimip_mask.files.steps import Steps
from isimip_mask.files.timeaxis import Period, window_means
from isimip_mask.files.weights import WeightGrid
from isimip_mask.regions.countries import outlines_stamp
from isimip_mask.regions.coverage import cell_shares
from isimip_mask.regions.kinds import MaskFile
from isimip_mask.regions.masks import placed_cells
from isimip_mask.regions.sets import PointSet, RegionSet

TABLE_CHUNK_BYTES = 2**20
CSV_BLOCK_ROWS = 256  # rows of a CSV table turned to text at once


@dataclass(frozen=True)
class Columns:
    """The cells and shares of every column: ``cells`` (flat, in the window ``rows`` of the
    grid, ascending) and the ``shares`` of them that count, in runs of one column's entries
    starting at ``runs``; ``run_order`` lists the runs column by column, each column's from
    ``column_starts``; ``column`` is each entry's column. ``names``, ``lat`` and ``lon`` are
    per column."""

    names: list[str]
    rows: slice
    cells: np.ndarray
    shares: np.ndarray
    runs: np.ndarray
    run_order: np.ndarray
    column_starts: np.ndarray
    column: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    method: str

    def sums(self, entries: np.ndarray) -> np.ndarray:
        """``(time, entry) -> (time, column)``: the sum of each column's entries."""
        per_run = np.add.reduceat(entries, self.runs, axis=1)
        return np.add.reduceat(per_run[:, self.run_order], self.column_starts, axis=1)

    def groups(self) -> Groups:
        """The columns as the statistics see them, entries ordered column by column."""
        order = np.argsort(self.column, kind="stable")
        starts = np.searchsorted(self.column[order], np.arange(len(self.names)))
        return Groups(self.sums, self.column, order, starts)

    def entries(self, n_lon: int) -> Entries:
        return Entries(self.cells // n_lon, self.cells % n_lon, self.shares)

    def point_values(self, fill):
        """``reduce(values) -> (time, column, 1)``: for points each one's value, missing NaN."""
        entry = self.runs[self.run_order]  # a point's column has one entry

        def values_at_points(values: np.ndarray) -> np.ndarray:
            picked = values[:, entry]
            return np.where((picked != fill) & np.isfinite(picked), picked, np.nan).astype("f8")[..., None]

        return values_at_points


COLUMNS_CACHE = 4  # grids whose columns of a set are kept in a worker (one per grid and rule)
CACHED_ENTRIES = 20_000_000  # sets of more cells than this are built anew each time


def columns_of(
    grid, region: RegionSet | PointSet, fractional: bool = False, threads: int = 1, cache: Path | None = None
) -> Columns:
    """The columns of a set on ``grid``; regions without a cell on it are left out. Regions are
    rasterised in ``threads`` threads (shapely lets go of the GIL); points are placed at once.
    The columns of a set of outlines (every country: 0.5 s, fractional 1.7 s on the 0.5° grid)
    are kept per grid and rule: in this process, and in the folder ``cache`` where every worker
    (each job a forked process) finds what another built."""
    if isinstance(region, PointSet) or any(isinstance(part, MaskFile) for part in region.parts):
        return _columns_of(grid, region, fractional, threads)
    key = _cache_key(grid, region, fractional)
    found = _KEPT.get(key)
    if found is None and cache is not None:
        found = _load_columns(cache / f"columns-{key}.npz")
    if found is None:
        found = _columns_of(grid, region, fractional, threads)
        if cache is not None and found.cells.size <= CACHED_ENTRIES:
            _save_columns(cache / f"columns-{key}.npz", found)
    if found.cells.size <= CACHED_ENTRIES:
        while len(_KEPT) >= COLUMNS_CACHE:
            _KEPT.pop(next(iter(_KEPT)))
        _KEPT[key] = found
    return found


_KEPT: dict = {}


def _cache_key(grid, region: RegionSet, fractional: bool) -> str:
    """What the columns depend on: the grid's centres and spacing, the regions (their outlines
    by the version shipped), the rule and whether cells count by their share."""
    digest = hashlib.sha256()
    for part in (grid.lat.tobytes(), grid.lon.tobytes(), repr((grid.dlat, grid.dlon, fractional)).encode()):
        digest.update(part)
    digest.update(json.dumps(region.config(), sort_keys=True).encode())
    digest.update(outlines_stamp().encode())
    return digest.hexdigest()[:32]


COLUMN_ARRAYS = ("cells", "shares", "runs", "run_order", "column_starts", "column", "lat", "lon")


def _save_columns(path: Path, columns: Columns) -> None:
    """Keep columns where other workers find them (written whole or not at all; no pickle)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as partial, open(partial, "wb") as handle:
            arrays = {name: getattr(columns, name) for name in COLUMN_ARRAYS}
            rows = np.array([columns.rows.start, columns.rows.stop])
            np.savez(handle, names=np.array(columns.names, dtype=str), rows=rows, **arrays)
    except OSError:  # a read-only or full folder: the next job builds them again
        return


def _load_columns(path: Path) -> Columns | None:
    try:
        with np.load(path, allow_pickle=False) as kept:
            rows = kept["rows"]
            return Columns(
                names=[str(name) for name in kept["names"]],
                rows=slice(int(rows[0]), int(rows[1])),
                method="mean",
                **{name: kept[name] for name in COLUMN_ARRAYS},
            )
    except (OSError, KeyError, ValueError):  # not there yet, or unreadable: built again
        return None


def _columns_of(grid, region: RegionSet | PointSet, fractional: bool, threads: int) -> Columns:
    if isinstance(region, PointSet):  # a point off the grid has no column, as a region that misses
        rows, cols, on_grid = placed_cells(grid, region.parts)
        if not on_grid.any():
            raise RegionError(
                f"none of the {len(region.parts)} points lies on the grid of this file", "points"
            )
        rows, cols = rows[on_grid], cols[on_grid]
        return _columns(
            grid,
            [name for name, on in zip(region.names, on_grid) if on],
            np.arange(rows.size),  # a column each
            rows,
            cols,
            np.ones(rows.size),
            grid.lat[rows],
            grid.lon[cols],
            "point",
        )
    lon_start = float(grid.lon.min()) - grid.dlon / 2
    cos_lat = grid.lat_weights()

    def entries(part) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        try:
            shares = cell_shares(grid, part, fractional)
        except RegionError:  # this region misses the file
            return None
        r, c = np.nonzero(shares)
        return r, c, shares[r, c].astype("f8")

    names, rows, cols, shares, lat, lon = [], [], [], [], [], []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for name, found in zip(region.names, pool.map(entries, region.parts)):
            if found is None or found[0].size == 0:
                continue
            r, c, s = found
            w = cos_lat[r] * s
            names.append(name)
            rows.append(r), cols.append(c), shares.append(s)
            lat.append(float(np.average(grid.lat[r], weights=w)))
            # averaged round the globe (Fiji's centre is near 180°, not 0°), in the file's own range
            west = grid.lon[c[0]]
            centre = west + np.average(wrap_lon(grid.lon[c] - west), weights=w)
            lon.append(float(wrap_lon(centre, lon_start)))
    if not names:
        raise RegionError(f"none of the {region.kind} overlaps the grid of this file", region.kind)
    column = np.repeat(np.arange(len(names)), [r.size for r in rows])
    return _columns(
        grid, names, column, *map(np.concatenate, (rows, cols, shares)), np.array(lat), np.array(lon), "mean"
    )


def _columns(grid, names, column, rows, cols, shares, lat, lon, method) -> Columns:
    """:class:`Columns` from the entries: ``column``, ``rows``, ``cols``, ``shares`` each."""
    first = int(rows.min())
    cells = (rows - first) * grid.lon.size + cols
    order = np.argsort(cells, kind="stable")
    cells, column = cells[order], column[order]
    runs = np.flatnonzero(np.diff(column, prepend=-1))
    run_order = np.argsort(column[runs], kind="stable")
    return Columns(
        names,
        slice(first, int(rows.max()) + 1),
        cells,
        shares[order],
        runs,
        run_order,
        np.searchsorted(column[runs][run_order], np.arange(len(names))),
        column,
        np.asarray(lat, "f8"),
        np.asarray(lon, "f8"),
        method,
    )


@dataclass(frozen=True)
class Table:
    """``values[output]`` is (time, column) for each output: a data variable's statistic
    (``sources[output] == (variable, statistic)``, the output named ``variable + suffix``)."""

    columns: Columns
    values: dict[str, np.ndarray]
    sources: dict[str, tuple[str, str]]
    units: dict[str, str]
    dtypes: dict[str, np.dtype]
    weights: str | None = None

    def headers(self) -> list[str]:
        """A CSV header per column: ``<region>[ <statistic>] [<units>]``, led by the variable's
        name where the file has several."""
        several = len({name for name, _ in self.sources.values()}) > 1
        headers = []
        for name, statistic in self.sources.values():
            lead = f"{name} " if several else ""
            tail = "" if statistic in ("mean", "point") else f" {statistic}"
            units = units_of(statistic, self.units[name])
            headers += [f"{lead}{column}{tail} [{units}]" for column in self.columns.names]
        return headers


def read_table(
    source: Path,
    region: RegionSet | PointSet,
    fractional: bool = False,
    progress: Progress | None = None,
    threads: int = 1,
    period: Period | None = None,
    window: str | None = None,
    statistics: tuple[str, ...] = ("mean",),
    weights: WeightGrid | None = None,
    cache: Path | None = None,
):
    """Every column's series of every data variable (a point's values, or a region's
    ``statistics``, weighed by ``weights`` where given), in one pass over the file; returns
    the file's layout, the table and the steps written."""
    with open_dataset(source) as src:
        layout = read_layout(src, source.name)
        steps = Steps.of(layout, period, window)
    # outside the open file: it holds the NetCDF lock, which mask files read in the threads need
    columns = columns_of(layout.grid, region, fractional, threads, cache)
    statistics = ("point",) if columns.method == "point" else statistics
    n_lon = layout.grid.lon.size
    with open_dataset(source) as src:
        values, sources = {}, {}
        for name in layout.data_vars:
            variable = src.variables[name]
            fill = fill_value(variable)

            def read(reduce, part, advance, variable=variable):
                return stream_series(
                    source, variable, columns.rows, reduce, part, advance, threads, columns.cells
                )

            if columns.method == "point":
                found = read(columns.point_values(fill), steps, progress)
            else:
                every = np.arange(n_lon)
                grid = layout.grid.window(columns.rows, every)
                weighing, years = weighing_for(src, layout, name, grid, columns.rows, every, weights, steps)
                entries = columns.entries(n_lon)
                found = stream_statistics(
                    read, statistics, columns.groups(), entries, weighing, fill, steps, years, progress
                )
            found = found.reshape(-1, len(columns.names), len(statistics))
            for i, statistic in enumerate(statistics):
                series = found[..., i]
                output = name + suffix(statistic)
                values[output] = window_means(series, steps.groups) if steps.groups is not None else series
                sources[output] = (name, statistic)
        variables = {name: src.variables[name] for name in layout.data_vars}
        table = Table(
            columns,
            values,
            sources,
            units={name: str(v.__dict__.get("units", "")) for name, v in variables.items()},
            dtypes={name: v.dtype for name, v in variables.items()},
            weights=weights.var if weights else None,
        )
    return layout, table, steps


def write_table_csv(target: Path, table: Table, times: list[str]) -> None:
    """``time,<column> [<units>],...``: one row per time step, empty where missing."""
    headers = table.headers()
    with atomic_output(target) as partial, open(partial, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", *headers])
        for start in range(0, len(times), CSV_BLOCK_ROWS):
            rows = slice(start, start + CSV_BLOCK_ROWS)
            # each value as the shortest text of the file's type, turned to text a block at a
            # time in numpy (a str() and an isnan() per value took twice as long)
            texts = [
                _texts(values[rows], table.dtypes[table.sources[output][0]])
                for output, values in table.values.items()
            ]
            cells = np.concatenate(texts, axis=1).tolist()
            writer.writerows([time, *row] for time, row in zip(times[rows], cells))


def _texts(values: np.ndarray, dtype) -> np.ndarray:
    """``values`` (float, NaN where missing) as text in ``dtype``, empty where missing."""
    missing = np.isnan(values)
    texts = np.where(missing, 0, values).astype(dtype).astype(str)
    texts[missing] = ""
    return texts


def write_table_netcdf(target: Path, source: Path, layout, table: Table, action: str, steps: Steps) -> None:
    """A CF ``timeSeries`` file: each variable as ``(time, region)``, with the names, and the
    latitude and longitude of each column (a point's cell, a region's weighted centre)."""
    columns = table.columns
    width = max(len(name.encode()) for name in columns.names)
    with open_dataset(source) as src, atomic_output(target) as partial:
        with netCDF4.Dataset(partial, "w", format="NETCDF4_CLASSIC") as out:
            out.set_auto_maskandscale(False)
            copy_global_attributes(src, out, action)
            out.featureType = "timeSeries"
            out.createDimension(layout.time_dim, None)
            out.createDimension("region", len(columns.names))
            out.createDimension("name_length", width)
            time = out.createVariable(layout.time_dim, "f8", (layout.time_dim,))
            time.setncatts(_attributes(src.variables[layout.time_dim], "_FillValue", "bounds"))
            time[:] = steps.values
            names = out.createVariable("region_name", "S1", ("region", "name_length"))
            names.cf_role = "timeseries_id"
            names[:] = netCDF4.stringtochar(np.array(columns.names, dtype=f"S{width}"))
            for axis, values in (("lat", columns.lat), ("lon", columns.lon)):
                coordinate = out.createVariable(axis, "f8", ("region",))
                coordinate.setncatts(
                    {
                        "standard_name": "latitude" if axis == "lat" else "longitude",
                        "units": "degrees_north" if axis == "lat" else "degrees_east",
                    }
                )
                coordinate[:] = values
            for output, values in table.values.items():
                name, statistic = table.sources[output]
                source_var = src.variables[name]
                fill = fill_value(source_var)
                attrs = _attributes(source_var, "_FillValue", "cell_methods", "cell_measures")
                dims = (layout.time_dim, "region")
                # about 1 MB a chunk (netCDF's default for an unlimited axis is one row), not
                # deflated: a series of many columns packs to ~80% at best, and deflating a
                # 1,000-point table of ten daily years took longer than reading it
                rows = max(1, min(len(values), TABLE_CHUNK_BYTES // (4 * len(columns.names))))
                variable = out.createVariable(
                    output, source_var.dtype, dims, fill_value=fill, chunksizes=(rows, len(columns.names))
                )
                variable.setncatts({**attrs, "coordinates": "lat lon region_name"})
                if statistic == "sum":
                    variable.units = units_of(statistic, table.units[name])
                methods = [f"area: {cell_method(statistic)}"] if columns.method == "mean" else []
                methods += ["time: mean"] if steps.groups is not None else []
                if methods:
                    variable.cell_methods = " ".join(methods)
                variable[:] = np.where(np.isnan(values), fill, values).astype(source_var.dtype)
            if steps.groups is not None:
                write_window_bounds(out, layout, steps)


def _attributes(variable, *left_out: str) -> dict:
    return {key: value for key, value in variable.__dict__.items() if key not in left_out}
