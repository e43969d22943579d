"""The fast path: mask NetCDF-4 data chunk by chunk, inflating and deflating in threads.

Masking speed is bound by deflate, not by disk. HDF5 (behind netCDF4 and h5py) runs its
filters under one global lock, with zlib, so it can use one core only and slowly. Here the raw
compressed chunks are found in HDF5's chunk index and read from the file as stored (see
:func:`chunk_reader`), inflated with libdeflate (twice zlib's speed), masked, deflated with the
configured compressor (ISA-L: ten times zlib's speed) by a pool of threads (all three release
the GIL) and written back with ``write_direct_chunk``, in order. Every codec reads and writes
the standard zlib format. A chunk the mask does not change is copied as stored. Memory stays
at a few chunks per thread whatever the length of the time axis.

Used when the input variable is chunked with whole horizontal fields per chunk and filtered
with nothing but shuffle and deflate, which is how ISIMIP files are written; anything else
goes through the netCDF4 path in :mod:`isimip_mask.engine.mask`.
"""

import os
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import deflate
import h5py
import numpy as np
from isal import isal_zlib
from zlib_ng import zlib_ng

from isimip_mask.engine.options import RunOptions
from isimip_mask.errors import DatasetError
from isimip_mask.files.netcdf import FIELD_CHUNK_BYTES

DEFLATE, SHUFFLE = 1, 2  # HDF5 filter ids
ISAL_LEVEL = 2  # ISA-L's levels are 0-3; 2 is its best size for the speed on ISIMIP fields
SPARSE = 0.1  # below this share of kept cells, "auto" deflates with zlib-ng
SPARSE_LEVEL = 2


def compressor(options: RunOptions, kept: float = 1.0) -> Callable[[bytes], bytes]:
    """Deflate in the zlib format with the codec and level of ``options``.

    ``auto`` (the default) picks by ``kept``, the share of the output's cells the mask keeps:
    ISA-L (ten times zlib's speed, ~4% larger than zlib level 5); for sparse masks, whose
    fields are mostly long runs of the fill value, zlib-ng at level 2, which packs those runs
    ~2% tighter than zlib level 5 at nearly ISA-L's speed (measured: benchmarks/bench_codecs.py).
    """
    name = options.compressor
    if name == "auto":
        name = "zlib-ng" if kept < SPARSE else "isal"
        level = SPARSE_LEVEL
    else:
        level = options.compression
    if name == "isal":
        return lambda data: isal_zlib.compress(data, ISAL_LEVEL)
    module = zlib_ng if name == "zlib-ng" else zlib
    return lambda data: module.compress(data, level)


def inflate(raw: bytes, size: int) -> bytes:
    """Inflate a zlib-format chunk of ``size`` bytes (libdeflate; zlib where it refuses, for
    what libdeflate does not take); a damaged chunk is a DatasetError, the file's own fault."""
    try:
        return deflate.zlib_decompress(raw, size)
    except deflate.DeflateError:
        pass
    try:
        return zlib.decompress(raw)
    except zlib.error:
        raise DatasetError(
            "a stored chunk of its data does not inflate: the file is damaged or truncated"
        ) from None


def _filters(dataset) -> list[int]:
    plist = dataset.id.get_create_plist()
    return [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]


def supported(source: Path, name: str) -> bool:
    """True when ``name`` in ``source`` can be streamed chunk by chunk as whole fields."""
    return fast_path(source, name) == "fields"


def fast_path(source: Path, name: str) -> str | None:
    """How ``name`` in ``source`` can be masked chunk by chunk: ``fields`` (a chunk holds whole
    horizontal fields of at most FIELD_CHUNK_BYTES: the ISIMIP layout), ``tiles`` (a chunk
    holds a tile of one time step: the layout of high-resolution files), or None (the netCDF4
    path decides: other filters, contiguous, classic NetCDF)."""
    try:
        with h5py.File(source, "r") as handle:
            dataset = handle.get(name)
            if not (
                isinstance(dataset, h5py.Dataset)
                and dataset.ndim == 3
                and dataset.dtype.isnative  # outputs are written in native order
                and dataset.chunks is not None
                and set(_filters(dataset)) <= {DEFLATE, SHUFFLE}
            ):
                return None
            if dataset.chunks[1:] == dataset.shape[1:]:
                field_bytes = np.prod(dataset.chunks, dtype=np.int64) * dataset.dtype.itemsize
                return "fields" if field_bytes <= FIELD_CHUNK_BYTES else None
            return "tiles" if dataset.chunks[0] == 1 else None
    except OSError:  # classic NetCDF (not HDF5) or unreadable: the netCDF4 path decides
        return None


def byte_planes(values: np.ndarray) -> np.ndarray:
    """``values`` as HDF5's shuffle filter lays them out: byte k of every value in plane k,
    shape ``(itemsize, *values.shape)``."""
    return np.moveaxis(values.view(np.uint8).reshape(*values.shape, values.dtype.itemsize), -1, 0)


