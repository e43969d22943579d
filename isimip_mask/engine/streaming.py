"""What the engine's streams share: the progress callback and slabs of time steps."""

from collections.abc import Callable

SLAB_BYTES = 32 * 2**20  # input bytes read per slab: bounds memory, amortises call overhead
Progress = Callable[[int, int], None]


def slabs(n_steps: int, step_bytes: int):
    """(start, stop) of consecutive slabs of time steps of about SLAB_BYTES each."""
    size = max(1, SLAB_BYTES // max(1, step_bytes))
    for start in range(0, n_steps, size):
        yield start, min(n_steps, start + size)
