"""The queue against a real redis-server and real worker processes (``python worker.py``)."""

import concurrent.futures
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import requests
from rq import Worker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from isimip_mask.errors import InputError, JobNotFound, ServiceError
from isimip_mask.files.grid import Grid
from isimip_mask.files.results import output_dir
from isimip_mask.jobs.bundle import cdo_recipe
from isimip_mask.jobs.failures import failure_message
from isimip_mask.jobs.queue import JobQueue, job_timeout_s
from isimip_mask.local import free_port
from isimip_mask.regions.kinds import Country
from isimip_mask.regions.masks import grid_mask
from isimip_mask.requests.plan import Plan
from isimip_mask.requests.submission import build_request
from isimip_mask.settings import Settings
from tests.helpers import (
    DIS,
    DIS_FILE,
    YIELD,
    corrupt_data,
    descendants,
    global_axes,
    serve,
    service_env,
    wait_for,
    write_long_file,
    write_netcdf,
)

pytestmark = pytest.mark.redis

FRANCE = [{"operation": "mask_country", "country": "fra"}]


LAND = [{"operation": "mask_landonly"}]


@pytest.fixture(scope="module")
def long_file(tmp_path_factory) -> Path:
    """Daily steps enough for seconds of masking: more than the 1 s limit of the timeout tests."""
    return write_long_file(tmp_path_factory.mktemp("long") / "long_tas_global_daily.nc", 1500)


def values(path, name, steps=slice(None)):
    with netCDF4.Dataset(path) as dataset:
        dataset.set_auto_maskandscale(False)
        return dataset[name][steps], Grid.from_arrays(dataset["lat"][:], dataset["lon"][:])


@pytest.mark.parametrize(
    ("paths", "operations", "fields"),
    [
        (["../x.nc"], FRANCE, {"paths"}),
        ([DIS], [{"operation": "mask_country", "country": "XYZ"}], {"country"}),
        (["nope.nc"], [{"operation": "explode"}], {"paths", "operations"}),
        ([DIS], [{"operation": "select_point", "point": [10, 100]}], {"paths"}),  # outside the file's grid
        ([DIS], [{"operation": "mask_landonly"}] * 5, {"operations"}),
        ([DIS], [{"operation": "mask_bbox", "bbox": [0, 1, 2]}], {"bbox"}),
        ([], FRANCE, {"paths"}),
        ([DIS], [], {"operations"}),
    ],
)
def test_requests_are_validated_before_queueing(settings, paths, operations, fields):
    with pytest.raises(InputError) as error:
        build_request(settings, paths, operations)
    assert set(error.value.errors) == fields


def test_a_csv_of_every_cell_is_refused_past_the_row_limit(settings):
    small = settings.model_copy(update={"max_csv_rows": 1000})
    operations = [{"operation": "mask_country", "country": "FRA", "output_csv": True}]
    with pytest.raises(InputError, match=r"cells x 1,095 steps = [\d,]+ rows, more than the limit of 1,000"):
        build_request(small, [DIS], operations)
    assert build_request(settings, [DIS], operations).plan.output_csv


def test_job_id_ignores_key_and_path_order(queue_service):
    settings, job_id = queue_service.settings, queue_service.queue.job_id
    a = build_request(
        settings,
        [DIS, YIELD],
        [{"operation": "mask_bbox", "bbox": [-10, 120, 30, 60], "compute_mean": False}],
    )
    b = build_request(
        settings,
        [YIELD, DIS],
        [{"compute_mean": False, "bbox": [-10.0, 120.0, 30.0, 60.0], "operation": "mask_bbox"}],
    )
    c = build_request(settings, [DIS, YIELD], [{"operation": "mask_bbox", "bbox": [-10, 120, 30, 61]}])
    d = build_request(
        settings,
        [f"./{YIELD}", DIS.replace("/", "//")],
        [{"operation": "mask_bbox", "bbox": [-10, 120, 30, 60]}],
    )
    assert job_id(a) == job_id(b) == job_id(d) != job_id(c)


