"""CPU of the page server while one browser tab follows a job, with and without Streamlit's
post-script garbage collection: ``python benchmarks/bench_page_poll.py`` (needs Debian's chromium).

A queued job (no worker takes it) keeps the tab polling every 2 s; the server's CPU time is
read from /proc before and after 30 s of that, once per setting. Then, with our setting, the
tab follows an 8-file job that a worker runs (its progress changes at every poll) from its
start to its end. Prints a table.
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from isimip_mask.demo import write_isimip_like  # noqa: E402
from isimip_mask.jobs.queue import JobQueue  # noqa: E402
from isimip_mask.local import free_port, page_command, start_redis  # noqa: E402
from isimip_mask.requests.submission import build_request  # noqa: E402
from isimip_mask.settings import Settings  # noqa: E402
from tests.helpers import DIS, DIS_FILE, descendants, serve, service_env, start, stop  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
SECONDS = 30
POLL_S = 2
FILES = 24


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children so far."""
    total = 0
    for process in (pid, *descendants(pid)):
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def follow(settings: Settings, job_id: str, collect_garbage: bool) -> float:
    """CPU seconds the page server spends while one tab follows the job for SECONDS."""
    port = free_port()
    command = [*page_command(port), "--runner.postScriptGC", str(collect_garbage).lower()]
    with serve(command, f"http://127.0.0.1:{port}/_stcore/health", service_env(settings)) as server:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/?job={job_id}")
            page.get_by_text("Queued, position").wait_for(timeout=60_000)
            time.sleep(2 * POLL_S)  # past the first full render
            before = cpu_seconds(server.pid)
            time.sleep(SECONDS)
            used = cpu_seconds(server.pid) - before
            browser.close()
    return used


def follow_running(settings: Settings, request, files: int) -> tuple[float, float, float]:
    """CPU seconds of the page server while one tab follows ``request`` (of ``files`` files) run
    by a worker: while it runs (from its first file to its last) and that time, and the one
    full render of the page that shows its result."""
    port = free_port()
    queue = JobQueue(settings)
    with serve(
        page_command(port), f"http://127.0.0.1:{port}/_stcore/health", service_env(settings)
    ) as server:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            job = queue.submit(request)[0]
            page.goto(f"http://127.0.0.1:{port}/?job={job.id}")
            page.get_by_text("Queued, position").wait_for(timeout=60_000)
            time.sleep(2 * POLL_S)  # past the first full render
            worker = start([sys.executable, "worker.py"], service_env(settings, WORKER_THREADS="1"))
            try:
                page.get_by_text("Running: file").wait_for(timeout=60_000)
                before, start_time = cpu_seconds(server.pid), time.monotonic()
                page.get_by_text(f"Running: file {files} of {files}").wait_for(timeout=600_000)
                running, took = cpu_seconds(server.pid) - before, time.monotonic() - start_time
                before = cpu_seconds(server.pid)
                page.get_by_role("link", name="Download").wait_for(timeout=600_000)
                time.sleep(POLL_S)  # the result's render is over
                result = cpu_seconds(server.pid) - before
            finally:
                stop(worker)
            browser.close()
    return running, took, result


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    (folder / "input" / "isimip").mkdir(parents=True)
    shutil.copy(DIS_FILE, folder / "input" / "isimip")
    redis, url = start_redis(free_port(), folder / "redis", persistent=False)
    try:
        settings = Settings(
            input_path=folder / "input", output_path=folder / "output", redis_url=url, _env_file=None
        )
        job = JobQueue(settings).submit(build_request(settings, [DIS], [{"operation": "mask_landonly"}]))[0]
        print("| runner.postScriptGC | share of a core | CPU per poll |\n| --- | ---: | ---: |")
        for collect_garbage in (True, False):
            used = follow(settings, job.id, collect_garbage)
            per_poll_ms = used / (SECONDS / POLL_S) * 1000
            print(f"| {str(collect_garbage).lower()} | {used / SECONDS:.1%} | {per_poll_ms:.0f} ms |")
        # a running job of 24 files (two years of daily global fields each, every country's
        # statistics) on a worker of one thread: about 25 s, a dozen polls
        source = write_isimip_like(
            folder / "input" / "demo" / "tas_global_daily_2001_2002.nc", 730, everywhere=True
        )
        paths = []
        for number in range(FILES):
            name = f"demo/tas{number}_global_daily_2001_2002.nc"
            shutil.copy(source, folder / "input" / name)
            paths.append(name)
        operations = [{"operation": "mask_regions", "regions": "countries", "weights": "fraction"}]
        operations[0]["statistics"] = ["mean", "min", "max", "std", "p5", "p95"]
        running, took, result = follow_running(settings, build_request(settings, paths, operations), FILES)
        polls = took / POLL_S
        print(
            f"\nfollowing a running {FILES}-file job (postScriptGC false), {took:.0f} s = {polls:.0f} polls:"
        )
        print(
            "| while it runs: share of a core | CPU per poll | the result's render |\n| ---: | ---: | ---: |"
        )
        print(f"| {running / took:.1%} | {running / polls * 1000:.0f} ms | {result * 1000:.0f} ms |")
    finally:
        stop(redis)
        shutil.rmtree(folder, ignore_errors=True)  # the 24 files of the running job: 11 GB


if __name__ == "__main__":
    main()
