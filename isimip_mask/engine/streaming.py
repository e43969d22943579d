"""What the engine's streams share: the progress callback, slabs of time steps, and the time
bounds of windows."""

from collections.abc import Callable

from ..netcdf import Layout
from ..steps import Steps

SLAB_BYTES = 32 * 2**20  # input bytes read per slab: bounds memory, amortises call overhead
Progress = Callable[[int, int], None]


def slabs(n_steps: int, step_bytes: int, first: int = 0):
    """(start, stop) of consecutive slabs of about SLAB_BYTES each, from step ``first`` to
    ``n_steps``."""
    size = max(1, SLAB_BYTES // max(1, step_bytes))
    for start in range(first, n_steps, size):
        yield start, min(n_steps, start + size)


def write_window_bounds(out, layout: Layout, steps: Steps) -> None:
    """``time_bnds`` of the windows, as ``cdo monmean`` writes them: first and last step."""
    if "bnds" not in out.dimensions:
        out.createDimension("bnds", 2)
    bounds = out.createVariable(f"{layout.time_dim}_bnds", "f8", (layout.time_dim, "bnds"))
    bounds[:] = steps.bounds
    out.variables[layout.time_dim].setncattr("bounds", bounds.name)
