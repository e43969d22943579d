"""The HTTP API with Flask's test client, against a real Redis and worker."""

import csv
import io
import json
import math
import zipfile

import netCDF4
import numpy as np
import pytest
import shapely
from shapely.geometry import mapping

from isimip_mask.api import create_app
from isimip_mask.errors import InputError
from isimip_mask.files.grid import Grid
from isimip_mask.local import free_port
from isimip_mask.regions.kinds import BBox
from isimip_mask.regions.masks import bbox_mask
from isimip_mask.requests.compat import normalize
from tests.helpers import DATA, DIS, DIS_FILE, YIELD, corrupt_data, global_axes, write_netcdf, zipped_output


@pytest.fixture
def client(service):
    app = create_app(service.settings)
    app.testing = True
    return app.test_client()


@pytest.fixture
def offline_client(settings):
    """An app whose Redis is not there: everything that needs the queue must say so."""
    settings = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    return create_app(settings).test_client()


@pytest.mark.parametrize(
    ("payload", "paths", "operations"),
    [
        (
            {"paths": [DIS], "operations": [{"operation": "mask_landonly"}]},
            [DIS],
            [{"operation": "mask_landonly"}],
        ),
        (
            {"path": DIS, "bbox": [35, 70, -10, 40]},
            [DIS],
            [{"operation": "mask_bbox", "bbox": [-10, 40, 35, 70]}],
        ),
        ({"path": DIS, "country": "deu"}, [DIS], [{"operation": "mask_country", "country": "deu"}]),
        ({"path": DIS, "landonly": True}, [DIS], [{"operation": "mask_landonly"}]),
        (
            {"paths": [DIS], "task": "mask_bbox", "bbox": [35, 70, -10, 40]},
            [DIS],
            [{"operation": "mask_bbox", "bbox": [-10, 40, 35, 70]}],
        ),
        (
            {"paths": [DIS], "task": "select_point", "point": [48, 2]},
            [DIS],
            [{"operation": "select_point", "output_csv": True, "point": [48, 2]}],
        ),
        (
            {"paths": [DIS], "task": "select_country", "country": "fra"},
            [DIS],
            [{"operation": "mask_country", "compute_mean": True, "output_csv": True, "country": "fra"}],
        ),
        (
            {"paths": [DIS], "task": "select_bbox", "bbox": [35, 70, -10, 40]},
            [DIS],
            [{"operation": "mask_bbox", "compute_mean": True, "output_csv": True, "bbox": [-10, 40, 35, 70]}],
        ),
        (
            {
                "paths": [DIS],
                "operations": [
                    {"operation": "create_mask", "shape": "pm.json", "mask": "pm.nc"},
                    {"operation": "mask_mask", "mask": "pm.nc", "var": "m_0", "compute_mean": True},
                ],
            },
            [DIS],
            [{"operation": "mask_shape", "shape": "pm.json", "layer": 0, "compute_mean": True}],
        ),
    ],
)
def test_every_request_form_becomes_v2_operations(payload, paths, operations):
    assert normalize(payload) == (paths, operations)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"paths": [DIS]}, "give 'operations'"),
        ({"paths": [DIS], "task": {"nested": 1}}, "is not supported"),
        (
            {
                "paths": [DIS],
                "operations": [
                    {"operation": "create_mask", "shape": "a.json", "mask": "a.nc"},
                    {"operation": "mask_mask", "mask": "a.nc", "var": "tas"},
                ],
            },
            "var must name a layer",
        ),
    ],
)
def test_normalize_refuses(payload, message):
    with pytest.raises(InputError, match=message):
        normalize(payload)


