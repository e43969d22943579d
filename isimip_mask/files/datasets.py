"""Find and describe NetCDF files under the data root: folders, the search index, the periods
of a dataset, and what a file holds. Paths given by users go through :mod:`.paths` first."""

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from isimip_mask.files.facets import FacetTable, name_period, without_period
from isimip_mask.files.facets import parse as parse_facets
from isimip_mask.files.grid import Grid
from isimip_mask.files.netcdf import decode_times, fill_value, open_dataset, read_layout
from isimip_mask.files.paths import NETCDF_SUFFIXES, resolve, resolve_folder

INDEX_MAX_AGE_S = 300  # a search index older than this is rebuilt on the next search


@dataclass(frozen=True)
class Listing:
    """One folder of the data root: its subfolders and NetCDF files (paths relative to the root)."""

    folder: str
    folders: list[str]
    files: list[str]


def list_folder(root: Path, folder: str = "") -> Listing:
    """The subfolders and NetCDF files of one folder; reads that folder only."""
    base = root.resolve()
    path = base if not folder else resolve_folder(base, folder)
    folders, files = [], []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            relative = str(PurePosixPath(folder) / entry.name) if folder else entry.name
            try:
                is_folder = entry.is_dir()
            except OSError:  # a link that loops or cannot be followed: nothing to pick there
                continue
            if is_folder:
                folders.append(relative)
            elif entry.name.lower().endswith(NETCDF_SUFFIXES):
                files.append(relative)
    return Listing(folder, sorted(folders), sorted(files))


def labels(paths: list[str]) -> dict[str, str]:
    """Names for a picker that tell files apart even where a chip cuts them short: the years
    first (``2001-2010 · tas_..._global_daily``, the period taken out of the name), then the
    file name, with its folder where another file has that name."""
    names = [PurePosixPath(path).name for path in paths]
    found = {}
    for path, name in zip(paths, names):
        years = name_period(name)
        span = (str(years[0]) if years[0] == years[1] else f"{years[0]}-{years[1]}") if years else ""
        label = f"{span} · {without_period(name)}" if years else name
        found[path] = label if names.count(name) == 1 else f"{label} ({PurePosixPath(path).parent})"
    return found


@dataclass(frozen=True)
class Found:
    """The first files of a search, and how many matched in all."""

    paths: list[str]
    total: int


class FileIndex:
    """Relative paths of every NetCDF file under the root, walked once and kept for a while.

    An archive can hold 100,000+ files: searches filter this list in memory instead of
    walking the tree each time. Safe to share between threads (Streamlit sessions).
    """

    def __init__(self, root: Path, max_age_s: float = INDEX_MAX_AGE_S):
        self.root = root.resolve()
        self.max_age_s = max_age_s
        self._paths: list[str] = []
        self._folders: list[str] = []
        self._table: FacetTable | None = None
        self._parsed: dict[str, dict[str, str]] = {}  # kept across rebuilds: a name parses once
        self._built = float("-inf")
        self._lock = threading.Lock()

    def paths(self) -> list[str]:
        self._refresh()
        return self._paths

    def folders(self) -> list[str]:
        """Every folder that holds NetCDF files ("." for the root itself)."""
        self._refresh()
        return self._folders

    def _refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._built > self.max_age_s:
                self._paths = sorted(self._walk())
                self._folders = sorted({path.rpartition("/")[0] or "." for path in self._paths})
                self._table = None
                self._built = time.monotonic()

    def facets(self) -> FacetTable:
        """The ISIMIP facets of every file, parsed on first use after each rebuild."""
        return self._faceted()[1]

    def _faceted(self) -> tuple[list[str], FacetTable]:
        """The paths and their facets, row for row (one rebuild may come between two calls)."""
        self._refresh()
        with self._lock:
            if self._table is None:
                parsed = {path: self._parsed.get(path) or parse_facets(path) for path in self._paths}
                self._parsed = parsed
                self._table = FacetTable([parsed[path] for path in self._paths])
            return self._paths, self._table

    def _walk(self):
        stack = [self.root]
        while stack:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.name.lower().endswith(NETCDF_SUFFIXES):
                        yield Path(entry.path).relative_to(self.root).as_posix()

    def search(self, query: str, limit: int = 200, chosen: dict[str, list[str]] | None = None) -> Found:
        """Paths that contain every whitespace-separated word of ``query`` (case-insensitive)
        and have the ``chosen`` facet values (see :class:`FacetTable`); the first ``limit``
        of them, and how many there are."""
        words = query.lower().split()
        if chosen and any(chosen.values()):
            paths, table = self._faceted()
            candidates = [paths[i] for i in np.flatnonzero(table.matching(chosen))]
        else:
            candidates = self.paths()
        if words:
            candidates = [path for path in candidates if all(word in path.lower() for word in words)]
        return Found(candidates[:limit], len(candidates))


