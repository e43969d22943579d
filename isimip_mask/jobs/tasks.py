"""What the worker runs: JSON in, JSON out, progress in ``job.meta``.

A request of one file is one RQ job: ``run_job`` writes it into ``OUTPUT_PATH/<job id>/``. A
request of several files is split (see ``jobs.JobQueue.submit``): one RQ job per file
(``run_part``), which any worker may take, and the request's own job, which RQ starts once
every part has ended (its dependencies) and which zips what they wrote with a README.txt. A
file that fails is recorded and the others go on; the job fails only when no file could be
processed.
"""

import contextlib
import logging
import shutil
import threading
import time
from pathlib import Path

import redis
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.timeouts import BaseTimeoutException

from isimip_mask.engine.options import RunOptions
from isimip_mask.errors import IsimipMaskError
from isimip_mask.files.netcdf import leftovers
from isimip_mask.files.paths import resolve
from isimip_mask.files.results import output_dir
from isimip_mask.jobs.bundle import Output, zip_results
from isimip_mask.jobs.failures import failure_message
from isimip_mask.jobs.keys import attempts_key, cancel_key, lease_key, parent_id, part_id
from isimip_mask.jobs.merge import merge_outputs, mergeable, merged_name
from isimip_mask.jobs.status import failure_reason
from isimip_mask.requests.naming import file_years, output_names
from isimip_mask.requests.plan import Plan
from isimip_mask.settings import Settings, load_settings

log = logging.getLogger(__name__)
AWAY = (redis.ConnectionError, redis.TimeoutError)  # Redis stopped, restarting, or unreachable


# the settings of the worker whose work horses run the tasks: set before it forks them, so
# that a job runs with its worker's settings (see workers.MaskWorker)
WORKER_SETTINGS: dict[str, Settings] = {}


class JobFailed(IsimipMaskError):
    """No file of the job could be processed."""


class JobCancelled(IsimipMaskError):
    """The job was cancelled while a worker was taking it from the queue."""


class ProgressMeta:
    """Keeps job.meta up to date without writing to Redis on every time step."""

    def __init__(self, job: Job | None, files_total: int, interval_s: float):
        self.job = job
        self.interval_s = interval_s
        self.meta = {
            "files_total": files_total,
            "files_done": 0,
            "steps_done": 0,
            "steps_total": 0,
            "errors": {},
            "created_files": [],
        }
        self.saved_at = 0.0
        self.save(force=True)

    def update(self, force: bool = False, **values) -> None:
        self.meta.update(values)
        self.save(force)

    def steps(self, done: int, total: int) -> None:
        self.update(steps_done=done, steps_total=total)

    def save(self, force: bool = False) -> None:
        if self.job is None or (not force and time.monotonic() - self.saved_at < self.interval_s):
            return
        self.job.meta.update(self.meta)
        try:
            self.job.save_meta()
        except AWAY as error:  # the work goes on; progress shows again with Redis
            log.warning("job %s: could not save its progress: %s", self.job.id, error)
        self.saved_at = time.monotonic()


class Lease:
    """A Redis key with a short TTL, renewed by a thread of the process that runs the job.

    While it exists, the job is being worked on. RQ notices a dead worker only when its own
    heartbeat lapses (a minute or more); the lease lets the queue tell within ``JOB_LEASE_S``.
    It is left to expire at the end rather than deleted, so that a job that has just finished
    is never mistaken for an abandoned one.
    """

    def __init__(self, job: Job | None, ttl_s: float):
        self.job = job
        self.ttl_ms = int(ttl_s * 1000)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._renew, name="job-lease", daemon=True)

    def __enter__(self):
        if self.job is not None:
            self._set()
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()

    def _set(self) -> None:
        self.job.connection.set(lease_key(self.job.id), "1", px=self.ttl_ms)

    def _renew(self) -> None:
        interval = self.ttl_ms / 3000
        while not self.stopped.wait(interval):
            try:
                self._set()
                interval = self.ttl_ms / 3000
            except redis.RedisError as error:  # renewed again the moment Redis is back
                log.warning("job %s: could not renew its lease: %s", self.job.id, error)
                interval = RETRY_S


def run_job(request: dict, settings: Settings | None = None) -> dict:
    """Process every file of a canonical request (see ``JobRequest.canonical``), or, for a
    request split into parts, zip what its parts wrote."""
    settings = settings or WORKER_SETTINGS.get("settings") or load_settings()
    job = get_current_job()
    with Lease(job, settings.job_lease_s), _outcome_kept(job, settings), attempt(job):
        if job is not None and job.meta.get("parts"):
            return _gather(job, request, settings)
        if len(request["paths"]) > 1:  # called without a queue: the parts in turn, gathered alike
            return _run_parts_here(request, settings)
        return _run(job, request, settings)


