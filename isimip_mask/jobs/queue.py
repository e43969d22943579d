"""The queue boundary: give a checked request an id, queue it, report on it, cancel it.

Requests (see ``submission``) become RQ jobs on Redis with JSON arguments only. The job id is
a keyed hash (HMAC) of the canonical request, so the same request (whatever its key or path
order) is the same job: submitting it again returns that job, or re-runs it if it failed or
was cancelled. Without the key nobody can compute the id of someone else's request.
"""

import contextlib
import hashlib
import hmac
import json
import secrets
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import redis
from rq import Queue, Retry
from rq.command import send_stop_job_command
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Dependency, Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from isimip_mask.errors import JobNotFound, ServiceError
from isimip_mask.files.results import output_dir
from isimip_mask.jobs.keys import ABANDONED, JOB_ID, PART_TASK, TASK, cancel_key, lease_key, part_id
from isimip_mask.jobs.status import JobInfo, job_info
from isimip_mask.requests.submission import JobRequest
from isimip_mask.settings import Settings

SECRET_KEY = "isimip-mask:secret"  # the generated key of the job ids (when SECRET_KEY is unset)
REDIS_TIMEOUT_S = 3  # connect and command timeout: a dead Redis fails fast, never hangs
CANCEL_WAIT_S = 10  # how long cancel waits for a running job to stop before removing files
RERUN_STATUSES = {"failed", "stopped", "canceled"}


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

    def counts(self) -> dict[str, int]:
        """How many jobs are queued, started, deferred (split requests), finished and failed."""
        with _redis_errors(self.settings.redis_url):
            queue = self.queue
            return {
                "queued": queue.count,
                "started": queue.started_job_registry.count,
                "deferred": queue.deferred_job_registry.count,
                "finished": queue.finished_job_registry.count,
                "failed": queue.failed_job_registry.count,
            }

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
            parts = self._enqueue_parts(job_id, request) if len(paths) > 1 else []
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
                    retry=self._retry(),
                )
            except DuplicateJobError:  # another process queued it a moment ago
                return self._info(self._fetch(job_id)), False
            return self._info(job), True

    def _retry(self) -> Retry | None:
        """RQ runs a job again when the process running it died (a killed work horse, a worker
        whose lease lapsed), up to JOB_RETRIES times; a job that fails by itself is not retried
        (see ``tasks.attempt``)."""
        return Retry(max=self.settings.job_retries) if self.settings.job_retries else None

    def _enqueue_parts(self, job_id: str, request: JobRequest) -> list[Job]:
        """One RQ job per file, which any free worker may take; the request's own job depends
        on them all (RQ starts it once each has finished or failed) and zips their outputs.

        Part ``index`` is file ``index`` of the canonical request (its paths sorted), which is
        what the part's task reads: its timeout must be that file's.
        """
        canonical = request.canonical()
        paths = [self.settings.input_path / p for p in canonical["paths"]]
        return [
            self.queue.enqueue_call(
                PART_TASK,
                args=(canonical, index),
                job_id=part_id(job_id, index),
                timeout=job_timeout_s(self.settings, [path]),
                result_ttl=self.settings.result_ttl_s,
                failure_ttl=self.settings.result_ttl_s,
                description=f"file {index + 1} of {len(paths)} of {job_id}",
                meta={"files_total": 1},
                retry=self._retry(),
            )
            for index, path in enumerate(paths)
        ]

    def _parts(self, job: Job) -> list[Job]:
        """The records of a split request's parts, read in one round trip (a poll of a
        24-file job read them one by one, several times: 40 ms of the page's CPU a poll)."""
        ids = [part_id(job.id, i) for i in range(job.meta.get("parts", 0))]
        found = Job.fetch_many(ids, connection=self.connection, serializer=JSONSerializer) if ids else []
        return [part for part in found if part is not None]

    def info(self, job_id: str) -> JobInfo:
        with _redis_errors(self.settings.redis_url):
            job = self._existing(job_id)
            try:
                parts = self._parts(job)
                deferred = job.get_status().value == "deferred"
                if deferred and [part for part in parts if self._fail_if_abandoned(part)]:
                    parts = self._parts(job)  # read again: a part was failed
                self._fail_if_abandoned(job)
                self._enqueue_if_ready(job)
                return job_info(job, parts)
            except InvalidJobOperation:  # its record expired while it was being read
                raise JobNotFound(f"no job {job_id!r} (never submitted, or expired)") from None

    def _enqueue_if_ready(self, job: Job) -> None:
        """Queue a split request whose parts have all ended but which RQ left "ready to enqueue".

        When two parts end at the same moment on two workers, RQ's optimistic lock lets neither
        queue the request's own job and leaves it to a maintenance pass (up to ten minutes
        later); asking here queues it as soon as anyone looks (RQ's own, idempotent step).
        """
        if job.get_status().value == "ready_to_enqueue":
            self.queue.ready_job_registry.enqueue_jobs([job.id])

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

    def _fail_if_abandoned(self, job: Job) -> bool:
        """Fail a started job whose lease has lapsed: the process running it is gone.

        RQ finds such jobs only after its own heartbeat lapsed (a minute or more) and in a
        worker's maintenance; asking here means a killed worker shows up as a failed job within
        ``JOB_LEASE_S``. The failure itself goes through RQ's own clean-up of abandoned jobs
        (its execution is marked expired, then cleaned up), which queues it again while it has
        retries left (JOB_RETRIES), else fails it; submitting again re-runs it then.
        """
        if job.get_status(refresh=False).value != "started" or self.connection.exists(lease_key(job.id)):
            return False
        started = job.started_at
        if started is None or (datetime.now(UTC) - started).total_seconds() < self.settings.job_lease_s:
            return False  # just started: the lease is being set up
        # A lease also lapses while Redis is down; a live worker renews it within a fraction of a
        # second of Redis coming back (``tasks.Lease``), so only a lease missing for a while counts
        grace = self.settings.job_lease_s / 3
        missing = f"isimip-mask:unleased:{job.id}"
        self.connection.set(missing, time.time(), nx=True, ex=max(1, int(self.settings.job_lease_s)))
        since = self.connection.get(missing)
        if since is None or time.time() - float(since) < grace:
            return False
        meta = job.get_meta(refresh=True)
        if not (job.retries_left and job.retries_left > 0):  # RQ's clean-up below fails it for good
            runs = meta.get("attempts", 1)
            meta["error"] = ABANDONED + (f" (it was run {runs} times)" if runs > 1 else "")
        job.save_meta()
        registry = StartedJobRegistry(queue=self.queue, serializer=JSONSerializer)
        expired = {
            m: 0 for m in self.connection.zrange(registry.key, 0, -1) if m.decode().startswith(f"{job.id}:")
        }
        if expired:
            self.connection.zadd(registry.key, expired, xx=True)
        registry.cleanup()
        self.queue.enqueue_dependents(job)  # the request of a part goes on to zip the others
        return True

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

    def _info(self, job: Job) -> JobInfo:
        return job_info(job, self._parts(job))

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


def job_timeout_s(settings: Settings, paths: list[Path]) -> int:
    """A timeout that grows with the input: minimum plus seconds per GB."""
    gigabytes = sum(p.stat().st_size for p in paths) / 1e9
    return int(settings.job_timeout_min_s + settings.job_timeout_s_per_gb * gigabytes)
