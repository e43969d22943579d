"""The queue boundary: validate a request, give it an id, queue it, report on it.

Requests become RQ jobs on Redis with JSON arguments only. The job id is a keyed hash (HMAC) of
the canonical request, so the same request (whatever its key or path order) is the same job:
submitting it again returns that job, or re-runs it if it failed or was cancelled. Without the
key nobody can compute the id of someone else's request.
"""

import contextlib
import hashlib
import hmac
import json
import re
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis
from rq import Queue
from rq.command import send_stop_job_command
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Dependency, Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from .datasets import normalize_path, resolve_all
from .errors import DatasetError, InputError, JobNotFound, Problems, RegionError, ServiceError
from .masks import grid_mask, overlaps
from .netcdf import open_dataset, read_layout
from .operations import Limits, Plan, parse_operations
from .settings import Settings

SECRET_KEY = "isimip-mask:secret"  # the generated key of the job ids (when SECRET_KEY is unset)
CSV_GRID_CELLS = 4_000_000  # a CSV of every cell is counted at submit; on finer grids it is refused
JOB_ID = re.compile(r"^[0-9a-f]{40}$")  # what job_id() makes: anything else is no job
REDIS_TIMEOUT_S = 3  # connect and command timeout: a dead Redis fails fast, never hangs
CANCEL_WAIT_S = 10  # how long cancel waits for a running job to stop before removing files
TASK = "isimip_mask.tasks.run_job"
PART_TASK = "isimip_mask.tasks.run_part"
RERUN_STATUSES = {"failed", "stopped", "canceled"}
ABANDONED = (
    "the worker running this job stopped before it finished (killed, or its machine went down); "
    "submit the request again to re-run it"
)


def part_id(job_id: str, index: int) -> str:
    """The RQ job of file ``index`` of a split request (never shown to users)."""
    return f"{job_id}-{index}"


def parent_id(part: str) -> str:
    return part.rsplit("-", 1)[0]


def lease_key(job_id: str) -> str:
    """The Redis key that the process running a job keeps alive (see ``tasks.Lease``)."""
    return f"isimip-mask:lease:{job_id}"


def cancel_key(job_id: str) -> str:
    """The Redis key that says a job was cancelled; a worker that picks it up does nothing."""
    return f"isimip-mask:cancelled:{job_id}"


@dataclass(frozen=True)
class JobRequest:
    """Validated dataset paths (relative to the data root) and the plan for each of them."""

    paths: tuple[str, ...]
    plan: Plan

    def canonical(self) -> dict:
        return {"paths": sorted(self.paths), "plan": self.plan.config()}


def build_request(
    settings: Settings, paths, operations, uploads: Mapping[str, bytes] | None = None
) -> JobRequest:
    """Check paths and operations completely before anything is queued.

    Raises InputError (or a subclass) listing every problem, keyed by field.
    """
    problems = Problems()
    resolved, plan = [], None
    try:
        resolved = resolve_all(settings.input_path, paths, settings.max_files)
    except DatasetError as error:
        problems.extend(error)
    limits = Limits(
        settings.max_geojson_bytes,
        settings.max_geojson_vertices,
        settings.max_operations,
        uploads or {},
        settings.countrymasks_file_path,
        settings.landseamask_file_path,
        upload_dir(settings),
    )
    try:
        plan = parse_operations(operations, limits)
    except InputError as error:
        problems.extend(error)
    if plan is not None and resolved:
        misses = {}
        for user_path, path in zip(paths, resolved):
            try:
                with open_dataset(path) as dataset:
                    layout = read_layout(dataset, path.name)
                if not overlaps(layout.grid, plan.region):  # no mask is built: fine grids stay cheap
                    raise RegionError(f"the region {plan.region.tag} does not overlap the grid of this file")
            except RegionError as error:  # that file fails in the job, the others go on
                misses[user_path] = str(error)
                continue
            except DatasetError as error:
                problems.add("paths", f"{user_path}: {error}")
                continue
            if plan.output_csv and not plan.is_series:
                cells = layout.grid.lat.size * layout.grid.lon.size
                if cells > CSV_GRID_CELLS:
                    problems.add(
                        "operations",
                        f"{user_path}: output_csv without compute_mean is offered on grids of up to "
                        f"{CSV_GRID_CELLS:,} cells (this one has {cells:,}); add compute_mean, or use NetCDF",
                    )
                    continue
                kept = grid_mask(layout.grid, plan.region)
                rows = int(kept.sum()) * max(1, layout.n_times)
                if rows > settings.max_csv_rows:
                    problems.add(
                        "operations",
                        f"{user_path}: output_csv without compute_mean writes a row per kept cell and "
                        f"time step: {int(kept.sum()):,} cells x {layout.n_times:,} steps = {rows:,} rows, "
                        f"more than the limit of {settings.max_csv_rows:,}; add compute_mean, or choose a "
                        "smaller region",
                    )
        if len(misses) == len(paths):
            for user_path, message in misses.items():
                problems.add("paths", f"{user_path}: {message}")
    problems.raise_if_any(InputError)
    return JobRequest(tuple(normalize_path(p) for p in paths), plan)


