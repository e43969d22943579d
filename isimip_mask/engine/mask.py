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
from . import chunks
from .streaming import Progress, slabs


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


def _stream_masked(source_var, target_var, selection: Selection, progress: Progress | None) -> None:
    """The general path (any chunking, classic NetCDF): read, mask and write slab by slab."""
    fill = np.asarray(fill_value(source_var), dtype=source_var.dtype)

    def masked(block: np.ndarray) -> np.ndarray:
        if not selection.all_cols:
            block = block[..., selection.cols]
        return np.where(selection.mask, block, fill)

    if source_var.ndim < 3:
        target_var[...] = masked(source_var[..., selection.rows, :])
        return
    total = source_var.shape[0]
    for start, stop in slabs(total, bytes_per_step(source_var)):
        target_var[start:stop, ...] = masked(source_var[start:stop, ..., selection.rows, :])
        if progress:
            progress(stop, total)


def mask_file(
    source: Path,
    target: Path,
    region: Region,
    crop: bool = False,
    progress: Progress | None = None,
    options: RunOptions = DEFAULTS,
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
    """
    with open_dataset(source) as src:
        layout = read_layout(src, source.name)
        selection = Selection.build(grid_mask(layout.grid, region), crop, layout.grid.is_global)
        by_chunks = {name for name in layout.data_vars if chunks.supported(source, name)}
        with atomic_output(target) as partial:
            with netCDF4.Dataset(partial, "w", format=src.data_model) as out:
                out.set_auto_maskandscale(False)
                action = f"masked {', '.join(layout.data_vars)} to {region.tag}" + (
                    " (cropped)" if crop else ""
                )
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
                        _stream_masked(variable, target_var, selection, progress)
                    else:
                        _copy_static(variable, target_var, layout, selection)
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
                )
    return target
