"""A many-file job on 1 and on 2 workers: submit -> zip ready, through the HTTP API.

Each file of a request is an RQ job of its own, so free workers share a job's files. This
starts a private Redis, W workers (``python worker.py``) and the API, submits one request of
N one-year daily 0.5 degree files (hard links of one generated file, under N names), and
times it until the zip is ready. Usage:

    python benchmarks/bench_workers.py [--files 32] [--workers 1 2] [--threads 0]

``--threads`` is WORKER_THREADS of each worker (0: one per core).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from isimip_mask.local import answering, free_port, start_redis, wait_for

ROOT = Path(__file__).resolve().parent.parent
BOX = [-10, 40, 35, 70]


def run(folder: Path, names: list[str], workers: int, threads: int) -> tuple[float, set[str]]:
    redis_dir = folder / f"redis{workers}"
    redis_dir.mkdir()
    redis_process, redis_url = start_redis(free_port(), redis_dir, persistent=False)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {
        **os.environ,
        "INPUT_PATH": str(folder / "input"),
        "OUTPUT_PATH": str(folder / f"output{workers}"),
        "REDIS_URL": redis_url,
        "BASE_URL": url.rstrip("/"),
        "WORKER_THREADS": str(threads),
        "LOG_LEVEL": "WARNING",
    }
    gunicorn = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "--workers", "1"]
    processes = [subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env) for _ in range(workers)]
    processes.append(subprocess.Popen(gunicorn, cwd=ROOT, env=env))
    try:
        wait_for(lambda: answering(url), 30, f"{url} answering")
        time.sleep(1)  # the workers load the package and the country outlines before they listen
        body = {"paths": names, "operations": [{"operation": "mask_bbox", "bbox": BOX}]}
        start = time.perf_counter()
        job = requests.post(url, json=body, timeout=60).json()
        while job["status"] not in ("finished", "failed"):
            time.sleep(0.1)
            job = requests.get(job["job_url"], timeout=60).json()
        seconds = time.perf_counter() - start
        if job["status"] != "finished" or job["meta"]["errors"]:
            raise SystemExit(f"job did not finish cleanly: {job}")
        from redis import Redis
        from rq.job import Job
        from rq.serializers import JSONSerializer

        connection = Redis.from_url(redis_url)
        took = {
            Job.fetch(f"{job['id']}-{i}", connection=connection, serializer=JSONSerializer).worker_name
            for i in range(len(names))
        }
        return seconds, took
    finally:
        for process in [*processes, redis_process]:
            process.terminate()
            process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / "tas_daily_1y.nc"
    if not source.exists():
        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).parent / "bench_engine.py"),
                "--generate",
                str(source),
                "--years",
                "1",
            ],
            check=True,
        )
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        folder = Path(tmp)
        (folder / "input").mkdir()
        names = [f"model{i:02d}_gcm_tas_global_daily_2001_2001.nc" for i in range(args.files)]
        for name in names:
            os.link(source, folder / "input" / name)
        print(
            f"{args.files} files of {source.stat().st_size / 1e6:.0f} MB, {os.cpu_count()} cores, "
            f"WORKER_THREADS={args.threads}"
        )
        print(f"{'workers':>8}{'submit -> zip s':>17}{'workers that took files':>26}")
        first = None
        for workers in args.workers:
            seconds, took = run(folder, names, workers, args.threads)
            first = first or seconds
            print(f"{workers:>8}{seconds:>17.1f}{len(took):>26}   ({seconds / first:.2f} of 1 worker)")


if __name__ == "__main__":
    main()
