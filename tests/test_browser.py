"""End to end in a real headless Chromium: draw a box with the mouse, submit, wait, download.

Runs ``streamlit run`` against a real Redis and worker. Uses Debian's chromium through
Playwright (never a browser that Playwright downloads itself).
"""

import os
import shutil
import sys
import time
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from isimip_mask.demo import write_isimip_like
from isimip_mask.files.grid import Grid
from isimip_mask.local import free_port, page_command
from isimip_mask.regions.kinds import BBox
from isimip_mask.regions.masks import bbox_mask
from tests.helpers import ROOT, serve, service_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "var" / "screenshots"
MAP = 'iframe[title="streamlit_folium.st_folium"]'
FILE = "demo_tas_global_monthly_2001.nc"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="Debian chromium is not installed"
    ),
]


@pytest.fixture
def page_url(service):
    """The page, and the API beside it that serves results (OUTPUT_URL), as ``make run`` has."""
    write_isimip_like(service.settings.input_path / "demo" / FILE, 12, 2001, monthly=True)
    port, api_port = free_port(), free_port()
    url, api = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}"
    env = service_env(service.settings, OUTPUT_URL=f"{api}/output", BASE_URL=api)
    gunicorn = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{api_port}", "--workers", "1"]
    with serve(gunicorn, f"{api}/", env), serve(page_command(port), f"{url}/_stcore/health", env):
        yield url


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 1400}, accept_downloads=True)
        page = context.new_page()  # a context of its own: other tabs of the same browser share it
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def drag_box(page, start: tuple[float, float], end: tuple[float, float]) -> tuple[BBox, float]:
    """Draw a rectangle with the mouse between two fractions of the map.

    Returns the lon/lat box under the mouse and the size of two screen pixels in degrees
    (Leaflet.draw places the corners to the pixel).
    """
    frame = page.frame_locator(MAP)
    frame.locator("a.leaflet-draw-draw-rectangle").click()
    area = frame.locator("#map_div").bounding_box()
    points = [(area["x"] + area["width"] * fx, area["y"] + area["height"] * fy) for fx, fy in (start, end)]
    corners = []
    for x, y in points:
        corner = frame.locator("#map_div").evaluate(
            "(el, p) => { const ll = window.map.containerPointToLatLng([p[0], p[1]]);"
            " return [ll.lng, ll.lat]; }",
            [x - area["x"], y - area["y"]],
        )
        corners.append(corner)
    page.mouse.move(*points[0])
    page.mouse.down()
    page.mouse.move(*points[1], steps=12)
    page.mouse.up()
    (lon0, lat0), (lon1, lat1) = corners
    zoom = frame.locator("#map_div").evaluate("() => window.map.getZoom()")
    two_pixels_deg = 2 * 360 / (256 * 2**zoom)
    return BBox(min(lon0, lon1), max(lon0, lon1), min(lat0, lat1), max(lat0, lat1)), two_pixels_deg


