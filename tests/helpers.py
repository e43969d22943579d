"""What the tests share: waiting for conditions, real processes started and stopped safely, files.

Every process a test starts goes through :func:`start`: it runs in a process group of its own,
so :func:`stop` ends it together with its children (RQ work horses, gunicorn workers), and it
carries :data:`RUN_MARK` in its environment, so that the end of the session can find anything
left running (``conftest.pytest_sessionfinish``).
"""

import os
import signal
import subprocess
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

import h5py
import netCDF4
import numpy as np
import requests

from isimip_mask.jobs.queue import JobQueue, connect
from isimip_mask.jobs.status import JobInfo
from isimip_mask.local import wait_for
from isimip_mask.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
DIS_FILE = DATA / "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_global_daily_DEMO_FR_2001_2003.nc"
YIELD_FILE = (
    DATA
    / "pepic_miroc5_ewembi_historical_2005soc_co2_yield-whe-noirr_global_annual_DEMO_TJANJIN_1861_2005.nc"
)
DIS = f"isimip/{DIS_FILE.name}"
YIELD = f"isimip/{YIELD_FILE.name}"
FILL = 1e20
RUN_MARK = "ISIMIP_MASK_TEST_RUN"  # set by conftest to one value per session
STOP_WAIT_S = 10
TERMINAL = {"finished", "failed", "cancelled"}
# what the tests' workers use: a dead worker is found within seconds, progress is fine-grained
FAST_WORKER = {"job_lease_s": 3, "progress_interval_s": 0.1}


def start(command: list[str], env: dict | None = None, cwd: Path = ROOT) -> subprocess.Popen:
    """Start a process in a process group of its own (see :func:`stop`)."""
    return subprocess.Popen(command, env=env, cwd=cwd, start_new_session=True)


def stop(*processes: subprocess.Popen) -> None:
    """SIGTERM each process, SIGKILL what is left after a while, children included.

    Children are collected first: an RQ work horse runs in a process group of its own.
    """
    trees = {process.pid: descendants(process.pid) for process in processes}
    for process in processes:
        _signal_group(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        for pid in [process.pid, *trees[process.pid], *descendants(process.pid)]:
            _signal_group(pid, signal.SIGKILL)  # children that outlived their parent


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren, ...)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _signal_group(pid: int, signum: int) -> None:
    """Signal the process group that ``pid`` leads, or else the process alone."""
    for send in (os.killpg, os.kill):
        try:
            send(pid, signum)
            return
        except (ProcessLookupError, PermissionError):
            continue


def answers(url: str, process: subprocess.Popen) -> bool:
    """True once ``url`` answers at all; any request error means "not yet"."""
    if process.poll() is not None:
        raise AssertionError(f"{' '.join(map(str, process.args[:4]))} exited with code {process.returncode}")
    try:
        return requests.get(url, timeout=5).status_code < 500
    except requests.RequestException:
        return False


@contextmanager
def serve(command: list[str], url: str, env: dict, timeout: float = 60, cwd: Path = ROOT):
    """Run a server until the block ends; yields once ``url`` answers."""
    process = start(command, env, cwd)
    try:
        wait_for(lambda: answers(url, process), timeout, f"{url} answering")
        yield process
    finally:
        stop(process)


def service_env(settings: Settings, **extra) -> dict:
    """The environment of a process that should use ``settings``."""
    env = dict(os.environ)
    env.update({key.upper(): str(value) for key, value in settings.model_dump().items() if value is not None})
    env.update(extra)
    return env


def worker_command() -> list[str]:
    return [sys.executable, str(ROOT / "worker.py")]


def marked_processes() -> list[tuple[int, str]]:
    """(pid, command line) of every process but this one that carries this session's mark."""
    mark = f"{RUN_MARK}={os.environ.get(RUN_MARK, '')}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(
                    (int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
                )
        except OSError:  # ended meanwhile, or not ours to read
            continue
    return found