def job_timeout_s(settings: Settings, paths: list[Path]) -> int:
    """A timeout that grows with the input: minimum plus seconds per GB."""
    gigabytes = sum(p.stat().st_size for p in paths) / 1e9
    return int(settings.job_timeout_min_s + settings.job_timeout_s_per_gb * gigabytes)


@dataclass
class JobInfo:
    """Everything the page and the API show about a job."""

    id: str
    status: str  # queued, started, finished, failed, cancelled
    position: int | None = None
    files_done: int = 0
    files_total: int = 0
    steps_done: int = 0
    steps_total: int = 0
    current_file: str | None = None
    created_files: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    file_name: str | None = None
    ttl: int | None = None
    request: dict = field(default_factory=dict)

    @property
    def with_errors(self) -> bool:
        return self.status == "finished" and bool(self.errors)

    @property
    def label(self) -> str:
        return "finished with errors" if self.with_errors else self.status

    @property
    def fraction(self) -> float:
        """Progress from 0 to 1: whole files plus the share of the current one."""
        if self.status == "finished":
            return 1.0
        if not self.files_total:
            return 0.0
        current = self.steps_done / self.steps_total if self.steps_total else 0.0
        return min(1.0, (self.files_done + current) / self.files_total)


def output_dir(settings: Settings, job_id: str) -> Path:
    return settings.output_path / job_id


def upload_dir(settings: Settings) -> Path:
    """Uploaded NetCDF masks, kept where every worker can read them (beside the results)."""
    return settings.output_path / "uploads"


