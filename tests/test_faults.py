"""Faults and load against the real stack: nothing lost, nothing run twice, the right message."""

import concurrent.futures
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from rq.job import Job
from rq.serializers import JSONSerializer

from isimip_mask.files.results import output_dir
from isimip_mask.jobs.queue import JobQueue
from isimip_mask.local import free_port, start_redis
from isimip_mask.requests.submission import build_request
from tests.helpers import DIS, DIS_FILE, FAST_WORKER, Service, serve, service_env, stop, wait_for

pytestmark = pytest.mark.redis
LAND = [{"operation": "mask_landonly"}]
FULL_BOX = [{"operation": "mask_bbox", "bbox": [-10, 20, 30, 60]}]  # keeps every cell of the France file
DISK_FOR_NOTHING_KB = 256  # less than one output
DISK_FOR_OUTPUTS_KB = 4600  # two outputs of 1.93 MB fit, their zip (stored, not deflated) does not


def gunicorn(port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"]


def test_an_input_deleted_while_queued_fails_its_job_saying_so(queue_service):
    (queue_service.settings.input_path / "gone").mkdir()
    path = queue_service.settings.input_path / "gone" / DIS_FILE.name
    shutil.copy(DIS_FILE, path)
    request = build_request(
        queue_service.settings, [f"gone/{DIS_FILE.name}"], [{"operation": "mask_landonly"}]
    )
    info, _ = queue_service.queue.submit(request)  # no worker yet: it waits in the queue
    path.unlink()
    queue_service.start_worker()
    failed = queue_service.wait(info.id)
    assert failed.status == "failed"
    assert f"gone/{DIS_FILE.name}" in failed.message and "does not exist" in failed.message
    assert not output_dir(queue_service.settings, info.id).exists()


def test_the_api_restarted_mid_job_loses_nothing(service, daily_file):
    shutil.copy(daily_file, service.settings.input_path / daily_file.name)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    body = {"paths": [daily_file.name], "operations": [{"operation": "mask_landonly"}]}
    with serve(gunicorn(port), url, service_env(service.settings)):
        job = requests.post(url, json=body, timeout=30).json()
        wait_for(lambda: service.queue.info(job["id"]).steps_done > 0, 30, "the job running")
    with serve(gunicorn(port), url, service_env(service.settings)):  # the API again, same settings
        done = wait_for(
            lambda: requests.get(f"{url}{job['id']}", timeout=10).json()["status"] == "finished", 60, "job"
        )
        assert done and requests.get(f"{url}{job['id']}", timeout=10).json()["file_url"]


def test_a_busy_worker_outlives_a_redis_restart_and_loses_no_job(settings, daily_file, tmp_path):
    """Redis killed mid-job and started again: the worker lives on, the running job finishes,
    the job queued behind it runs next, and the results are what they would have been."""
    log = tmp_path / "worker.log"
    port, data = free_port(), tmp_path / "redis"
    data.mkdir()
    redis_process, url = start_redis(port, data, persistent=True)
    own = Service(settings.model_copy(update={"redis_url": url, "log_file": log, **FAST_WORKER}))
    try:
        worker = own.start_worker()
        shutil.copy(daily_file, own.settings.input_path / daily_file.name)
        running, _ = own.queue.submit(build_request(own.settings, [daily_file.name], LAND))
        queued, _ = own.queue.submit(build_request(own.settings, [DIS], LAND))
        wait_for(lambda: own.queue.info(running.id).steps_done > 0, 30, "the job writing its first steps")
        redis_process.kill()
        redis_process.wait()
        # the worker's heartbeat meets the outage (it comes every JOB_LEASE_S): RQ alone would exit
        # here; and the job ends its work and waits for Redis to record its end, its lease lapsing
        wait_for(lambda: "Redis is away, the job runs on" in log.read_text(), 30, "a heartbeat without Redis")
        # ... long enough that it sleeps 3.2 s before it asks again: its lease must be renewed meanwhile
        wait_for(lambda: "asking again in 3.2 s" in log.read_text(), 30, "the job done, waiting for Redis")
        assert worker.poll() is None
        redis_process, _ = start_redis(port, data, persistent=True)
        done = own.wait(running.id, timeout=90)
        assert done.status == "finished", (done.status, done.message)
        assert own.wait(queued.id).status == "finished"
        assert worker.poll() is None, "the worker must outlive the outage"
        assert sorted(p.name for p in output_dir(own.settings, running.id).iterdir()) == [done.file_name]
    finally:
        own.stop_workers()
        stop(redis_process)


def test_fifty_concurrent_posts_with_duplicates_on_two_workers(service):
    """25 distinct requests, each sent twice, all at once: every one done, each exactly once."""
    service.start_worker()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    bodies = [
        {"paths": [DIS], "operations": [{"operation": "mask_bbox", "bbox": [-4 + i * 0.2, 6, 43, 50]}]}
        for i in range(25)
    ]
    with serve(gunicorn(port), url, service_env(service.settings)):
        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(lambda body: requests.post(url, json=body, timeout=60), bodies * 2))
    assert sorted({answer.status_code for answer in answers}) in ([200, 201], [201])
    ids = {answer.json()["id"] for answer in answers}
    assert len(ids) == 25 and sum(answer.status_code == 201 for answer in answers) == 25
    for job_id in ids:
        assert service.wait(job_id).status == "finished"
        job = Job.fetch(job_id, connection=service.queue.connection, serializer=JSONSerializer)
        assert len(job.results()) == 1, f"job {job_id} ran {len(job.results())} times"


@pytest.fixture
def small_disk(tmp_path):
    """A file system of a given size for OUTPUT_PATH (a tmpfs: needs root, as CI has)."""
    mounted = []

    def make(size_kb: int) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)], capture_output=True
        )
        if done.returncode:
            pytest.skip(f"cannot mount a small file system here: {done.stderr.decode().strip()}")
        mounted.append(folder)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize(
    ("disk_kb", "paths", "reason"),
    [
        (DISK_FOR_NOTHING_KB, [DIS], "no file could be processed"),
        (DISK_FOR_OUTPUTS_KB, [DIS, "isimip/second_dis_global_daily.nc"], "the results could not be zipped"),
    ],
    ids=["while writing", "while zipping"],
)
def test_a_full_disk_fails_the_job_saying_so_and_leaves_nothing(
    queue_service, small_disk, disk_kb, paths, reason
):
    shutil.copy(DIS_FILE, queue_service.settings.input_path / "isimip" / "second_dis_global_daily.nc")
    settings = queue_service.settings.model_copy(update={"output_path": small_disk(disk_kb)})
    queue_service.settings, queue_service.queue = settings, JobQueue(settings, queue_service.queue.connection)
    queue_service.start_worker()
    failed = queue_service.wait(queue_service.queue.submit(build_request(settings, paths, FULL_BOX))[0].id)
    assert failed.status == "failed", failed
    assert failed.message.startswith(reason) and "the disk that holds the results is full" in failed.message
    assert not output_dir(settings, failed.id).exists() and list(settings.output_path.iterdir()) == []
