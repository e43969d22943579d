"""Inflate and deflate speed of the zlib-format codecs on real chunks, one thread.

Reads the raw (shuffled, deflated) chunks of an ISIMIP-like daily 0.5 degree file as they are
on disk and times each codec on them: ms per field to inflate, ms per field to deflate, and
the size of what it writes against zlib at level 5 (CDO's ``zip_5``). Usage:

    python benchmarks/bench_codecs.py [--steps 60] [--workdir benchmarks/out]
"""

import argparse
import time
import zlib
from pathlib import Path

import deflate
import h5py
import numpy as np
from isal import isal_zlib
from zlib_ng import zlib_ng

from isimip_mask.demo import write_isimip_like

INFLATE = {
    "zlib": lambda raw, size: zlib.decompress(raw),
    "libdeflate": lambda raw, size: deflate.zlib_decompress(raw, size),
    "zlib-ng": lambda raw, size: zlib_ng.decompress(raw),
    "isal": lambda raw, size: isal_zlib.decompress(raw),
}
DEFLATE = {
    "zlib 5": lambda data: zlib.compress(data, 5),
    "zlib 1": lambda data: zlib.compress(data, 1),
    "libdeflate 4": lambda data: deflate.zlib_compress(data, 4),
    "libdeflate 5": lambda data: deflate.zlib_compress(data, 5),
    "libdeflate 6": lambda data: deflate.zlib_compress(data, 6),
    "zlib-ng 5": lambda data: zlib_ng.compress(data, 5),
    "zlib-ng 3": lambda data: zlib_ng.compress(data, 3),
    "isal 2": lambda data: isal_zlib.compress(data, 2),
    "isal 3": lambda data: isal_zlib.compress(data, 3),
}


def raw_chunks(path: Path, name: str, steps: int) -> tuple[list[bytes], int]:
    with h5py.File(path, "r") as handle:
        dataset = handle[name]
        size = int(np.prod(dataset.chunks)) * dataset.dtype.itemsize
        return [dataset.id.read_direct_chunk((t, 0, 0))[1] for t in range(steps)], size


def best_of(runs: int, func) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / f"codecs_{args.steps}.nc"
    if not source.exists():
        write_isimip_like(source, args.steps)
    chunks, size = raw_chunks(source, "tas", args.steps)
    plain = [zlib.decompress(raw) for raw in chunks]
    stored = sum(map(len, chunks)) / len(chunks)
    print(f"{len(chunks)} fields of {size / 1e6:.2f} MB, stored {stored / 1e3:.0f} kB each")
    print(f"{'inflate':<14}{'ms/field':>10}")
    for name, inflate in INFLATE.items():
        assert all(inflate(raw, size) == data for raw, data in zip(chunks, plain)), name
        seconds = best_of(3, lambda inflate=inflate: [inflate(raw, size) for raw in chunks])
        print(f"{name:<14}{1000 * seconds / len(chunks):>10.2f}")
    reference = sum(len(zlib.compress(data, 5)) for data in plain)
    print(f"{'deflate':<14}{'ms/field':>10}{'size vs zlib 5':>16}")
    for name, compress in DEFLATE.items():
        written = [compress(data) for data in plain]
        assert all(zlib.decompress(out) == data for out, data in zip(written, plain)), name
        seconds = best_of(3, lambda compress=compress: [compress(data) for data in plain])
        print(f"{name:<14}{1000 * seconds / len(plain):>10.2f}{sum(map(len, written)) / reference:>16.3f}")


if __name__ == "__main__":
    main()