class JobQueue:
    """Submit, follow and cancel mask jobs on the configured Redis queue."""

    def __init__(self, settings: Settings, connection: redis.Redis | None = None):
        self.settings = settings
        self.connection = connection or connect(settings.redis_url)
        self.queue = Queue(settings.queue_name, connection=self.connection, serializer=JSONSerializer)
        with _redis_errors(settings.redis_url):
            self.secret = (settings.secret_key or self._shared_secret()).encode()

    def _shared_secret(self) -> str:
        """The key of the job ids when SECRET_KEY is unset: made by whoever comes first, kept in Redis."""
        self.connection.set(SECRET_KEY, secrets.token_hex(32), nx=True)
        return self.connection.get(SECRET_KEY).decode()

    def job_id(self, request: JobRequest) -> str:
        """The id of a request: the same request gives the same id, but nobody can compute it
        without the key (an HMAC of the canonical request), so ids cannot be guessed from requests."""
        text = json.dumps(request.canonical(), sort_keys=True, separators=(",", ":"))
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()[:40]

    def submit(self, request: JobRequest) -> tuple[JobInfo, bool]:
        """Queue the request unless the same one is queued, running or done; True if new."""
        job_id = self.job_id(request)
        with _redis_errors(self.settings.redis_url), self._lock(job_id):
            existing = self._fetch(job_id)
            if existing is not None:
                self._fail_if_abandoned(existing)
            if existing is not None and existing.get_status().value not in RERUN_STATUSES:
                return self._info(existing), False
            if existing is not None:
                shutil.rmtree(output_dir(self.settings, job_id), ignore_errors=True)
                self._forget(existing)
            self.connection.delete(cancel_key(job_id))
            paths = [self.settings.input_path / p for p in request.paths]
            parts = self._enqueue_parts(job_id, request, paths) if len(paths) > 1 else []
            try:
                job = self.queue.enqueue_call(
                    TASK,
                    args=(request.canonical(),),
                    job_id=job_id,
                    timeout=job_timeout_s(self.settings, paths),
                    result_ttl=self.settings.result_ttl_s,
                    failure_ttl=self.settings.result_ttl_s,
                    description=f"{request.plan.describe()} of {len(paths)} file(s)",
                    meta={"files_total": len(paths), "created_at": time.time(), "parts": len(parts)},
                    depends_on=Dependency(jobs=parts, allow_failure=True) if parts else None,
                    unique=not parts,  # RQ's own guard, beside our lock; RQ allows it without dependencies
                )
            except DuplicateJobError:  # another process queued it a moment ago
                return self._info(self._fetch(job_id)), False
            return self._info(job), True

    def _enqueue_parts(self, job_id: str, request: JobRequest, paths: list[Path]) -> list[Job]:
        """One RQ job per file, which any free worker may take; the request's own job depends
        on them all (RQ starts it once each has finished or failed) and zips their outputs."""
        return [
            self.queue.enqueue_call(
                PART_TASK,
                args=(request.canonical(), index),
                job_id=part_id(job_id, index),
                timeout=job_timeout_s(self.settings, [path]),
                result_ttl=self.settings.result_ttl_s,
                failure_ttl=self.settings.result_ttl_s,
                description=f"file {index + 1} of {len(paths)} of {job_id}",
                meta={"files_total": 1},
            )
            for index, path in enumerate(paths)
        ]

    def _parts(self, job: Job) -> list[Job]:
        found = (self._fetch_any(part_id(job.id, i)) for i in range(job.meta.get("parts", 0)))
        return [part for part in found if part is not None]

    def info(self, job_id: str) -> JobInfo:
        with _redis_errors(self.settings.redis_url):
            job = self._existing(job_id)
            for part in self._parts(job) if job.get_status().value == "deferred" else []:
                self._fail_if_abandoned(part)
            self._fail_if_abandoned(job)
            return self._info(job)

    def _forget(self, job: Job, keep_mark: bool = False) -> None:
        """Delete a job record, also one whose worker died.

        RQ keeps the id of a dead worker's execution in a registry for a minute after the
        execution itself expired, and then fails to delete the job; drop that registry first.
        """
        for part in self._parts(job):
            self._forget(part)
        try:
            job.delete()
        except ValueError:
            self.connection.delete(job.execution_registry.key)
            job.delete()
        if not keep_mark:  # a deleted job keeps its cancel mark: a worker taking it now must not run it
            self.connection.delete(cancel_key(job.id))

    def _lock(self, job_id: str):
        """One submit, cancel or delete of a job at a time, across every API and page process.

        Without it, concurrent resubmits of a failed job each forget and queue it (two 201s,
        two runs, or a 500 from RQ); the lock expires by itself should its holder die.
        """
        return self.connection.lock(
            f"isimip-mask:lock:{job_id}", timeout=CANCEL_WAIT_S + 20, blocking_timeout=CANCEL_WAIT_S + 25
        )

    def _fail_if_abandoned(self, job: Job) -> None:
        """Fail a started job whose lease has lapsed: the process running it is gone.

        RQ finds such jobs only after its own heartbeat lapsed (a minute or more) and in a
        worker's maintenance; asking here means a killed worker shows up as a failed job within
        ``JOB_LEASE_S``, and submitting again re-runs it. The failure itself goes through RQ's
        own clean-up of abandoned jobs: its execution is marked expired, then cleaned up.
        """
        if job.get_status().value != "started" or self.connection.exists(lease_key(job.id)):
            return
        started = job.started_at
        if started is None or (datetime.now(UTC) - started).total_seconds() < self.settings.job_lease_s:
            return  # just started: the lease is being set up
        # A lease also lapses while Redis is down; a live worker renews it within a fraction of a
        # second of Redis coming back (``tasks.Lease``), so only a lease missing for a while counts
        grace = self.settings.job_lease_s / 3
        missing = f"isimip-mask:unleased:{job.id}"
        self.connection.set(missing, time.time(), nx=True, ex=max(1, int(self.settings.job_lease_s)))
        since = self.connection.get(missing)
        if since is None or time.time() - float(since) < grace:
            return
        job.get_meta(refresh=True)["error"] = ABANDONED
        job.save_meta()
        registry = StartedJobRegistry(queue=self.queue, serializer=JSONSerializer)
        expired = {
            m: 0 for m in self.connection.zrange(registry.key, 0, -1) if m.decode().startswith(f"{job.id}:")
        }
        if expired:
            self.connection.zadd(registry.key, expired, xx=True)
        registry.cleanup()
        self.queue.enqueue_dependents(job)  # the request of a part goes on to zip the others

    def cancel(self, job_id: str) -> JobInfo:
        """Stop a queued or running job, or forget a finished one; remove everything it wrote."""
        with _redis_errors(self.settings.redis_url), self._lock(job_id):
            job = self._existing(job_id)
            # the mark comes first: a worker that takes the job from the queue at this very moment
            # either has started it already (and is stopped below) or sees the mark and does nothing
            self.connection.set(cancel_key(job_id), "1", ex=self.settings.result_ttl_s)
            for part in self._parts(job):  # their task sees the mark; running ones are stopped
                status = part.get_status().value
                if status == "started":
                    self._stop(part)
                if part.get_status().value in ("queued", "deferred", "scheduled"):
                    part.cancel()
            if job.get_status().value == "started":
                self._stop(job)
            status = job.get_status().value
            if status in ("queued", "deferred", "scheduled", "started"):
                job.cancel()
            info = self._info(job)
            if status in ("finished", "failed"):  # deleting a done job means forgetting it and its result
                self._forget(job)
            shutil.rmtree(output_dir(self.settings, job_id), ignore_errors=True)
            return info

    def delete(self, job_id: str) -> None:
        """Stop the job if it runs, and remove its files and its record (it is then unknown)."""
        self.cancel(job_id)
        with _redis_errors(self.settings.redis_url), self._lock(job_id):
            job = self._fetch(job_id)
            if job is not None:
                self._forget(job, keep_mark=True)

    def result_path(self, info: JobInfo) -> Path | None:
        """The result file of a finished job, if it is still there."""
        if info.status != "finished" or not info.file_name:
            return None
        path = output_dir(self.settings, info.id) / info.file_name
        return path if path.is_file() else None

    def _stop(self, job: Job) -> None:
        """Have the worker kill the job's work horse, and wait (a while) until it has.

        Just after a job started, RQ may not have recorded its worker yet: keep asking.
        """
        deadline = time.monotonic() + CANCEL_WAIT_S
        sent = False
        while job.get_status().value == "started" and time.monotonic() < deadline:
            if not sent:
                job.refresh()
                with contextlib.suppress(InvalidJobOperation):  # no worker recorded yet, or just ended
                    send_stop_job_command(self.connection, job.id, serializer=JSONSerializer)
                    sent = True
            time.sleep(0.1)

    def _existing(self, job_id: str) -> Job:
        job = self._fetch(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r} (never submitted, or expired)")
        return job

    def _fetch(self, job_id: str) -> Job | None:
        if not isinstance(job_id, str) or not JOB_ID.match(job_id):
            return None
        return self._fetch_any(job_id)

    def _fetch_any(self, job_id: str) -> Job | None:
        try:
            return Job.fetch(job_id, connection=self.connection, serializer=JSONSerializer)
        except NoSuchJobError:
            return None

    def _info(self, job: Job) -> JobInfo:
        status = job.get_status().value
        if status != "finished" and self.connection.exists(cancel_key(job.id)):
            status = "canceled"
        # read after the status: the worker saves a failure's reason before it marks the job
        # failed, so a job fetched a moment before it failed still shows its true reason
        meta = job.get_meta(refresh=True)
        result = job.return_value() if status == "finished" else None
        result = result or {}
        if status == "deferred":  # a split request whose parts run: they tell the progress
            return self._info_of_parts(job, meta)
        info = JobInfo(
            id=job.id,
            status={"stopped": "cancelled", "canceled": "cancelled"}.get(status, status),
            position=job.get_position() if status == "queued" else None,
            files_done=meta.get("files_done", 0),
            files_total=meta.get("files_total", 0),
            steps_done=meta.get("steps_done", 0),
            steps_total=meta.get("steps_total", 0),
            current_file=meta.get("current_file"),
            created_files=result.get("created_files", meta.get("created_files", [])),
            errors=result.get("errors", meta.get("errors", {})),
            file_name=result.get("file_name"),
            ttl=_ttl(self.connection, job),
            request=job.args[0] if job.args else {},
        )
        if status == "failed":
            info.message = meta.get("error") or _failure_reason(job)
        elif info.status == "cancelled":
            info.message = "the job was cancelled"
        return info

    def _info_of_parts(self, job: Job, meta: dict) -> JobInfo:
        parts = self._parts(job)
        statuses = [part.get_status().value for part in parts]
        metas = [part.get_meta(refresh=True) for part in parts]
        paths = job.args[0]["paths"] if job.args else []
        running = [i for i, status in enumerate(statuses) if status == "started"]
        queued = [part.get_position() for part, status in zip(parts, statuses) if status == "queued"]
        return JobInfo(
            id=job.id,
            status="started" if len(queued) < len(parts) else "queued",
            position=min((p for p in queued if p is not None), default=None) if not running else None,
            files_done=sum(status in ("finished", "failed") for status in statuses),
            files_total=meta.get("files_total", len(parts)),
            steps_done=sum(metas[i].get("steps_done", 0) for i in running),
            steps_total=sum(metas[i].get("steps_total", 0) for i in running),
            current_file=", ".join(paths[i] for i in running if i < len(paths)) or None,
            created_files=[name for m in metas for name in m.get("created_files", [])],
            errors={
                paths[i]: metas[i].get("error") or _failure_reason(part)
                for i, (part, status) in enumerate(zip(parts, statuses))
                if status == "failed" and i < len(paths)
            },
            ttl=_ttl(self.connection, job),
            request=job.args[0] if job.args else {},
        )


