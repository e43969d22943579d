"""What the service adds around the engine: submit -> result ready, through the HTTP API.

Starts a private Redis, one idle worker (``python worker.py``) and the API (gunicorn), then
submits 50 different small requests one after the other (a box on the France sample file,
1,095 daily steps), polling the job every 10 ms until it has finished. The engine's own time
for the same requests is measured in this process; the difference is the overhead (queueing,
forking the work horse, progress and result records, the API). ``python
benchmarks/bench_overhead.py`` prints p50 and p95.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from isimip_mask.engine.options import RunOptions
from isimip_mask.local import answering, free_port, start_redis, wait_for
from isimip_mask.requests.chain import parse_operations

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = (
    ROOT
    / "tests"
    / "data"
    / "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_global_daily_DEMO_FR_2001_2003.nc"
)
JOBS = 50


def boxes() -> list[list[float]]:
    return [[-4 + i * 0.1, 6, 43, 50] for i in range(JOBS)]


def engine_seconds(folder: Path) -> list[float]:
    times = []
    for box in boxes():
        plan = parse_operations([{"operation": "mask_bbox", "bbox": box}])
        start = time.perf_counter()
        plan.run(SAMPLE, folder, options=RunOptions(threads=os.cpu_count() or 1), name="engine.nc")
        times.append(time.perf_counter() - start)
    return times


def service_seconds(url: str, redis_url: str) -> tuple[list[float], dict[str, list[float]]]:
    """Submit -> seen finished, per job; and where that time went, from RQ's own timestamps."""
    connection = Redis.from_url(redis_url)
    times, phases = [], {"submit (API)": [], "in the queue": [], "task": [], "after the task": []}
    for box in boxes():
        body = {"paths": [SAMPLE.name], "operations": [{"operation": "mask_bbox", "bbox": box}]}
        start, started_at = time.perf_counter(), datetime.now(UTC)
        job = requests.post(url, json=body, timeout=30).json()
        while job["status"] not in ("finished", "failed"):
            time.sleep(0.01)
            job = requests.get(job["job_url"], timeout=30).json()
        times.append(time.perf_counter() - start)
        seen_at = datetime.now(UTC)
        if job["status"] != "finished":
            raise SystemExit(f"job failed: {job}")
        record = Job.fetch(job["id"], connection=connection, serializer=JSONSerializer)
        marks = [started_at, record.enqueued_at, record.started_at, record.ended_at, seen_at]
        for name, (a, b) in zip(phases, zip(marks, marks[1:])):
            phases[name].append((b - a).total_seconds())
    return times, phases


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "input").mkdir()
        shutil.copy(SAMPLE, folder / "input" / SAMPLE.name)
        (folder / "redis").mkdir()
        redis_process, redis_url = start_redis(free_port(), folder / "redis", persistent=False)
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        env = {
            **os.environ,
            "INPUT_PATH": str(folder / "input"),
            "OUTPUT_PATH": str(folder / "output"),
            "REDIS_URL": redis_url,
            "BASE_URL": url.rstrip("/"),
            "LOG_LEVEL": "WARNING",
        }
        gunicorn = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "--workers", "2"]
        processes = [
            subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env),
            subprocess.Popen(gunicorn, cwd=ROOT, env=env),
        ]
        try:
            wait_for(lambda: answering(url), 30, f"{url} answering")
            engine = engine_seconds(folder)
            total, phases = service_seconds(url, redis_url)
        finally:
            for process in [*processes, redis_process]:
                process.terminate()
                process.wait(timeout=30)
    overhead = [t - e for t, e in zip(total, engine)]
    print(f"{JOBS} jobs, one small file each (a box on {SAMPLE.name[:40]}...), idle worker")
    print(f"{'':<26}{'p50 s':>8}{'p95 s':>8}")
    rows = [
        ("engine alone", engine),
        ("submit -> result ready", total),
        *phases.items(),
        ("overhead", overhead),
    ]
    for name, values in rows:
        print(f"{name:<26}{statistics.median(values):>8.3f}{percentile(values, 0.95):>8.3f}")
    print(f"overhead target: < 0.3 s: {'yes' if percentile(overhead, 0.95) < 0.3 else 'NO'}")


if __name__ == "__main__":
    main()
