"""The real isimip-client (2.x, from PyPI) against gunicorn, Redis and a worker."""

import shutil
import sys
import zipfile

import netCDF4
import numpy as np
import pytest
from isimip_client.client import ISIMIPClient

from isimip_mask.local import free_port
from isimip_mask.masks import Grid, grid_mask
from isimip_mask.regions import BBox, LandOnly
from tests.helpers import DATA, DIS, DIS_FILE, YIELD, serve, service_env


@pytest.fixture
def api_url(service):
    """gunicorn serving the API on the test's settings, stopped at the end of the test."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service.settings = service.settings.model_copy(update={"base_url": url, "output_url": f"{url}/output"})
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "isimip_mask.api:create_app()",
    ]
    with serve(command, url, service_env(service.settings)):
        yield url + "/"


@pytest.fixture
def client(api_url):
    return ISIMIPClient(files_api_url=api_url, files_api_version="v2")


def finished(job):
    assert job is not None and job["status"] == "finished", job
    return job


def assert_masked(result, region, name="dis"):
    """The result keeps exactly the region's cells of the input, values unchanged, 1e20 elsewhere."""
    with netCDF4.Dataset(DIS_FILE) as source, netCDF4.Dataset(result) as out:
        source.set_auto_maskandscale(False)
        out.set_auto_maskandscale(False)
        before, after = source[name][:], out[name][:]
        mask = grid_mask(Grid.from_arrays(source["lat"][:], source["lon"][:]), region)
    assert mask.sum() > 0
    np.testing.assert_array_equal(after[:, mask], before[:, mask])
    assert np.all(after[:, ~mask] == np.float32(1e20))


def test_mask_bbox_and_download(client, tmp_path):
    job = finished(client.mask_bbox([DIS], -2, 3, 44, 48, poll=0.2))
    client.download(job["file_url"], path=tmp_path)
    assert job["file_name"].endswith("_lon-2.0to3.0lat44.0to48.0_daily_DEMO_FR_2001_2003.nc")
    assert_masked(tmp_path / job["file_name"], BBox(-2, 3, 44, 48))


def test_mask_country_of_two_files_downloads_and_extracts_a_zip(client, service, tmp_path):
    shutil.copy(DIS_FILE, service.settings.input_path / "isimip" / "second_dis_global_daily.nc")
    job = finished(client.mask_country([DIS, "isimip/second_dis_global_daily.nc"], "fra", poll=0.2))
    assert job["meta"]["errors"] == {} and job["meta"]["created_files"] == 2
    client.download(job["file_url"], path=tmp_path, extract=True)
    assert zipfile.is_zipfile(tmp_path / job["file_name"])
    assert "mask to fra" in (tmp_path / "README.txt").read_text()
    assert (
        tmp_path / "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_fra_daily_DEMO_FR_2001_2003.nc"
    ).exists()
    assert (tmp_path / "second_dis_fra_daily.nc").exists()


def test_a_region_outside_every_file_is_refused_before_queueing(client, caplog):
    assert client.mask_country([YIELD], "fra") is None
    assert "the region fra does not overlap the grid of this file" in caplog.text


def test_a_file_outside_the_region_is_an_error_of_that_file(client):
    job = finished(client.mask_country([DIS, YIELD], "fra", poll=0.2))
    assert job["meta"]["created_files"] == 1 and list(job["meta"]["errors"]) == [YIELD]


def test_mask_landonly(client, tmp_path):
    job = finished(client.mask_landonly([DIS], poll=0.2))
    client.download(job["file_url"], path=tmp_path)
    assert job["file_name"].endswith("_landonly_daily_DEMO_FR_2001_2003.nc")
    assert_masked(tmp_path / job["file_name"], LandOnly())


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
