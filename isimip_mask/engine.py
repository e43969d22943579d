"""The masking engine: stream a file through a mask into a new file, one time slab at a time.

Peak memory is bounded by the slab size, not by the number of time steps. Output is written
under a temporary name and renamed when complete, so a crash never leaves a file that looks
finished; the input is only ever opened read-only.
"""

import csv
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from . import chunks
from .errors import DatasetError
from .masks import grid_mask, mask_bounds, nearest_cell
from .netcdf import (
    atomic_output,
    bytes_per_step,
    copy_global_attributes,
    create_variable,
    decode_times,
    fill_value,
    open_dataset,
    read_layout,
)
from .regions import Point, Region

SLAB_BYTES = 32 * 2**20  # input bytes read per slab: bounds memory, amortises call overhead
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Selection:
    """Which rows and columns of the input grid go into the output, and the mask on them."""

    rows: slice
    cols: np.ndarray
    mask: np.ndarray

    @classmethod
    def build(cls, mask: np.ndarray, crop: bool, circular: bool) -> "Selection":
        if crop:
            rows, cols = mask_bounds(mask, circular)
        else:
            rows, cols = slice(0, mask.shape[0]), np.arange(mask.shape[1])
        return cls(rows, cols, mask[rows][:, cols])

    @property
    def wraps(self) -> int:
        """Position where the columns wrap round the globe (0 when they do not)."""
        steps = np.flatnonzero(np.diff(self.cols) < 0)
        return int(steps[0]) + 1 if steps.size else 0

    @property
    def all_cols(self) -> bool:
        return self.cols.size == 0 or (self.cols[0] == 0 and not self.wraps and np.all(np.diff(self.cols) == 1))


def output_name(source_name: str, region: Region, suffix: str = "", extension: str = ".nc") -> str:
    """ISIMIP-style name: ``_global_`` becomes ``_<tag>_``, else the tag is appended."""
    stem = source_name[: -len(Path(source_name).suffix)] if Path(source_name).suffix else source_name
    tag = region.tag + suffix
    stem = stem.replace("_global_", f"_{tag}_", 1) if "_global_" in stem else f"{stem}_{tag}"
    return stem + extension


