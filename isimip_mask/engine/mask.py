"""The masking engine: stream a file through a mask into a new file, slab by slab or chunk by chunk.

Peak memory is bounded by the slab size, not by the number of time steps. Output is written
under a temporary name and renamed when complete, so a crash never leaves a file that looks
finished; the input is only ever opened read-only.
"""

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import netCDF4
import numpy as np

from isimip_mask.engine import chunks, tiles
from isimip_mask.engine.options import DEFAULTS, RunOptions
from isimip_mask.engine.streaming import (
    Progress,
    bands,
    chunk_rows,
    column_runs,
    read_block,
    slabs,
    write_window_bounds,
)
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
from isimip_mask.files.timeaxis import Period
from isimip_mask.regions.kinds import Region
from isimip_mask.regions.masks import region_mask
from isimip_mask.regions.window import RegionMask


@dataclass(frozen=True, eq=False)
class Selection:
    """Which rows and columns of the input grid go into the output, and the region's mask,
    handed out a band of output rows at a time (:meth:`mask`)."""

    rows: slice
    cols: np.ndarray
    region: RegionMask

    @classmethod
    def build(cls, region: RegionMask, crop: bool, crop_to: RegionMask | None = None) -> "Selection":
        """The whole grid, or with ``crop`` the bounds of the kept cells (of ``crop_to``'s where
        a chain's cropping operations set the grid)."""
        if crop:
            rows, cols = (crop_to or region).bounds()
        else:
            rows, cols = slice(0, region.shape[0]), np.arange(region.shape[1])
        return cls(rows, cols, region)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows.stop - self.rows.start, self.cols.size

    def mask(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The mask on output rows ``start`` to ``stop`` (default: all of them)."""
        stop = self.shape[0] if stop is None else stop
        rows = slice(self.rows.start + start, self.rows.start + stop)
        return self.region.cells(rows, None if self.all_cols else self.cols)

    @cached_property
    def runs(self) -> list[slice]:
        """The output's columns as runs of neighbouring input columns."""
        return column_runs(None if self.all_cols else self.cols, self.region.shape[1])

    @cached_property
    def wraps(self) -> int:
        """Position where the columns wrap round the globe (0 when they do not)."""
        steps = np.flatnonzero(np.diff(self.cols) < 0)
        return int(steps[0]) + 1 if steps.size else 0

    @cached_property
    def all_cols(self) -> bool:
        return self.cols.size == 0 or (
            self.cols[0] == 0 and not self.wraps and np.all(np.diff(self.cols) == 1)
        )


def _select(values: np.ndarray, axes: dict[int, object]) -> np.ndarray:
    index = [slice(None)] * values.ndim
    for axis, selection in axes.items():
        index[axis] = selection
    return values[tuple(index)]


def _create_dimensions(source, target, layout, selection: Selection, steps: Steps) -> None:
    sizes = dict(zip((layout.lat_dim, layout.lon_dim), selection.shape))
    if layout.time_dim:
        sizes[layout.time_dim] = steps.size
    for name, dim in source.dimensions.items():
        target.createDimension(name, None if dim.isunlimited() else sizes.get(name, len(dim)))


def _copy_static(source_var, target_var, layout, selection: Selection, steps: Steps) -> None:
    """Copy a coordinate, bounds or other variable without the grid, cut to the selection (the
    time axis to the steps written)."""
    if source_var.name == layout.time_dim and steps.groups is not None:
        target_var[:] = steps.values
        return
    values = source_var[:]
    axes = {}
    for axis, dim in enumerate(source_var.dimensions):
        if dim == layout.lat_dim:
            axes[axis] = selection.rows
        elif dim == layout.lon_dim:
            axes[axis] = selection.cols
        elif dim == layout.time_dim:
            axes[axis] = steps.read
    values = _select(values, axes) if axes else values
    is_lon = source_var.dimensions[:1] == (layout.lon_dim,)
    if is_lon and selection.wraps:
        # keep longitudes increasing across the antimeridian, as cdo sellonlatbox does
        values = np.array(values)
        values[selection.wraps :] += 360
    target_var[...] = values


def _stream_masked(
    source_var, target_var, selection: Selection, steps: Steps, progress: Progress | None
) -> None:
    """The general path (any chunking, classic NetCDF): read, mask and write a band of rows at a
    time (whole input chunks per band), each band slab by slab of time steps; with time
    windows, each window's mean of every kept cell (missing steps left out, as CDO)."""
    fill = np.asarray(fill_value(source_var), dtype=source_var.dtype)
    n_rows, n_cols = selection.shape
    if source_var.ndim < 3:
        for start, stop in bands(n_rows, n_cols * source_var.dtype.itemsize, chunk_rows(source_var)):
            block = read_block(source_var, None, _rows(selection, start, stop), selection.runs)
            target_var[..., start:stop, :] = np.where(selection.mask(start, stop), block, fill)
        return
    first, step_bytes = steps.read.start, bytes_per_step(source_var) // max(1, source_var.shape[-2])
    row_bytes = step_bytes * n_cols // max(1, source_var.shape[-1])
    done, total = 0, steps.count * n_rows
    for start, stop in bands(n_rows, row_bytes, chunk_rows(source_var)):
        rows, keep = _rows(selection, start, stop), selection.mask(start, stop)
        band_bytes = row_bytes * (stop - start)
        if steps.groups is None:
            for t0, t1 in slabs(steps.read.stop, band_bytes, first):
                block = read_block(source_var, slice(t0, t1), rows, selection.runs)
                target_var[t0 - first : t1 - first, ..., start:stop, :] = np.where(keep, block, fill)
                done += (t1 - t0) * (stop - start)
                if progress:
                    progress(done * steps.count // total, steps.count)
            continue
        for index, group in enumerate(steps.groups):
            mean = _window_mean(source_var, first + group.start, first + group.stop, rows, selection, fill)
            target_var[index, ..., start:stop, :] = np.where(keep, mean.astype(source_var.dtype), fill)
            done += (group.stop - group.start) * (stop - start)
            if progress:
                progress(done * steps.count // total, steps.count)


def _rows(selection: Selection, start: int, stop: int) -> slice:
    return slice(selection.rows.start + start, selection.rows.start + stop)


def _window_mean(source_var, first: int, last: int, rows: slice, selection: Selection, fill) -> np.ndarray:
    """The mean of every cell over steps ``first`` to ``last``, missing steps left out."""
    total = count = 0
    n_cols = selection.cols.size
    for start, stop in slabs(last, bytes_per_step(source_var) * n_cols // source_var.shape[-1], first):
        block = read_block(source_var, slice(start, stop), rows, selection.runs).astype("f8")
        valid = (block != fill) & np.isfinite(block)
        total = total + np.where(valid, block, 0.0).sum(axis=0)
        count = count + valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), fill)


def mask_file(
    source: Path,
    target: Path,
    region: Region,
    crop: bool = False,
    progress: Progress | None = None,
    options: RunOptions = DEFAULTS,
    period: Period | None = None,
    window: str | None = None,
    crop_to: Region | None = None,
) -> Path:
    """Write ``source`` to ``target`` with every cell outside ``region`` set to missing.

    Parameters
    ----------
    source, target : Path
        Input NetCDF file and the output file to create (replaced atomically).
    region : Region
        The region to keep.
    crop : bool
        Cut the output to the bounding box of the kept cells, or of ``crop_to``'s cells where
        given (a chain's cropping operations set the grid, the other regions mask inside it).
    progress : callable, optional
        Called as ``progress(done, total)`` with time steps written so far.
    options : RunOptions
        Deflate codec and level of the data variables (coordinates keep their own filters),
        and the threads that inflate, mask and deflate chunks (the fast path for ISIMIP layouts).
    period, window : optional
        Keep only the steps of ``period``; write the mean of each calendar ``window``
        (``month``, ``year``) instead of every step, as ``cdo monmean`` / ``yearmean``.
    """
    with open_dataset(source) as src:
        layout = read_layout(src, source.name)
        steps = Steps.of(layout, period, window)
        cut = region_mask(layout.grid, crop_to) if crop and crop_to is not None else None
        selection = Selection.build(region_mask(layout.grid, region), crop, cut)
        fast = {} if window else {n: chunks.fast_path(source, n) for n in layout.data_vars}
        by_chunks = {n for n, path in fast.items() if path == "fields" or (path == "tiles" and not crop)}
        with atomic_output(target) as partial:
            with netCDF4.Dataset(partial, "w", format=src.data_model) as out:
                out.set_auto_maskandscale(False)
                action = f"masked {', '.join(layout.data_vars)} to {region.tag}" + (
                    " (cropped)" if crop else ""
                )
                copy_global_attributes(src, out, action)
                _create_dimensions(src, out, layout, selection, steps)
                shapes = {n: len(d) for n, d in out.dimensions.items()}
                shapes[layout.time_dim] = steps.size
                for name, variable in src.variables.items():
                    is_data = name in layout.data_vars
                    timed = layout.time_dim in variable.dimensions and name != layout.time_dim
                    if window and timed and not is_data:
                        continue  # the source's own time bounds: the windows get theirs
                    shape = tuple(shapes.get(d, variable.shape[i]) for i, d in enumerate(variable.dimensions))
                    target_var = create_variable(
                        out,
                        variable,
                        name,
                        variable.dimensions,
                        shape,
                        options.compression if is_data else None,
                    )
                    if name in by_chunks:
                        continue  # written below, chunk by chunk
                    if is_data:
                        _stream_masked(variable, target_var, selection, steps, progress)
                        if window:
                            target_var.setncattr("cell_methods", "time: mean")
                    else:
                        _copy_static(variable, target_var, layout, selection, steps)
                if window:
                    write_window_bounds(out, layout, steps)
            for name in sorted(by_chunks):
                _stream_chunks(
                    source,
                    partial,
                    name,
                    fast[name],
                    selection,
                    src.variables[name],
                    options,
                    progress,
                    steps,
                )
    return target


def _stream_chunks(source, partial, name, path, selection, variable, options, progress, steps) -> None:
    fill = fill_value(variable)
    if path == "tiles":
        tiles.stream_tiles(source, partial, name, selection.region, fill, options, progress, steps.read)
        return
    cols = None if selection.all_cols else selection.cols
    chunks.stream_masked(
        source, partial, name, selection.rows, cols, selection.mask(), fill, options, progress, steps.read
    )
