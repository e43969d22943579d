"""The NetCDF boundary: read a file's layout, decode its time axis, copy its skeleton.

The engine (:mod:`isimip_mask.engine`) reads and writes through here; only the page's quick
look opens results on its own (with xarray). Values are read and written raw (no automatic
masking or scaling), so what is kept stays bit-identical.
"""

import math
import os
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import cftime
import netCDF4
import numpy as np

from isimip_mask import __version__
from isimip_mask.errors import DatasetError, RegionError
from isimip_mask.files.grid import Grid

NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")
LAT_NAMES = ("lat", "latitude", "y", "rlat", "nav_lat")
LON_NAMES = ("lon", "longitude", "x", "rlon", "nav_lon")
DEFAULT_FILL = 1e20  # the ISIMIP fill value, used where a float variable has none
# netCDF4's HDF5 is not thread-safe (two threads reading at once crash the process); the page
# and the API serve requests in threads, so every open file is used under this lock.
HDF5_LOCK = threading.RLock()


@dataclass(frozen=True)
class Layout:
    """What the engine needs to know about a file: its grid, time axis and data variables."""

    data_vars: tuple[str, ...]
    lat_dim: str
    lon_dim: str
    time_dim: str | None
    grid: Grid
    time_values: np.ndarray
    time_units: str
    calendar: str

    @property
    def n_times(self) -> int:
        return int(self.time_values.size)


def check_magic(path: Path) -> None:
    """Refuse a file that is not NetCDF (classic, 64-bit or NetCDF-4/HDF5) by its first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not any(head.startswith(magic) for magic in NETCDF_MAGIC):
        raise DatasetError(
            f"{path.name} is not a NetCDF file (it does not start with a NetCDF or HDF5 signature)"
        )


@contextmanager
def open_dataset(path: Path):
    """Open a NetCDF file read-only for raw access, with a clear error for anything else."""
    check_magic(path)
    with HDF5_LOCK:
        try:
            dataset = netCDF4.Dataset(path, "r")
        except OSError as error:
            reason = getattr(error, "strerror", None) or "not a NetCDF file it can open"
            raise DatasetError(f"{path.name} cannot be read as NetCDF ({reason})") from error
        dataset.set_auto_maskandscale(False)
        try:
            yield dataset
        finally:
            dataset.close()


def _find_axis(dataset, names: tuple[str, ...], standard_name: str, axis: str) -> str | None:
    for name, variable in dataset.variables.items():
        if variable.ndim == 1 and variable.dimensions[0] == name:
            attrs = variable.__dict__
            if attrs.get("standard_name") == standard_name or attrs.get("axis") == axis:
                return name
    return next((name for name in names if name in dataset.dimensions and name in dataset.variables), None)


def _coordinate(dataset, name: str) -> np.ndarray:
    values = np.asarray(dataset.variables[name][:], dtype="f8")
    if not np.all(np.isfinite(values)):
        raise DatasetError(f"coordinate {name} has missing values")
    return values


def read_layout(dataset, file_name: str = "") -> Layout:
    """The grid, time axis and data variables of an open dataset."""
    lat = _find_axis(dataset, LAT_NAMES, "latitude", "Y")
    lon = _find_axis(dataset, LON_NAMES, "longitude", "X")
    if lat is None or lon is None:
        raise DatasetError(
            f"{file_name} has no lat/lon coordinates "
            f"(looked for {', '.join(LAT_NAMES[:2])} and {', '.join(LON_NAMES[:2])})"
        )
    time = _find_axis(dataset, ("time", "t"), "time", "T")
    bounds = {v.__dict__.get("bounds") for v in dataset.variables.values()}
    data_vars = tuple(
        name
        for name, variable in dataset.variables.items()
        if name not in bounds
        and name not in (lat, lon)
        and variable.dimensions[-2:] in ((lat, lon), (lon, lat))
    )
    if not data_vars:
        raise DatasetError(f"{file_name} has no variable on the ({lat}, {lon}) grid")
    for name in data_vars:
        dims = dataset.variables[name].dimensions
        if dims[-2:] != (lat, lon):
            raise DatasetError(
                f"{file_name}: variable {name} has dimensions {dims}; (..., {lat}, {lon}) is needed"
            )
    if time is not None:
        time_var = dataset.variables[time]
        time_values = np.asarray(time_var[:], dtype="f8")
        units, calendar = time_var.__dict__.get("units", ""), time_var.__dict__.get("calendar", "standard")
    else:
        time_values, units, calendar = np.zeros(0), "", "standard"
    grid = Grid.from_arrays(_coordinate(dataset, lat), _coordinate(dataset, lon))
    return Layout(data_vars, lat, lon, time, grid, time_values, units, calendar)


def decode_times(values: np.ndarray, units: str, calendar: str = "standard") -> list[str]:
    """ISO dates for a CF time axis, ``years since`` and ``months since`` included.

    cftime (and so xarray) refuses calendar years and months as units; ISIMIP annual and
    monthly files use them, counting whole years (months) from the reference date.
    """
    if values.size == 0:
        return []
    step, _, since = units.partition(" since ")
    step = step.strip().lower()
    try:
        if step in ("years", "year", "months", "month"):
            ref = cftime.num2date(0, f"days since {since}", calendar)
            months = np.floor(values * (12 if step.startswith("year") else 1)).astype(int)
            total = ref.year * 12 + (ref.month - 1) + months
            return [f"{y:04d}-{m + 1:02d}-{ref.day:02d}" for y, m in zip(total // 12, total % 12)]
        dates = cftime.num2date(values, units, calendar, only_use_cftime_datetimes=True)
    except (ValueError, TypeError) as error:
        raise DatasetError(
            f"time units {units!r} with calendar {calendar!r} cannot be decoded: {error}"
        ) from error
    times = [d.isoformat() for d in np.atleast_1d(dates)]
    if all(t.endswith("T00:00:00") for t in times):
        times = [t[:10] for t in times]
    return times


def fill_value(variable) -> float | int:
    """The variable's _FillValue, else missing_value, else the ISIMIP/NetCDF default."""
    attrs = variable.__dict__
    for key in ("_FillValue", "missing_value"):
        if key in attrs:
            return np.asarray(attrs[key]).ravel()[0]
    if variable.dtype.kind == "f":
        return variable.dtype.type(DEFAULT_FILL)
    return netCDF4.default_fillvals[variable.dtype.str[1:]]