def test_job_ids_need_the_key(queue_service):
    request = build_request(queue_service.settings, [DIS], FRANCE)
    again = JobQueue(queue_service.settings)  # another process of the same service: the key kept in Redis
    other = JobQueue(queue_service.settings.model_copy(update={"secret_key": "another key"}))
    assert queue_service.queue.job_id(request) == again.job_id(request) != other.job_id(request)
    canonical = json.dumps(request.canonical(), sort_keys=True, separators=(",", ":")).encode()
    assert queue_service.queue.job_id(request) != hashlib.sha256(canonical).hexdigest()[:40]


def test_submit_progress_finish_and_correct_output(service, daily_file):
    shutil.copy(daily_file, service.settings.input_path / daily_file.name)
    request = build_request(
        service.settings, [daily_file.name], [{"operation": "mask_country", "country": "BRA"}]
    )
    info, created = service.queue.submit(request)
    assert created and info.status in ("queued", "started") and info.id == service.queue.job_id(request)
    seen = []

    def finished():
        current = service.queue.info(info.id)
        seen.append((current.status, current.steps_done, current.steps_total))
        return current if current.status in ("finished", "failed") else None

    done = wait_for(finished, 60, "the job finishing", interval=0.02)
    # progress is written every 0.1 s of a job that takes seconds: some of it is seen mid-way
    assert any(status == "started" and 0 < steps < total == 730 for status, steps, total in seen), seen
    assert done.status == "finished" and done.errors == {} and done.fraction == 1.0
    result = service.queue.result_path(done)
    assert result.name == "demo_tas_bra_daily_2001_2002.nc"
    steps = [0, 1, 100, 400, 728, 729]  # first, last and across the file
    before, grid = values(daily_file, "tas", steps)
    after, _ = values(result, "tas", steps)
    mask = grid_mask(grid, Country("BRA"))
    np.testing.assert_array_equal(after[:, mask], before[:, mask])
    assert np.all(after[:, ~mask] == np.float32(1e20))


def test_duplicate_submit_is_one_job_run_once(service):
    request = build_request(service.settings, [DIS], FRANCE)
    first, created = service.queue.submit(request)
    again, created_again = service.queue.submit(request)
    assert created and not created_again and again.id == first.id
    done = service.wait(first.id)
    stamp = service.queue.result_path(done).stat().st_mtime_ns
    later, created_later = service.queue.submit(build_request(service.settings, [DIS], FRANCE))
    assert not created_later and later.status == "finished" and later.file_name == done.file_name
    # nothing was queued again: a re-run would show as queued (or started) at once
    assert service.queue.queue.count == 0
    assert service.queue.info(first.id).status == "finished"
    assert service.queue.result_path(service.queue.info(first.id)).stat().st_mtime_ns == stamp


def test_failing_file_fails_the_job_with_a_message_and_reruns(service):
    broken = write_netcdf(service.settings.input_path / "broken_global.nc", *global_axes(5.0))
    request = build_request(service.settings, [broken.name], FRANCE)
    corrupt_data(broken)
    info = service.wait(service.queue.submit(request)[0].id)
    assert info.status == "failed"
    assert "no file could be processed" in info.message and broken.name in info.message
    assert "Traceback" not in info.message and str(service.settings.input_path) not in info.message
    assert not output_dir(service.settings, info.id).exists()
    write_netcdf(broken, *global_axes(5.0))  # repaired: the same request runs again
    rerun, created = service.queue.submit(request)
    assert created and service.wait(rerun.id).status == "finished"


