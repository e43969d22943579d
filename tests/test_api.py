"""The HTTP API with Flask's test client, against a real Redis and worker."""

import io
import json

import pytest

from isimip_mask.api import create_app, normalize
from isimip_mask.errors import InputError
from isimip_mask.local import free_port
from tests.helpers import DATA, DIS_FILE

DIS = f"isimip/{DIS_FILE.name}"


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
            [{"operation": "select_point", "point": [48, 2]}],
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
            [{"operation": "mask_shape", "shape": "pm.json", "compute_mean": True}],
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
        ({"paths": [DIS], "operations": [{"operation": "mask_mask", "mask": "x.nc"}]}, "needs a create_mask"),
    ],
)
def test_normalize_refuses(payload, message):
    with pytest.raises(InputError, match=message):
        normalize(payload)


def test_index_lists_operations_and_limits(offline_client):
    answer = offline_client.get("/")
    assert answer.status_code == 200
    body = answer.get_json()
    names = {op["operation"] for op in body["operations"]}
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
        ({"data": "{}", "content_type": "text/plain"}, "request", "send JSON"),
        ({"data": "{}"}, "request", "no content type"),
        ({"data": "{not json", "content_type": "application/json"}, "request", "not valid JSON"),
        (
            {"json": {"paths": ["../etc/passwd"], "operations": [{"operation": "mask_landonly"}]}},
            "paths",
            "without '..'",
        ),
        (
            {"json": {"paths": [DIS], "operations": [{"operation": "mask_bbox", "bbox": [0, 10, 50, 40]}]}},
            "bbox",
            "south=50.0 must be below north=40.0",
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
        ({"json": {"path": DIS, "bbox": [70, 35, -10, 40]}}, "bbox", "south=70.0 must be below north=35.0"),
        ({"data": {"nodata": "x"}, "content_type": "multipart/form-data"}, "request", "part named 'data'"),
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
    assert answer.status_code == 400 and "larger than the limit" in answer.get_json()["errors"]["request"][0]


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
    assert done["file_name"].endswith("_fra_daily_DEMO_FR_2001_2003.nc")
    assert done["file_url"] == f"{service.settings.output_url}/{job['id']}/{done['file_name']}"
    download = client.get(f"/output/{job['id']}/{done['file_name']}", headers={"Range": "bytes=0-3"})
    assert download.status_code == 206 and download.data == b"\x89HDF"


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
    assert info.status == "finished" and info.file_name.endswith("_idf_fldmean_daily_DEMO_FR_2001_2003.csv")


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