def dataset_stem(path: str) -> str:
    """The path without its period and suffix: what all files of one dataset share."""
    return without_period(path.rsplit(".", 1)[0])


def same_dataset(paths: list[str], path: str) -> list[str]:
    """The files among ``paths`` of the same dataset as ``path`` (all its periods), sorted."""
    stem = dataset_stem(path)
    return sorted(p for p in paths if dataset_stem(p) == stem)


def periods(root: Path, picked: list[str]) -> list[str]:
    """Every period of the datasets of the picked files: one read of each picked file's
    folder, not of the whole tree."""
    found = set()
    for folder in {path.rpartition("/")[0] for path in picked}:
        files = list_folder(root, folder).files
        found.update(
            p for path in picked if path.rpartition("/")[0] == folder for p in same_dataset(files, path)
        )
    return sorted(found)


@dataclass(frozen=True)
class DatasetInfo:
    """What a user wants to know about a file before masking it."""

    path: str
    variables: dict[str, str]  # name -> units
    long_names: dict[str, str]
    nlat: int
    nlon: int
    resolution: tuple[float, float]  # (dlat, dlon) in degrees
    lat_range: tuple[float, float]
    lon_range: tuple[float, float]
    n_times: int
    time_span: tuple[str, str] | None
    size_bytes: int
    dtype: str
    grid: Grid
    valid_cells: int | None = None  # cells with a value in the first step (counted on grids up to 4M cells)

    def kept_bytes(self, cells: int) -> int:
        """Uncompressed bytes of ``cells`` cells of every variable over the whole time axis."""
        return cells * max(1, self.n_times) * len(self.variables) * np.dtype(self.dtype).itemsize


COUNTED_CELLS = 4_000_000  # finer grids are not read for a count: a 30-arcsec step is 3.7 GB


def _valid_cells(variable, layout) -> int | None:
    """The cells of the first step that hold a value (not the fill, not NaN): the share of the
    grid the file's bytes are spent on, for estimates of outputs."""
    if layout.grid.lat.size * layout.grid.lon.size > COUNTED_CELLS or variable.ndim < 2:
        return None
    first = np.asarray(variable[(0,) * (variable.ndim - 2)])
    return int(((first != fill_value(variable)) & np.isfinite(first)).sum())


def describe(root: Path, user_path: str) -> DatasetInfo:
    """Variables, units, grid, extent, time span and size of one file."""
    path = resolve(root, user_path)
    with open_dataset(path) as dataset:
        layout = read_layout(dataset, path.name)
        variables = {n: str(dataset.variables[n].__dict__.get("units", "")) for n in layout.data_vars}
        long_names = {n: str(dataset.variables[n].__dict__.get("long_name", n)) for n in layout.data_vars}
        dtype = str(dataset.variables[layout.data_vars[0]].dtype)
        valid = _valid_cells(dataset.variables[layout.data_vars[0]], layout)
    times = layout.time_values
    span = None
    if times.size:
        first, last = decode_times(times[[0, -1]], layout.time_units, layout.calendar)
        span = (first, last)
    grid = layout.grid
    return DatasetInfo(
        path=user_path,
        variables=variables,
        long_names=long_names,
        nlat=grid.lat.size,
        nlon=grid.lon.size,
        resolution=(grid.dlat, grid.dlon),
        lat_range=(float(grid.lat.min()), float(grid.lat.max())),
        lon_range=(float(grid.lon.min()), float(grid.lon.max())),
        n_times=layout.n_times,
        time_span=span,
        size_bytes=path.stat().st_size,
        dtype=dtype,
        grid=grid,
        valid_cells=valid,
    )
