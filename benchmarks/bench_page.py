"""The page as a user meets it, in Debian's headless chromium: ``python benchmarks/bench_page.py``.

Starts a private Redis, a worker, the API (gunicorn, which serves results) and the page, as
``make run`` does, and measures:

- the first usable map (draw tools and country outlines shown) after the server is warm, from a
  fresh browser each time (median of 5);
- map interactions (a rectangle drawn, a box typed, a country chosen): time from the last
  user action (mouse released, Enter, option clicked) until the preview names the new cell
  count, and the bytes the page's websocket carried for it;
- a result of about 1 GB (a box masked out of the 20-year file of ``make bench``, made first if
  missing): time from the click on Download until the browser's download starts, and the peak
  memory of the page server (and of the API that sends the file) while it downloads.

Prints a table.
"""

import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.bench_engine import generate  # noqa: E402
from isimip_mask.demo import write_isimip_like  # noqa: E402
from isimip_mask.local import free_port, page_command, start_redis  # noqa: E402
from isimip_mask.settings import Settings  # noqa: E402
from tests.helpers import descendants, serve, service_env, stop, worker_command  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
MAP = 'iframe[title="streamlit_folium.st_folium"]'
SMALL = "demo_tas_global_monthly_2001.nc"
BIG = "tas_daily_20y.nc"


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    for process in (pid, *descendants(pid)):
        try:
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class Wire:
    """Bytes the page's websockets carried (both ways) since the last ``take``."""

    def __init__(self, page):
        self.bytes = 0
        page.on("websocket", self._watch)

    def _watch(self, socket) -> None:
        socket.on("framereceived", self._count)
        socket.on("framesent", self._count)

    def _count(self, payload) -> None:
        self.bytes += len(payload)

    def take(self) -> int:
        taken, self.bytes = self.bytes, 0
        return taken


def settled(page) -> None:
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state')"
        " === 'notRunning'"
    )


COUNT_JS = "() => (document.body.innerText.match(/[\\d,]+ of [\\d,]+ cells at \\S+ are kept/) || [''])[0]"


def changed_preview(page, action) -> float:
    """Seconds from ``action`` until the preview shows a new count."""
    before = page.evaluate(COUNT_JS)
    start = time.perf_counter()
    action()
    page.wait_for_function(f"b => ({COUNT_JS})() !== b && ({COUNT_JS})() !== ''", arg=before, timeout=60_000)
    return time.perf_counter() - start


def drag(page, start, end):
    """Draw a rectangle up to the last step: returns the release of the mouse, which ends it."""
    frame = page.frame_locator(MAP)
    frame.locator("a.leaflet-draw-draw-rectangle").click()
    area = frame.locator("#map_div").bounding_box()
    (x0, y0), (x1, y1) = [
        (area["x"] + area["width"] * fx, area["y"] + area["height"] * fy) for fx, fy in (start, end)
    ]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    return page.mouse.up


def first_map_seconds(browser, url: str) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    start = time.perf_counter()
    page.goto(url)
    frame = page.frame_locator(MAP)
    frame.locator("a.leaflet-draw-draw-rectangle").wait_for(timeout=60_000)
    frame.locator("path.leaflet-interactive").first.wait_for(state="attached", timeout=60_000)
    seconds = time.perf_counter() - start
    page.close()
    return seconds


def interactions(browser, url: str) -> list[tuple[str, float, int]]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    wire = Wire(page)
    page.goto(url)
    page.frame_locator(MAP).locator("a.leaflet-draw-draw-rectangle").wait_for(timeout=60_000)
    settled(page)
    page.get_by_role("combobox", name="Files").click()
    page.get_by_role("option", name=SMALL, exact=True).click()
    page.keyboard.press("Escape")
    settled(page)
    rows = []
    for number, (start, end) in enumerate([((0.5, 0.2), (0.6, 0.35)), ((0.3, 0.5), (0.45, 0.7))], 1):
        wire.take()
        seconds = changed_preview(page, drag(page, start, end))  # from the mouse's release
        settled(page)
        rows.append((f"rectangle {number} drawn", seconds, wire.take()))
    page.get_by_text("Box", exact=True).click()
    settled(page)
    west = page.get_by_label("west")
    for number, value in enumerate(("-5", "0"), 1):
        wire.take()
        seconds = changed_preview(page, lambda v=value: (west.fill(v), west.press("Enter")))
        settled(page)
        rows.append((f"box typed ({number})", seconds, wire.take()))
    page.get_by_text("Country", exact=True).click()
    settled(page)
    for name in ("France (FRA)", "Italy (ITA)"):
        page.get_by_role("combobox", name="Country").click()
        page.keyboard.type(name[:5])
        wire.take()
        seconds = changed_preview(page, lambda n=name: page.get_by_role("option", name=n).click())
        settled(page)
        rows.append((f"country chosen: {name}", seconds, wire.take()))
    page.close()
    return rows