def test_mixed_files_finish_with_errors_and_a_readme(service):
    broken = write_netcdf(
        service.settings.input_path / "isimip" / "broken_global_daily.nc", *global_axes(5.0)
    )
    request = build_request(service.settings, [DIS, "isimip/broken_global_daily.nc"], FRANCE)
    corrupt_data(broken)
    info = service.wait(service.queue.submit(request)[0].id)
    assert info.status == "finished" and info.with_errors and info.label == "finished with errors"
    assert list(info.errors) == ["isimip/broken_global_daily.nc"]
    assert info.created_files == [
        "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_fra_daily_DEMO_FR_2001_2003.nc"
    ]
    with zipfile.ZipFile(service.queue.result_path(info)) as archive:
        names = archive.namelist()
        readme = archive.read("README.txt").decode()
    assert sorted(names) == sorted(["README.txt", "errors.json", "mask_fra_19x27.nc", *info.created_files])
    assert "FAILED" in readme and "broken_global_daily.nc" in readme and "mask to fra" in readme


def test_cancel_stops_a_running_job_and_removes_its_files(service, daily_file):
    shutil.copy(daily_file, service.settings.input_path / daily_file.name)
    request = build_request(service.settings, [daily_file.name], [{"operation": "mask_landonly"}])
    info, _ = service.queue.submit(request)
    running = service.wait(info.id, until={"started", "finished", "failed"})
    assert running.status == "started", running
    wait_for(lambda: service.queue.info(info.id).steps_done > 0, 30, "the job writing its first time steps")
    cancelled = service.queue.cancel(info.id)
    assert cancelled.status == "cancelled"
    assert service.queue.info(info.id).status == "cancelled"  # the record stays, saying so
    worker = service.workers[0]
    wait_for(lambda: not descendants(worker.pid), 30, "the work horse ending")
    assert not output_dir(service.settings, info.id).exists()  # and nothing wrote it again
    assert worker.poll() is None, "the worker itself must survive a cancel"
    other = service.queue.submit(build_request(service.settings, [DIS], FRANCE))[0]
    assert service.wait(other.id).status == "finished"
    rerun, created = service.queue.submit(request)
    assert created
    assert service.queue.cancel(rerun.id).status == "cancelled"  # not left running into teardown


def test_a_job_cancelled_while_a_worker_takes_it_never_runs(queue_service):
    """A worker that took the job from the queue just before the cancel must not run it."""
    queue = queue_service.queue
    info, _ = queue.submit(build_request(queue_service.settings, [DIS], FRANCE))  # no worker: stays queued
    assert queue.cancel(info.id).status == "cancelled"
    # the race, made certain: the job id is handed to a worker although it was cancelled
    queue.connection.rpush(queue.queue.key, info.id)
    queue_service.start_worker()
    job = wait_for(lambda: finished_in_rq(queue, info.id), 30, "the worker taking the job")
    assert (
        job.get_status().value == "failed" and "cancelled before it started" in job.latest_result().exc_string
    )
    assert queue.info(info.id).status == "cancelled"
    assert not output_dir(queue_service.settings, info.id).exists()


def finished_in_rq(queue, job_id):
    job = Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)
    return job if job.get_status().value in ("finished", "failed") else None


def test_a_job_over_its_time_limit_fails_saying_so_and_leaves_no_file(queue_service, long_file):
    settings = queue_service.settings.model_copy(update={"job_timeout_min_s": 1, "job_timeout_s_per_gb": 1})
    queue_service.settings, queue_service.queue = settings, JobQueue(settings)
    long = Path(shutil.copy(long_file, settings.input_path / long_file.name))
    queue_service.start_worker()
    request = build_request(settings, [long.name], [{"operation": "mask_landonly"}])
    failed = queue_service.wait(queue_service.queue.submit(request)[0].id)
    assert failed.status == "failed"
    limit = job_timeout_s(settings, [long])  # 1 s and 1 s per GB
    assert failed.message == f"the job took longer than its time limit of {limit} s and was stopped"
    assert not output_dir(settings, failed.id).exists()


