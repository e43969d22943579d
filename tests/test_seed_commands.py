"""The commands of the ISIMIP files API's own README work as written, in the project folder.

Each test copies the project (what git tracks, plus new files) into a fresh folder, writes
``.env`` from ``.env.sample`` as a user would, and runs the command there with the venv's
programs: ``flask run``, ``rq worker``, ``gunicorn`` with only ``GUNICORN_*`` settings, and the
seed's systemd ``ExecStart`` line unchanged.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import requests
from dotenv import dotenv_values

from isimip_mask.files.grid import Grid
from isimip_mask.local import free_port
from isimip_mask.regions.kinds import BBox
from isimip_mask.regions.masks import bbox_mask
from isimip_mask.requests.submission import build_request
from tests.helpers import DIS, DIS_FILE, ROOT, serve, start, stop, wait_for

BIN = Path(sys.executable).parent
BOX = BBox(-2, 3, 44, 48)
SEED_EXEC_START = """${GUNICORN_BIN} \\
  --workers ${GUNICORN_WORKER} \\
  --pid ${GUNICORN_PID_FILE} \\
  --bind localhost:${GUNICORN_PORT} \\
  --timeout ${GUNICORN_TIMEOUT} \\
  --access-logfile ${GUNICORN_ACCESS_LOG_FILE} \\
  --error-logfile ${GUNICORN_ERROR_LOG_FILE} \\
  "api:create_app()\""""

pytestmark = pytest.mark.redis


@pytest.fixture
def project(tmp_path, queue_service):
    """A copy of the project folder with a ``.env`` made from ``.env.sample`` for this test."""
    folder = tmp_path / "project"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, folder / name)
    ours = {
        key.upper(): str(value)
        for key, value in queue_service.settings.model_dump().items()
        if value is not None
    }
    lines = []
    for line in (folder / ".env.sample").read_text().splitlines():
        key = line.partition("=")[0]
        lines.append(f"{key}={ours.pop(key)}" if key in ours else line)
    lines += [f"{key}={value}" for key, value in ours.items()]
    (folder / ".env").write_text("\n".join(lines) + "\n")
    return folder


def environment_file(project: Path, **extra) -> dict:
    """The process environment plus ``.env``, as systemd's ``EnvironmentFile`` gives it."""
    return {
        **os.environ,
        **{k: v for k, v in dotenv_values(project / ".env").items() if v is not None},
        **extra,
    }


def assert_box_masked(result: Path) -> None:
    with netCDF4.Dataset(DIS_FILE) as source, netCDF4.Dataset(result) as out:
        source.set_auto_maskandscale(False)
        out.set_auto_maskandscale(False)
        mask = bbox_mask(Grid.from_arrays(source["lat"][:], source["lon"][:]), BOX)
        np.testing.assert_array_equal(out["dis"][:][:, mask], source["dis"][:][:, mask])
        assert np.all(out["dis"][:][:, ~mask] == np.float32(1e20))


def test_flask_run_serves_the_api_with_the_settings_of_dot_env(project):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {key: value for key, value in os.environ.items() if key != "MAX_FILES"}  # .env alone sets it
    with open(project / ".env", "a") as dot_env:
        dot_env.write("MAX_FILES=7\n")
    with serve([str(BIN / "flask"), "run", "--port", str(port)], url, env, cwd=project):
        body = requests.get(url, timeout=10).json()
    assert body["status"] == "ok" and body["limits"]["max_files"] == 7


def test_rq_worker_runs_jobs_with_the_settings_in_its_environment(project, queue_service):
    worker = start([str(BIN / "rq"), "worker"], environment_file(project), cwd=project)
    try:
        request = build_request(
            queue_service.settings, [DIS], [{"operation": "mask_bbox", "bbox": [-2, 3, 44, 48]}]
        )
        info = queue_service.wait(queue_service.queue.submit(request)[0].id)
    finally:
        stop(worker)
    assert info.status == "finished", info.message
    assert_box_masked(queue_service.queue.result_path(info))


def test_a_worker_that_cannot_read_our_jobs_fails_them_saying_so(project, queue_service):
    env = environment_file(project)
    del env["RQ_WORKER_CLASS"]  # RQ's own worker: reads jobs with pickle
    worker = start([str(BIN / "rq"), "worker", queue_service.settings.queue_name], env, cwd=project)
    try:
        request = build_request(queue_service.settings, [DIS], [{"operation": "mask_landonly"}])
        info = queue_service.wait(queue_service.queue.submit(request)[0].id)
    finally:
        stop(worker)
    assert info.status == "failed"
    assert "not isimip-mask's worker" in info.message and "RQ_WORKER_CLASS" in info.message


@pytest.mark.parametrize("command", ["gunicorn", "seed ExecStart"])
def test_gunicorn_takes_the_seed_settings(project, tmp_path, command):
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    settings = {
        "GUNICORN_BIN": str(BIN / "gunicorn"),
        "GUNICORN_WORKER": "2",
        "GUNICORN_PORT": str(port),
        "GUNICORN_TIMEOUT": "60",
        "GUNICORN_PID_FILE": str(logs / "pid"),
        "GUNICORN_ACCESS_LOG_FILE": str(logs / "access.log"),
        "GUNICORN_ERROR_LOG_FILE": str(logs / "error.log"),
    }
    if command == "gunicorn":  # nothing on the command line: gunicorn.conf.py reads .env
        with open(project / ".env", "a") as dot_env:
            dot_env.writelines(f"{key}={value}\n" for key, value in settings.items())
        argv, env = [settings["GUNICORN_BIN"]], dict(os.environ)
    else:  # the seed's systemd unit: EnvironmentFile=.env, then its ExecStart through sh
        argv, env = ["/bin/sh", "-c", SEED_EXEC_START], environment_file(project, **settings)
    url = f"http://127.0.0.1:{port}/"
    with serve(argv, url, env, cwd=project) as server:
        assert requests.get(url, timeout=10).json()["status"] == "ok"
        pid = int((logs / "pid").read_text())
        assert pid == server.pid or pid in [int(p) for p in _children(server.pid)]
        wait_for(
            lambda: "GET / HTTP" in (logs / "access.log").read_text(), 10, "the request in the access log"
        )
    assert "Listening at: http://127.0.0.1:" in (logs / "error.log").read_text()


def _children(pid: int) -> list[str]:
    return subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()


def test_the_api_logs_to_log_file_like_the_worker(project, tmp_path):
    port, log_file = free_port(), tmp_path / "logs" / "isimip-mask.log"
    env = {**os.environ, "LOG_FILE": str(log_file), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    url = f"http://127.0.0.1:{port}/"
    with serve([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}"], url, env, cwd=project):
        answer = requests.get(url + "0" * 40, timeout=10)
        assert answer.status_code == 503 and "cannot reach Redis" in answer.json()["errors"]["service"][0]
        wait_for(
            lambda: log_file.exists() and "cannot reach Redis" in log_file.read_text(),
            10,
            "the error in LOG_FILE",
        )
