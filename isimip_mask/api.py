"""The HTTP API: the ISIMIP files API v2 contract, served by Flask.

``flask --app isimip_mask.api run`` in development, ``gunicorn "isimip_mask.api:create_app()"``
in production. Routes only parse, validate, queue and answer; the work is in
:mod:`isimip_mask.jobs` (the same code the Streamlit page uses).
"""

import json
import logging

from flask import Flask, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import __version__
from .errors import InputError, JobNotFound, ServiceError
from .jobs import JobInfo, JobQueue, build_request
from .operations import FLAGS, catalogue
from .settings import Settings

log = logging.getLogger(__name__)
UPLOAD_OVERHEAD_BYTES = 1_000_000  # room for the JSON part and multipart framing


def normalize(payload: dict) -> tuple[list, list]:
    """Paths and v2 operations from any request form ISIMIP clients send.

    - v2: ``{"paths": [...], "operations": [...]}``; ``create_mask`` + ``mask_mask`` (the v2
      client's ``mask_shape``) become one ``mask_shape`` on the uploaded shape;
    - v1: ``{"paths": [...], "task": "mask_bbox", "bbox": [S, N, W, E], ...}``;
    - the original service: ``{"path": "...", "bbox": [S, N, W, E]}``, ``{"path": ..., "country": "deu"}``
      or ``{"path": ..., "landonly": true}``.
    """
    if not isinstance(payload, dict):
        raise InputError("the request body must be a JSON object", "request")
    paths = payload.get("paths", [payload["path"]] if "path" in payload else None)
    if "operations" in payload:
        return paths, _merge_shape_operations(payload["operations"])
    task = payload.get("task") or next(
        (key for key in ("bbox", "country", "landonly", "point") if key in payload), None
    )
    legacy = {
        "bbox": "mask_bbox",
        "country": "mask_country",
        "landonly": "mask_landonly",
        "point": "select_point",
    }
    operation = {"operation": legacy.get(task, task)}
    for key in ("bbox", "country", "point"):
        if key in payload:
            operation[key] = payload[key]
    bbox = operation.get("bbox")
    if isinstance(bbox, list) and len(bbox) == 4:
        south, north, west, east = bbox  # the order of the original service and of v1
        operation["bbox"] = [west, east, south, north]
    if operation["operation"] is None:
        raise InputError("give 'operations' (v2), or one of 'bbox', 'country', 'landonly'", "operations")
    return paths, [operation]


def _merge_shape_operations(operations) -> list:
    if not isinstance(operations, list):
        return operations
    shapes = {
        op.get("mask"): op.get("shape")
        for op in operations
        if isinstance(op, dict) and op.get("operation") == "create_mask"
    }
    merged = []
    for op in operations:
        if not isinstance(op, dict) or op.get("operation") not in ("create_mask", "mask_mask"):
            merged.append(op)
        elif op["operation"] == "mask_mask":
            if op.get("mask") not in shapes:
                raise InputError(
                    f"mask_mask needs a create_mask of {op.get('mask')!r} before it "
                    "(uploaded NetCDF masks are not supported)",
                    "operations",
                )
            merged.append(
                {
                    "operation": "mask_shape",
                    "shape": shapes[op["mask"]],
                    **{f: op[f] for f in FLAGS if f in op},
                }
            )
    return merged


def read_payload() -> tuple[dict, dict[str, bytes]]:
    """The JSON request and uploaded files, from a JSON body or multipart/form-data."""
    if request.mimetype == "multipart/form-data":
        uploads = {name: storage.read() for name, storage in request.files.items() if name != "data"}
        raw = request.form.get("data") or (
            request.files["data"].read().decode() if "data" in request.files else None
        )
        if raw is None:
            raise InputError("multipart requests need a part named 'data' with the JSON request", "request")
    elif request.mimetype == "application/json":
        uploads, raw = {}, request.get_data(as_text=True)
    else:
        raise InputError(
            "send JSON (Content-Type: application/json) or multipart/form-data, "
            f"not {request.mimetype or 'no content type'!r}",
            "request",
        )
    try:
        return json.loads(raw), uploads
    except json.JSONDecodeError as error:
        raise InputError(f"the request body is not valid JSON: {error}", "request") from error