def _failure_reason(job: Job) -> str:
    """Why a job failed that could not say so itself (it never ran, or was stopped from outside)."""
    result = job.latest_result()
    trace = (result.exc_string or "") if result is not None else ""
    if "DeserializationError" in trace or "UnpicklingError" in trace:
        return (
            "the worker that took this job could not read it: it is not isimip-mask's worker "
            "(start workers with `python worker.py`, or `rq worker` with "
            "RQ_WORKER_CLASS=isimip_mask.tasks.MaskWorker); submit the request again to re-run it"
        )
    if "JobTimeoutException" in trace:
        return f"the job took longer than its time limit of {job.timeout} s and was stopped"
    return "the job failed unexpectedly (the worker may have been stopped); submit it again to re-run it"


def _ttl(connection: redis.Redis, job: Job) -> int | None:
    ttl = connection.ttl(job.key)
    return ttl if ttl is not None and ttl >= 0 else None


def connect(url: str) -> redis.Redis:
    """A Redis connection that fails within seconds, with a message naming the server."""
    try:
        connection = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S + 5
        )
        connection.ping()
    except (redis.RedisError, ValueError) as error:
        raise ServiceError(f"cannot reach Redis at {safe_url(url)}: {error}") from error
    return connection


def safe_url(url: str) -> str:
    """The URL without a password."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


class _redis_errors:
    """Turn Redis failures inside a block into ServiceError."""

    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is not None and isinstance(error, redis.RedisError):
            raise ServiceError(f"cannot reach Redis at {safe_url(self.url)}: {error}") from error
        return False