def caption_contrast(element) -> float:
    """The contrast ratio of an element's text (its colour at its opacity) with the background
    behind it (the first one up its parents that is not transparent)."""
    colours = element.evaluate(
        """e => { const style = getComputedStyle(e); let back = e, bg = 'rgba(0, 0, 0, 0)';
        const clear = 'rgba(0, 0, 0, 0)';
        while (back && (bg = getComputedStyle(back).backgroundColor) === clear) back = back.parentElement;
        return [style.color, style.opacity, back ? bg : 'rgb(255, 255, 255)']; }"""
    )

    def rgb(text: str) -> list[float]:
        return [float(v) for v in text[text.index("(") + 1 : text.index(")")].split(",")][:3]

    def luminance(channels) -> float:
        linear = [
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255 for v in channels)
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    text, opacity, background = rgb(colours[0]), float(colours[1]), rgb(colours[2])
    shown = [t * opacity + b * (1 - opacity) for t, b in zip(text, background)]
    lighter, darker = sorted((luminance(shown), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.timeout(300)  # map, job and download each wait with a deadline of their own
def test_draw_submit_wait_download(page_url, browser_page, service, tmp_path):
    page = browser_page
    page.goto(page_url)
    page.wait_for_selector(MAP)
    page.frame_locator(MAP).locator("a.leaflet-draw-draw-rectangle").wait_for()
    page.get_by_role("combobox", name="Files").click()
    page.get_by_role("option", name=FILE).click()
    page.keyboard.press("Escape")
    page.get_by_text("Draw a rectangle or a polygon").wait_for()
    for caption in page.locator("[data-testid=stCaptionContainer]").all():  # WCAG AA: 4.5:1
        assert caption_contrast(caption) >= 4.5, caption.text_content()
    frame = page.frame_locator(MAP)
    frame.locator("path.leaflet-interactive").first.wait_for(state="attached")  # outlines fetched
    frame.locator("#map_div").click(position={"x": 400, "y": 300})  # on a country
    # no focus ring round the country's box (was reported: France's spans the Atlantic)
    assert (
        frame.locator("#map_div").evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        == "none"
    )
    drag_box(page, (0.30, 0.50), (0.40, 0.60))  # a first try, then the box meant
    first_try = page.get_by_text("cells at 0.5° are kept")
    first_try.wait_for()
    counted = first_try.inner_text()
    drawn, tolerance = drag_box(page, (0.52, 0.22), (0.68, 0.42))
    page.wait_for_function(
        "t => [...document.querySelectorAll('p')].some(p => /kept/.test(p.innerText) && p.innerText !== t)",
        arg=counted,
    )
    settled(page)
    assert frame.locator("path[fill-opacity='0']").count() == 1  # the first try is gone from the map
    # the country outlines are no keyboard stops (one per country, invisible, was reported)
    assert frame.locator("#map_div").evaluate(
        "m => [...m.querySelectorAll('path')].every(p => p.tabIndex < 0)"
    )
    page.frame_locator(MAP).locator("img.leaflet-image-layer").wait_for()  # the kept cells
    page.get_by_text("Crop to the region's bounding box").wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "drawn-region-preview.png", full_page=True)

    page.get_by_role("button", name="Submit").click()
    download_link = page.get_by_role("link", name="Download")
    download_link.wait_for()
    page.screenshot(path=SCREENSHOTS / "job-finished.png", full_page=True)
    settled(page)
    links = [link for link in page.locator("[data-testid=stMain] a").all() if link.text_content().strip()]
    assert len(links) >= 2  # the download and the link for scripts
    for link in links:  # WCAG AA: 4.5:1 (links were at 2.96:1)
        assert caption_contrast(link) >= 4.5, link.text_content()
    images = page.locator("[data-testid=stMain] img").all()
    assert len(images) == 2  # the quick look and its colour scale, each said in words
    assert all(len(image.get_attribute("alt") or "") > 20 for image in images)
    for width, height in ((1400, 900), (390, 844)):  # the job's link opened on a laptop and a phone
        # the laptop's is another tab of this browser, the phone's a browser of its own
        viewer = page.context.new_page() if width > 1000 else page.context.browser.new_page()
        viewer.set_viewport_size({"width": width, "height": height})
        viewer.goto(page.url)
        link = viewer.get_by_role("link", name="Download")
        link.wait_for()
        settled(viewer)
        viewer.frame_locator(MAP).locator("path[stroke='#1d4ed8']").wait_for()  # the job's region
        viewer.screenshot(path=SCREENSHOTS / f"job-link-{width}x{height}-top.png")
        if width > 1000:  # the answer in view without scrolling: status, download, quick look
            look = viewer.locator("[data-testid=stMain] img").first.bounding_box()
            answer = link.bounding_box()
            assert answer["y"] + answer["height"] <= height and look["y"] + 60 <= height, (answer, look)
            assert viewer.get_by_text("Job finished").bounding_box()["y"] < height
            # another tab lists the job among the browser's recent ones (a cookie, not the address)
            viewer.get_by_text("Recent jobs of this browser (1)").wait_for()
        else:  # on a phone the map and the answer come before the region's inputs
            region_inputs = viewer.get_by_role("radiogroup").first.bounding_box()
            assert viewer.locator(MAP).bounding_box()["y"] < link.bounding_box()["y"] < region_inputs["y"]
        link.scroll_into_view_if_needed()
        viewer.screenshot(path=SCREENSHOTS / f"job-link-{width}x{height}-result.png")
        viewer.close()
    # the map's tab stops in order: the draw tools, then zoom; no country outline among them
    stops = (
        page.frame_locator(MAP)
        .locator("body")
        .evaluate(
            """() => [...document.querySelectorAll('a[href], button, input, [tabindex]')]
            .filter((e) => e.tabIndex >= 0).map((e) => e.className.baseVal ?? e.className)"""
        )
    )
    draw = next(i for i, c in enumerate(stops) if "leaflet-draw-draw-polygon" in c)
    zoom = next(i for i, c in enumerate(stops) if "leaflet-control-zoom-in" in c)
    assert draw <= 1 < zoom and not any("leaflet-interactive" in c for c in stops), stops
    # the link goes to the file server (OUTPUT_URL), never through the page: fetched as the
    # browser would (Playwright's request context shares the page's cookies), as an attachment
    answer = page.request.get(download_link.get_attribute("href"))
    assert answer.ok and answer.headers["content-disposition"].startswith("attachment")
    result = tmp_path / answer.headers["content-disposition"].split("filename=")[1].strip('"')
    result.write_bytes(answer.body())

    job_id = page.url.split("job=")[1].split("&")[0]
    box = BBox.from_list(service.queue.info(job_id).request["plan"]["bbox"])
    for ours, theirs in zip(
        (box.west, box.east, box.south, box.north), (drawn.west, drawn.east, drawn.south, drawn.north)
    ):
        assert ours == pytest.approx(theirs, abs=tolerance)
    with netCDF4.Dataset(result) as out:
        out.set_auto_maskandscale(False)
        values = out["tas"][0]
        grid = Grid.from_arrays(out["lat"][:], out["lon"][:])
    with netCDF4.Dataset(service.settings.input_path / "demo" / FILE) as src:
        src.set_auto_maskandscale(False)
        original = src["tas"][0]
    inside = bbox_mask(grid, box)
    assert inside.sum() > 100
    np.testing.assert_array_equal(values[inside], original[inside])
    assert np.all(values[~inside] == np.float32(1e20))


def settled(page) -> None:
    """Wait until the page's script has finished its run (Streamlit marks the app element)."""
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state')"
        " === 'notRunning'"
    )


