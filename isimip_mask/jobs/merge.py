"""One output for a period that spans several files of a dataset: the outputs of its files
joined along time, as ``cdo mergetime`` joins them.

NetCDF outputs are copied into the first one: their data chunks as stored (one time step per
chunk, already deflated: nothing is inflated or deflated again), everything else on the time
axis by value, times moved to the first file's units where a file counts from another date.
CSV outputs are joined row by row under one header.
"""

import shutil
from pathlib import Path

import cftime
import h5py
import netCDF4
import numpy as np

from isimip_mask.engine.streaming import SLAB_BYTES
from isimip_mask.files.facets import with_name_period, without_period
from isimip_mask.files.netcdf import atomic_output, open_dataset, read_layout
from isimip_mask.requests.naming import file_years


def mergeable(names: list[str]) -> bool:
    """Outputs of one dataset's files (names that differ only in their years), two or more."""
    stems = {without_period(name) for name in names}
    return len(names) > 1 and len(stems) == 1 and all(file_years(name) for name in names)


def merged_name(names: list[str]) -> str:
    """The name of the joined output: the first year of the first file to the last of the last."""
    years = sorted(file_years(name) for name in names)
    return with_name_period(names[0], years[0][0], years[-1][1])


def merge_outputs(target: Path, paths: list[Path]) -> Path:
    """Join ``paths`` (outputs of one plan, in time order) into ``target``."""
    if target.suffix == ".csv":
        with atomic_output(target) as partial, open(partial, "w") as out:
            for number, path in enumerate(paths):
                lines = path.read_text().splitlines(keepends=True)
                out.writelines(lines if number == 0 else lines[1:])
        return target
    with atomic_output(target) as partial:
        shutil.copyfile(paths[0], partial)
        for path in paths[1:]:
            _append(partial, path)
    return target


def _append(target: Path, source: Path) -> None:
    with open_dataset(source) as src:
        time_dim = read_layout(src, source.name).time_dim
        names = [name for name, v in src.variables.items() if time_dim in v.dimensions]
        data_model = src.data_model
    raw = set() if data_model.startswith("NETCDF3") else _raw_copyable(target, source, names)
    with netCDF4.Dataset(target, "a") as out, netCDF4.Dataset(source) as src:
        out.set_auto_maskandscale(False)
        src.set_auto_maskandscale(False)
        start = len(out.dimensions[time_dim])
        for name in names:
            if name in raw:
                continue
            values = src.variables[name]
            if name == time_dim or name == out.variables[time_dim].__dict__.get("bounds"):
                out.variables[name][start : start + len(values)] = _in_units(values, out.variables[time_dim])
                continue
            step_bytes = values.dtype.itemsize * int(np.prod(values.shape[1:]))
            step = max(1, SLAB_BYTES // max(1, step_bytes))
            for first in range(0, values.shape[0], step):
                out.variables[name][start + first : start + first + step] = values[first : first + step]
    if raw:
        with h5py.File(target, "r+") as out, h5py.File(source, "r") as src:
            for name in raw:
                _copy_chunks(src[name], out[name], start)


def _raw_copyable(target: Path, source: Path, names: list[str]) -> set[str]:
    """Variables whose chunks can be copied as stored: one step per chunk, the same chunks and
    filters in both files."""
    copyable = set()
    with h5py.File(target, "r") as out, h5py.File(source, "r") as src:
        for name in names:
            a, b = out.get(name), src.get(name)
            if (
                isinstance(a, h5py.Dataset)
                and isinstance(b, h5py.Dataset)
                and a.ndim >= 2
                and a.chunks is not None
                and a.chunks == b.chunks
                and a.chunks[0] == 1
                and a.dtype == b.dtype
                and a.compression == b.compression
                and a.shuffle == b.shuffle
            ):
                copyable.add(name)
    return copyable


def _copy_chunks(source: h5py.Dataset, target: h5py.Dataset, start: int) -> None:
    steps = source.shape[0]
    target.resize(start + steps, axis=0)
    zeros = (0,) * (source.ndim - 1)
    for step in range(steps):
        if source.id.get_chunk_info_by_coord((step, *zeros)).byte_offset is None:
            continue  # never written: the fill value, as in the source
        mask, data = source.id.read_direct_chunk((step, *zeros))
        target.id.write_direct_chunk((start + step, *zeros), data, mask)


def _in_units(values, time_var) -> np.ndarray:
    """Time values (or bounds) of ``values`` counted in ``time_var``'s units."""
    own = values.__dict__.get("units") or values.group().variables[time_var.name].__dict__.get("units")
    target_units = time_var.__dict__.get("units")
    data = np.asarray(values[:])
    if not own or own == target_units:
        return data
    calendar = time_var.__dict__.get("calendar", "standard")
    dates = cftime.num2date(data, own, calendar)
    return np.asarray(cftime.date2num(dates, target_units, calendar))