def big_download(browser, url: str, api_url: str, page_pid: int, api_pid: int, folder: Path) -> list:
    import requests

    body = {"paths": [BIG], "operations": [{"operation": "mask_bbox", "bbox": [-180, 180, -60, 75]}]}
    job = requests.post(f"{api_url}/", json=body, timeout=60).json()
    deadline = time.monotonic() + 600
    while job["status"] not in ("finished", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
        job = requests.get(job["job_url"], timeout=30).json()
    assert job["status"] == "finished", job
    page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page.goto(f"{url}/?job={job['id']}")
    link = page.get_by_role("link", name="Download")
    link.wait_for(timeout=60_000)
    settled(page)
    peaks = {"page": rss_mb(page_pid), "api": rss_mb(api_pid)}
    idle = dict(peaks)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peaks["page"] = max(peaks["page"], rss_mb(page_pid))
            peaks["api"] = max(peaks["api"], rss_mb(api_pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    with page.expect_download(timeout=60_000) as started:
        link.click()
    started_s = time.perf_counter() - start
    download = started.value
    path = download.path()  # waits until the whole file is there
    total_s = time.perf_counter() - start
    done.set()
    sampler.join()
    size = Path(path).stat().st_size
    page.close()
    return [
        ("download starts (1 click)", started_s, f"{size / 1e9:.2f} GB in {total_s:.1f} s"),
        ("page server RSS, idle -> peak", None, f"{idle['page']:.0f} -> {peaks['page']:.0f} MB"),
        ("API server RSS, idle -> peak", None, f"{idle['api']:.0f} -> {peaks['api']:.0f} MB"),
    ]


def main() -> None:
    out = ROOT / "benchmarks" / "out"
    source = out / BIG
    if not source.exists():
        generate(source, 20)
    folder = Path(tempfile.mkdtemp(dir=out))
    (folder / "input").mkdir()
    write_isimip_like(folder / "input" / SMALL, 12, 2001, monthly=True)
    os.link(source, folder / "input" / BIG)  # the same file system: no copy
    redis, redis_url = start_redis(free_port(), folder / "redis", persistent=False)
    try:
        settings = Settings(
            input_path=folder / "input", output_path=folder / "output", redis_url=redis_url, _env_file=None
        )
        port, api_port = free_port(), free_port()
        url, api = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}"
        env = service_env(settings, OUTPUT_URL=f"{api}/output", BASE_URL=api)
        gunicorn = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{api_port}", "--workers", "1"]
        with (
            serve(gunicorn, f"{api}/", env) as api_server,
            serve(page_command(port), f"{url}/_stcore/health", env) as page_server,
            serve(worker_command(), f"{api}/", env),
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            first_map_seconds(browser, url)  # warm the server's caches
            maps = [first_map_seconds(browser, url) for _ in range(5)]
            rows = interactions(browser, url)
            download = big_download(browser, url, api, page_server.pid, api_server.pid, folder)
            browser.close()
    finally:
        stop(redis)
        shutil.rmtree(folder)
    print("| measure | seconds | bytes / other | target |\n| --- | ---: | ---: | --- |")
    print(f"| first usable map, warm server (median of 5) | {statistics.median(maps):.2f} | | < 3 s |")
    for name, seconds, sent in rows:
        print(f"| {name} -> preview updated | {seconds:.2f} | {sent / 1000:.1f} kB | < 0.5 s, < 30 kB |")
    for name, seconds, other in download:
        shown = f"{seconds:.2f}" if seconds is not None else ""
        print(f"| {name} | {shown} | {other} | < 2 s; page < 400 MB |")


if __name__ == "__main__":
    main()
