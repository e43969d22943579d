"""The Streamlit page with AppTest, against a real Redis and a real worker.

AppTest cannot drive the map component; a drawing or a click is put where st_folium leaves
it (``st.session_state["map"]``), which is what the page reads.
"""

import re
import shutil

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from isimip_mask.files.datasets import describe
from isimip_mask.local import free_port
from isimip_mask.regions.kinds import BBox, Country, Intersection, LandOnly, Point, Touching
from isimip_mask.regions.masks import grid_mask
from isimip_mask.regions.shapes import parse_geojson
from isimip_mask.requests.plan import Plan
from tests.helpers import DATA, DIS, DIS_FILE, ROOT, corrupt_data, global_axes, wait_for, write_netcdf

IDF = DATA / "ile-de-france-box.geojson"
RECTANGLE = {
    "type": "Feature",
    "properties": {},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[0.1, 44.1], [0.1, 47.9], [4.9, 47.9], [4.9, 44.1], [0.1, 44.1]]],
    },
}
TRIANGLE = {
    "type": "Feature",
    "properties": {},
    "geometry": {"type": "Polygon", "coordinates": [[[-1, 43], [6, 43], [2.5, 50], [-1, 43]]]},
}


def shapefile_zip(geojson_path) -> bytes:
    """The polygon of a GeoJSON Feature as a zipped ESRI shapefile, written with pyshp."""
    import io
    import json
    import zipfile

    import shapefile

    streams = {ext: io.BytesIO() for ext in ("shp", "shx", "dbf")}
    with shapefile.Writer(
        shp=streams["shp"], shx=streams["shx"], dbf=streams["dbf"], shapeType=shapefile.POLYGON
    ) as writer:
        writer.field("name", "C")
        writer.poly(json.loads(geojson_path.read_text())["geometry"]["coordinates"])
        writer.record("area")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for ext, stream in streams.items():
            zipped.writestr(f"area.{ext}", stream.getvalue())
    return archive.getvalue()


def drawn(feature):
    return {"all_drawings": [feature], "last_active_drawing": feature, "last_clicked": None}


@pytest.fixture
def app(queue_service, monkeypatch):
    """A fresh AppTest of the page, configured for the test's data root, Redis and queue.

    No worker runs unless the test asks for ``service`` too.
    """
    for key, value in queue_service.settings.model_dump().items():
        if value is not None:
            monkeypatch.setenv(key.upper(), str(value))
    st.cache_resource.clear()
    st.cache_data.clear()

    def make(paths=(DIS,), **state):
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
        at.session_state["paths"] = list(paths)
        for key, value in state.items():
            at.session_state[key] = value
        return at.run()

    yield make
    st.cache_resource.clear()


def kept(settings, region) -> int:
    return int(grid_mask(describe(settings.input_path, DIS).grid, region).sum())


def preview_text(at) -> str:
    return " ".join(s.value for s in at.success)


def job_of(at) -> str:
    """The job id the page put into its address."""
    job_id = at.query_params["job"]
    return job_id[0] if isinstance(job_id, list) else job_id


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]


def choose(at, mode: str, country: str | None = None, upload: tuple | None = None, **numbers):
    """Pick a region mode and fill its inputs, one rerun per change, as a user would."""
    at = at.radio(key="mode").set_value(mode).run()
    if country:
        at = at.selectbox(key="country").set_value(country).run()
    if upload:
        at = at.file_uploader(key="upload").upload(*upload).run()
    for key, value in numbers.items():
        at = at.number_input(key=key).set_value(value).run()
    return at


