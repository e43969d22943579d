"""Start an RQ worker for isimip-mask on the configured queue: ``python worker.py``.

The same as ``rq worker`` with ``RQ_WORKER_CLASS=isimip_mask.jobs.workers.MaskWorker``; the worker
class loads the package before it forks a job (see :class:`isimip_mask.jobs.workers.MaskWorker`).
"""

from isimip_mask.jobs.queue import connect
from isimip_mask.jobs.workers import MaskWorker
from isimip_mask.settings import load_settings


def main() -> None:
    settings = load_settings()
    worker = MaskWorker(connection=connect(settings.redis_url), settings=settings)
    worker.work(logging_level=settings.log_level.upper())


if __name__ == "__main__":
    main()
