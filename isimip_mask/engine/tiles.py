"""The tile path: mask a file stored in tiles (high-resolution files: chunks of one time step
and part of a field) over its whole grid, tile by tile, with the cost of the region's tiles.

A tile the region leaves out is written as one prepared chunk of fill values without reading
the input; a tile it keeps whole is copied as stored; only tiles on the region's edge are
inflated, masked and deflated again, in threads (see :mod:`isimip_mask.engine.chunks` for the
codecs). Memory: one row of tiles' mask and a few tiles per thread, whatever the grid's size.
"""

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np

from isimip_mask.engine.chunks import Chunk, ChunkCodec, byte_planes, compressor, tile_reader
from isimip_mask.engine.options import RunOptions


def stream_tiles(
    source: Path,
    target: Path,
    name: str,
    region,
    fill,
    options: RunOptions,
    progress=None,
    steps: slice | None = None,
) -> None:
    """Mask ``name`` tile by tile into ``target``, whose ``name`` is chunked like the input's
    (tiles of one time step) and filtered with shuffle + deflate: the full grid is kept.

    ``region`` is the region's mask (:class:`isimip_mask.regions.window.RegionMask`), asked for
    one row of tiles at a time; ``steps`` the time steps (default: all).
    """
    with h5py.File(source, "r") as src, open(source, "rb") as handle:
        dataset = src[name]
        steps = steps or slice(0, dataset.shape[0])
        masker = TileMasker(dataset, handle, region, fill, options)
        with h5py.File(target, "r+") as out, ThreadPoolExecutor(max_workers=max(1, options.threads)) as pool:
            result = out[name]
            if result.shape[0] < steps.stop - steps.start:
                result.resize(steps.stop - steps.start, axis=0)
            pending = deque()
            for done, offset, keep in _tiles(dataset, region, steps):
                where = (offset[0] - steps.start, *offset[1:])
                if keep.any():
                    pending.append((where, pool.submit(masker.mask, offset, keep), None))
                else:  # left out: not even read
                    pending.append((where, None, masker.empty))
                while len(pending) > 2 * options.threads or (pending and pending[0][1] is None):
                    _write_tile(result, *pending.popleft())
                if progress and done:
                    progress(done, steps.stop - steps.start)
            while pending:
                _write_tile(result, *pending.popleft())


class TileMasker:
    """Masks one stored tile: copied as stored where the mask changes nothing, else inflated,
    masked and deflated (threads share it; it keeps nothing between tiles)."""

    def __init__(self, dataset, handle, region, fill, options: RunOptions):
        self.codec, self.read = ChunkCodec(dataset), tile_reader(dataset, handle)
        self.fill_planes = byte_planes(np.full(dataset.chunks, fill, dtype=dataset.dtype))
        self.empty = compressor(options, 0.0)(self.fill_planes.tobytes())
        kept_share = region.count() / max(1, dataset.shape[1] * dataset.shape[2])
        self.compress = compressor(options, kept_share)

    def mask(self, offset: tuple, keep: np.ndarray) -> bytes | None:
        chunk = Chunk(self.codec, *self.read(offset))
        if chunk.raw is None:  # never written: reads as fill, and stays so
            return None
        if keep.all() and chunk.stored_as_planes:
            return chunk.raw
        planes = chunk.planes
        masked = np.where(keep, planes, self.fill_planes)
        if chunk.stored_as_planes and np.array_equal(masked, planes):
            return chunk.raw
        return self.compress(masked.tobytes())


def _tiles(dataset, region, steps: slice):
    """``(steps done or 0, offset, keep)`` of every tile of ``steps``, a row of tiles at a time
    (its mask built once for all steps); at the last tile of a row and step, how many steps'
    worth of tiles are done."""
    _, tile_rows, tile_cols = dataset.chunks
    _, n_rows, n_cols = dataset.shape
    n_bands, count = -(-n_rows // tile_rows), steps.stop - steps.start
    last_col = (n_cols - 1) // tile_cols * tile_cols
    for band_index, row in enumerate(range(0, n_rows, tile_rows)):
        band = region.cells(slice(row, min(n_rows, row + tile_rows)))
        for step in range(steps.start, steps.stop):
            for col in range(0, n_cols, tile_cols):
                done = (band_index * count + step - steps.start + 1) // n_bands if col == last_col else 0
                yield done, (step, row, col), _tile(band, col, dataset.chunks)


def _tile(band: np.ndarray, col: int, chunk_shape: tuple[int, ...]) -> np.ndarray:
    """The mask of the tile at ``col`` of a row of tiles, as large as a chunk (HDF5 stores the
    tiles at the grid's edges whole: their cells beyond it are not kept)."""
    keep = band[:, col : col + chunk_shape[2]]
    if keep.shape != chunk_shape[1:]:
        keep = np.pad(keep, [(0, chunk_shape[1] - keep.shape[0]), (0, chunk_shape[2] - keep.shape[1])])
    return keep[None]


def _write_tile(result, where, future, data) -> None:
    data = future.result() if future is not None else data
    if data is not None:
        result.id.write_direct_chunk(where, data)
