"""Time series out of a file: the area-weighted field mean of a region, or one cell's values.

Read with the same streaming as masking (the chunk fast path where the layout allows), then
written as CSV or as a (time, lat=1, lon=1) NetCDF file like ``cdo fldmean``/``remapnn``.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from isimip_mask.engine import chunks
from isimip_mask.engine.statistics import (
    Entries,
    Groups,
    cell_method,
    label,
    stream_statistics,
    suffix,
    units_of,
    weighing_for,
)
from isimip_mask.engine.streaming import Progress, column_runs, read_block, slabs, write_window_bounds
from isimip_mask.errors import DatasetError, RegionError
from isimip_mask.files.netcdf import (
    atomic_output,
    bytes_per_step,
    copy_global_attributes,
    create_variable,
    fill_value,
    open_dataset,
    read_layout,
)
from isimip_mask.files.steps import Steps
from isimip_mask.files.timeaxis import Period, window_means
from isimip_mask.files.weights import WeightGrid
from isimip_mask.regions.coverage import cell_shares
from isimip_mask.regions.kinds import Point, Region, words
from isimip_mask.regions.masks import nearest_cell, region_mask, region_window


def stream_series(
    source: Path,
    source_var,
    rows: slice,
    reduce,
    steps: Steps,
    progress: Progress | None,
    threads: int,
    cells: np.ndarray | None = None,
    cols: np.ndarray | None = None,
) -> np.ndarray:
    """Reduce each time step read of ``source_var[:, rows, cols]`` (``cols`` None: every column)
    with ``reduce(block) -> values``; with ``cells`` (flat indices within ``rows`` of every
    column), ``reduce`` gets only those cells, ``(time, cell)``. Only the chunks of the window
    are read, except where a chunk holds whole fields anyway (the fast path)."""

    def pick(block: np.ndarray) -> np.ndarray:
        return block if cells is None else block.reshape(block.shape[0], -1)[:, cells]

    runs = column_runs(cols, source_var.shape[-1])
    if source_var.ndim < 3:
        return np.atleast_1d(reduce(pick(read_block(source_var, None, rows, runs)[None])))
    if chunks.supported(source, source_var.name) and cells is not None:
        flat = cells + rows.start * source_var.shape[-1]
        blocks = chunks.map_cells(source, source_var.name, flat, reduce, threads, steps.read)
    elif chunks.supported(source, source_var.name):
        fields = reduce if cols is None else (lambda block: reduce(block[..., cols]))
        blocks = chunks.map_fields(source, source_var.name, rows, fields, threads, steps.read)
    else:
        first = steps.read.start
        width = source_var.shape[-1] if cols is None else cols.size
        step_bytes = bytes_per_step(source_var) // source_var.shape[-1] * width
        blocks = (
            (stop - first, steps.count, reduce(pick(read_block(source_var, slice(start, stop), rows, runs))))
            for start, stop in slabs(steps.read.stop, step_bytes, first)
        )
    parts = []
    for stop, total, part in blocks:
        parts.append(part)
        if progress:
            progress(stop, total)
    return np.concatenate(parts) if parts else np.zeros(0)  # a time axis of length 0


def field_statistics(
    source: Path,
    dataset,
    layout,
    name: str,
    shares: np.ndarray,
    rows: slice,
    cols: np.ndarray,
    statistics: tuple[str, ...],
    weights: WeightGrid | None,
    steps: Steps,
    progress: Progress | None,
    threads: int,
) -> np.ndarray:
    """``(time, statistic)``: the statistics of variable ``name`` over the window ``rows`` x
    ``cols``, each cell counting by its share ``shares`` (0 outside the region) and weighing
    by its area (and ``weights``); missing values left out."""
    variable = dataset.variables[name]
    grid = layout.grid.window(rows, cols)
    weighing, years = weighing_for(dataset, layout, name, grid, rows, cols, weights, steps)
    entries = Entries.window(shares)
    groups = Groups.one(shares.size)

    def read(reduce, part, advance):
        def reduce_block(block):
            return reduce(block.reshape(block.shape[0], -1))

        return stream_series(source, variable, rows, reduce_block, part, advance, threads, cols=cols)

    values = stream_statistics(
        read, statistics, groups, entries, weighing, fill_value(variable), steps, years, progress
    )
    return values.reshape(-1, len(statistics))


def point_values(
    source: Path, source_var, row: int, col: int, progress: Progress | None, steps: Steps, threads: int
) -> np.ndarray:
    """The values of one cell at every time step, missing values as NaN."""
    fill = fill_value(source_var)

    def reduce(block):
        values = block[..., 0, 0].astype("f8")
        return np.where(values == fill, np.nan, values)

    rows, cols = slice(row, row + 1), np.array([col])
    return stream_series(source, source_var, rows, reduce, steps, progress, threads, cols=cols)


@dataclass(frozen=True)
class Series:
    """Time series of each data variable, at one cell or as statistics of a region:
    ``values[output]`` for each output variable, which is ``variable + suffix(statistic)``
    (``sources[output] == (variable, statistic)``); units, types and dimensions by variable."""

    values: dict[str, np.ndarray]
    sources: dict[str, tuple[str, str]]
    lat: float
    lon: float
    method: str
    units: dict[str, str]
    dtypes: dict[str, np.dtype]
    dims: dict[str, tuple[str, ...]]
    weights: str | None = None  # the weight grid's variable, for the descriptions


def read_series(
    source: Path,
    region: Region,
    mean: bool,
    progress: Progress | None = None,
    threads: int = 1,
    period: Period | None = None,
    window: str | None = None,
    fractional: bool = False,
    statistics: tuple[str, ...] = ("mean",),
    weights: WeightGrid | None = None,
):
    """Read the point time series (``Point``) or the ``statistics`` (default the area-weighted
    field mean) of each data variable over ``region``, over ``period`` (default: every step),
    averaged over each ``window`` if one is given; with ``fractional``, each cell counts by the
    share of it inside the region; with ``weights``, each cell weighs also by the weight grid.
    Returns the file's layout, the series and the steps written."""
    with open_dataset(source) as src:
        layout = read_layout(src, source.name)
        grid, steps = layout.grid, Steps.of(layout, period, window)
        if isinstance(region, Point) and not mean:
            row, col = nearest_cell(grid, region)
            values = {
                name: point_values(source, src.variables[name], row, col, progress, steps, threads)
                for name in layout.data_vars
            }
            sources = {name: (name, "point") for name in layout.data_vars}
            lat, lon, method = float(grid.lat[row]), float(grid.lon[col]), "point"
        else:
            if fractional:  # a share of a cell counts where its centre is outside too: the extent's window
                window_cells = region_window(grid, region)
                rows, cols = window_cells.rows, window_cells.cols
                shares = cell_shares(grid.window(rows, cols), region, fractional)
            else:  # the mask is built once, and its kept cells' window is read
                kept = region_mask(grid, region)
                rows, cols = kept.bounds()
                shares = kept.cells(rows, cols)  # whole cells: True or False
            if not shares.any():
                raise RegionError(f"{words(region)} does not overlap the grid of this file", "region")
            values, sources = {}, {}
            for name in layout.data_vars:
                found = field_statistics(
                    source,
                    src,
                    layout,
                    name,
                    shares,
                    rows,
                    cols,
                    statistics,
                    weights,
                    steps,
                    progress,
                    threads,
                )
                for i, statistic in enumerate(statistics):
                    values[name + suffix(statistic)] = found[:, i]
                    sources[name + suffix(statistic)] = (name, statistic)
            r, c = np.nonzero(shares > 0)
            lat, lon, method = float(grid.lat[rows][r].mean()), float(grid.lon[cols][c].mean()), "mean"
        if steps.groups is not None:
            values = {name: window_means(v, steps.groups) for name, v in values.items()}
        variables = {name: src.variables[name] for name in layout.data_vars}
        series = Series(
            values,
            sources,
            lat,
            lon,
            method,
            units={name: str(v.__dict__.get("units", "")) for name, v in variables.items()},
            dtypes={name: v.dtype for name, v in variables.items()},
            dims={name: v.dimensions for name, v in variables.items()},
            weights=weights.var if weights else None,
        )
    return layout, series, steps