def temporary_path(target: Path) -> Path:
    """A hidden name beside the target, unique per writer, renamed to the target when done."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")


def leftovers(folder: Path, name: str = "*"):
    """The temporary files (:func:`temporary_path`) of writers of ``name`` in ``folder`` that
    died before they finished (every name: ``*``)."""
    return folder.glob(f".{name}.*.part")


@contextmanager
def atomic_output(target: Path):
    """Yield a temporary path; rename it to ``target`` only if the block finishes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = temporary_path(target)
    try:
        yield partial
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def history_line(action: str) -> str:
    stamp = datetime.now(UTC).strftime("%a %b %d %H:%M:%S %Y")
    return f"{stamp}: isimip-mask {__version__}: {action}"


def copy_global_attributes(source, target, action: str) -> None:
    attrs = dict(source.__dict__)
    previous = attrs.pop("history", "")
    target.setncatts(attrs)
    target.setncattr("history", history_line(action) + (f"\n{previous}" if previous else ""))


FIELD_CHUNK_BYTES = 16 * 2**20  # a field up to this size is one chunk; larger ones are tiled
TILE = (1024, 2048)  # rows and columns of a tile of a large field without tiles of its own


def data_chunks(
    shape: tuple[int, ...], itemsize: int = 4, tiles: tuple[int, ...] | None = None
) -> tuple[int, ...]:
    """One horizontal field per chunk, the ISIMIP layout (and what readers of time steps want);
    where the input comes in ``tiles`` (high-resolution files), its tiles, cut to the output;
    a field over FIELD_CHUNK_BYTES (30 arcsec: 3.7 GB) in tiles of TILE all the same, so that
    no reader or writer ever holds a whole field."""
    rows, cols = max(1, shape[-2]), max(1, shape[-1])
    lead = [1] * (len(shape) - 2)
    if tiles is not None:
        return tuple(lead + [min(rows, tiles[-2]), min(cols, tiles[-1])])
    if rows * cols * itemsize <= FIELD_CHUNK_BYTES:
        return tuple(lead + [rows, cols])
    return tuple(lead + [min(rows, TILE[0]), min(cols, TILE[1])])


def create_variable(
    target, source_var, name: str, dims: tuple[str, ...], shape: tuple[int, ...], compression: int | None
):
    """Create ``name`` in ``target`` like ``source_var``: dtype, fill value, attributes, filters
    (data variables deflated at ``compression``, chunked by :func:`data_chunks`)."""
    attrs = dict(source_var.__dict__)
    fill = attrs.pop("_FillValue", None)
    options = {}
    if compression:
        options = {
            "compression": "zlib",
            "complevel": compression,
            "shuffle": True,
            "chunksizes": data_chunks(shape, source_var.dtype.itemsize, input_tiles(source_var)),
        }
    else:
        filters = source_var.filters() or {}
        if filters.get("zlib"):
            options = {
                "compression": "zlib",
                "complevel": filters["complevel"],
                "shuffle": filters["shuffle"],
            }
    variable = target.createVariable(
        name, source_var.dtype, dims, fill_value=fill if fill is not None else False, **options
    )
    variable.set_auto_maskandscale(False)
    variable.setncatts(attrs)
    return variable