class Service:
    """Settings on a private queue, its JobQueue, and the worker processes started for it."""

    def __init__(self, settings: Settings):
        self.settings = settings
        connection = connect(settings.redis_url)
        connection.flushdb()  # the same request is the same job: every test starts afresh
        self.queue = JobQueue(settings, connection)
        self.workers: list[subprocess.Popen] = []

    def start_worker(self) -> subprocess.Popen:
        worker = start(worker_command(), service_env(self.settings))
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        stop(*self.workers)
        self.workers.clear()

    def wait(self, job_id: str, until=TERMINAL, timeout: float = 60) -> JobInfo:
        """The job's info once its status is one of ``until``."""

        def reached():
            info = self.queue.info(job_id)
            return info if info.status in until else None

        return wait_for(reached, timeout, f"job {job_id} reaching {'/'.join(sorted(until))}")


# --- NetCDF files built in code --------------------------------------------------------------


def global_axes(resolution: float = 0.5, ascending: bool = False, lon0360: bool = False):
    """Cell centres of a global grid in the ISIMIP order (lat descending, lon -180..180)."""
    half = resolution / 2
    lat = np.arange(-90 + half, 90, resolution)
    lon = np.arange(half, 360, resolution) if lon0360 else np.arange(-180 + half, 180, resolution)
    return (lat if ascending else lat[::-1]), lon


def write_netcdf(
    path: Path,
    lat,
    lon,
    n_times: int | None = 4,
    units: str = "days since 1661-01-01 00:00:00",
    dtype: str = "f4",
    name: str = "tas",
    bounds: bool = False,
    values=None,
    chunks=None,
    fmt: str = "NETCDF4_CLASSIC",
) -> Path:
    """An ISIMIP-like file: ``name(time, lat, lon)`` (or ``(lat, lon)`` when n_times is None).

    ``chunks`` sets the data chunk shape (default: netCDF's choice, one field per step;
    ``"contiguous"``: not chunked, not compressed); ``fmt``
    the file format. Values are distinct per cell and step (``200 + row/10 + col/1000 + 10 step``),
    so a cell that moved or changed is caught; the south-west corner cell is missing (1e20).
    """
    lat, lon = np.asarray(lat, "f8"), np.asarray(lon, "f8")
    with netCDF4.Dataset(path, "w", format=fmt) as out:
        dims = ("lat", "lon")
        if n_times is not None:
            out.createDimension("time", n_times if chunks == "contiguous" else None)  # needs fixed axes
            dims = ("time", *dims)
        out.createDimension("lat", lat.size)
        out.createDimension("lon", lon.size)
        out.createVariable("lat", "f8", ("lat",))[:] = lat
        out.createVariable("lon", "f8", ("lon",))[:] = lon
        out["lat"].setncatts({"standard_name": "latitude", "units": "degrees_north", "axis": "Y"})
        out["lon"].setncatts({"standard_name": "longitude", "units": "degrees_east", "axis": "X"})
        if bounds:
            out.createDimension("bnds", 2)
            step = abs(lat[1] - lat[0]) / 2
            out.createVariable("lat_bnds", "f8", ("lat", "bnds"))[:] = np.stack(
                [lat - step, lat + step], axis=1
            )
            out.createVariable("lon_bnds", "f8", ("lon", "bnds"))[:] = np.stack(
                [lon - step, lon + step], axis=1
            )
            out["lat"].bounds = "lat_bnds"
            out["lon"].bounds = "lon_bnds"
        if n_times is not None:
            time_var = out.createVariable("time", "f8", ("time",))
            time_var.setncatts({"standard_name": "time", "units": units, "calendar": "standard", "axis": "T"})
            time_var[:] = np.arange(n_times)
            if bounds:
                steps = np.arange(n_times)
                out.createVariable("time_bnds", "f8", ("time", "bnds"))[:] = np.stack([steps, steps + 1], 1)
                time_var.bounds = "time_bnds"
        compressed = (
            {"zlib": True, "complevel": 4, "shuffle": True, "chunksizes": chunks}
            if fmt.startswith("NETCDF4") and chunks != "contiguous"
            else {"contiguous": True}
            if chunks == "contiguous"
            else {}
        )
        var = out.createVariable(name, dtype, dims, fill_value=np.array(FILL, dtype), **compressed)
        var.setncatts(
            {"standard_name": "air_temperature", "long_name": "Near-Surface Air Temperature", "units": "K"}
        )
        var.missing_value = np.array(FILL, dtype)
        if values is None:
            rows, cols = np.meshgrid(np.arange(lat.size), np.arange(lon.size), indexing="ij")
            field = 200 + rows * 0.1 + cols * 0.001
            values = field if n_times is None else np.stack([field + t * 10 for t in range(n_times)])
            values[..., -1 if lat[0] > lat[-1] else 0, 0] = FILL
        var[...] = np.asarray(values, dtype)
        out.setncatts(
            {"title": "test file", "history": "made by the tests", "institution": "isimip-mask tests"}
        )
    return path


