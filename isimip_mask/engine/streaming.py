"""What the engine's streams share: the progress callback, slabs of time steps, bands of rows,
reading a block of the grid, and the time bounds of windows."""

from collections.abc import Callable

import numpy as np

from isimip_mask.files.netcdf import Layout, input_chunks
from isimip_mask.files.steps import Steps

SLAB_BYTES = 32 * 2**20  # input bytes read per slab: bounds memory, amortises call overhead
Progress = Callable[[int, int], None]


def slabs(n_steps: int, step_bytes: int, first: int = 0):
    """(start, stop) of consecutive slabs of about SLAB_BYTES each, from step ``first`` to
    ``n_steps``."""
    size = max(1, SLAB_BYTES // max(1, step_bytes))
    for start in range(first, n_steps, size):
        yield start, min(n_steps, start + size)


def bands(n_rows: int, row_bytes: int, chunk_rows: int | None = None):
    """(start, stop) of bands of rows of about SLAB_BYTES each (at least one row), in whole
    chunks of ``chunk_rows`` where the input has them: a chunk is inflated once per band."""
    size = max(1, SLAB_BYTES // max(1, row_bytes))
    if chunk_rows:
        size = max(chunk_rows, size - size % chunk_rows)
    for start in range(0, n_rows, size):
        yield start, min(n_rows, start + size)


def chunk_rows(variable) -> int | None:
    chunks = input_chunks(variable)
    return chunks[-2] if chunks else None


def column_runs(cols: np.ndarray | None, n_cols: int) -> list[slice]:
    """``cols`` (indices, maybe round the globe) as runs of neighbouring columns to read."""
    if cols is None:
        return [slice(0, n_cols)]
    breaks = np.flatnonzero(np.diff(cols) != 1) + 1
    return [slice(int(run[0]), int(run[-1]) + 1) for run in np.split(cols, breaks) if run.size]


def read_block(variable, times: slice | None, rows: slice, runs: list[slice]) -> np.ndarray:
    """``variable[times, ..., rows, cols]`` read as runs of columns: only the chunks they touch."""
    lead = (times, Ellipsis) if times is not None else (Ellipsis,)
    parts = [variable[(*lead, rows, run)] for run in runs]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


def write_window_bounds(out, layout: Layout, steps: Steps) -> None:
    """``time_bnds`` of the windows, as ``cdo monmean`` writes them: first and last step."""
    if "bnds" not in out.dimensions:
        out.createDimension("bnds", 2)
    bounds = out.createVariable(f"{layout.time_dim}_bnds", "f8", (layout.time_dim, "bnds"))
    bounds[:] = steps.bounds
    out.variables[layout.time_dim].setncattr("bounds", bounds.name)