@pytest.mark.parametrize(
    ("drawing", "inputs", "region"),
    [
        (RECTANGLE, None, BBox(0.1, 4.9, 44.1, 47.9)),
        (TRIANGLE, None, parse_geojson(TRIANGLE)),
        (None, {"mode": "Country", "country": "FRA"}, Country("FRA")),
        (None, {"mode": "Land only"}, LandOnly()),
        (None, {"mode": "Box", "west": -2.0, "east": 3.0, "south": 44.0, "north": 48.0}, BBox(-2, 3, 44, 48)),
        (
            None,
            {"mode": "GeoJSON upload", "upload": (IDF.name, IDF.read_bytes(), "application/geo+json")},
            parse_geojson(IDF.read_text()),
        ),
        (None, {"mode": "Point", "lat": 48.1, "lon": 2.1}, Point(48.1, 2.1)),
        (
            None,
            {"mode": "GeoJSON upload", "upload": ("idf.zip", shapefile_zip(IDF), "application/zip")},
            parse_geojson(IDF.read_text()),
        ),
    ],
    ids=[
        "drawn rectangle",
        "drawn polygon",
        "country",
        "land only",
        "typed box",
        "geojson upload",
        "point",
        "shapefile zip",
    ],
)
def test_every_way_to_choose_a_region_previews_its_cells(app, queue_service, drawing, inputs, region):
    at = app(map=drawn(drawing)) if drawing else app()
    if inputs:
        at = choose(at, **inputs)
    no_exceptions(at)
    cells = kept(queue_service.settings, region)
    assert f"{cells:,} of 513 cells at 0.5° are kept" in preview_text(at)
    assert not at.button(key="submit").disabled


def test_a_drawn_rectangle_fills_the_box_inputs(app):
    at = choose(app(map=drawn(RECTANGLE)), "Box")
    assert [at.number_input(key=k).value for k in ("west", "east", "south", "north")] == [
        0.1,
        4.9,
        44.1,
        47.9,
    ]


def click(lat, lon):
    return {"all_drawings": [], "last_active_drawing": None, "last_clicked": {"lat": lat, "lng": lon}}


def test_a_map_click_sets_the_point(app):
    at = choose(app(), "Point")
    at.session_state["map"] = click(48.1, 2.1)
    at = at.run()
    assert (at.number_input(key="lat").value, at.number_input(key="lon").value) == (48.1, 2.1)
    assert "1 of 513 cells" in preview_text(at)


def test_typed_values_outlive_a_change_of_mode_and_clicks_elsewhere_are_no_point(app, queue_service):
    """Draw a rectangle, delete it, type a box, go to Point and back: the typed box is there and
    is what the preview counts; a click made while drawing does not become the point."""
    at = app(map=drawn(RECTANGLE))
    at.session_state["map"] = {"all_drawings": [], "last_active_drawing": None, "last_clicked": None}
    at = choose(at.run(), "Box", west=0.0, east=5.0, south=47.0, north=50.0)
    at = choose(at, "Draw on the map")
    at.session_state["map"] = click(45.5, 1.5)  # a polygon's vertex
    at = choose(at.run(), "Point")
    assert (at.number_input(key="lat").value, at.number_input(key="lon").value) == (52.39, 13.06)
    at = choose(at, "Box")
    assert [at.number_input(key=k).value for k in ("west", "east", "south", "north")] == [
        0.0,
        5.0,
        47.0,
        50.0,
    ]
    no_exceptions(at)
    assert f"{kept(queue_service.settings, BBox(0, 5, 47, 50)):,} of 513 cells" in preview_text(at)


@pytest.mark.parametrize(
    ("options", "suffix", "quick_look"), [({}, ".nc", "image"), ({"mean": True}, ".csv", "vega_lite_chart")]
)
def test_submit_follow_and_download(app, service, options, suffix, quick_look):
    at = app(map=drawn(RECTANGLE))
    for key, value in options.items():
        at = at.checkbox(key=key).set_value(value).run()
    at = at.button(key="submit").click().run()
    no_exceptions(at)
    info = service.wait(job_of(at))
    assert info.file_name.endswith(suffix)

    def downloadable():
        page = at.run()
        return page if page.get("link_button") else None

    at = wait_for(downloadable, 30, "a download link after the job finished")
    no_exceptions(at)
    assert any("Job finished: 1 of 1" in s.value for s in at.success)
    link = at.get("link_button")[0].proto  # served by OUTPUT_URL, never through the page
    assert link.url == f"{service.settings.output_url}/{info.id}/{info.file_name}"
    assert link.label.startswith("Download (") and link.label.endswith(f") {info.file_name}")
    assert at.get(quick_look), f"no quick look ({quick_look}) of the result"
    credits = " ".join(c.value for c in at.caption)  # what the input's users must cite
    assert "From the input file:" in credits and "licence: CC BY 4.0" in credits
    assert re.search(r"Kept until \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+ days from now\), then removed", credits)
    codes = [block.value for block in at.code]  # the reproduce box: curl, the ISIMIP client, cdo
    assert any(c.startswith("curl -s -X POST") for c in codes) and any("submit_job(" in c for c in codes)