def test_files_of_a_many_file_job_over_their_time_limit_say_so(queue_service, long_file):
    """Each file is an RQ job with the time limit of its own size; a file that runs out of it
    is that file's error, with the true reason and limit."""
    settings = queue_service.settings.model_copy(update={"job_timeout_min_s": 1, "job_timeout_s_per_gb": 1})
    queue_service.settings, queue_service.queue = settings, JobQueue(settings)
    names = ["a_" + long_file.name, "b_" + long_file.name]
    for name in names:
        os.link(long_file, settings.input_path / name)
    queue_service.start_worker()
    failed = queue_service.wait(queue_service.queue.submit(build_request(settings, names, LAND))[0].id)
    limit = job_timeout_s(settings, [long_file])
    assert failed.status == "failed" and failed.message.startswith("no file could be processed"), failed
    assert failed.message.count(f"took longer than its time limit of {limit} s") == 2, failed.message
    assert not output_dir(settings, failed.id).exists()


def test_the_worker_runs_no_function_but_its_own_task(service, tmp_path):
    """A job record written straight into Redis cannot make the worker run ``os.system``."""
    witness = tmp_path / "ran"
    job = service.queue.queue.enqueue_call("os.system", args=(f"touch {witness}",))
    failed = wait_for(lambda: finished_in_rq(service.queue, job.id), 30, "the worker taking the job")
    assert failed.get_status().value == "failed"
    assert "refused: 'os.system' is not isimip-mask's task" in failed.latest_result().exc_string
    assert not witness.exists()
    assert service.workers[0].poll() is None  # and the worker goes on
    info = service.queue.submit(build_request(service.settings, [DIS], FRANCE))[0]
    assert service.wait(info.id).status == "finished"


def test_a_job_seen_just_before_it_failed_still_shows_the_reason(queue_service):
    """The race a loaded machine once hit: the record is read, then the job fails, then the status
    is read. The reason (saved before the status) must win over the stale record."""
    info, _ = queue_service.queue.submit(build_request(queue_service.settings, [DIS], FRANCE))
    stale = Job.fetch(info.id, connection=queue_service.queue.connection, serializer=JSONSerializer)
    worker_side = Job.fetch(info.id, connection=queue_service.queue.connection, serializer=JSONSerializer)
    worker_side.meta["error"] = "no file could be processed: the true reason"
    worker_side.save_meta()
    worker_side.set_status(JobStatus.FAILED)
    assert queue_service.queue._info(stale).message == "no file could be processed: the true reason"


def test_results_expire_and_their_files_are_deleted(queue_service):
    settings = queue_service.settings = queue_service.settings.model_copy(update={"result_ttl_s": 2})
    queue_service.queue = JobQueue(settings)
    queue_service.start_worker()
    first = queue_service.wait(queue_service.queue.submit(build_request(settings, [DIS], FRANCE))[0].id)
    assert 0 < first.ttl <= 2 and output_dir(settings, first.id).exists()

    def expired():
        try:
            queue_service.queue.info(first.id)
        except JobNotFound:
            return True
        return False

    wait_for(expired, 30, "the job record expiring")
    # the worker's maintenance, run before its next job, deletes what expired
    second = queue_service.queue.submit(build_request(settings, [YIELD], [{"operation": "mask_landonly"}]))[0]
    assert queue_service.wait(second.id).status == "finished"
    wait_for(
        lambda: not output_dir(settings, first.id).exists(), 30, "the expired result folder being deleted"
    )


def test_unreachable_redis_fails_fast_with_a_clear_message(settings):
    closed = Settings(
        input_path=settings.input_path, redis_url=f"redis://127.0.0.1:{free_port()}/0", _env_file=None
    )
    with pytest.raises(ServiceError, match=r"cannot reach Redis at redis://127\.0\.0\.1:\d+/0"):
        JobQueue(closed)


def test_unknown_job_is_not_found(service):
    with pytest.raises(JobNotFound, match="never submitted, or expired"):
        service.queue.info("0" * 40)
    with pytest.raises(JobNotFound):
        service.queue.cancel("../../etc")