def write_long_file(path: Path, n_steps: int, distinct: int = 8) -> Path:
    """A global 0.5° daily ``tas`` file of ``n_steps`` steps in the ISIMIP layout, written fast.

    Masking it costs what masking real data costs (every chunk is inflated, masked and deflated),
    but writing it does not: ``distinct`` random fields are deflated once and their chunks
    written again and again (h5py direct chunk writes), so a two-year file takes a second.
    """
    import zlib

    from isimip_mask.engine.chunks import byte_planes  # the same byte shuffle HDF5 applies

    lat, lon = global_axes()
    write_netcdf(
        path, lat, lon, n_times=0, chunks=(1, lat.size, lon.size), values=np.zeros((0, lat.size, lon.size))
    )
    rng = np.random.default_rng(7)
    land = np.abs(lat)[:, None] < 60
    encoded = []
    for _ in range(distinct):
        field = np.where(land, 280 + rng.normal(0, 5, (lat.size, lon.size)), FILL).astype("f4")
        encoded.append(zlib.compress(byte_planes(field).tobytes(), 4))
    with h5py.File(path, "r+") as out:
        out["time"].resize((n_steps,))
        out["time"][:] = np.arange(n_steps)
        data = out["tas"]
        data.resize(n_steps, axis=0)
        for step in range(n_steps):
            data.id.write_direct_chunk((step, 0, 0), encoded[step % distinct])
    return path


def write_mask_file(path: Path, variables: dict, lat, lon) -> Path:
    """A mask file in the layout of ISIMIP's countrymasks.nc: float ``m_<NAME>(lat, lon)`` holding
    1 inside and 0 outside (or missing outside, for names ending in ``_missing``)."""
    with netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC") as out:
        out.createDimension("lat", len(lat))
        out.createDimension("lon", len(lon))
        out.createVariable("lat", "f8", ("lat",))[:] = lat
        out.createVariable("lon", "f8", ("lon",))[:] = lon
        out["lat"].setncatts({"standard_name": "latitude", "units": "degrees_north", "axis": "Y"})
        out["lon"].setncatts({"standard_name": "longitude", "units": "degrees_east", "axis": "X"})
        for name, keep in variables.items():
            variable = out.createVariable(name, "f4", ("lat", "lon"), fill_value=np.float32(FILL), zlib=True)
            variable[:] = np.where(keep, 1.0, FILL if name.endswith("_missing") else 0.0)
    return path


def corrupt_data(path: Path) -> Path:
    """Overwrite the first stored data chunk: the header stays readable, the data does not."""
    with h5py.File(path, "r") as handle:
        name = next(n for n, d in handle.items() if isinstance(d, h5py.Dataset) and d.ndim == 3)
        info = handle[name].id.get_chunk_info(0)
    with open(path, "r+b") as raw:
        raw.seek(info.byte_offset)
        raw.write(b"\xff" * min(info.size, 64))
    return path


def zipped_output(path: Path, into: Path) -> Path:
    """The one output inside a result zip (as the ISIMIP files API answers), extracted into ``into``."""
    with zipfile.ZipFile(path) as archive:
        names = [
            name
            for name in archive.namelist()
            if name not in ("README.txt", "errors.json")
            and not name.endswith(".geojson")
            and not name.startswith("mask_")
        ]
        assert len(names) == 1, archive.namelist()
        archive.extract(names[0], into)
    return into / names[0]
