"""The real isimip-client (2.x, from PyPI) against gunicorn, Redis and a worker.

One gunicorn and one worker serve the whole module (each test sends its own request); every
v2 method of the client and the v1 methods run, and their outputs are checked cell by cell.
"""

import csv
import json
import shutil
import subprocess
import sys
import uuid

import netCDF4
import numpy as np
import pytest
from isimip_client.client import ISIMIPClient

from isimip_mask.files.grid import Grid
from isimip_mask.local import free_port
from isimip_mask.regions.kinds import BBox, Country, LandOnly, Point
from isimip_mask.regions.masks import bbox_mask, grid_mask, nearest_cell
from isimip_mask.regions.shapes import parse_geojson
from isimip_mask.settings import Settings
from tests.helpers import (
    DATA,
    DIS,
    DIS_FILE,
    FAST_WORKER,
    YIELD,
    YIELD_FILE,
    Service,
    global_axes,
    serve,
    service_env,
    write_mask_file,
    zipped_output,
)

pytestmark = pytest.mark.redis
FILL = np.float32(1e20)


@pytest.fixture(scope="module")
def module_service(tmp_path_factory, redis_url):
    root = tmp_path_factory.mktemp("client")
    (root / "input" / "isimip").mkdir(parents=True)
    for sample in (DIS_FILE, YIELD_FILE):
        shutil.copy(sample, root / "input" / "isimip" / sample.name)
    shutil.copy(DIS_FILE, root / "input" / "isimip" / "second_dis_global_daily.nc")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        input_path=root / "input",
        output_path=root / "output",
        redis_url=redis_url,
        queue_name=f"test-{uuid.uuid4().hex[:8]}",
        base_url=url,
        output_url=f"{url}/output",
        _env_file=None,
        **FAST_WORKER,
    )
    service = Service(settings)
    service.start_worker()
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    with serve(command, url, service_env(settings)):
        yield service, url + "/"
    service.stop_workers()


@pytest.fixture(scope="module")
def client(module_service):
    return ISIMIPClient(files_api_url=module_service[1], files_api_version="v2")


@pytest.fixture(scope="module")
def client_v1(module_service):
    return ISIMIPClient(files_api_url=module_service[1], files_api_version="v1")


def finished(job):
    assert job is not None and job["status"] == "finished", job
    return job


def download(client, job, tmp_path):
    """The output the job wrote: the zip upstream's clients get (``download-<id>.zip``), opened."""
    assert job["file_name"] == f"download-{job['id']}.zip"
    client.download(job["file_url"], path=tmp_path)
    return zipped_output(tmp_path / job["file_name"], tmp_path / "unzipped")


def source_values(name="dis"):
    with netCDF4.Dataset(DIS_FILE) as source:
        source.set_auto_maskandscale(False)
        return source[name][:], Grid.from_arrays(source["lat"][:], source["lon"][:])


def assert_masked(result, mask):
    """The result keeps exactly the masked cells of the input, values unchanged, 1e20 elsewhere."""
    before, _ = source_values()
    with netCDF4.Dataset(result) as out:
        out.set_auto_maskandscale(False)
        after = out["dis"][:]
    assert mask.sum() > 0
    np.testing.assert_array_equal(after[:, mask], before[:, mask])
    assert np.all(after[:, ~mask] == FILL)


