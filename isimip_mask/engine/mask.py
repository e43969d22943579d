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

from ..masks import grid_mask, mask_bounds
from ..netcdf import (
    atomic_output,
    bytes_per_step,
    copy_global_attributes,
    create_variable,
    fill_value,
    open_dataset,
    read_layout,
)
from ..options import DEFAULTS, RunOptions
from ..regions import Region
from ..steps import Steps
from ..timeaxis import Period
from . import chunks
from .streaming import Progress, slabs, write_window_bounds


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
    sizes = {layout.lat_dim: selection.mask.shape[0], layout.lon_dim: selection.mask.shape[1]}
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
    """The general path (any chunking, classic NetCDF): read, mask and write slab by slab; with
    time windows, each window's mean of every kept cell (missing steps left out, as CDO)."""
    fill = np.asarray(fill_value(source_var), dtype=source_var.dtype)

    def masked(block: np.ndarray) -> np.ndarray:
        if not selection.all_cols:
            block = block[..., selection.cols]
        return np.where(selection.mask, block, fill)

    if source_var.ndim < 3:
        target_var[...] = masked(source_var[..., selection.rows, :])
        return
    first, step_bytes = steps.read.start, bytes_per_step(source_var)
    if steps.groups is None:
        for start, stop in slabs(steps.read.stop, step_bytes, first):
            target_var[start - first : stop - first, ...] = masked(
                source_var[start:stop, ..., selection.rows, :]
            )
            if progress:
                progress(stop - first, steps.count)
        return
    for index, group in enumerate(steps.groups):
        total = count = 0
        for start, stop in slabs(first + group.stop, step_bytes, first + group.start):
            block = source_var[start:stop, ..., selection.rows, :].astype("f8")
            valid = (block != fill) & np.isfinite(block)
            total = total + np.where(valid, block, 0.0).sum(axis=0)
            count = count + valid.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, total / np.maximum(count, 1), fill)
        target_var[index, ...] = masked(mean.astype(source_var.dtype))
        if progress:
            progress(group.stop, steps.count)


def mask_file(
    source: Path,
    target: Path,
    region: Region,
    crop: bool = False,
    progress: Progress | None = None,
    options: RunOptions = DEFAULTS,
    period: Period | None = None,
    window: str | None = None,
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
        selection = Selection.build(grid_mask(layout.grid, region), crop, layout.grid.is_global)
        by_chunks = set() if window else {n for n in layout.data_vars if chunks.supported(source, n)}
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
                cols = None if selection.all_cols else selection.cols
                fill = fill_value(src.variables[name])
                chunks.stream_masked(
                    source,
                    partial,
                    name,
                    selection.rows,
                    cols,
                    selection.mask,
                    fill,
                    options,
                    progress,
                    steps.read,
                )
    return target