def run_part(request: dict, index: int, settings: Settings | None = None) -> dict:
    """Process file ``index`` of a split request into the folder of the request's job."""
    settings = settings or WORKER_SETTINGS.get("settings") or load_settings()
    job = get_current_job()
    with Lease(job, settings.job_lease_s), _outcome_kept(job, settings), attempt(job):
        return _run_part(job, request, index, settings)


@contextlib.contextmanager
def attempt(job: Job | None):
    """Count this run in the job's ``attempts``; a run that raises (its input, its time limit,
    a cancel, a bug) is not retried: only a run whose process died is (RQ's retry)."""
    if job is not None:
        key = attempts_key(job.id)
        runs = job.connection.incr(key)
        job.connection.expire(key, max(1, int(job.result_ttl or 0)) + 86400)
        meta = job.get_meta(refresh=True)  # the job's own dict, read anew
        meta["attempts"] = runs
        meta.pop("error", None)  # an earlier run's: its process died, this one goes on
        job.save_meta()
    try:
        yield
    except BaseException:
        if job is not None:
            job.retries_left = 0  # read by RQ's failure handling in this process, just after
        raise


@contextlib.contextmanager
def _outcome_kept(job: Job | None, settings: Settings):
    """RQ records the job's outcome when the task returns: should Redis be away then, wait
    for it (inside the lease, which goes on being renewed meanwhile) rather than lose it."""
    try:
        yield
    finally:
        if job is not None:
            await_redis(job.connection, settings.redis_wait_s, f"job {job.id}")


def _run_part(job: Job | None, request: dict, index: int, settings: Settings) -> dict:
    job_id = parent_id(job.id) if job is not None else "local"
    if job is not None and job.connection.exists(cancel_key(job_id)):
        raise JobCancelled("the job was cancelled before it started")
    plan = Plan.from_config(request["plan"])
    paths = request["paths"]
    progress = ProgressMeta(job, 1, settings.progress_interval_s)
    target_dir = output_dir(settings, job_id)
    target_dir.mkdir(parents=True, exist_ok=True)
    name = output_names(settings, plan, paths)[index]
    for leftover in leftovers(target_dir, name):  # from a run whose worker was killed
        leftover.unlink(missing_ok=True)
    progress.update(force=True, current_file=paths[index])
    try:
        source = resolve(settings.input_path, paths[index])
        made = plan.run(source, target_dir, progress.steps, RunOptions.from_settings(settings), name)
    except BaseTimeoutException:
        raise
    except IsimipMaskError as error:
        progress.update(force=True, error=str(error))
        raise JobFailed(str(error)) from None
    except Exception as error:  # noqa: BLE001 - told as its kind; the traceback goes to the log
        log.exception("job %s: %s failed", job_id, paths[index])
        progress.update(force=True, error=failure_message(error, target_dir))
        raise JobFailed(str(error)) from None
    progress.update(force=True, files_done=1, created_files=[made.name])
    return {"file_name": made.name}


def _gather(job: Job, request: dict, settings: Settings) -> dict:
    """The last step of a split request: zip the files its parts wrote, and their errors."""
    if job.connection.exists(cancel_key(job.id)):
        raise JobCancelled("the job was cancelled")
    outcomes = []
    for index, user_path in enumerate(request["paths"]):
        try:
            part = Job.fetch(part_id(job.id, index), connection=job.connection, serializer=JSONSerializer)
        except NoSuchJobError:
            outcomes.append((user_path, None, PART_LOST))
            continue
        result = part.return_value() if part.get_status().value == "finished" else None
        # else its own reason, or why RQ failed it (a timeout, a dead worker)
        error = None if result else part.get_meta(refresh=True).get("error") or failure_reason(part)
        outcomes.append((user_path, result and result["file_name"], error))
    return _collect(job, job.id, request, settings, outcomes)


def _run_parts_here(request: dict, settings: Settings) -> dict:
    """A many-file request run without a queue (tests, scripts): each part in turn, as a worker
    runs it, then gathered as the queue's last step does."""
    outcomes = []
    for index, user_path in enumerate(request["paths"]):
        try:
            outcomes.append((user_path, _run_part(None, request, index, settings)["file_name"], None))
        except JobFailed as error:
            outcomes.append((user_path, None, str(error)))
    return _collect(None, "local", request, settings, outcomes)