def _slabs(n_steps: int, step_bytes: int):
    size = max(1, SLAB_BYTES // max(1, step_bytes))
    for start in range(0, n_steps, size):
        yield start, min(n_steps, start + size)


def _select(values: np.ndarray, axes: dict[int, object]) -> np.ndarray:
    index = [slice(None)] * values.ndim
    for axis, selection in axes.items():
        index[axis] = selection
    return values[tuple(index)]


def _create_dimensions(source, target, layout, selection: Selection) -> None:
    sizes = {layout.lat_dim: selection.mask.shape[0], layout.lon_dim: selection.mask.shape[1]}
    for name, dim in source.dimensions.items():
        target.createDimension(name, None if dim.isunlimited() else sizes.get(name, len(dim)))


def _copy_static(source_var, target_var, layout, selection: Selection) -> None:
    """Copy a coordinate, bounds or other variable without the grid, cut to the selection."""
    values = source_var[:]
    axes = {}
    for axis, dim in enumerate(source_var.dimensions):
        if dim == layout.lat_dim:
            axes[axis] = selection.rows
        elif dim == layout.lon_dim:
            axes[axis] = selection.cols
    values = _select(values, axes) if axes else values
    is_lon = source_var.dimensions[:1] == (layout.lon_dim,)
    if is_lon and selection.wraps:
        # keep longitudes increasing across the antimeridian, as cdo sellonlatbox does
        values = np.array(values)
        values[selection.wraps :] += 360
    target_var[...] = values


def _stream_masked(source_var, target_var, selection: Selection, progress: Progress | None, threads: int) -> None:
    fill = np.asarray(fill_value(source_var), dtype=source_var.dtype)
    keep = selection.mask

    def apply(block: np.ndarray) -> np.ndarray:
        if not selection.all_cols:
            block = block[..., selection.cols]
        return np.where(keep, block, fill)

    if source_var.ndim < 3:
        target_var[...] = apply(source_var[..., selection.rows, :])
        return
    total = source_var.shape[0]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pending = None
        for start, stop in _slabs(total, bytes_per_step(source_var)):
            block = source_var[start:stop, ..., selection.rows, :]
            masked = pool.submit(apply, block)
            if pending is not None:
                _write(target_var, *pending, progress, total)
            pending = (masked, start, stop)
        if pending is not None:
            _write(target_var, *pending, progress, total)


def _write(target_var, masked, start: int, stop: int, progress: Progress | None, total: int) -> None:
    target_var[start:stop, ...] = masked.result()
    if progress:
        progress(stop, total)


def mask_file(
    source: Path,
    target: Path,
    region: Region,
    crop: bool = False,
    compression: int = 5,
    progress: Progress | None = None,
    threads: int = 1,
) -> Path:
    """Write ``source`` to ``target`` with every cell outside ``region`` set to missing.

    Parameters
    ----------
    source, target : Path
        Input NetCDF file and the output file to create (replaced atomically).
    region : Region
        The region to keep.
    crop : bool
        Cut the output to the bounding box of the kept cells.
    compression : int
        Deflate level of the data variables (coordinates keep their own filters).
    progress : callable, optional
        Called as ``progress(done, total)`` with time steps written so far.
    """
    with open_dataset(source) as src:
        layout = read_layout(src, source.name)
        selection = Selection.build(grid_mask(layout.grid, region), crop, layout.grid.is_global)
        by_chunks = {name for name in layout.data_vars if chunks.supported(source, name)}
        with atomic_output(target) as partial:
            with netCDF4.Dataset(partial, "w", format=src.data_model) as out:
                out.set_auto_maskandscale(False)
                action = f"masked {', '.join(layout.data_vars)} to {region.tag}" + (" (cropped)" if crop else "")
                copy_global_attributes(src, out, action)
                _create_dimensions(src, out, layout, selection)
                shapes = {n: len(d) for n, d in out.dimensions.items()}
                for name, variable in src.variables.items():
                    is_data = name in layout.data_vars
                    shape = tuple(
                        shapes[d] if d in (layout.lat_dim, layout.lon_dim) else variable.shape[i]
                        for i, d in enumerate(variable.dimensions)
                    )
                    target_var = create_variable(
                        out, variable, name, variable.dimensions, shape, compression if is_data else None
                    )
                    if name in by_chunks:
                        continue  # written below, chunk by chunk
                    if is_data:
                        _stream_masked(variable, target_var, selection, progress, threads)
                    else:
                        _copy_static(variable, target_var, layout, selection)
            for name in sorted(by_chunks):
                cols = None if selection.all_cols else selection.cols
                fill = fill_value(src.variables[name])
                chunks.stream_masked(
                    source, partial, name, selection.rows, cols, selection.mask, fill, compression, threads, progress
                )
    return target


def _series(source: Path, source_var, rows: slice, reduce, n_times: int, progress: Progress | None, threads: int) -> np.ndarray:
    """Reduce each time step of ``source_var[:, rows, :]`` with ``reduce(block) -> values``."""
    if source_var.ndim < 3:
        return np.atleast_1d(reduce(source_var[rows, :][None]))
    if chunks.supported(source, source_var.name):
        blocks = chunks.map_chunks(source, source_var.name, lambda start, block: reduce(block[:, rows]), threads)
    else:
        blocks = (
            (stop, n_times, reduce(source_var[start:stop, ..., rows, :]))
            for start, stop in _slabs(source_var.shape[0], bytes_per_step(source_var))
        )
    parts = []
    for stop, total, part in blocks:
        parts.append(part)
        if progress:
            progress(stop, total)
    return np.concatenate(parts)


def field_means(
    source: Path, source_var, weights: np.ndarray, rows: slice, progress: Progress | None, n_times: int, threads: int
) -> np.ndarray:
    """Area-weighted mean over the cells where ``weights`` > 0, missing values left out."""
    fill = fill_value(source_var)

    def reduce(block):
        valid = (block != fill) & np.isfinite(block)
        w = np.where(valid, weights, 0.0)
        total = w.sum(axis=(-2, -1))
        sums = np.where(valid, block.astype("f8") * weights, 0.0).sum(axis=(-2, -1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, sums / np.where(total > 0, total, 1), np.nan)

    return _series(source, source_var, rows, reduce, n_times, progress, threads)


def point_values(
    source: Path, source_var, row: int, col: int, progress: Progress | None, n_times: int, threads: int
) -> np.ndarray:
    """The values of one cell at every time step, missing values as NaN."""
    fill = fill_value(source_var)

    def reduce(block):
        values = block[..., 0, col].astype("f8")
        return np.where(values == fill, np.nan, values)

    return _series(source, source_var, slice(row, row + 1), reduce, n_times, progress, threads)


@dataclass(frozen=True)
class Series:
    """Time series of each data variable, at one cell or averaged over a region."""

    values: dict[str, np.ndarray]
    lat: float
    lon: float
    method: str


def read_series(source: Path, region: Region, mean: bool, progress: Progress | None = None, threads: int = 1):
    """Read the point time series (``Point``) or area-weighted field mean of each data variable."""
    with open_dataset(source) as src:
        layout = read_layout(src, source.name)
        grid, n_times = layout.grid, max(1, layout.n_times)
        if isinstance(region, Point) and not mean:
            row, col = nearest_cell(grid, region)
            values = {
                name: point_values(source, src.variables[name], row, col, progress, n_times, threads) for name in layout.data_vars
            }
            series = Series(values, float(grid.lat[row]), float(grid.lon[col]), "point")
        else:
            mask = grid_mask(grid, region)
            rows, _ = mask_bounds(mask, grid.is_global)
            weights = (grid.lat_weights()[:, None] * mask)[rows]
            values = {
                name: field_means(source, src.variables[name], weights, rows, progress, n_times, threads)
                for name in layout.data_vars
            }
            r, c = np.nonzero(mask)
            series = Series(values, float(grid.lat[r].mean()), float(grid.lon[c].mean()), "mean")
        times = decode_times(layout.time_values, layout.time_units, layout.calendar)
    return layout, series, times


def write_series_csv(target: Path, source: Path, layout, series: Series, times: list[str]) -> None:
    with open_dataset(source) as src:
        headers = []
        for name in series.values:
            if src.variables[name].ndim != 3:
                raise DatasetError(
                    f"CSV output needs (time, lat, lon) variables; {name} has {src.variables[name].dimensions}", "operations"
                )
            units = src.variables[name].__dict__.get("units", "")
            where = f" at lat={series.lat:g} lon={series.lon:g}" if series.method == "point" else " area-weighted mean"
            headers.append(f"{name} [{units}]{where}")
        dtypes = {name: src.variables[name].dtype for name in series.values}
    with atomic_output(target) as partial, open(partial, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", *headers])
        columns = [[_csv_number(v, dtypes[n]) for v in series.values[n]] for n in series.values]
        for i, time in enumerate(times or [""]):
            writer.writerow([time, *(column[i] for column in columns)])


def _csv_number(value: float, dtype) -> str:
    return "" if np.isnan(value) else str(np.asarray(value).astype(dtype))


def write_series_netcdf(target: Path, source: Path, layout, series: Series, action: str) -> None:
    """A (time, lat=1, lon=1) file like ``cdo fldmean`` / ``cdo remapnn`` write."""
    with open_dataset(source) as src, atomic_output(target) as partial:
        with netCDF4.Dataset(partial, "w", format=src.data_model) as out:
            out.set_auto_maskandscale(False)
            copy_global_attributes(src, out, action)
            for name, dim in src.dimensions.items():
                size = 1 if name in (layout.lat_dim, layout.lon_dim) else len(dim)
                out.createDimension(name, None if dim.isunlimited() else size)
            grid_dims = {layout.lat_dim, layout.lon_dim}
            for name, variable in src.variables.items():
                if grid_dims & set(variable.dimensions) and name not in (layout.lat_dim, layout.lon_dim, *series.values):
                    continue  # cell bounds and other gridded fields have no meaning for one value
                shape = tuple(len(out.dimensions[d]) for d in variable.dimensions)
                target_var = create_variable(out, variable, name, variable.dimensions, shape, None)
                if name in (layout.lat_dim, layout.lon_dim) and "bounds" in variable.__dict__:
                    target_var.delncattr("bounds")
                if name == layout.lat_dim:
                    target_var[:] = series.lat
                elif name == layout.lon_dim:
                    target_var[:] = series.lon
                elif name in series.values:
                    fill = fill_value(variable)
                    values = np.where(np.isnan(series.values[name]), fill, series.values[name])
                    target_var[...] = values.astype(variable.dtype).reshape(shape)
                    if series.method == "mean":
                        target_var.setncattr("cell_methods", f"{layout.lat_dim}: {layout.lon_dim}: mean (area-weighted)")
                else:
                    target_var[...] = variable[...]