def values_of(planes: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The values that byte planes hold (the inverse of :func:`byte_planes`).

    Interleaved plane by plane: a sixth of the time of one transposing copy on a 0.5° field.
    """
    interleaved = np.empty((*planes.shape[1:], planes.shape[0]), np.uint8)
    for k, plane in enumerate(planes):
        interleaved[..., k] = plane
    return interleaved.view(dtype)[..., 0]


class Chunk:
    """One stored chunk: its raw bytes, and (computed once, on demand) its byte planes.

    Masking, cropping and picking cells all work on byte planes, which is what a chunk
    stored with shuffle + deflate inflates to: no unshuffle on the way in and no shuffle on
    the way out, and only the cells a series needs are ever turned back into numbers.
    """

    def __init__(self, codec: "ChunkCodec", raw: bytes | None, skipped: int):
        self.codec, self.raw, self.skipped = codec, raw, skipped
        self._planes = None

    @property
    def stored_as_planes(self) -> bool:
        return self.raw is not None and self.skipped == 0 and self.codec.filters == [SHUFFLE, DEFLATE]

    @property
    def planes(self) -> np.ndarray:
        if self._planes is None:
            self._planes = self.codec.planes(self)
        return self._planes


class ChunkCodec:
    """Decode a raw chunk as HDF5 would: undo its filters in reverse order."""

    def __init__(self, dataset):
        self.filters = _filters(dataset)
        self.dtype = dataset.dtype
        self.chunk_shape = dataset.chunks
        self.nbytes = int(np.prod(self.chunk_shape)) * self.dtype.itemsize
        self.fill = np.asarray(dataset.fillvalue, dtype=self.dtype)

    def planes(self, chunk: Chunk) -> np.ndarray:
        if chunk.stored_as_planes:
            raw = inflate(chunk.raw, self.nbytes)
            return np.frombuffer(raw, np.uint8).reshape(self.dtype.itemsize, *self.chunk_shape)
        return byte_planes(self.decode(chunk.raw, chunk.skipped))

    def decode(self, raw: bytes | None, skipped: int) -> np.ndarray:
        if raw is None:  # never written: HDF5 would return the fill value
            return np.full(self.chunk_shape, self.fill, dtype=self.dtype)
        for position in reversed(range(len(self.filters))):
            if skipped & (1 << position):
                continue
            if self.filters[position] == DEFLATE:
                raw = inflate(raw, self.nbytes)
            else:
                raw = np.frombuffer(raw, np.uint8).reshape(self.dtype.itemsize, -1).T.tobytes()
        return np.frombuffer(raw, dtype=self.dtype).reshape(self.chunk_shape)


def chunk_reader(dataset, handle) -> Callable[[int], tuple[bytes | None, int]]:
    """``read(start) -> (raw bytes or None if never written, filters skipped)`` of the chunk
    of whole fields that starts at step ``start`` (see :func:`tile_reader`)."""
    read = tile_reader(dataset, handle)
    return lambda start: read((start, 0, 0))


def map_chunks(source: Path, name: str, func, threads: int, steps: slice | None = None):
    """Yield ``(done, total, func(local, chunk))`` for each chunk of ``name`` holding steps of
    ``steps`` (default: all), in time order.

    ``chunk`` is a :class:`Chunk`; ``local`` the slice of its time steps that are wanted (the
    first and last chunk may hold others, or reach beyond the end); ``done`` counts the wanted
    steps up to this chunk, of ``total``. ``func`` runs in a pool of threads, with at most two
    chunks per thread in flight.
    """
    with h5py.File(source, "r") as src, open(source, "rb") as handle:
        dataset = src[name]
        per_chunk = dataset.chunks[0]
        first, last = (0, dataset.shape[0]) if steps is None else (steps.start, steps.stop)
        codec = ChunkCodec(dataset)
        read_chunk = chunk_reader(dataset, handle)

        def work(start: int, raw: bytes | None, skipped: int):
            local = slice(max(first, start) - start, min(last, start + per_chunk) - start)
            return func(local, Chunk(codec, raw, skipped))

        pending = deque()
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for start in range(first - first % per_chunk, last, per_chunk):
                done = min(last, start + per_chunk) - first
                pending.append((done, pool.submit(work, start, *read_chunk(start))))
                if len(pending) > 2 * threads:
                    done, future = pending.popleft()
                    yield done, last - first, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, last - first, future.result()


def map_fields(source: Path, name: str, rows: slice, func, threads: int, steps: slice | None = None):
    """Like :func:`map_chunks`, with ``func(values)`` given the values of ``rows`` of each
    chunk's wanted time steps (only those rows are turned back into numbers)."""
    with h5py.File(source, "r") as src:
        dtype = src[name].dtype

    def reduce(local: slice, chunk: Chunk):
        return func(values_of(chunk.planes[:, local, rows], dtype))

    yield from map_chunks(source, name, reduce, threads, steps)


def map_cells(source: Path, name: str, cells: np.ndarray, func, threads: int, steps: slice | None = None):
    """Like :func:`map_chunks`, with ``func(values)`` given the values ``(time, cell)`` of the
    cells ``cells`` (flat indices of a field) of each chunk's wanted time steps: only those
    bytes are gathered and turned back into numbers."""
    with h5py.File(source, "r") as src:
        dtype = src[name].dtype

    def reduce(local: slice, chunk: Chunk):
        planes = chunk.planes[:, local]
        # np.take: a quarter of the time of fancy indexing on the last of three axes
        return func(values_of(np.take(planes.reshape(*planes.shape[:2], -1), cells, axis=2), dtype))

    yield from map_chunks(source, name, reduce, threads, steps)


def stream_masked(
    source: Path,
    target: Path,
    name: str,
    rows: slice,
    cols: np.ndarray | None,
    keep: np.ndarray,
    fill,
    options: RunOptions,
    progress=None,
    steps: slice | None = None,
) -> None:
    """Mask ``name`` from ``source`` into the already created (empty) ``name`` in ``target``.

    ``rows``/``cols`` select the output part of the grid (``cols`` None for all), ``keep`` is
    the mask on that part; cells outside it get ``fill``; ``steps`` the time steps (default:
    all). Output chunks are one time step.

    Where input and output chunks are laid out and filtered alike, a chunk the mask does not
    change is copied as stored, not deflated again: every chunk when the mask keeps the whole
    grid (without inflating it), else each step whose removed cells all hold ``fill`` already
    (land only on an impact model's output, which has values on land only).
    """
    compress = compressor(options, float(keep.mean()) if keep.size else 0.0)
    with h5py.File(source, "r") as src, h5py.File(target, "r") as out:
        dataset, result = src[name], out[name]
        same_layout = (
            cols is None
            and (rows.start or 0) == 0
            and (rows.stop is None or rows.stop >= dataset.shape[1])
            and dataset.chunks[0] == 1
            and result.chunks == dataset.chunks
            and _filters(result) == [SHUFFLE, DEFLATE]
        )
        whole = same_layout and bool(keep.all())
        fill_planes = byte_planes(np.asarray(fill, dtype=dataset.dtype).reshape(1))[:, 0]
        steps = steps or slice(0, dataset.shape[0])
    # masking as two byte-wise operations: (byte AND 0xFF or 0x00) OR (0x00 or the fill's byte),
    # a twentieth of the time np.where takes on a field's four planes
    keep_bits = np.where(keep, 0xFF, 0).astype(np.uint8)[None, None]
    fill_bits = np.where(keep, 0, fill_planes[:, None, None]).astype(np.uint8)[:, None]

    def mask_and_encode(local: slice, chunk: Chunk) -> list[bytes]:
        copyable = same_layout and chunk.stored_as_planes  # chunks of one step: local is all of it
        if whole and copyable:
            return [chunk.raw]
        part = chunk.planes[:, local, rows]
        if cols is not None:
            part = part[..., cols]
        masked = np.bitwise_and(part, keep_bits)
        np.bitwise_or(masked, fill_bits, out=masked)
        # the exponents' plane first: it tells a value from the fill value at a quarter of the cost
        if copyable and np.array_equal(masked[-1], part[-1]) and np.array_equal(masked, part):
            return [chunk.raw]
        return [compress(masked[:, step].tobytes()) for step in range(masked.shape[1])]

    with h5py.File(target, "r+") as out:
        result = out[name]
        if result.shape[0] < steps.stop - steps.start:
            result.resize(steps.stop - steps.start, axis=0)
        step = 0
        for stop, total, encoded in map_chunks(source, name, mask_and_encode, options.threads, steps):
            for data in encoded:
                result.id.write_direct_chunk((step, 0, 0), data)
                step += 1
            if progress:
                progress(stop, total)


def tile_reader(dataset, handle) -> Callable[[tuple], tuple[bytes | None, int]]:
    """``read(offset) -> (raw bytes or None if never written, filters skipped)`` of the chunk
    at ``offset`` (the chunk's first index on each axis).

    Where HDF5 can list a dataset's chunks at once (1.14 and later: milliseconds for thousands),
    they are read with ``os.pread`` from ``handle`` (the dataset's file, opened in binary), which
    lets go of the GIL; asking HDF5 chunk by chunk took 0.1-0.2 ms a chunk in the thread that
    feeds the pool, while the pool waited.
    """
    where = {}
    try:
        dataset.id.chunk_iter(lambda info: where.__setitem__(tuple(info.chunk_offset), info))
    except AttributeError:  # an HDF5 library without chunk iteration
        return lambda offset: _ask_chunk(dataset, offset)
    base = dataset.file.userblock_size  # chunk addresses count from the end of the user block

    def read(offset: tuple) -> tuple[bytes | None, int]:
        info = where.get(offset)
        if info is None:
            return None, 0
        return os.pread(handle.fileno(), info.size, base + info.byte_offset), info.filter_mask

    return read


def _ask_chunk(dataset, offset: tuple) -> tuple[bytes | None, int]:
    if dataset.id.get_chunk_info_by_coord(offset).byte_offset is None:
        return None, 0
    skipped, raw = dataset.id.read_direct_chunk(offset)
    return raw, skipped
