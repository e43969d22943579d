"""The RQ worker of isimip-mask and its housekeeping (``python worker.py``, or ``rq worker``
with ``RQ_WORKER_CLASS=isimip_mask.jobs.workers.MaskWorker``)."""

import logging
import shutil
import time

from rq import Queue, Worker
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.worker import WorkerStatus

from isimip_mask import logs
from isimip_mask.errors import IsimipMaskError
from isimip_mask.files.results import upload_dir
from isimip_mask.jobs.keys import JOB_ID, PART_TASK, TASK
from isimip_mask.jobs.tasks import AWAY, WORKER_SETTINGS, await_redis
from isimip_mask.regions.countries import land_geometry
from isimip_mask.settings import Settings, load_settings

log = logging.getLogger(__name__)


def cleanup_expired(settings: Settings, connection) -> list[str]:
    """Delete the output folders of jobs whose record has expired from Redis, and uploaded masks
    that no request has used for as long as results are kept."""
    removed = []
    if not settings.output_path.is_dir():
        return removed
    oldest = time.time() - settings.result_ttl_s
    uploads = upload_dir(settings)
    for upload in uploads.glob("*.nc") if uploads.is_dir() else []:
        if upload.stat().st_mtime < oldest:
            upload.unlink(missing_ok=True)
    for folder in settings.output_path.iterdir():
        if folder.is_dir() and JOB_ID.match(folder.name) and not connection.exists(Job.key_for(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    if removed:
        log.info("removed %d expired result folder(s)", len(removed))
    return removed


class MaskWorker(Worker):
    """The RQ worker of isimip-mask: ``python worker.py``, or ``rq worker`` with
    ``RQ_WORKER_CLASS=isimip_mask.jobs.workers.MaskWorker`` in the environment (as in ``.env.sample``).

    Whatever the command line says, jobs are read as JSON (never pickle: see the README); a
    worker started without queue names listens on ``QUEUE_NAME``. The package and the country
    outlines are loaded here, in the parent, so that every forked job starts with them. During
    its maintenance runs the worker also deletes the results of expired jobs.
    """

    def __init__(self, queues=None, *args, settings: Settings | None = None, **kwargs):
        self.settings = settings or load_settings()
        WORKER_SETTINGS["settings"] = self.settings  # what its jobs run with
        logs.configure(self.settings)
        land_geometry()  # loads the country catalogue too
        queues = [] if queues is None else queues if isinstance(queues, list | tuple) else [queues]
        names = [queue.name if isinstance(queue, Queue) else queue for queue in queues]
        if names in ([], ["default"]):  # what `rq worker` passes when given no queue names
            names = [self.settings.queue_name]
        kwargs["serializer"] = JSONSerializer
        kwargs.setdefault("job_monitoring_interval", max(1, int(self.settings.job_lease_s)))
        kwargs.setdefault("maintenance_interval", max(1, min(600, self.settings.result_ttl_s // 2)))
        super().__init__(names, *args, **kwargs)

    def execute_job(self, job: Job, queue: Queue):
        """Run only isimip-mask's own task; refuse anything else before it is imported or forked.

        Whoever can write to Redis can put any function name into a job record: without this
        check the worker would run it (``os.system`` included).
        """
        try:
            function = job.func_name
        except Exception as error:  # noqa: BLE001 - an unreadable record is refused like a foreign one
            function = f"<unreadable: {type(error).__name__}>"
        if function in (TASK, PART_TASK):
            try:
                super().execute_job(job, queue)
                # a request whose parts ended at the same moment on two workers may be left
                # "ready to enqueue" by RQ (see JobQueue._enqueue_if_ready): queue it now
                ready = queue.ready_job_registry
                ready.enqueue_jobs(ready.get_job_ids(cleanup=False))
                return None
            except AWAY as error:
                # Redis went away while the job ran and the horse could not record its end: the
                # job's lease lapses and it is failed as abandoned; this worker goes on
                log.error("job %s: Redis went away while it ran: %s", job.id, error)
                self._survive_outage()
                return None
        log.error("job %s: refused to run %r: only %s runs here", job.id, function, TASK)
        execution = self.prepare_execution(job)
        self.handle_job_failure(
            job, queue, exc_string=f"refused: {function!r} is not isimip-mask's task", execution=execution
        )
        self.set_state(WorkerStatus.IDLE)

    def handle_exception(self, job: Job, *exc_info):
        """A job that ends as expected (cancelled, or failed on its own input, with its reason
        saved for the user) is one line in the log; tracebacks are for everything else."""
        error = exc_info[1] if len(exc_info) > 1 else None
        if isinstance(error, IsimipMaskError):
            self.log.info("job %s ended: %s", job.id, error)
            return
        super().handle_exception(job, *exc_info)

    def teardown(self) -> None:
        """At shutdown, a Redis already gone (Ctrl-C of ``make run`` reaches Redis and the worker
        at once) is one line: RQ's record of this worker expires by itself."""
        try:
            super().teardown()
        except AWAY as error:
            self.log.info("worker %s stopped; Redis was gone already (%s)", self.name, error)

    def maintain_heartbeats(self, job: Job, execution) -> None:
        """RQ's heartbeats while a job runs; RQ exits the worker when Redis is away, this waits
        for it instead (the job itself runs on in the work horse)."""
        try:
            super().maintain_heartbeats(job, execution)
        except AWAY as error:
            log.warning("job %s: Redis is away, the job runs on: %s", job.id, error)

    def _survive_outage(self) -> None:
        if not await_redis(self.connection, self.settings.redis_wait_s, f"worker {self.name}"):
            raise SystemExit(f"Redis has not come back within {self.settings.redis_wait_s:g} s")

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        cleanup_expired(self.settings, self.connection)
