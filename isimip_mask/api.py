"""The HTTP API: the ISIMIP files API v2 contract, served by Flask.

``flask --app isimip_mask.api run`` in development, ``gunicorn "isimip_mask.api:create_app()"``
in production. Routes only parse, validate, queue and answer; the work is in
:mod:`isimip_mask.requests.submission` and :mod:`isimip_mask.jobs.queue` (the same code the Streamlit page
uses).
"""

import logging
from dataclasses import replace

from flask import Flask, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from isimip_mask import __version__, logs
from isimip_mask.errors import InputError, JobNotFound, ServiceError, parse_json
from isimip_mask.files.results import result_url
from isimip_mask.jobs.keys import JOB_ID
from isimip_mask.jobs.queue import JobQueue
from isimip_mask.jobs.status import JobInfo
from isimip_mask.requests.chain import catalogue
from isimip_mask.requests.compat import normalize
from isimip_mask.requests.submission import build_request
from isimip_mask.settings import Settings, load_settings

log = logging.getLogger(__name__)
UPLOAD_OVERHEAD_BYTES = 1_000_000  # room for the JSON part and multipart framing
MAX_FORM_PARTS = 64  # the data part and the uploads one request names (masks, shapes)


def read_payload() -> tuple[dict, dict[str, bytes]]:
    """The JSON request and uploaded files, from a JSON body or multipart/form-data."""
    if request.mimetype == "multipart/form-data":
        uploads = {name: storage.read() for name, storage in request.files.items() if name != "data"}
        try:
            raw = request.form.get("data") or (
                request.files["data"].read().decode() if "data" in request.files else None
            )
        except UnicodeDecodeError:
            raise InputError("the part named 'data' is not UTF-8 text", "request") from None
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
    return parse_json(raw, "request", "the request body"), uploads


FLAGS_AS_OPERATIONS = ("compute_mean", "output_csv")  # upstream lists them as operations


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
        # how long results are kept, as upstream answers it: the configured lifetime, not a countdown
        "ttl": settings.result_ttl_s,
    }
    if info.position is not None:
        answer["meta"]["position"] = info.position
    if info.message:
        answer["meta"]["message"] = info.message
        if info.status == "failed":
            answer["meta"]["error"] = info.message  # what the ISIMIP portal shows
    if info.status == "finished" and info.file_name:
        answer["file_name"] = info.file_name
        answer["file_url"] = result_url(settings, info.id, info.file_name)
    return answer


# the keys the ISIMIP portal shows under its form; other fields are reported under the nearest one
PORTAL_KEYS = {
    "paths",
    "operations",
    "uploads",
    "data",
    "bbox",
    "point",
    "country",
    "mask",
    "shape",
    "var",
    "layer",
}
NEAREST_KEY = {"request": "data", "region": "paths", "grid": "paths", "folder": "paths", "upload": "uploads"}


def portal_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors keyed as the ISIMIP portal reads them; each message still names its field and value."""
    keyed: dict[str, list[str]] = {}
    for field, messages in errors.items():
        key = field if field in PORTAL_KEYS else NEAREST_KEY.get(field, "data")
        keyed.setdefault(key, []).extend(messages)
    return keyed


def error_json(errors: dict, status: int = 400):
    return jsonify({"status": "error", "errors": errors}), status


def create_app(settings: Settings | None = None) -> Flask:  # noqa: C901 (the routes are nested in the app factory, as Flask's tutorial has them)
    """The Flask application; ``settings`` default to the environment and ``.env``."""
    settings = settings or load_settings()
    logs.configure(settings, force=False)  # LOG_LEVEL and LOG_FILE, as for the worker
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_geojson_bytes + UPLOAD_OVERHEAD_BYTES
    # the 'data' part may carry a GeoJSON inline: it may be as large as an upload
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_FORM_PARTS"] = MAX_FORM_PARTS
    app.json.sort_keys = False
    state = {}

    def queue() -> JobQueue:
        if "queue" not in state:
            state["queue"] = JobQueue(settings)
        return state["queue"]

    def job_counts() -> dict:
        try:
            return queue().counts()
        except ServiceError:  # no Redis: the rest of the description is still given
            return {}

    @app.get("/")
    def index():
        described = catalogue()
        return jsonify(
            {
                "status": "ok",
                "jobs": job_counts(),
                "operations": [op["operation"] for op in described] + ["create_mask", *FLAGS_AS_OPERATIONS],
                "base_url": settings.base_url,
                "output_url": settings.output_url,
                "version": __version__,
                "operation_details": described,
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
        if isinstance(payload, dict) and "operations" in payload:  # the v2 form: results as upstream's
            job_request = replace(job_request, plan=replace(job_request.plan, upstream=True))
        info, created = queue().submit(job_request)
        return jsonify(job_json(info, settings)), 201 if created else 200

    @app.get("/<job_id>")
    def status(job_id):
        if not JOB_ID.match(job_id):  # no job can have that id: no need to ask Redis
            raise JobNotFound(job_id)
        return jsonify(job_json(queue().info(job_id), settings))

    @app.delete("/<job_id>")
    def delete(job_id):
        if not JOB_ID.match(job_id):
            raise JobNotFound(job_id)
        queue().delete(job_id)
        return "", 204

    if settings.cors:

        @app.after_request
        def cross_origin(response):
            """CORS on every answer (preflight OPTIONS included): the portal calls from its own origin."""
            origin = request.headers.get("Origin")
            allowed = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
            if "*" in allowed:
                response.headers["Access-Control-Allow-Origin"] = "*"
            elif origin in allowed:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers.add("Vary", "Origin")
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
            response.headers["Access-Control-Max-Age"] = "86400"
            return response

    @app.get("/output/<job_id>/<name>")
    def output(job_id, name):
        """Result files, for development; nginx serves OUTPUT_PATH in production."""
        if not JOB_ID.match(job_id):
            return jsonify({"status": "not found"}), 404
        return send_from_directory(settings.output_path.resolve() / job_id, name, as_attachment=True)

    @app.errorhandler(InputError)
    def input_error(error):
        return error_json(portal_errors(error.errors))

    @app.errorhandler(JobNotFound)
    def not_found(error):
        return jsonify({"status": "not found"}), 404

    @app.errorhandler(ServiceError)
    def service_error(error):
        log.error("%s", error)
        return error_json({"service": [str(error)]}, 503)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error):
        limit = app.config["MAX_CONTENT_LENGTH"]
        if (request.content_length or 0) > limit:
            message = f"the request is {request.content_length} bytes, more than the limit of {limit}"
        else:  # werkzeug stopped reading the form: too many parts
            message = f"the request has more than {MAX_FORM_PARTS} parts"
        return error_json({"request": [message]})  # 400 with errors, as the portal expects

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