def _collect(job: Job | None, job_id: str, request: dict, settings: Settings, outcomes: list) -> dict:
    """Zip (or join) the outputs of a many-file request: ``outcomes`` are ``(path, file name or
    None, error or None)`` per file."""
    plan = Plan.from_config(request["plan"])
    paths = request["paths"]
    progress = ProgressMeta(job, len(paths), settings.progress_interval_s)
    target_dir = output_dir(settings, job_id)
    written, errors = [], {}
    for user_path, file_name, error in outcomes:
        if file_name and (target_dir / file_name).is_file():
            source = resolve(settings.input_path, user_path)
            written.append(Output(user_path, source, target_dir / file_name))
        else:
            errors[user_path] = error or PART_LOST
    progress.update(
        force=True, files_done=len(paths), errors=errors, created_files=[o.path.name for o in written]
    )
    if not written:
        fail(progress, target_dir, "no file could be processed: ", errors)
    return _bundle(job_id, request, plan, written, errors, progress, target_dir)


PART_LOST = "the worker processing this file stopped before it finished"


RETRY_S = 0.2  # first wait before asking a Redis that went away again; doubles up to 5 s


def await_redis(connection: redis.Redis, limit_s: float, who: str) -> bool:
    """Wait until Redis answers again (at most ``limit_s``); True when it does."""
    deadline = time.monotonic() + limit_s
    wait = RETRY_S
    while True:
        try:
            connection.ping()
            return True
        except AWAY as error:
            if time.monotonic() + wait > deadline:
                log.error("%s: Redis has not come back within %g s: %s", who, limit_s, error)
                return False
            log.warning("%s: Redis is away (%s); asking again in %.1f s", who, error, wait)
            time.sleep(wait)
            wait = min(wait * 2, 5)


def _run(job: Job | None, request: dict, settings: Settings) -> dict:
    """A request of one file, run by its job itself (no parts, no zip)."""
    job_id = job.id if job else "local"
    if job is not None and job.connection.exists(cancel_key(job_id)):
        raise JobCancelled("the job was cancelled before it started")
    plan = Plan.from_config(request["plan"])
    (user_path,) = request["paths"]
    progress = ProgressMeta(job, 1, settings.progress_interval_s)
    target_dir = output_dir(settings, job_id)
    target_dir.mkdir(parents=True, exist_ok=True)
    for leftover in leftovers(target_dir):  # from a run of this job whose worker was killed
        leftover.unlink(missing_ok=True)
    name = output_names(settings, plan, [user_path])[0]
    progress.update(force=True, current_file=user_path, steps_done=0, steps_total=0)
    try:
        source = resolve(settings.input_path, user_path)
        made = plan.run(source, target_dir, progress.steps, RunOptions.from_settings(settings), name)
    except BaseTimeoutException:
        shutil.rmtree(target_dir, ignore_errors=True)  # nothing half-written is left behind
        raise
    except IsimipMaskError as error:
        fail(progress, target_dir, "no file could be processed: ", {user_path: str(error)})
    except Exception as error:  # noqa: BLE001 - told as its kind; the traceback goes to the log
        log.exception("job %s: %s failed", job_id, user_path)
        fail(
            progress,
            target_dir,
            "no file could be processed: ",
            {user_path: failure_message(error, target_dir)},
        )
    progress.update(force=True, files_done=1, errors={}, created_files=[made.name])
    if plan.upstream:  # as the ISIMIP files API answers: a zip, also for one file
        return _bundle(job_id, request, plan, [Output(user_path, source, made)], {}, progress, target_dir)
    return {"file_name": made.name, "created_files": [made.name], "errors": {}}


def _bundle(job_id: str, request: dict, plan: Plan, written: list, errors: dict, progress, target_dir: Path):
    """A zip of every output; for a period across the files of one dataset (all of them
    done), one output joined along time instead."""
    names = [output.path.name for output in written]
    try:
        if plan.period is not None and not errors and mergeable(names):
            ordered = sorted(written, key=lambda output: file_years(output.path.name))
            paths = [output.path for output in ordered]
            result = merge_outputs(target_dir / merged_name([path.name for path in paths]), paths)
            for path in paths:
                path.unlink()
            if not plan.upstream:
                return {"file_name": result.name, "created_files": [result.name], "errors": errors}
            written = [Output(ordered[0].user_path, ordered[0].source, result)]
        result = zip_results(target_dir, job_id, request, plan, written, errors)
    except Exception as error:  # noqa: BLE001 - e.g. the disk filled up while zipping
        log.exception("job %s: zipping the results failed", job_id)
        fail(
            progress,
            target_dir,
            "the results could not be zipped: ",
            {"zip": failure_message(error, target_dir)},
        )
    return {"file_name": result.name, "created_files": [o.path.name for o in written], "errors": errors}


def fail(progress: ProgressMeta, target_dir: Path, prefix: str, errors: dict) -> None:
    """End the job as failed with its reasons, removing everything it wrote (nothing half-made stays)."""
    message = "; ".join(f"{path}: {error}" for path, error in errors.items())
    progress.update(force=True, error=prefix + message)
    shutil.rmtree(target_dir, ignore_errors=True)
    raise JobFailed(message)
