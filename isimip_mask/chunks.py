"""The fast path: mask NetCDF-4 data chunk by chunk, inflating and deflating in threads.

Masking speed is bound by zlib, not by disk. HDF5 (behind netCDF4 and h5py) runs its filters
under one global lock, so it can use one core only. Here the raw compressed chunks are read
with ``read_direct_chunk``, inflated, masked and deflated by a pool of threads (``zlib``
releases the GIL) and written back with ``write_direct_chunk``, in order. Memory stays at a
few chunks per thread whatever the length of the time axis.

Used when the input variable is chunked with whole horizontal fields per chunk and filtered
with nothing but shuffle and deflate, which is how ISIMIP files are written; anything else
goes through the netCDF4 path in :mod:`isimip_mask.engine`.
"""

import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np

DEFLATE, SHUFFLE = 1, 2  # HDF5 filter ids


def _filters(dataset) -> list[int]:
    plist = dataset.id.get_create_plist()
    return [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]


def supported(source: Path, name: str) -> bool:
    """True when ``name`` in ``source`` can be streamed chunk by chunk."""
    try:
        with h5py.File(source, "r") as handle:
            dataset = handle.get(name)
            return bool(
                isinstance(dataset, h5py.Dataset)
                and dataset.ndim == 3
                and dataset.chunks is not None
                and dataset.chunks[1:] == dataset.shape[1:]
                and set(_filters(dataset)) <= {DEFLATE, SHUFFLE}
            )
    except OSError:  # classic NetCDF (not HDF5) or unreadable: the netCDF4 path decides
        return False


def _shuffle(data: np.ndarray) -> bytes:
    return data.view(np.uint8).reshape(-1, data.dtype.itemsize).T.tobytes()


def _unshuffle(raw: bytes, itemsize: int) -> bytes:
    return np.frombuffer(raw, np.uint8).reshape(itemsize, -1).T.tobytes()


class ChunkCodec:
    """Decode a raw chunk as HDF5 would: undo its filters in reverse order."""

    def __init__(self, dataset):
        self.filters = _filters(dataset)
        self.dtype = dataset.dtype
        self.chunk_shape = dataset.chunks

    def decode(self, raw: bytes | None, skipped: int, fill) -> np.ndarray:
        if raw is None:  # never written: HDF5 would return the fill value
            return np.full(self.chunk_shape, fill, dtype=self.dtype)
        for position in reversed(range(len(self.filters))):
            if skipped & (1 << position):
                continue
            if self.filters[position] == DEFLATE:
                raw = zlib.decompress(raw)
            else:
                raw = _unshuffle(raw, self.dtype.itemsize)
        return np.frombuffer(raw, dtype=self.dtype).reshape(self.chunk_shape)


def _read_chunk(dataset, start: int) -> tuple[bytes | None, int]:
    offset = (start, 0, 0)
    if dataset.id.get_chunk_info_by_coord(offset).byte_offset is None:
        return None, 0
    skipped, raw = dataset.id.read_direct_chunk(offset)
    return raw, skipped


def map_chunks(source: Path, name: str, func, threads: int):
    """Yield ``(stop, total, func(start, block))`` for each chunk of ``name``, in time order.

    ``block`` is the decoded chunk (time steps beyond the end left out). ``func`` runs in a
    pool of threads, with at most two chunks per thread in flight.
    """
    with h5py.File(source, "r") as src:
        dataset = src[name]
        n_steps, per_chunk = dataset.shape[0], dataset.chunks[0]
        codec = ChunkCodec(dataset)
        fill = np.asarray(dataset.fillvalue, dtype=dataset.dtype)

        def work(start: int, raw: bytes | None, skipped: int):
            return func(start, codec.decode(raw, skipped, fill)[: n_steps - start])

        pending = deque()
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for start in range(0, n_steps, per_chunk):
                pending.append(
                    (min(n_steps, start + per_chunk), pool.submit(work, start, *_read_chunk(dataset, start)))
                )
                if len(pending) > 2 * threads:
                    stop, future = pending.popleft()
                    yield stop, n_steps, future.result()
            while pending:
                stop, future = pending.popleft()
                yield stop, n_steps, future.result()


def stream_masked(
    source: Path,
    target: Path,
    name: str,
    rows: slice,
    cols: np.ndarray | None,
    keep: np.ndarray,
    fill,
    level: int,
    threads: int,
    progress=None,
) -> None:
    """Mask ``name`` from ``source`` into the already created (empty) ``name`` in ``target``.

    ``rows``/``cols`` select the output part of the grid (``cols`` None for all), ``keep`` is
    the mask on that part; cells outside it get ``fill``. Output chunks are one time step.
    """
    fill = np.asarray(fill)

    def mask_and_encode(start: int, block: np.ndarray) -> list[bytes]:
        block = block[:, rows] if cols is None else block[:, rows][..., cols]
        masked = np.where(keep, block, fill.astype(block.dtype))
        return [zlib.compress(_shuffle(np.ascontiguousarray(step)), level) for step in masked]

    with h5py.File(target, "r+") as out:
        result = out[name]
        step = 0
        for stop, total, encoded in map_chunks(source, name, mask_and_encode, threads):
            if result.shape[0] < stop:
                result.resize(stop, axis=0)
            for data in encoded:
                result.id.write_direct_chunk((step, 0, 0), data)
                step += 1
            if progress:
                progress(stop, total)
