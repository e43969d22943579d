"""What users see of a job (``JobInfo``), read from its RQ records and those of its parts."""

from dataclasses import dataclass, field
from pathlib import Path

import redis
from rq.job import Job

from isimip_mask.jobs.keys import cancel_key
from isimip_mask.requests.plan import Plan

# RQ's states as users see them (the ISIMIP files API's: queued, started, finished, failed)
SHOWN_AS = {
    "stopped": "cancelled",
    "canceled": "cancelled",
    "ready_to_enqueue": "queued",
    "scheduled": "queued",
}


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
    def summary(self) -> str:
        """What the job is for: its plan and its files, in words."""
        paths = self.request.get("paths", [])
        plan = Plan.from_config(self.request["plan"]).describe() if self.request.get("plan") else "?"
        shown = ", ".join(Path(p).name for p in paths[:3]) + (
            f" and {len(paths) - 3} more" if len(paths) > 3 else ""
        )
        return f"{plan} of {shown}"

    @property
    def fraction(self) -> float:
        """Progress from 0 to 1: whole files plus the share of the current one."""
        if self.status == "finished":
            return 1.0
        if not self.files_total:
            return 0.0
        current = self.steps_done / self.steps_total if self.steps_total else 0.0
        return min(1.0, (self.files_done + current) / self.files_total)


def job_info(job: Job, parts: list[Job]) -> JobInfo:
    """What users see of a job; ``parts`` are the RQ jobs of its files if it was split."""
    status = job.get_status().value
    if status != "finished" and job.connection.exists(cancel_key(job.id)):
        status = "canceled"
    # read after the status: the worker saves a failure's reason before it marks the job
    # failed, so a job fetched a moment before it failed still shows its true reason
    meta = job.get_meta(refresh=True)
    result = job.return_value() if status == "finished" else None
    result = result or {}
    if status == "deferred":  # a split request whose parts run: they tell the progress
        return _info_of_parts(job, meta, parts)
    if parts and status in ("queued", "ready_to_enqueue", "scheduled"):
        status = "started"  # its parts have run: only its last step (the zip) waits, never "queued" again
    info = JobInfo(
        id=job.id,
        status=SHOWN_AS.get(status, status),
        position=job.get_position() if status == "queued" else None,
        files_done=meta.get("files_done", 0),
        files_total=meta.get("files_total", 0),
        steps_done=meta.get("steps_done", 0),
        steps_total=meta.get("steps_total", 0),
        current_file=meta.get("current_file"),
        created_files=result.get("created_files", meta.get("created_files", [])),
        errors=result.get("errors", meta.get("errors", {})),
        file_name=result.get("file_name"),
        ttl=_ttl(job.connection, job),
        request=job.args[0] if job.args else {},
    )
    if status == "failed":
        info.message = meta.get("error") or failure_reason(job)
    elif info.status == "cancelled":
        info.message = "the job was cancelled"
    return info


def _info_of_parts(job: Job, meta: dict, parts: list[Job]) -> JobInfo:
    # each part's status and meta as its record was read (at once: a failure's reason is in it
    # whenever its status says failed)
    statuses = [part.get_status(refresh=False).value for part in parts]
    metas = [part.get_meta(refresh=False) for part in parts]
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
            paths[i]: metas[i].get("error") or failure_reason(part)
            for i, (part, status) in enumerate(zip(parts, statuses))
            if status == "failed" and i < len(paths)
        },
        ttl=_ttl(job.connection, job),
        request=job.args[0] if job.args else {},
    )


def failure_reason(job: Job) -> str:
    """Why a job failed that could not say so itself (it never ran, or was stopped from outside)."""
    result = job.latest_result()
    trace = (result.exc_string or "") if result is not None else ""
    if "DeserializationError" in trace or "UnpicklingError" in trace:
        return (
            "the worker that took this job could not read it: it is not isimip-mask's worker "
            "(start workers with `python worker.py`, or `rq worker` with "
            "RQ_WORKER_CLASS=isimip_mask.jobs.workers.MaskWorker); submit the request again to re-run it"
        )
    if "JobTimeoutException" in trace:
        return f"the job took longer than its time limit of {job.timeout} s and was stopped"
    return "the job failed unexpectedly (the worker may have been stopped); submit it again to re-run it"


def _ttl(connection: redis.Redis, job: Job) -> int | None:
    ttl = connection.ttl(job.key)
    return ttl if ttl is not None and ttl >= 0 else None