def assert_cropped(result, box):
    before, grid = source_values()
    mask = grid_mask(grid, box)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    with netCDF4.Dataset(result) as out:
        out.set_auto_maskandscale(False)
        assert out["dis"].shape == (1095, rows.size, cols.size)
        np.testing.assert_array_equal(
            out["dis"][:], before[:, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        )


def csv_rows(path):
    return list(csv.reader(path.open()))


def field_means(mask):
    """cos(lat)-weighted means over the mask, missing values left out (as cdo fldmean)."""
    values, grid = source_values()
    weights = np.where(mask, np.cos(np.deg2rad(grid.lat))[:, None], 0.0)
    valid = values != FILL
    w = np.where(valid, weights, 0.0)
    return (np.where(valid, values.astype("f8"), 0) * w).sum(axis=(1, 2)) / w.sum(axis=(1, 2))


def test_mask_bbox(client, tmp_path):
    job = finished(client.mask_bbox([DIS], -2, 3, 44, 48, poll=0.1))
    result = download(client, job, tmp_path)
    assert result.name.endswith("_lon-2.0to3.0lat44.0to48.0_daily_DEMO_FR_2001_2003.nc")
    assert_masked(result, grid_mask(source_values()[1], BBox(-2, 3, 44, 48)))


@pytest.mark.parametrize("method", ["select_bbox", "cutout_bbox"])
def test_select_and_cutout_bbox_cut_to_the_box(client, tmp_path, method):
    job = finished(getattr(client, method)([DIS], -1.5, 3.5, 43.5, 48.5, poll=0.1))
    assert_cropped(download(client, job, tmp_path), BBox(-1.5, 3.5, 43.5, 48.5))


def test_mask_country_of_two_files_downloads_and_extracts_a_zip(client, tmp_path):
    job = finished(client.mask_country([DIS, "isimip/second_dis_global_daily.nc"], "fra", poll=0.1))
    assert job["meta"]["errors"] == {} and job["meta"]["created_files"] == 2
    client.download(job["file_url"], path=tmp_path, extract=True)
    assert "mask to fra" in (tmp_path / "README.txt").read_text()
    mask = grid_mask(source_values()[1], Country("FRA"))
    assert_masked(
        tmp_path / "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_fra_daily_DEMO_FR_2001_2003.nc", mask
    )
    assert_masked(tmp_path / "second_dis_fra_daily.nc", mask)


def test_a_region_outside_every_file_is_refused_before_queueing(client, caplog):
    assert client.mask_country([YIELD], "fra") is None
    assert "France (FRA) does not overlap the grid of this file" in caplog.text


def test_a_file_outside_the_region_is_an_error_of_that_file(client):
    job = finished(client.mask_country([DIS, YIELD], "fra", mean=True, csv=True, poll=0.1))
    assert job["meta"]["created_files"] == 1 and list(job["meta"]["errors"]) == [YIELD]


def test_mask_landonly(client, tmp_path):
    job = finished(client.mask_landonly([DIS], poll=0.1))
    result = download(client, job, tmp_path)
    assert result.name.endswith("_landonly_daily_DEMO_FR_2001_2003.nc")
    assert_masked(result, grid_mask(source_values()[1], LandOnly()))


@pytest.mark.parametrize("method", ["select_point", "cutout_point"])
def test_select_and_cutout_point_give_the_nearest_cell(client, tmp_path, method):
    job = finished(getattr(client, method)([DIS], 48.1, 2.1, csv=True, poll=0.1))
    rows = csv_rows(download(client, job, tmp_path))
    assert rows[0][0] == "2001-01-01" and len(rows) == 1095  # cdo's outputtab rows, no header, as upstream
    values, grid = source_values()
    row, col = nearest_cell(grid, Point(48.1, 2.1))
    expected = ["" if v == FILL else str(v) for v in values[:, row, col]]
    assert [r[1] for r in rows] == expected


def test_mask_shape_keeps_the_layer_asked_for(client, tmp_path):
    idf = (DATA / "ile-de-france-box.geojson").read_text()
    feature = {"type": "Feature", "geometry": parse_geojson(idf).config()["shape"]}
    south = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[0, 43], [4, 43], [4, 45], [0, 45], [0, 43]]]},
    }
    shape = tmp_path / "two.geojson"
    shape.write_text(json.dumps({"type": "FeatureCollection", "features": [feature, south]}))
    job = finished(client.mask_shape([DIS], shape, layer=1, poll=0.1))
    result = download(client, job, tmp_path)
    assert result.name.endswith("_two_daily_DEMO_FR_2001_2003.nc")
    assert_masked(result, grid_mask(source_values()[1], parse_geojson(south)))
    two_files = finished(
        client.mask_shape([DIS, "isimip/second_dis_global_daily.nc"], shape, layer=1, poll=0.1)
    )
    client.download(two_files["file_url"], path=tmp_path / "zip", extract=True)
    used = parse_geojson((tmp_path / "zip" / "two.geojson").read_text())  # the zip holds the shape used
    assert used.geometry.equals(parse_geojson(south).geometry)