def job_json(info: JobInfo, settings: Settings) -> dict:
    """A job in the shape of the ISIMIP files API v2."""
    answer = {
        "id": info.id,
        "job_url": f"{settings.base_url.rstrip('/')}/{info.id}",
        "meta": {
            "created_files": len(info.created_files),
            "total_files": info.files_total,
            "done_files": info.files_done,
            "done_steps": info.steps_done,
            "total_steps": info.steps_total,
            "errors": info.errors,
        },
        "status": info.status,
        "ttl": info.ttl,
    }
    if info.position is not None:
        answer["meta"]["position"] = info.position
    if info.message:
        answer["meta"]["message"] = info.message
    if info.status == "finished" and info.file_name:
        answer["file_name"] = info.file_name
        answer["file_url"] = f"{settings.output_url.rstrip('/')}/{info.id}/{info.file_name}"
    return answer


def error_json(errors: dict, status: int = 400):
    return jsonify({"status": "error", "errors": errors}), status


def create_app(settings: Settings | None = None) -> Flask:
    """The Flask application; ``settings`` default to the environment and ``.env``."""
    settings = settings or Settings()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_geojson_bytes + UPLOAD_OVERHEAD_BYTES
    app.json.sort_keys = False
    state = {}

    def queue() -> JobQueue:
        if "queue" not in state:
            state["queue"] = JobQueue(settings)
        return state["queue"]

    @app.get("/")
    def index():
        return jsonify(
            {
                "status": "ok",
                "version": __version__,
                "operations": catalogue(),
                "limits": {
                    "max_files": settings.max_files,
                    "max_upload_bytes": settings.max_geojson_bytes,
                    "max_vertices": settings.max_geojson_vertices,
                    "result_ttl_s": settings.result_ttl_s,
                },
                "axis_order": {"bbox": "[west, east, south, north]", "point": "[lat, lon]"},
            }
        )

    @app.post("/")
    def submit():
        payload, uploads = read_payload()
        paths, operations = normalize(payload)
        job_request = build_request(settings, paths, operations, uploads)
        info, created = queue().submit(job_request)
        return jsonify(job_json(info, settings)), 201 if created else 200

    @app.get("/<job_id>")
    def status(job_id):
        return jsonify(job_json(queue().info(job_id), settings))

    @app.delete("/<job_id>")
    def cancel(job_id):
        queue().cancel(job_id)
        return "", 204

    @app.get("/output/<job_id>/<name>")
    def output(job_id, name):
        """Result files, for development; nginx serves OUTPUT_PATH in production."""
        if not job_id.isalnum():
            return jsonify({"status": "not found"}), 404
        return send_from_directory(settings.output_path.resolve() / job_id, name, as_attachment=True)

    @app.errorhandler(InputError)
    def input_error(error):
        return error_json(error.errors)

    @app.errorhandler(JobNotFound)
    def not_found(error):
        return jsonify({"status": "not found"}), 404

    @app.errorhandler(ServiceError)
    def service_error(error):
        log.error("%s", error)
        return error_json({"service": [str(error)]}, 503)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error):
        return error_json(
            {"request": [f"the upload is larger than the limit of {app.config['MAX_CONTENT_LENGTH']} bytes"]}
        )

    @app.errorhandler(HTTPException)
    def http_error(error):
        if error.code == 404:
            return jsonify({"status": "not found"}), 404
        return error_json({"request": [f"{error.name}: {error.description}"]}, error.code or 400)

    @app.errorhandler(Exception)
    def internal_error(error):
        log.exception("unexpected error")
        return error_json({"server": ["internal error; the administrators have been told in the log"]}, 500)

    return app