def write_series_csv(target: Path, series: Series, times: list[str], header: bool = True) -> None:
    """One row per time step: ISO time, then each variable (empty where missing); first a header
    row naming each column (none as the ISIMIP files API writes: cdo's ``outputtab,nohead``)."""
    headers = []
    for name, statistic in series.sources.values():
        dims = series.dims[name]
        if len(dims) != 3:
            raise DatasetError(f"CSV output needs (time, lat, lon) variables; {name} has {dims}")
        where = (
            f" at lat={series.lat:g} lon={series.lon:g}"
            if series.method == "point"
            else f" {label(statistic, series.weights)}"
        )
        headers.append(f"{name} [{units_of(statistic, series.units[name])}]{where}")
    with atomic_output(target) as partial, open(partial, "w", newline="") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(["time", *headers])
        columns = [
            [_csv_number(v, series.dtypes[series.sources[n][0]]) for v in series.values[n]]
            for n in series.values
        ]
        for i in range(len(columns[0]) if columns else 0):  # a file without a time axis: one row
            writer.writerow([times[i] if i < len(times) else "", *(column[i] for column in columns)])


def _csv_number(value: float, dtype) -> str:
    return "" if np.isnan(value) else str(np.asarray(value).astype(dtype))


def write_series_netcdf(  # noqa: C901 (one branch per kind of variable copied, in file order)
    target: Path, source: Path, layout, series: Series, action: str, steps: Steps
) -> None:
    """A (time, lat=1, lon=1) file like ``cdo fldmean`` / ``cdo remapnn`` write, over the steps
    written (with ``time_bnds`` for windows, as ``cdo monmean``)."""
    with open_dataset(source) as src, atomic_output(target) as partial:
        with netCDF4.Dataset(partial, "w", format=src.data_model) as out:
            out.set_auto_maskandscale(False)
            copy_global_attributes(src, out, action)
            for name, dim in src.dimensions.items():
                size = 1 if name in (layout.lat_dim, layout.lon_dim) else len(dim)
                size = steps.size if name == layout.time_dim else size
                out.createDimension(name, None if dim.isunlimited() else size)
            grid_dims = {layout.lat_dim, layout.lon_dim}
            for name, variable in src.variables.items():
                if grid_dims & set(variable.dimensions) and name not in (
                    layout.lat_dim,
                    layout.lon_dim,
                    *series.dims,
                ):
                    continue  # cell bounds and other gridded fields have no meaning for one value
                timed = layout.time_dim in variable.dimensions and name not in (
                    layout.time_dim,
                    *series.dims,
                )
                if timed and steps.groups is not None:
                    continue  # the source's own time bounds: the windows get theirs
                shape = tuple(len(out.dimensions[d]) for d in variable.dimensions)
                if name in series.dims:
                    _write_outputs(out, variable, name, shape, series, layout, steps)
                    continue
                target_var = create_variable(out, variable, name, variable.dimensions, shape, None)
                if name in (layout.lat_dim, layout.lon_dim) and "bounds" in variable.__dict__:
                    target_var.delncattr("bounds")
                if name == layout.lat_dim:
                    target_var[:] = series.lat
                elif name == layout.lon_dim:
                    target_var[:] = series.lon
                elif name == layout.time_dim:
                    target_var[:] = steps.values
                elif layout.time_dim in variable.dimensions:
                    target_var[...] = variable[steps.read]
                else:
                    target_var[...] = variable[...]
            if steps.groups is not None:
                write_window_bounds(out, layout, steps)


def _write_outputs(out, variable, name: str, shape, series: Series, layout, steps: Steps) -> None:
    """The series of data variable ``name``: one output variable per statistic."""
    fill = fill_value(variable)
    for output, (source_name, statistic) in series.sources.items():
        if source_name != name:
            continue
        target_var = create_variable(out, variable, output, variable.dimensions, shape, None)
        if "cell_measures" in target_var.ncattrs():  # the areas are not in a file of one cell
            target_var.delncattr("cell_measures")
        values = np.where(np.isnan(series.values[output]), fill, series.values[output])
        target_var[...] = values.astype(variable.dtype).reshape(shape)
        if statistic == "sum":
            target_var.setncattr("units", units_of(statistic, series.units[name]))
        methods = [f"{layout.lat_dim}: {layout.lon_dim}: {cell_method(statistic)}"]
        methods = (methods if series.method == "mean" else []) + (
            ["time: mean"] if steps.groups is not None else []
        )
        if methods:
            target_var.setncattr("cell_methods", " ".join(methods))