def test_mask_mask_uploads_a_netcdf_mask(client, tmp_path):
    lat, lon = global_axes()
    box = BBox(0, 4, 45, 48)
    mask = write_mask_file(
        tmp_path / "areas.nc",
        {
            "m_0": ~bbox_mask(Grid.from_arrays(lat, lon), box),
            "m_1": bbox_mask(Grid.from_arrays(lat, lon), box),
        },
        lat,
        lon,
    )
    job = finished(client.mask_mask([DIS], mask, "m_1", poll=0.1))
    result = download(client, job, tmp_path)
    assert result.name.endswith("_areas_daily_DEMO_FR_2001_2003.nc")
    assert_masked(result, grid_mask(source_values()[1], box))


def test_a_four_operation_chain_is_one_pass_and_equals_cdo(client, tmp_path):
    operations = [
        {"operation": "mask_bbox", "bbox": [-2.0, 8.0, 42.0, 51.0]},
        {"operation": "mask_country", "country": "fra"},
        {"operation": "compute_mean"},
        {"operation": "output_csv"},
    ]
    job = finished(client.submit_job([DIS], operations, [], poll=0.1))
    result = download(client, job, tmp_path)
    assert result.name.endswith(
        "_lon-2.0to8.0lat42.0to51.0+fra_daily_DEMO_FR_2001_2003.csv"
    )  # upstream's name
    rows = csv_rows(result)
    _, grid = source_values()
    mask = grid_mask(grid, BBox(-2, 8, 42, 51)) & grid_mask(grid, Country("FRA"))
    ours = np.array([float(r[1]) for r in rows])
    np.testing.assert_allclose(ours, field_means(mask).astype("f4"), rtol=3e-7)
    if shutil.which("cdo"):  # the same chain with cdo, the mask given as a file
        mask_file = tmp_path / "mask.nc"
        with netCDF4.Dataset(DIS_FILE) as source, netCDF4.Dataset(mask_file, "w") as out:
            for dim in ("lat", "lon"):
                out.createDimension(dim, source.dimensions[dim].size)
                out.createVariable(dim, "f8", (dim,))[:] = source[dim][:]
                out[dim].setncatts({"units": source[dim].units, "standard_name": source[dim].standard_name})
            out.createVariable("m", "f4", ("lat", "lon"), fill_value=FILL)[:] = np.where(mask, 1, FILL)
        table = subprocess.run(
            ["cdo", "-s", "outputtab,value,nohead", "-fldmean", "-ifthen", str(mask_file), str(DIS_FILE)],
            capture_output=True,
            check=True,
            text=True,
        ).stdout.split()
        np.testing.assert_allclose(ours, np.array(table, dtype="f8"), rtol=1e-5)


@pytest.mark.parametrize(
    ("call", "suffix"),
    [
        (lambda c: c.mask(DIS, country="fra", poll=0.1), "_fra_daily_DEMO_FR_2001_2003.nc"),
        (
            lambda c: c.mask(DIS, bbox=[44, 48, -2, 3], poll=0.1),
            "_lon-2.0to3.0lat44.0to48.0_daily_DEMO_FR_2001_2003.nc",
        ),
        (lambda c: c.mask(DIS, landonly=True, poll=0.1), "_landonly_daily_DEMO_FR_2001_2003.nc"),
        (
            lambda c: c.cutout(DIS, [44, 48, -2, 3], poll=0.1),
            "_lon-2.0to3.0lat44.0to48.0_daily_DEMO_FR_2001_2003.nc",
        ),
        (lambda c: c.select(DIS, country="fra", poll=0.1), "_fra_fldmean_daily_DEMO_FR_2001_2003.csv"),
        (
            lambda c: c.select(DIS, bbox=[44, 48, -2, 3], poll=0.1),
            "_lon-2.0to3.0lat44.0to48.0_fldmean_daily_DEMO_FR_2001_2003.csv",
        ),
        (lambda c: c.select(DIS, point=[48.1, 2.1], poll=0.1), "_lat48.1lon2.1_daily_DEMO_FR_2001_2003.csv"),
    ],
    ids=[
        "mask country",
        "mask bbox",
        "mask landonly",
        "cutout",
        "select country",
        "select bbox",
        "select point",
    ],
)
def test_the_v1_client(client_v1, call, suffix):
    job = finished(call(client_v1))
    assert job["file_name"].endswith(suffix), job["file_name"]
