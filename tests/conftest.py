"""Shared fixtures: NetCDF files built in code, the real sample files, a settings object."""

import os
import shutil
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from isimip_mask.settings import Settings

DATA = Path(__file__).parent / "data"
DIS_FILE = DATA / "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_global_daily_DEMO_FR_2001_2003.nc"
YIELD_FILE = DATA / "pepic_miroc5_ewembi_historical_2005soc_co2_yield-whe-noirr_global_annual_DEMO_TJANJIN_1861_2005.nc"
FILL = 1e20


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

    ``chunks`` sets the data chunk shape (default: netCDF's choice, one field per step); ``fmt``
    the file format. Values are distinct per cell and step (``step * 1e5 + row * 1e3 + col`` scaled), so a cell
    that moved or changed is caught; the south-west corner cell is missing (1e20).
    """
    lat, lon = np.asarray(lat, "f8"), np.asarray(lon, "f8")
    with netCDF4.Dataset(path, "w", format=fmt) as out:
        dims = ("lat", "lon")
        if n_times is not None:
            out.createDimension("time", None)
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
            out.createVariable("lat_bnds", "f8", ("lat", "bnds"))[:] = np.stack([lat - step, lat + step], axis=1)
            out.createVariable("lon_bnds", "f8", ("lon", "bnds"))[:] = np.stack([lon - step, lon + step], axis=1)
            out["lat"].bounds = "lat_bnds"
            out["lon"].bounds = "lon_bnds"
        if n_times is not None:
            time = out.createVariable("time", "f8", ("time",))
            time.setncatts({"standard_name": "time", "units": units, "calendar": "standard", "axis": "T"})
            time[:] = np.arange(n_times)
            if bounds:
                out.createVariable("time_bnds", "f8", ("time", "bnds"))[:] = np.stack(
                    [np.arange(n_times), np.arange(n_times) + 1], 1
                )
                time.bounds = "time_bnds"
        compressed = {"zlib": True, "complevel": 4, "shuffle": True, "chunksizes": chunks} if fmt.startswith("NETCDF4") else {}
        var = out.createVariable(name, dtype, dims, fill_value=np.array(FILL, dtype), **compressed)
        var.setncatts({"standard_name": "air_temperature", "long_name": "Near-Surface Air Temperature", "units": "K"})
        var.missing_value = np.array(FILL, dtype)
        if values is None:
            rows, cols = np.meshgrid(np.arange(lat.size), np.arange(lon.size), indexing="ij")
            field = 200 + rows * 0.1 + cols * 0.001
            values = field if n_times is None else np.stack([field + t * 10 for t in range(n_times)])
            values[..., -1 if lat[0] > lat[-1] else 0, 0] = FILL
        var[...] = np.asarray(values, dtype)
        out.setncatts({"title": "test file", "history": "made by the tests", "institution": "isimip-mask tests"})
    return path


@pytest.fixture
def global_file(tmp_path) -> Path:
    lat, lon = global_axes()
    return write_netcdf(tmp_path / "model_gcm_tas_global_daily_2001_2002.nc", lat, lon)


@pytest.fixture
def settings(tmp_path) -> Settings:
    root = tmp_path / "input"
    (root / "isimip").mkdir(parents=True)
    for sample in (DIS_FILE, YIELD_FILE):
        shutil.copy(sample, root / "isimip" / sample.name)
    return Settings(input_path=root, output_path=tmp_path / "output", _env_file=None)


def pytest_sessionfinish(session, exitstatus):
    """With ISIMIP_MASK_REQUIRE_ALL set (CI), a skipped test fails the run: every tool must be there."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("ISIMIP_MASK_REQUIRE_ALL") and skipped and session.exitstatus == 0:
        reporter.write_line(f"ISIMIP_MASK_REQUIRE_ALL: {len(skipped)} test(s) skipped; install what they need", red=True)
        session.exitstatus = 1


# --- real services: a redis-server and worker processes -------------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from isimip_mask.jobs import JobInfo, JobQueue  # noqa: E402
from isimip_mask.local import free_port, start_redis, stop  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TERMINAL = {"finished", "failed", "cancelled"}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server on a free port for the whole test session."""
    port = free_port()
    process = start_redis(port, tmp_path_factory.mktemp("redis"), persistent=False)
    yield f"redis://127.0.0.1:{port}/0"
    stop([process])


def service_env(settings: Settings) -> dict:
    env = dict(os.environ)
    env.update({key.upper(): str(value) for key, value in settings.model_dump().items() if value is not None})
    return env


class Service:
    """Settings on a private queue, its JobQueue, and the worker processes started for it."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.queue = JobQueue(settings)
        self.queue.connection.flushdb()  # job ids are content hashes: start every test afresh
        self.workers: list[subprocess.Popen] = []

    def start_worker(self) -> subprocess.Popen:
        worker = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], env=service_env(self.settings), cwd=ROOT)
        self.workers.append(worker)
        return worker

    def wait(self, job_id: str, until=TERMINAL, timeout: float = 60) -> JobInfo:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.queue.info(job_id)
            if info.status in until:
                return info
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} still {info.status} after {timeout} s")


@pytest.fixture
def service(settings, redis_url):
    """A private queue with one real worker process (``python worker.py``)."""
    settings = settings.model_copy(update={"redis_url": redis_url, "queue_name": f"test-{uuid.uuid4().hex[:8]}"})
    running = Service(settings)
    running.start_worker()
    yield running
    stop(running.workers)


@pytest.fixture(scope="session")
def daily_file(tmp_path_factory) -> Path:
    """A global 0.5 degree daily file of two years: masking it takes a few seconds, long enough
    to watch progress, cancel or kill a worker in the middle of a job."""
    from isimip_mask.demo import write_isimip_like

    return write_isimip_like(tmp_path_factory.mktemp("daily") / "demo_tas_global_daily_2001.nc", 730)


def corrupt_data(path: Path) -> Path:
    """Overwrite the first stored data chunk: the header stays readable, the data does not."""
    import h5py

    with h5py.File(path, "r") as handle:
        name = next(n for n, d in handle.items() if isinstance(d, h5py.Dataset) and d.ndim == 3)
        info = handle[name].id.get_chunk_info(0)
    with open(path, "r+b") as raw:
        raw.seek(info.byte_offset)
        raw.write(b"\xff" * min(info.size, 64))
    return path