def test_a_shared_link_shows_the_same_job(app, service):
    first = app(map=drawn(RECTANGLE)).button(key="submit").click().run()
    job_id = job_of(first)
    service.wait(job_id)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.query_params["job"] = job_id
    at = at.run()
    no_exceptions(at)
    assert any("Job finished" in s.value for s in at.success)
    assert any(f"Job `{job_id[:8]}`: mask to " in c.value and DIS_FILE.name in c.value for c in at.caption)
    # the same page after another choice: the job panel says the result is for an earlier one
    assert not any("earlier choice" in i.value for i in first.run().info)
    changed = first.radio(key="mode").set_value("Land only").run()
    assert any("This job is for an earlier choice" in i.value for i in changed.info)


def test_no_file_and_no_region_cannot_be_submitted(app):
    at = app(paths=[])
    assert at.button(key="submit").disabled
    assert any("Pick one or more files" in i.value for i in at.info)
    at = app()  # a file but nothing drawn yet
    assert at.button(key="submit").disabled
    assert any("Draw a rectangle or a polygon" in i.value for i in at.info)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"mode": "Country", "country": "AUS"}, "keeps no cells"),
        ({"mode": "Box", "south": 80.0}, "south=80.0 must be below north=70.0"),
        ({"mode": "Box", "west": -500.0}, "west=-500.0 is below -180"),  # the value typed, not the last good
        ({"mode": "Point", "lat": 95.0}, "lat=95.0 is above 90"),
        (
            {"mode": "GeoJSON upload", "upload": ("bad.geojson", b"{oops", "application/json")},
            "not valid JSON",
        ),
    ],
)
def test_bad_regions_show_a_message_and_block_submit(app, inputs, message):
    at = choose(app(), **inputs)
    no_exceptions(at)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key="submit").disabled