def test_files_of_the_same_name_in_two_folders_both_reach_the_zip(service):
    (service.settings.input_path / "other").mkdir()
    shutil.copy(DIS_FILE, service.settings.input_path / "other" / DIS_FILE.name)
    request = build_request(service.settings, [DIS, f"other/{DIS_FILE.name}"], FRANCE)
    info = service.wait(service.queue.submit(request)[0].id)
    name = "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_fra_daily_DEMO_FR_2001_2003.nc"
    assert info.created_files == [name, f"other_{name}"]
    with zipfile.ZipFile(service.queue.result_path(info)) as archive:
        assert sorted(archive.namelist()) == sorted(
            ["README.txt", "mask_fra_19x27.nc", name, f"other_{name}"]
        )
        assert f"-> other_{name}" in archive.read("README.txt").decode()


def test_a_killed_worker_fails_its_job_which_then_runs_again(service, daily_file):
    """Worker and work horse killed mid-job, no retries left: the job turns failed, and a new
    submit re-runs it."""
    shutil.copy(daily_file, service.settings.input_path / daily_file.name)
    request = build_request(service.settings, [daily_file.name], [{"operation": "mask_landonly"}])
    info, _ = JobQueue(service.settings.model_copy(update={"job_retries": 0})).submit(request)
    wait_for(lambda: service.queue.info(info.id).steps_done > 0, 30, "the job writing its first time steps")
    worker = service.workers[0]
    for pid in [*descendants(worker.pid), worker.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.wait()
    folder = output_dir(service.settings, info.id)
    assert [p.name for p in folder.iterdir() if not p.name.startswith(".")] == [], "no file may look finished"
    failed = service.wait(info.id, until={"failed"}, timeout=30)  # the job's lease lapses after 3 s
    assert "the worker running this job stopped before it finished" in failed.message
    service.start_worker()
    rerun, created = service.queue.submit(request)
    assert created
    done = service.wait(rerun.id)
    assert done.status == "finished"
    assert sorted(p.name for p in folder.iterdir()) == [done.file_name]


def test_two_workers_share_the_queue_without_clobbering(service):
    service.start_worker()
    requests = [
        build_request(service.settings, [DIS], [{"operation": op, **params}])
        for op, params in [
            ("mask_country", {"country": "FRA"}),
            ("mask_landonly", {}),
            ("mask_bbox", {"bbox": [0, 5, 44, 48]}),
            ("select_point", {"point": [48.1, 2.1], "output_csv": True}),
        ]
    ]
    infos = [service.queue.submit(request)[0] for request in requests]
    done = [service.wait(info.id) for info in infos]
    assert [d.status for d in done] == ["finished"] * 4
    names = [service.queue.result_path(d).name for d in done]
    assert len(set(names)) == 4 and all(service.queue.result_path(d).stat().st_size > 0 for d in done)
    for d in done:  # one folder per job, nothing else in it
        assert [p.name for p in output_dir(service.settings, d.id).iterdir()] == [d.file_name]


def test_a_many_file_job_is_shared_by_two_workers_and_zipped_whole(service, tmp_path):
    """Each file is an RQ job of its own: both workers take files, the zip holds every output."""
    service.start_worker()
    wait_for(lambda: len(Worker.all(queue=service.queue.queue)) == 2, 30, "both workers listening")
    short = write_long_file(tmp_path / "short.nc", 60)
    names = [f"part{i}_tas_global_daily_2001.nc" for i in range(4)]
    for name in names:
        shutil.copy(short, service.settings.input_path / name)
    request = build_request(service.settings, names, [{"operation": "mask_bbox", "bbox": [-10, 40, 35, 70]}])
    info, created = service.queue.submit(request)
    assert created and info.files_total == 4
    done = service.wait(info.id, timeout=120)
    assert done.status == "finished" and not done.errors, done
    parts = [
        Job.fetch(f"{info.id}-{i}", connection=service.queue.connection, serializer=JSONSerializer)
        for i in range(4)
    ]
    assert len({part.worker_name for part in parts}) == 2, "both workers took files"
    outputs = [n.replace("_global_", "_lon-10.0to40.0lat35.0to70.0_") for n in names]
    assert sorted(done.created_files) == sorted(outputs)
    with zipfile.ZipFile(service.queue.result_path(done)) as archive:
        listed = set(archive.namelist())
        assert set(outputs) <= listed and "README.txt" in listed
        assert archive.testzip() is None and all(archive.getinfo(name).file_size > 1e5 for name in outputs)


def running_copies(service, source: Path, count: int, retries: int | None = None):
    """A land-only job of ``count`` copies of ``source``, once its first file is running."""
    names = [f"part{i}_tas_global_daily_2001.nc" for i in range(count)]
    for name in names:
        shutil.copy(source, service.settings.input_path / name)
    queue = (
        service.queue
        if retries is None
        else JobQueue(service.settings.model_copy(update={"job_retries": retries}))
    )
    info, _ = queue.submit(build_request(service.settings, names, [{"operation": "mask_landonly"}]))
    wait_for(lambda: service.queue.info(info.id).steps_done > 0, 30, "the first file running")
    return names, info


def test_a_worker_killed_in_one_file_of_many_fails_that_file_and_zips_the_others(service, daily_file):
    names, info = running_copies(service, daily_file, 2, retries=0)  # no retries left
    worker = service.workers[0]
    for pid in [*descendants(worker.pid), worker.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.wait()
    service.start_worker()  # takes the second file; the first one's lease lapses meanwhile
    done = service.wait(info.id, timeout=90)
    assert done.status == "finished" and list(done.errors) == [names[0]], done
    assert "stopped before it finished" in done.errors[names[0]]
    with zipfile.ZipFile(service.queue.result_path(done)) as archive:
        assert sum(name.endswith(".nc") and name.startswith("part1_") for name in archive.namelist()) == 1
        assert not any(name.startswith("part0_") for name in archive.namelist())


def test_a_request_left_ready_to_enqueue_is_queued_when_looked_at(queue_service):
    """Two parts ending at the same moment on two workers can leave the request's own job in RQ's
    "ready to enqueue" state, for a maintenance pass minutes later; here it is left so by hand."""
    info, _ = queue_service.queue.submit(build_request(queue_service.settings, [DIS], LAND))
    queue, job = queue_service.queue.queue, Job.fetch(info.id, connection=queue_service.queue.connection)
    queue.remove(job.id)
    with queue_service.queue.connection.pipeline() as pipe:
        queue.ready_job_registry.register_jobs([job], pipe)
        pipe.execute()
    assert job.get_status(refresh=True).value == "ready_to_enqueue" and queue.count == 0
    assert queue_service.queue.info(info.id).status == "queued" and queue.count == 1
    queue_service.start_worker()
    assert queue_service.wait(info.id).status == "finished"


def test_cancelling_a_many_file_job_stops_its_parts_and_removes_everything(service, daily_file):
    _, info = running_copies(service, daily_file, 3)
    cancelled = service.queue.cancel(info.id)
    assert cancelled.status == "cancelled"
    assert service.wait(info.id).status == "cancelled"
    assert not output_dir(service.settings, info.id).exists()
    service.start_worker()  # a fresh worker takes the parts left in the queue: they must do nothing
    wait_for(lambda: service.queue.queue.count == 0, 30, "the queue emptied")
    assert not output_dir(service.settings, info.id).exists()


@pytest.mark.cdo
@pytest.mark.skipif(shutil.which("cdo") is None, reason="cdo is not installed (apt-get install cdo)")
@pytest.mark.parametrize(
    "operations",
    [
        [
            {"operation": "mask_country", "country": "FRA"},
            {"operation": "mask_bbox", "bbox": [-2, 8, 42, 51]},
        ],
        [
            {
                "operation": "mask_country",
                "country": "FRA",
                "rule": "touch",
                "compute_mean": True,
                "output_csv": True,
            }
        ],
    ],
    ids=["chain with a mask", "touch mean csv"],
)
def test_the_readme_of_a_zip_redoes_every_output_with_cdo(service, tmp_path, operations):
    (service.settings.input_path / "other").mkdir()
    shutil.copy(DIS_FILE, service.settings.input_path / "other" / "second_dis_global_daily.nc")
    paths = [DIS, "other/second_dis_global_daily.nc", YIELD]  # the last one fails: the region misses it
    info = service.wait(service.queue.submit(build_request(service.settings, paths, operations))[0].id)
    assert info.status == "finished" and list(info.errors) == [YIELD]
    ours = tmp_path / "ours"
    with zipfile.ZipFile(service.queue.result_path(info)) as archive:
        archive.extractall(ours)
    readme = (ours / "README.txt").read_text()
    assert json.loads((ours / "errors.json").read_text()) == info.errors
    assert str(service.settings.input_path) not in readme  # no server path
    redo = tmp_path / "redo"
    redo.mkdir()
    for mask in ours.glob("mask_*.nc"):
        shutil.copy(mask, redo)
    for name, source in zip(info.created_files, (DIS_FILE, DIS_FILE)):
        command = readme.split(f"-> {name}\n", 1)[1].splitlines()[0].strip()
        words = command.split()
        shutil.copy(source, redo / words[words.index(name) - (2 if ">" in words else 1)])
        subprocess.run(["sh", "-c", command], cwd=redo, check=True, capture_output=True)
        if name.endswith(".csv"):  # cdo's layout: date value; ours: time,value with a header
            theirs = [float(line.split()[-1]) for line in (redo / name).read_text().splitlines()]
            mine = [float(row.split(",")[1]) for row in (ours / name).read_text().splitlines()[1:]]
            np.testing.assert_allclose(mine, theirs, rtol=1e-5)
        else:
            mine, _ = values(ours / name, "dis")
            theirs, _ = values(redo / name, "dis")
            np.testing.assert_array_equal(mine, theirs)


def test_twenty_concurrent_resubmits_of_a_failed_job_run_it_once(service, tmp_path):
    """Through the HTTP API in two gunicorn processes, as 20 clients at once would."""
    broken = write_netcdf(service.settings.input_path / "broken_global.nc", *global_axes(5.0))
    body = {"paths": [broken.name], "operations": [{"operation": "mask_country", "country": "FRA"}]}
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
    ]
    corrupt_data(broken)  # the header stays readable: submitting works, the job fails
    with serve(command, url, service_env(service.settings)):
        first = requests.post(url, json=body, timeout=30).json()
        assert service.wait(first["id"]).status == "failed"
        write_netcdf(broken, *global_axes(5.0))  # repaired: every resubmit asks for a re-run
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda _: requests.post(url, json=body, timeout=60), range(20)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200] * 19 + [201], codes
    assert {answer.json()["id"] for answer in answers} == {first["id"]}
    assert service.wait(first["id"]).status == "finished"
    job = Job.fetch(first["id"], connection=service.queue.connection, serializer=JSONSerializer)
    assert len(job.results()) == 1, "the job ran more than once"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            OSError(28, "No space left on device", "/srv/output/abc/.x.part"),
            "the disk that holds the results is full",
        ),
        (
            RuntimeError("NetCDF: HDF error in /srv/data/secret.nc"),
            "the file could not be read (its data is damaged)",
        ),
        (ValueError("bad thing at /srv/data/secret.nc"), "internal error (ValueError)"),
    ],
)
def test_unexpected_failures_say_what_kind_without_server_paths(error, message):
    told = failure_message(error)
    assert told.startswith(message) and "/srv" not in told and "the administrators have been told" in told


