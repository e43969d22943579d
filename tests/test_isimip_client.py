"""The real isimip-client (2.x, from PyPI) against gunicorn, Redis and a worker."""

import shutil
import subprocess
import sys
import time
import zipfile

import netCDF4
import pytest
import requests
from isimip_client.client import ISIMIPClient

from isimip_mask.local import free_port, stop
from tests.conftest import DATA, DIS_FILE, YIELD_FILE, service_env

DIS = f"isimip/{DIS_FILE.name}"
YIELD = f"isimip/{YIELD_FILE.name}"


@pytest.fixture
def api_url(service):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service.settings = service.settings.model_copy(update={"base_url": url, "output_url": f"{url}/output"})
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "isimip_mask.api:create_app()"]
    server = subprocess.Popen(command, env=service_env(service.settings))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    yield url + "/"
    stop([server])


@pytest.fixture
def client(api_url):
    return ISIMIPClient(files_api_url=api_url, files_api_version="v2")


def finished(job):
    assert job is not None and job["status"] == "finished", job
    return job


def test_mask_bbox_and_download(client, tmp_path):
    job = finished(client.mask_bbox([DIS], -2, 3, 44, 48, poll=0.2))
    client.download(job["file_url"], path=tmp_path)
    with netCDF4.Dataset(tmp_path / job["file_name"]) as out:
        kept = (out["dis"][0].mask == False).sum()  # noqa: E712
    assert job["file_name"].endswith("_lon-2.0to3.0lat44.0to48.0_daily_DEMO_FR_2001_2003.nc") and kept > 0


def test_mask_country_of_two_files_downloads_and_extracts_a_zip(client, service, tmp_path):
    shutil.copy(DIS_FILE, service.settings.input_path / "isimip" / "second_dis_global_daily.nc")
    job = finished(client.mask_country([DIS, "isimip/second_dis_global_daily.nc"], "fra", poll=0.2))
    assert job["meta"]["errors"] == {} and job["meta"]["created_files"] == 2
    client.download(job["file_url"], path=tmp_path, extract=True)
    assert zipfile.is_zipfile(tmp_path / job["file_name"])
    assert "mask to fra" in (tmp_path / "README.txt").read_text()
    assert (tmp_path / "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_fra_daily_DEMO_FR_2001_2003.nc").exists()
    assert (tmp_path / "second_dis_fra_daily.nc").exists()


def test_a_region_outside_a_file_is_refused_before_queueing(client, caplog):
    assert client.mask_country([DIS, YIELD], "fra") is None
    assert "the region fra does not overlap the grid of this file" in caplog.text


def test_mask_landonly(client, tmp_path):
    job = finished(client.mask_landonly([DIS], poll=0.2))
    client.download(job["file_url"], path=tmp_path)
    assert (tmp_path / job["file_name"]).stat().st_size > 0


def test_select_point_csv(client, tmp_path):
    job = finished(client.select_point([DIS], 48.1, 2.1, csv=True, poll=0.2))
    client.download(job["file_url"], path=tmp_path)
    lines = (tmp_path / job["file_name"]).read_text().splitlines()
    assert lines[0] == "time,dis [m3 s-1] at lat=48.25 lon=2.25" and len(lines) == 1096


def test_mask_shape_uploads_the_geojson(client, tmp_path):
    shape = tmp_path / "idf.geojson"
    shape.write_bytes((DATA / "ile-de-france-box.geojson").read_bytes())
    job = finished(client.mask_shape([DIS], shape, layer=0, mean=True, csv=True, poll=0.2))
    client.download(job["file_url"], path=tmp_path)
    lines = (tmp_path / job["file_name"]).read_text().splitlines()
    assert job["file_name"].endswith("_idf_fldmean_daily_DEMO_FR_2001_2003.csv") and len(lines) == 1096