def test_redis_down_shows_a_message(app, monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    at = app(map=drawn(RECTANGLE)).button(key="submit").click().run()
    no_exceptions(at)
    assert any("cannot reach Redis" in e.value for e in at.error)
    assert "job" not in at.query_params


def test_a_failed_job_shows_its_message(app, service):
    broken = write_netcdf(service.settings.input_path / "broken_global.nc", *global_axes(5.0))
    at = app(paths=["broken_global.nc"], map=drawn(RECTANGLE))
    corrupt_data(broken)
    at = at.button(key="submit").click().run()
    job_id = job_of(at)
    service.wait(job_id)
    at = at.run()
    no_exceptions(at)
    assert any("The job failed: no file could be processed" in e.value for e in at.error)
    write_netcdf(broken, *global_axes(5.0))  # the file mended: running it again succeeds
    at = at.button(key="again").click().run()
    no_exceptions(at)
    assert job_of(at) == job_id and service.wait(job_id).status == "finished"


def test_an_unknown_job_link_says_so(app):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.query_params["job"] = "0" * 40
    at = at.run()
    no_exceptions(at)
    assert any("does not exist" in w.value for w in at.warning)


def test_the_dataset_picker_describes_and_filters(app, queue_service):
    shutil.copy(DIS_FILE, queue_service.settings.input_path / "isimip" / "other_tas_global_daily.nc")
    at = app()
    assert "**dis** [m3 s-1]" in " ".join(m.value for m in at.sidebar.markdown)
    assert "2001-01-01 to 2003-12-31 (1095 steps)" in " ".join(m.value for m in at.sidebar.markdown)
    at = at.text_input(key="query").set_value("other tas").run()
    assert sorted(at.multiselect(key="paths").options) == sorted(
        ["other_tas_global_daily.nc", "2001-2003 · " + DIS_FILE.name.replace("_2001_2003", "")]
    )  # labels: the years first, where the name has them
    files = at.multiselect(key="paths").proto
    assert files.placeholder == "choose files (type to filter)" and files.wrap  # not "Choose options"
    assert not files.select_all  # no "Select all" as the first entry of a folder or a search
    no_exceptions(at)


def test_files_found_by_isimip_facets(app, queue_service):
    folder = queue_service.settings.input_path / "ISIMIP3b" / "OutputData" / "water_global"
    folder.mkdir(parents=True)
    for model in ("cwatm", "h08"):
        for scenario in ("historical", "ssp126", "ssp585"):
            name = f"{model}_gfdl-esm4_w5e5_{scenario}_2015soc_default_dis_global_daily_2015_2017.nc"
            shutil.copy(DIS_FILE, folder / name)
    at = app(paths=[])
    facets = {m.key: m for m in at.sidebar.multiselect if m.key.startswith("facet_")}
    assert {"facet_model", "facet_climate_scenario", "facet_simulation_round"} <= set(facets)
    assert facets["facet_model"].options == ["cwatm (3)", "h08 (4)", "pepic (1)"]  # with the sample files
    at = at.multiselect(key="facet_model").set_value(["h08"]).run()
    at = at.multiselect(key="facet_climate_scenario").set_value(["ssp126", "ssp585"]).run()
    no_exceptions(at)
    assert at.multiselect(key="paths").options == [
        f"2015-2017 · h08_gfdl-esm4_w5e5_{scenario}_2015soc_default_dis_global_daily.nc"
        for scenario in ("ssp126", "ssp585")
    ]
    # each value counts the files it would give with the other choices
    assert at.multiselect(key="facet_climate_scenario").options == [
        "historical (2)",
        "ssp126 (1)",
        "ssp585 (1)",
    ]
    assert at.multiselect(key="facet_model").options == ["cwatm (2)", "h08 (2)"]
    at = at.text_input(key="query").set_value("ssp585").run()  # words narrow further
    assert len(at.multiselect(key="paths").options) == 1


def test_a_queued_job_shows_its_position_and_can_be_cancelled(app, queue_service):
    # no worker runs: the job stays queued
    at = app(map=drawn(RECTANGLE)).button(key="submit").click().run()
    no_exceptions(at)
    assert any("Queued, position 1 in the queue" in i.value for i in at.info)
    at = at.button(key="cancel").click().run()
    no_exceptions(at)
    assert any("The job was cancelled" in i.value for i in at.info)
    assert queue_service.queue.info(job_of(at)).status == "cancelled"


def test_every_period_of_a_dataset_in_one_click(app, queue_service):
    folder = queue_service.settings.input_path / "isimip"
    for period in ("2004_2006", "2007_2009"):
        shutil.copy(DIS_FILE, folder / DIS_FILE.name.replace("2001_2003", period))
    at = app()
    at = at.button(key="all_periods").click().run()
    no_exceptions(at)
    assert at.multiselect(key="paths").value == [
        DIS,
        DIS.replace("2001_2003", "2004_2006"),
        DIS.replace("2001_2003", "2007_2009"),
    ]


@pytest.mark.parametrize(
    ("drawing", "inputs", "options", "region"),
    [
        (
            None,
            {"mode": "Country", "country": "FRA"},
            {
                "combine": "a box",
                "combine_west": 0.0,
                "combine_east": 5.0,
                "combine_south": 44.0,
                "combine_north": 48.0,
            },
            Intersection((Country("FRA"), BBox(0, 5, 44, 48))),
        ),
        (
            TRIANGLE,
            None,
            {"combine": "land only"},
            Intersection((parse_geojson(TRIANGLE, "drawn"), LandOnly())),
        ),
        (None, {"mode": "Country", "country": "FRA"}, {"rule": "touch"}, Touching(Country("FRA"))),
        (
            None,
            {"mode": "Country", "country": "FRA"},
            {"rule": "touch", "combine": "land only"},
            Intersection((Touching(Country("FRA")), Touching(LandOnly()))),
        ),
    ],
    ids=["country and a box", "drawn polygon on land", "touch rule", "touch rule, country on land"],
)
def test_chains_and_the_touch_rule_preview_exactly_what_the_job_keeps(
    app, queue_service, drawing, inputs, options, region
):
    at = app(map=drawn(drawing)) if drawing else app()
    if inputs:
        at = choose(at, **inputs)
    for key, value in options.items():
        widget = {"rule": at.radio, "combine": at.selectbox}.get(key, at.number_input)
        at = widget(key=key).set_value(value).run()
    no_exceptions(at)
    cells = kept(queue_service.settings, region)
    assert f"{cells:,} of 513 cells at 0.5° are kept" in preview_text(at)
    at = at.button(key="submit").click().run()
    queued = Plan.from_config(queue_service.queue.info(job_of(at)).request["plan"]).region
    assert queued.kind == region.kind and kept(queue_service.settings, queued) == cells


def test_every_country_as_a_table_of_means(app, service):
    at = choose(app(), "Every country")
    no_exceptions(at)
    assert "a table of 1,095 rows x 15 columns per file" in preview_text(at)
    at = at.checkbox(key="fraction").set_value(True).run()
    at = at.button(key="submit").click().run()
    no_exceptions(at)
    info = service.wait(job_of(at))
    assert info.status == "finished" and info.file_name.endswith("_countries_daily_DEMO_FR_2001_2003.csv")
    header = service.queue.result_path(info).read_text().splitlines()[0].split(",")
    assert header[0] == "time" and {"FRA [m3 s-1]", "CHE [m3 s-1]", "BEL [m3 s-1]"} <= set(header)
    assert len(header) - 1 <= 15  # the columns the estimate above promised, at most


def test_points_from_an_uploaded_csv(app, queue_service):
    at = choose(app(), "Points")
    no_exceptions(at)  # the typed table's defaults: Berlin lies outside the sample, said so
    cities = b"name,lat,lon\nParis,48.85,2.35\nLyon,45.75,4.85\n"
    at = at.file_uploader(key="points_upload").upload("cities.csv", cities, "text/csv").run()
    no_exceptions(at)
    assert "2 of 513 cells at 0.5° are kept" in preview_text(at)
    assert "a table of 1,095 rows x 2 columns" in preview_text(at)


def test_years_and_monthly_means(app, service):
    at = choose(app(), "Country", country="FRA")
    at = at.checkbox(key="mean").set_value(True).run()
    at = at.slider(key="years").set_value((2002, 2002)).run()
    at = at.selectbox(key="window").set_value("month").run()
    no_exceptions(at)
    assert "a time series of 12 values per file" in preview_text(at)
    at = at.button(key="submit").click().run()
    info = service.wait(job_of(at))
    assert info.file_name.endswith("_fra_fldmean_monmean_monthly_DEMO_FR_2002_2002.csv")
    rows = service.queue.result_path(info).read_text().splitlines()
    assert len(rows) == 13 and rows[1].startswith("2002-01-16")


def test_recent_jobs_of_this_browser_are_listed_and_written_to_its_cookie(app, service):
    """Kept with the session and in a cookie for the browser's other tabs (checked in
    Chromium in test_browser), never in the address but for the job shown."""
    at = choose(app(), "Country", country="FRA").button(key="submit").click().run()
    first = job_of(at)
    at = choose(at, "Land only").button(key="submit").click().run()
    second = job_of(at)
    assert second != first and "jobs" not in at.query_params
    assert at.session_state["recent"] == [second, first]
    assert at.session_state["recent_cookie"] == f"{second},{first}"  # written by the page's script
    service.wait(first), service.wait(second)
    at = at.run()
    no_exceptions(at)
    listed = " ".join(block.value for block in at.markdown)
    assert f"[{first[:8]}](?job={first})" in listed
    assert "mask to fra" in listed and "mask to landonly" in listed


def test_the_steps_are_headings_of_one_level(app):
    at = app(map=drawn(RECTANGLE)).button(key="submit").click().run()  # queued: no worker runs
    no_exceptions(at)
    headings = [h.value for h in at.sidebar.subheader] + [h.value for h in at.main.subheader]
    assert headings == ["1 · Data", "2 · Region", "3 · Options", "4 · Job"]


def test_every_country_weighted_by_a_grid_of_the_data_root_with_statistics(app, service):
    """The weight picker offers the data root's files; the table gets a column per country and
    statistic, weighted by the chosen variable, as the API computes it."""
    from isimip_mask.demo import write_cropland
    from isimip_mask.requests.chain import parse_operations
    from isimip_mask.requests.limits import Limits

    write_cropland(service.settings.input_path / "landuse" / "cropland_global_annual_2001_2004.nc")
    at = choose(app(), "Every country")
    at = at.multiselect(key="statistics").set_value(["mean", "max"]).run()
    assert "landuse/cropland_global_annual_2001_2004.nc" in at.selectbox(key="weights_file").options
    at = at.selectbox(key="weights_file").set_value("landuse/cropland_global_annual_2001_2004.nc").run()
    no_exceptions(at)
    assert at.selectbox(key="weights_var").value == "cropland"
    assert "a table of 1,095 rows x 30 columns per file" in preview_text(at)  # 15 countries, 2 statistics
    at = at.button(key="submit").click().run()
    info = service.wait(job_of(at))
    assert info.status == "finished", info.error
    assert info.file_name.endswith("_countries_fldstats_cropland-weighted_daily_DEMO_FR_2001_2003.csv")
    header = service.queue.result_path(info).read_text().splitlines()[0].split(",")
    assert {"FRA [m3 s-1]", "FRA max [m3 s-1]", "CHE max [m3 s-1]"} <= set(header)
    weights = {"file": "landuse/cropland_global_annual_2001_2004.nc", "var": "cropland"}
    limits = Limits(input_path=service.settings.input_path)
    api = parse_operations(
        [
            {
                "operation": "mask_regions",
                "regions": "countries",
                "weights": weights,
                "statistics": ["mean", "max"],
            }
        ],
        limits,
    )
    assert api.weights.var == "cropland" and api.statistics == ("mean", "max")


def test_the_field_mean_offers_statistics_and_says_what_a_weight_file_misses(app, queue_service):
    from isimip_mask.demo import write_cropland

    write_cropland(queue_service.settings.input_path / "landuse" / "cropland_2002_2003.nc", 2002, 2)
    at = choose(app(), "Country", country="FRA")
    at = at.checkbox(key="mean").set_value(True).run()
    at = at.multiselect(key="statistics").set_value(["sum", "p95"]).run()
    no_exceptions(at)
    assert "a table of 1,095 rows x 2 columns per file" in preview_text(at)
    at = at.selectbox(key="weights_file").set_value("landuse/cropland_2002_2003.nc").run()
    at = at.button(key="submit").click().run()
    no_exceptions(at)
    errors = " ".join(e.value for e in at.error)
    assert "covers 2002-2003, the request reads 2001-2003" in errors


def test_the_default_points_keep_those_on_the_file_and_name_the_others(app, queue_service):
    at = choose(app(), "Points")
    no_exceptions(at)
    assert not at.error
    assert "1 of 513 cells at 0.5° are kept" in preview_text(at)  # Paris; Berlin is off the French cut-out
    assert any("Berlin (no column)" in caption.value for caption in at.caption)
    assert not at.button(key="submit").disabled


def test_the_request_can_be_reproduced_before_submit(app, queue_service):
    at = choose(app(), "Country", country="FRA")
    no_exceptions(at)
    expander = next(e for e in at.expander if e.label.startswith("Reproduce before you submit"))
    codes = [c.value for c in expander.code]
    assert any(code.startswith("curl -s -X POST") for code in codes)
    assert any(
        line.startswith("cdo ") and "-ifthen mask_fra_19x27.nc" in line
        for c in codes
        for line in c.splitlines()
    )
    assert [b.label for b in expander.get("download_button")] == [
        "mask_fra_19x27.nc: the mask the cdo command reads"
    ]


def test_a_repaired_outline_is_said(app, queue_service):
    import json

    bowtie = {"type": "Polygon", "coordinates": [[[0, 44], [5, 48], [5, 44], [0, 48], [0, 44]]]}
    at = choose(
        app(), "GeoJSON upload", upload=("bowtie.geojson", json.dumps(bowtie).encode(), "application/json")
    )
    no_exceptions(at)
    warned = " ".join(w.value for w in at.warning)
    assert "The outline of bowtie.geojson is not a valid polygon (Self-intersection" in warned
    assert "cells at 0.5° are kept" in preview_text(at)
