"""``RQ_WORKER_CLASS=isimip_mask.workers.MaskWorker`` of existing ``.env`` files and unit files
keeps working: the worker lives in :mod:`isimip_mask.jobs.workers`."""

from isimip_mask.jobs.workers import MaskWorker

__all__ = ["MaskWorker"]