def test_index_answers_as_upstream_and_describes_the_operations(offline_client):
    answer = offline_client.get("/")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ok" and body["jobs"] == {}  # no Redis: no counts, the rest is there
    assert {"create_mask", "compute_mean", "output_csv", "mask_mask", "cutout_bbox"} <= set(
        body["operations"]
    )
    assert body["base_url"] and body["output_url"]
    names = {op["operation"] for op in body["operation_details"]}
    assert {
        "mask_bbox",
        "mask_country",
        "mask_landonly",
        "mask_shape",
        "select_bbox",
        "select_point",
        "cutout_bbox",
        "cutout_point",
    } <= names
    assert body["limits"]["max_files"] == 32 and body["axis_order"]["point"] == "[lat, lon]"


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"data": "{}", "content_type": "text/plain"}, "data", "send JSON"),
        ({"data": "{}"}, "data", "no content type"),
        ({"data": "{not json", "content_type": "application/json"}, "data", "not valid JSON"),
        (
            {"json": {"paths": ["../etc/passwd"], "operations": [{"operation": "mask_landonly"}]}},
            "paths",
            "without '..'",
        ),
        (
            {"json": {"paths": [DIS], "operations": [{"operation": "mask_country", "country": "XYZ"}]}},
            "country",
            "not a known ISO3",
        ),
        ({"json": {"paths": [DIS], "operations": [{"operation": "nope"}]}}, "operations", "not supported"),
        (
            {"json": {"paths": [DIS], "operations": [{"operation": "mask_shape", "shape": "pm.json"}]}},
            "shape",
            "names no uploaded file",
        ),
        ({"data": {"nodata": "x"}, "content_type": "multipart/form-data"}, "data", "part named 'data'"),
    ],
)
def test_bad_requests_get_400_with_field_errors(offline_client, kwargs, field, message):
    answer = offline_client.post("/", **kwargs)
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["status"] == "error" and any(message in m for m in body["errors"][field])


def test_oversized_upload_is_a_json_400(settings):
    app = create_app(settings.model_copy(update={"max_geojson_bytes": 1000}))
    big = {
        "data": json.dumps({"paths": [DIS], "operations": []}),
        "big.json": (io.BytesIO(b"x" * 2_000_000), "big.json"),
    }
    answer = app.test_client().post("/", data=big, content_type="multipart/form-data")
    assert answer.status_code == 400
    assert answer.get_json()["errors"]["request"][0].endswith("bytes, more than the limit of 1001000")


def test_form_limits_say_which_limit_and_an_inline_shape_is_not_one(offline_client):
    parts = {f"part{i}": "x" for i in range(100)}
    answer = offline_client.post("/", data=parts, content_type="multipart/form-data")
    assert answer.get_json()["errors"]["request"] == ["the request has more than 64 parts"]
    circle = [
        [2 + math.cos(a * math.tau / 40_000), 46 + math.sin(a * math.tau / 40_000)] for a in range(40_000)
    ]
    ring = [*circle, circle[0]]  # about 1.5 MB of JSON
    data = {
        "paths": [DIS],
        "operations": [{"operation": "mask_shape", "shape": {"type": "Polygon", "coordinates": [ring]}}],
    }
    answer = offline_client.post("/", data={"data": json.dumps(data)}, content_type="multipart/form-data")
    assert "request" not in answer.get_json()["errors"], answer.get_json()


@pytest.mark.parametrize(
    ("method", "url", "code"), [("get", "/nothing/here", 404), ("put", "/", 405), ("patch", "/abc", 405)]
)
def test_unknown_routes_answer_json(offline_client, method, url, code):
    answer = getattr(offline_client, method)(url)
    assert answer.status_code == code and answer.is_json


def test_redis_down_is_a_json_503(offline_client):
    answer = offline_client.post("/", json={"paths": [DIS], "operations": [{"operation": "mask_landonly"}]})
    assert answer.status_code == 503
    assert "cannot reach Redis" in answer.get_json()["errors"]["service"][0]


def test_submit_201_then_200_then_finished_with_file_url(client, service):
    payload = {"paths": [DIS], "operations": [{"operation": "mask_country", "country": "fra"}]}
    first = client.post("/", json=payload)
    assert first.status_code == 201
    job = first.get_json()
    assert set(job) >= {"id", "job_url", "meta", "status", "ttl"}
    assert job["job_url"] == f"{service.settings.base_url}/{job['id']}"
    assert client.post("/", json=payload).status_code == 200
    service.wait(job["id"])
    done = client.get(f"/{job['id']}").get_json()
    assert done["status"] == "finished"
    assert (done["meta"]["created_files"], done["meta"]["total_files"], done["meta"]["errors"]) == (1, 1, {})
    assert done["file_name"] == f"download-{job['id']}.zip"  # as upstream: a zip, also for one file
    assert done["file_url"] == f"{service.settings.output_url}/{job['id']}/{done['file_name']}"
    download = client.get(f"/output/{job['id']}/{done['file_name']}", headers={"Range": "bytes=0-3"})
    assert download.status_code == 206 and download.data == b"PK\x03\x04"
    with zipfile.ZipFile(service.queue.result_path(service.wait(job["id"]))) as archive:
        names = archive.namelist()
    assert "README.txt" in names and any(n.endswith("_fra_daily_DEMO_FR_2001_2003.nc") for n in names)