def input_chunks(variable) -> tuple[int, ...] | None:
    """The chunk shape of a variable, None where it is contiguous or in a classic file."""
    chunking = variable.chunking() if variable.group().data_model.startswith("NETCDF4") else None
    return None if chunking in (None, "contiguous") else tuple(chunking)


def input_tiles(variable) -> tuple[int, ...] | None:
    """The chunk shape of a variable chunked in tiles smaller than its fields, else None."""
    chunks = input_chunks(variable)
    return chunks if chunks and variable.ndim >= 2 and chunks[-2:] != variable.shape[-2:] else None


def bytes_per_step(variable) -> int:
    return (
        int(math.prod(variable.shape[1:]) * variable.dtype.itemsize) if variable.ndim > 2 else variable.size
    )


def read_mask(path: str, var: str | None, label: str) -> tuple[Grid, np.ndarray]:
    """The grid of a mask file and where ``var`` (None: its first gridded variable) keeps cells.

    A cell is kept where the value is neither zero nor missing (ISIMIP's masks hold 1 and 0 or
    missing). Read once per file, variable and modification time.
    """
    return _read_mask(path, Path(path).stat().st_mtime_ns, var, label)


@lru_cache(maxsize=16)
def _read_mask(path: str, mtime_ns: int, var: str | None, label: str) -> tuple[Grid, np.ndarray]:
    with open_dataset(Path(path)) as dataset:
        layout = read_layout(dataset, label)
        name = var or layout.data_vars[0]
        if name not in layout.data_vars:
            listed = ", ".join(layout.data_vars[:8]) + (", ..." if len(layout.data_vars) > 8 else "")
            raise RegionError(
                f"the mask {label} has no variable {name!r} on its grid (it has {listed})", "var"
            )
        variable = dataset.variables[name]
        values = np.asarray(variable[(0,) * (variable.ndim - 2)])
        keep = (values != 0) & (values != fill_value(variable)) & np.isfinite(values)
    return layout.grid, keep


def mask_variables(path: str) -> tuple[str, ...]:
    """The gridded variables of a mask file (``m_DEU``, ...), for checking a request."""
    with open_dataset(Path(path)) as dataset:
        return read_layout(dataset, Path(path).name).data_vars


def write_axes(out, grid: Grid, described: bool = False) -> None:
    """The lat and lon dimensions and coordinates of a file written here (a mask, a demo or
    benchmark file); ``described`` adds ``long_name`` and ``axis`` as ISIMIP files have them."""
    out.createDimension("lat", grid.lat.size)
    out.createDimension("lon", grid.lon.size)
    for axis, values, units, letter in (
        ("lat", grid.lat, "degrees_north", "Y"),
        ("lon", grid.lon, "degrees_east", "X"),
    ):
        variable = out.createVariable(axis, "f8", (axis,))
        variable[:] = values
        standard = "latitude" if axis == "lat" else "longitude"
        variable.setncatts({"standard_name": standard, "units": units})
        if described:
            variable.setncatts({"long_name": standard.title(), "axis": letter})


def write_mask(target: Path, grid: Grid, cells: np.ndarray, name: str = "mask") -> Path:
    """A mask file for ``cdo -ifthen``: ``name(lat, lon)`` 1 where kept, missing elsewhere."""
    with atomic_output(target) as partial, netCDF4.Dataset(partial, "w", format="NETCDF4_CLASSIC") as out:
        write_axes(out, grid)
        mask = out.createVariable(name, "f4", ("lat", "lon"), fill_value=np.float32(DEFAULT_FILL), zlib=True)
        mask.setncattr("missing_value", np.float32(DEFAULT_FILL))
        mask[:] = np.where(cells, 1.0, DEFAULT_FILL).astype("f4")
    return target


MASK_FILL = -128  # the fill value of ISIMIP's create_mask masks (byte)


def write_feature_masks(target: Path, grid: Grid, masks: dict[str, np.ndarray]) -> Path:
    """A mask file as the ISIMIP files API's ``create_mask`` writes one: a byte variable per
    feature (``m_0``, ``m_1``, ...), 1 where it keeps a cell and missing elsewhere."""
    with atomic_output(target) as partial, netCDF4.Dataset(partial, "w", format="NETCDF4_CLASSIC") as out:
        write_axes(out, grid)
        for name, keep in masks.items():
            variable = out.createVariable(
                name, "i1", ("lat", "lon"), fill_value=np.int8(MASK_FILL), zlib=True
            )
            variable[:] = np.where(keep, 1, MASK_FILL).astype("i1")
        out.setncattr("history", history_line(f"mask of {len(masks)} feature(s)"))
    return target