def test_cut_outs_of_one_size_in_two_places_get_masks_of_their_own(tmp_path):
    lat = np.arange(51.25, 42, -0.5)
    west = write_netcdf(tmp_path / "west.nc", lat, np.arange(-4.75, 8.5, 0.5))
    east = write_netcdf(tmp_path / "east.nc", lat, np.arange(3.25, 16.5, 0.5))  # the same size, further east
    plan, masks = Plan(Country("FRA")), {}
    first, other, again = (
        cdo_recipe(plan, path, f"{n}.nc", masks) for n, path in enumerate((west, east, west))
    )
    assert (
        first.mask_name == again.mask_name == "mask_fra_19x27.nc" and other.mask_name == "mask_fra_19x27_2.nc"
    )
    assert again.cells is first.cells  # built once per grid
    for recipe, path in ((first, west), (other, east)):
        _, grid = values(path, "tas")
        np.testing.assert_array_equal(recipe.cells, grid_mask(grid, Country("FRA")))


def test_a_job_whose_work_horse_is_killed_runs_again_by_itself(service, daily_file):
    """The kernel's OOM killer takes a work horse: the worker runs the job again (JOB_RETRIES),
    counting the attempt, and it finishes without anyone submitting it again."""
    shutil.copy(daily_file, service.settings.input_path / daily_file.name)
    request = build_request(service.settings, [daily_file.name], [{"operation": "mask_landonly"}])
    info, _ = service.queue.submit(request)
    wait_for(lambda: service.queue.info(info.id).steps_done > 0, 30, "the job writing its first time steps")
    for pid in descendants(service.workers[0].pid):  # the horse, not the worker
        os.kill(pid, signal.SIGKILL)
    done = service.wait(info.id)
    assert done.status == "finished"
    job = Job.fetch(info.id, connection=service.queue.connection, serializer=JSONSerializer)
    assert job.meta["attempts"] == 2 and "error" not in job.meta