def choose_options(page, label: str, *names: str) -> None:
    """Pick options of a multiselect as a user does: open its list, click each, close it.

    The list does not open for a click while an expander above is still sliding open: the
    click is repeated until the list shows (within the page's timeout)."""
    box = page.get_by_role("combobox", name=label)
    deadline = time.monotonic() + 30
    while box.get_attribute("aria-expanded") != "true":
        assert time.monotonic() < deadline, f"the list of {label} does not open"
        box.click()
        try:
            page.wait_for_function(
                "b => b.getAttribute('aria-expanded') === 'true'", arg=box.element_handle(), timeout=1_000
            )
        except PlaywrightTimeout:
            continue
    for name in names:
        page.get_by_role("option", name=name, exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_role("listbox").wait_for(state="detached")


@pytest.mark.timeout(300)
def test_find_by_facets_then_every_period(page_url, browser_page, service):
    folder = service.settings.input_path / "ISIMIP3b" / "OutputData" / "water_global" / "h08"
    folder.mkdir(parents=True)
    name = "h08_gfdl-esm4_w5e5_ssp585_2015soc_default_tas_global_monthly_{}_{}.nc"
    labels = [f"{year} · {name.format('', '').replace('__.nc', '.nc')}" for year in (2001, 2002, 2003)]
    for year in (2001, 2002, 2003):
        write_isimip_like(folder / name.format(year, year), 12, year, monthly=True)
    page = browser_page
    page.goto(page_url)
    page.wait_for_selector(MAP)
    settled(page)
    page.get_by_role("combobox", name="Folder").click()  # the folder view stays: start elsewhere
    page.get_by_role("option", name="isimip", exact=True).click()
    settled(page)
    page.get_by_text("Filter by ISIMIP facets").click()
    choose_options(page, "Climate scenario", "ssp585 (3)")
    settled(page)
    assert page.get_by_role("combobox", name="Folder").count() == 0  # facets list files instead
    choose_options(page, "Files", labels[1])
    button = page.get_by_role("button", name="Add every period of the picked dataset (3 files)")
    button.wait_for()
    appeared = button.bounding_box()
    settled(page)
    assert button.bounding_box() == appeared  # it stays where it appeared: the first click lands
    button.click()  # once: the list above it shrinks as it loses the focus (the button below moved)
    tags = page.locator("[data-testid=stMultiSelect]").filter(has=page.get_by_role("combobox", name="Files"))
    tags.get_by_text(labels[2]).wait_for(timeout=15_000)
    settled(page)
    assert page.get_by_role("button", name="Add every period").count() == 0  # nothing left to add
    picked = tags.locator("[data-testid=stMultiSelectTagsContainer]").inner_text()
    assert [word for word in picked.split() if word.isdigit()] == ["2001", "2002", "2003"]  # years first
    page.screenshot(path=SCREENSHOTS / "facets-every-period.png", full_page=True)
