"""Where jobs queued before the layered layout find their functions: RQ stores a job's function
by its dotted path (``isimip_mask.tasks.run_job``); new jobs name ``isimip_mask.jobs.tasks``.
Safe to delete once no queue holds a job older than that."""

from isimip_mask.jobs.tasks import run_job, run_part

__all__ = ["run_job", "run_part"]