def test_multipart_upload_of_a_shape(client, service):
    shape = (DATA / "ile-de-france-box.geojson").read_bytes()
    data = {
        "data": json.dumps(
            {
                "paths": [DIS],
                "operations": [
                    {
                        "operation": "mask_shape",
                        "shape": "idf.geojson",
                        "compute_mean": True,
                        "output_csv": True,
                    }
                ],
            }
        ),
        "idf.geojson": (io.BytesIO(shape), "idf.geojson"),
    }
    answer = client.post("/", data=data, content_type="multipart/form-data")
    assert answer.status_code == 201
    info = service.wait(answer.get_json()["id"])
    output = zipped_output(service.queue.result_path(info), service.settings.output_path / "unzipped")
    assert info.status == "finished" and output.name.endswith("_idf_daily_DEMO_FR_2001_2003.csv")


def test_delete_forgets_a_finished_job_and_unknown_ids_are_404(client, service):
    job = client.post("/", json={"paths": [DIS], "operations": [{"operation": "mask_landonly"}]}).get_json()
    service.wait(job["id"])
    assert client.delete(f"/{job['id']}").status_code == 204
    assert client.get(f"/{job['id']}").status_code == 404  # a finished job is forgotten
    assert not (service.settings.output_path / job["id"]).exists()
    for method in ("get", "delete"):
        answer = getattr(client, method)("/" + "0" * 40)
        assert answer.status_code == 404 and answer.get_json() == {"status": "not found"}
    assert client.get("/output/../etc").status_code == 404


def test_delete_of_a_queued_job_forgets_it_and_no_worker_runs_it(queue_service):
    client = create_app(queue_service.settings).test_client()  # no worker yet: the job stays queued
    job = client.post("/", json={"paths": [DIS], "operations": [{"operation": "mask_landonly"}]}).get_json()
    assert job["status"] == "queued" and job["ttl"] == queue_service.settings.result_ttl_s
    assert client.delete(f"/{job['id']}").status_code == 204
    assert client.get(f"/{job['id']}").status_code == 404
    queue_service.start_worker()
    again = client.post("/", json={"paths": [DIS], "operations": [{"operation": "mask_landonly"}]})
    assert again.status_code == 201 and queue_service.wait(job["id"]).status == "finished"


PORTAL_ORIGIN = "https://data.isimip.org"


