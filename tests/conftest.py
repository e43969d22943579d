"""Fixtures: settings on a temporary data root, a real redis-server, real workers, test files.

Helpers that tests import live in :mod:`tests.helpers`; this file only holds fixtures and the
session checks (nothing skipped in CI, nothing left running).
"""

import contextlib
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from isimip_mask.local import free_port, start_redis
from isimip_mask.settings import Settings
from tests.helpers import (
    DIS_FILE,
    FAST_WORKER,
    RUN_MARK,
    YIELD_FILE,
    Service,
    global_axes,
    marked_processes,
    stop,
    write_long_file,
    write_netcdf,
)


def pytest_configure(config):
    # every process started from here on inherits the mark (see pytest_sessionfinish); each
    # pytest-xdist worker has its own, so that it checks only what it started itself
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        os.environ[RUN_MARK] = f"{os.environ.get(RUN_MARK, uuid.uuid4().hex)}-{worker}"
    else:
        os.environ.setdefault(RUN_MARK, uuid.uuid4().hex)
        config.stash[TREE] = tree_status()


TREE = pytest.StashKey[str | None]()


def tree_status() -> str | None:
    """``git status --porcelain`` of the project (untracked files included), None outside git."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=Path(__file__).parent.parent,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when a test left a process running or a file in the project's tree, or (in
    CI) when a test was skipped."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    left = marked_processes()
    for pid, _ in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if left and reporter:
        reporter.write_line(f"{len(left)} process(es) started by the tests were still running:", red=True)
        for pid, command in left:
            reporter.write_line(f"  {pid} {command[:150]}", red=True)
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("ISIMIP_MASK_REQUIRE_ALL") and skipped and reporter:
        reporter.write_line(
            f"ISIMIP_MASK_REQUIRE_ALL: {len(skipped)} test(s) skipped; install what they need", red=True
        )
    before = session.config.stash.get(TREE, None)
    after = tree_status() if before is not None else None
    changed = before is not None and after != before
    if changed and reporter:
        reporter.write_line("the tests changed the project's tree (git status --porcelain):", red=True)
        for line in sorted(set(after.splitlines()) ^ set(before.splitlines())):
            reporter.write_line(f"  {line}", red=True)
    if session.exitstatus == 0 and (
        left or changed or (os.environ.get("ISIMIP_MASK_REQUIRE_ALL") and skipped)
    ):
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    """The figures of the hostile-input tests (``tests/test_hostile.py``), one row per door."""
    rows = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        for name, value in getattr(report, "user_properties", ())
        if name == "hostile"
    ]
    if not rows:
        return
    rows = sorted({tuple(row) for row in rows})
    header = ("hostile inputs, by door", "tried", "HTTP 500 / crash", "tracebacks", "inputs modified")
    total = ("total", *(sum(row[i] for row in rows) for i in range(1, 5)))
    terminalreporter.section("hostile inputs")
    for row in (header, *rows, total):
        terminalreporter.write_line(f"{row[0]:<26}" + "".join(f"{v:>18}" for v in row[1:]))


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


# --- real services: a redis-server and worker processes -------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server on a free port for the whole test session."""
    process, url = start_redis(free_port(), tmp_path_factory.mktemp("redis"), persistent=False)
    yield url
    stop(process)


@pytest.fixture
def queue_service(settings, redis_url):
    """A private queue on the session's Redis, with no worker yet (``service.start_worker()``)."""
    settings = settings.model_copy(
        update={"redis_url": redis_url, "queue_name": f"test-{uuid.uuid4().hex[:8]}", **FAST_WORKER}
    )
    running = Service(settings)
    yield running
    running.stop_workers()


@pytest.fixture
def service(queue_service):
    """A private queue with one real worker process (``python worker.py``)."""
    queue_service.start_worker()
    return queue_service


@pytest.fixture(scope="session")
def daily_file(tmp_path_factory) -> Path:
    """A global 0.5° daily file of two years: masking it takes a second or two, long enough to watch
    progress, cancel or kill a worker in the middle of a job (writing it takes a fraction)."""
    return write_long_file(tmp_path_factory.mktemp("daily") / "demo_tas_global_daily_2001_2002.nc", 730)
