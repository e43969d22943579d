"""What a job is called in Redis: its id, the ids of its parts, its marks, its task names.

One home for these, shared by the queue (``jobs``), the worker (``tasks``) and the API.
"""

import re

JOB_ID = re.compile(r"^[0-9a-f]{40}$")  # what JobQueue.job_id() makes: anything else is no job

TASK = "isimip_mask.jobs.tasks.run_job"
PART_TASK = "isimip_mask.jobs.tasks.run_part"
ABANDONED = (
    "the worker running this job stopped before it finished (killed, or its machine went down); "
    "submit the request again to re-run it"
)


def part_id(job_id: str, index: int) -> str:
    """The RQ job of file ``index`` of a split request (never shown to users)."""
    return f"{job_id}-{index}"


def parent_id(part: str) -> str:
    return part.rsplit("-", 1)[0]


def attempts_key(job_id: str) -> str:
    """The Redis key counting the runs of a job (RQ saves a retried job from a stale copy, so
    the count cannot live in its meta alone)."""
    return f"isimip-mask:attempts:{job_id}"


def lease_key(job_id: str) -> str:
    """The Redis key that the process running a job keeps alive (see ``tasks.Lease``)."""
    return f"isimip-mask:lease:{job_id}"


def cancel_key(job_id: str) -> str:
    """The Redis key that says a job was cancelled; a worker that picks it up does nothing."""
    return f"isimip-mask:cancelled:{job_id}"