def test_the_portal_requests_as_it_sends_them(client, service):
    """Preflight, a multipart POST with the JSON in a part named ``data``, polling, what it reads."""
    preflight = client.options(
        "/", headers={"Origin": PORTAL_ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    data = {
        "paths": [DIS],
        "operations": [
            {"operation": "create_mask", "shape": "idf.geojson", "mask": "idf.nc"},
            {"operation": "mask_mask", "mask": "idf.nc", "var": "m_0"},
            {"operation": "compute_mean"},
            {"operation": "output_csv"},
        ],
    }
    shape = (DATA / "ile-de-france-box.geojson").read_bytes()
    answer = client.post(
        "/",
        data={"data": json.dumps(data), "idf.geojson": (io.BytesIO(shape), "idf.geojson")},
        headers={"Origin": PORTAL_ORIGIN},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 201 and answer.headers["Access-Control-Allow-Origin"] == "*"
    job = answer.get_json()
    while job["status"] in ("queued", "started", "scheduled"):  # the portal polls; the worker ends it
        service.wait(job["id"])
        job = client.get(job["job_url"].rsplit("/", 1)[1], headers={"Origin": PORTAL_ORIGIN}).get_json()
    assert job["status"] == "finished" and isinstance(job["ttl"], int) and job["ttl"] > 0
    assert job["meta"]["created_files"] == job["meta"]["total_files"] == 1
    assert job["file_name"] == f"download-{job['id']}.zip"  # what the portal offers for download
    output = zipped_output(
        service.queue.result_path(service.wait(job["id"])), service.settings.output_path / "u"
    )
    assert output.name.endswith("_idf_daily_DEMO_FR_2001_2003.csv") and output.read_text()[:4] == "2001"


def test_a_failed_job_says_why_in_meta_error(client, service):
    broken = write_netcdf(service.settings.input_path / "broken_global.nc", *global_axes(5.0))
    job = client.post("/", json={"paths": [broken.name], "operations": [{"operation": "mask_landonly"}]})
    corrupt_data(broken)
    service.wait(job.get_json()["id"])
    answer = client.get(f"/{job.get_json()['id']}").get_json()
    assert answer["status"] == "failed" and answer["meta"]["error"].startswith("no file could be processed")


def test_a_file_the_region_misses_is_an_error_of_that_file_only(client, service):
    job = client.post(
        "/", json={"paths": [DIS, YIELD], "operations": [{"operation": "mask_country", "country": "fra"}]}
    )
    assert job.status_code == 201
    info = service.wait(job.get_json()["id"])
    answer = client.get(f"/{info.id}").get_json()
    assert answer["status"] == "finished" and answer["meta"]["created_files"] == 1
    assert list(answer["meta"]["errors"]) == [YIELD] and "does not overlap" in answer["meta"]["errors"][YIELD]
    only_misses = client.post(
        "/", json={"paths": [YIELD], "operations": [{"operation": "mask_country", "country": "fra"}]}
    )
    assert (
        only_misses.status_code == 400 and "does not overlap" in only_misses.get_json()["errors"]["paths"][0]
    )


def test_output_csv_without_a_mean_has_a_row_per_cell_and_step(client, service):
    job = client.post(
        "/",
        json={
            "paths": [DIS],
            "operations": [{"operation": "mask_bbox", "bbox": [2, 3, 48, 49], "output_csv": True}],
        },
    )
    info = service.wait(job.get_json()["id"])
    output = zipped_output(service.queue.result_path(info), service.settings.output_path / "unzipped")
    rows = [["time", "lat", "lon", "dis [m3 s-1]"], *csv.reader(output.open())]  # no header, as upstream
    assert rows[1][0] == "2001-01-01"
    with netCDF4.Dataset(DIS_FILE) as source:
        source.set_auto_maskandscale(False)
        lat, lon, values = source["lat"][:], source["lon"][:], source["dis"][:]
    mask = bbox_mask(Grid.from_arrays(lat, lon), BBox(2, 3, 48, 49))
    r, c = np.nonzero(mask)
    assert len(rows) == 1 + 1095 * len(r)
    expected = [[f"{float(lat[i])!r}", f"{float(lon[j])!r}"] for i, j in zip(r, c)]
    assert [row[1:3] for row in rows[1 : 1 + len(r)]] == expected
    for step in (0, 500, 1094):
        for k, (i, j) in enumerate(zip(r, c)):
            row = rows[1 + step * len(r) + k]
            assert row[3] == ("" if values[step, i, j] == np.float32(1e20) else str(values[step, i, j]))
    assert rows[1][0] == "2001-01-01" and rows[-1][0] == "2003-12-31"


def _zip_bomb(inflated: int) -> bytes:
    """A 'shapefile' zip whose .shp inflates to ``inflated`` bytes of zeros (a few kB zipped)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for ext, size in (("shp", inflated), ("shx", 100), ("dbf", 100)):
            zipped.writestr(f"bomb.{ext}", b"\0" * size)
    return archive.getvalue()


BBOX_OF = f'{{"paths": ["{DIS}"], "operations": [{{"operation": "mask_bbox", "bbox": [%s, 1, 2, 3]}}]}}'
SQUARE_WITH_NAN = '{"type": "Polygon", "coordinates": [[[0, 0], [NaN, 0], [1, 1], [0, 0]]]}'
HOSTILE = {
    "NUL in a path": ({"paths": ["isimip/a\0b.nc"], "operations": [{"operation": "mask_landonly"}]}, "paths"),
    "5000-character path": ({"paths": ["a" * 5000], "operations": [{"operation": "mask_landonly"}]}, "paths"),
    "400-digit number": (BBOX_OF % ("9" * 400), "bbox"),
    "5000-digit number": (
        BBOX_OF % ("9" * 5000),
        "data",
    ),
    "JSON nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "data"),
    "features is a number": (
        {
            "paths": [DIS],
            "operations": [
                {"operation": "mask_shape", "shape": {"type": "FeatureCollection", "features": 5}}
            ],
        },
        "shape",
    ),
    "NaN in a polygon": (
        f'{{"paths": ["{DIS}"], "operations": [{{"operation": "mask_shape", "shape": {SQUARE_WITH_NAN}}}]}}',
        "shape",
    ),
    "operation is a list": ({"paths": [DIS], "operations": [{"operation": ["mask_bbox"]}]}, "operations"),
    "mask name is a list": (
        {"paths": [DIS], "operations": [{"operation": "mask_mask", "mask": ["a"]}]},
        "mask",
    ),
    "task is an object": ({"paths": [DIS], "task": {"a": 1}}, "operations"),
    "booleans in a bbox": (
        {"paths": [DIS], "operations": [{"operation": "mask_bbox", "bbox": [True, False, 35, 70]}]},
        "bbox",
    ),
    "paths is a string": ({"paths": DIS, "operations": [{"operation": "mask_landonly"}]}, "paths"),
    "operations is an object": ({"paths": [DIS], "operations": {"operation": "mask_landonly"}}, "operations"),
    "point of words": (
        {"paths": [DIS], "operations": [{"operation": "select_point", "point": ["a", "b"]}]},
        "point",
    ),
    "layer 10**30": (
        {
            "paths": [DIS],
            "operations": [
                {
                    "operation": "mask_shape",
                    "shape": json.loads(SQUARE_WITH_NAN.replace("NaN", "1")),
                    "layer": 10**30,
                }
            ],
        },
        "layer",
    ),
    "rule unknown": (
        {"paths": [DIS], "operations": [{"operation": "mask_landonly", "rule": ["touch"]}]},
        "operations",
    ),
    "five operations": ({"paths": [DIS], "operations": [{"operation": "mask_landonly"}] * 5}, "operations"),
    "a body that is a list": ([1, 2, 3], "data"),
    "a body that is a number": ("5", "data"),
}


@pytest.mark.parametrize(("body", "key"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_json_gets_a_400_naming_the_field_never_a_500(offline_client, body, key):
    answer = offline_client.post(
        "/", data=body if isinstance(body, str) else json.dumps(body), content_type="application/json"
    )
    assert answer.status_code == 400, answer.get_json()
    errors = answer.get_json()["errors"]
    assert key in errors and all(isinstance(m, str) and "Traceback" not in m for m in errors[key]), errors


def test_a_zip_bomb_is_refused_before_it_is_inflated(settings):
    small = settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{free_port()}/0", "max_geojson_bytes": 100_000}
    )
    data = {"paths": [DIS], "operations": [{"operation": "mask_shape", "shape": "bomb.zip"}]}
    answer = (
        create_app(small)
        .test_client()
        .post(
            "/",
            data={"data": json.dumps(data), "bomb.zip": (io.BytesIO(_zip_bomb(20_000_000)), "bomb.zip")},
            content_type="multipart/form-data",
        )
    )
    assert answer.status_code == 400
    assert answer.get_json()["errors"]["shape"] == [
        "shape zip inflates to 20000200 bytes, more than the limit of 1000000"
    ]


@pytest.mark.parametrize(
    "url", ["/%C2%B2%C2%B3", "/" + "a" * 5000, "/output/%C2%B2/x.nc", "/ABCDEF" + "0" * 34]
)
def test_ids_that_no_job_can_have_are_404_without_asking_redis(offline_client, url):
    assert offline_client.get(url).status_code == 404 and offline_client.delete(url).status_code in (404, 405)


@pytest.mark.parametrize(
    "payload",
    [
        {"paths": [DIS], "operations": [{"operation": "mask_bbox", "bbox": [0, 10, 50, 40]}]},
        {"path": DIS, "bbox": [50, 40, 0, 10]},  # the original service's [south, north, west, east]
    ],
    ids=["v2", "original service"],
)
def test_a_bbox_with_south_above_north_is_put_in_order_as_upstream_does(payload):
    from isimip_mask.requests.chain import parse_operations

    _, operations = normalize(payload)
    assert parse_operations(operations).region == BBox(0, 10, 40, 50)


def test_ttl_is_the_configured_lifetime_every_time(client, service):
    body = {"paths": [DIS], "operations": [{"operation": "mask_country", "country": "FRA"}]}
    job = client.post("/", json=body).get_json()
    service.wait(job["id"])
    again = client.get(f"/{job['id']}").get_json()
    assert job["ttl"] == again["ttl"] == service.settings.result_ttl_s
    assert client.get("/").get_json()["jobs"]["finished"] >= 1


def test_a_many_file_job_never_goes_back_to_queued(queue_service):
    """Its parts run, then its last step (the zip) waits in the queue: that is "started" still."""
    import subprocess
    import sys
    from pathlib import Path

    from tests.helpers import service_env

    settings = queue_service.settings
    client = create_app(settings).test_client()
    body = {"paths": [DIS, YIELD], "operations": [{"operation": "mask_landonly"}]}
    job = client.post("/", json=body).get_json()
    assert job["status"] == "queued"
    rq = str(Path(sys.executable).parent / "rq")  # a worker that runs the two parts, then stops
    command = [rq, "worker", "--burst", "--max-jobs", "2", "--url", settings.redis_url]
    command += ["--worker-class", "isimip_mask.jobs.workers.MaskWorker", settings.queue_name]
    subprocess.run(command, env=service_env(settings), timeout=90, check=True, capture_output=True)
    assert client.get(f"/{job['id']}").get_json()["status"] == "started"
    queue_service.start_worker()
    assert queue_service.wait(job["id"]).status == "finished"


def test_cutout_bbox_with_the_mean_flags_gives_the_mean_the_user_asked_for(client, service):
    """Upstream's ncks drops compute_mean and output_csv on cutout_bbox; the user ticked them."""
    operations = [
        {"operation": "cutout_bbox", "bbox": [0, 5, 44, 48], "compute_mean": True, "output_csv": True}
    ]
    job = client.post("/", json={"paths": [DIS], "operations": operations}).get_json()
    info = service.wait(job["id"])
    output = zipped_output(service.queue.result_path(info), service.settings.output_path / "unzipped")
    assert info.status == "finished" and output.suffix == ".csv"


def test_create_mask_alone_returns_the_mask_of_each_feature_in_the_zip(client, service):
    """As upstream: an uploaded shape's features as m_0, m_1, ... (1 inside, missing outside)."""
    boxes = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "west"},
                "geometry": mapping(shapely.box(0, 44, 2, 47)),
            },
            {
                "type": "Feature",
                "properties": {"name": "east"},
                "geometry": mapping(shapely.box(3, 45, 5, 48)),
            },
        ],
    }
    data = {
        "paths": [DIS],
        "operations": [{"operation": "create_mask", "shape": "boxes.json", "mask": "boxes.nc"}],
    }
    answer = client.post(
        "/",
        data={"data": json.dumps(data), "boxes.json": (io.BytesIO(json.dumps(boxes).encode()), "boxes.json")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 201, answer.get_json()
    info = service.wait(answer.get_json()["id"])
    mask = zipped_output(service.queue.result_path(info), service.settings.output_path / "unzipped")
    assert info.status == "finished" and mask.name == "boxes.nc"
    with netCDF4.Dataset(DIS_FILE) as source:
        grid = Grid.from_arrays(source["lat"][:], source["lon"][:])
    with netCDF4.Dataset(mask) as out:
        out.set_auto_maskandscale(False)
        for layer, box in (("m_0", BBox(0, 2, 44, 47)), ("m_1", BBox(3, 5, 45, 48))):
            np.testing.assert_array_equal(out[layer][:] == 1, bbox_mask(grid, box))
            assert set(np.unique(out[layer][:])) == {1, -128}


def test_create_mask_chained_with_another_region_says_to_use_mask_mask(offline_client):
    operations = [
        {
            "operation": "create_mask",
            "shape": {"type": "Polygon", "coordinates": [[[0, 44], [2, 44], [2, 47], [0, 44]]]},
            "mask": "a.nc",
        },
        {"operation": "mask_landonly"},
    ]
    answer = offline_client.post("/", json={"paths": [DIS], "operations": operations})
    assert answer.status_code == 400 and "follow it with mask_mask" in answer.get_data(as_text=True)