def test_a_job_that_fails_on_its_input_is_not_retried(service, tmp_path):
    broken = write_netcdf(service.settings.input_path / "broken_global.nc", *global_axes(5.0))
    request = build_request(service.settings, [broken.name], [{"operation": "mask_landonly"}])
    corrupt_data(broken)  # readable at submit, not when the worker reads its data
    info, _ = service.queue.submit(request)
    assert service.wait(info.id).status == "failed"
    job = Job.fetch(info.id, connection=service.queue.connection, serializer=JSONSerializer)
    assert job.meta["attempts"] == 1


def test_expected_ends_are_one_line_in_the_worker_log(queue_service):
    """A job failing on its own input and the parts of a cancelled job: one line each, no traceback."""
    settings = queue_service.settings
    broken = write_netcdf(settings.input_path / "broken_global.nc", *global_axes(5.0))
    failing = build_request(settings, [broken.name], [{"operation": "mask_landonly"}])
    corrupt_data(broken)  # readable at submit, not when the worker reads its data
    bad, _ = queue_service.queue.submit(failing)
    cancelled, _ = queue_service.queue.submit(
        build_request(settings, [DIS, YIELD], [{"operation": "mask_landonly"}])
    )
    queue_service.queue.cancel(cancelled.id)
    rq = str(Path(sys.executable).parent / "rq")
    command = [rq, "worker", "--burst", "--url", settings.redis_url]
    command += ["--worker-class", "isimip_mask.jobs.workers.MaskWorker", settings.queue_name]
    ran = subprocess.run(command, env=service_env(settings), timeout=90, capture_output=True, text=True)
    log = ran.stdout + ran.stderr
    assert "Traceback" not in log, log
    ended = [line for line in log.splitlines() if f"job {bad.id} ended:" in line]
    assert len(ended) == 1 and "damaged" in ended[0], log
    assert queue_service.queue.info(bad.id).status == "failed"
