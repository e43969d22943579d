"""isimip-mask: the page. Layout, widgets and session state; the work happens in ``isimip_mask``."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from streamlit_folium import st_folium

from isimip_mask import datasets, logs, mapview, quicklook
from isimip_mask.countries import country_names
from isimip_mask.errors import IsimipMaskError, JobNotFound
from isimip_mask.estimates import human_size, output_estimate
from isimip_mask.jobs import JobQueue
from isimip_mask.masks import grid_mask
from isimip_mask.operations import apply_rule
from isimip_mask.plan import Plan
from isimip_mask.regions import BBox, Country, LandOnly, Point, intersect, region_config
from isimip_mask.results import result_url
from isimip_mask.settings import Settings, load_settings
from isimip_mask.shapes import parse_upload
from isimip_mask.status import JobInfo
from isimip_mask.submission import JobRequest, build_request

MODES = ("Draw on the map", "Country", "Land only", "Box", "GeoJSON upload", "Point")
POLL_S = 2
TERMINAL = ("finished", "failed", "cancelled")
MAP_KEY = "map"


@st.cache_resource
def get_settings() -> Settings:
    settings = load_settings()
    logs.configure(settings, force=False)  # LOG_LEVEL and LOG_FILE, as for the worker and the API
    return settings


@st.cache_resource
def get_index(root: str) -> datasets.FileIndex:
    return datasets.FileIndex(Path(root))


@st.cache_resource
def get_queue() -> JobQueue:
    return JobQueue(get_settings())  # raises ServiceError while Redis is down: not cached then


@st.cache_data(max_entries=512, show_spinner=False)
def describe(root: str, path: str) -> datasets.DatasetInfo:
    return datasets.describe(Path(root), path)


@dataclass(frozen=True)
class Preview:
    """The cells a region keeps on a grid, and their picture for the map."""

    mask: np.ndarray
    image: tuple[str, list]


@st.cache_data(max_entries=64, show_spinner=False)
def preview(grid, region_key: str, _region) -> Preview:
    """Cached by the region's canonical config (``region_key``); the region itself is not hashed."""
    mask = grid_mask(grid, _region)
    return Preview(mask, mapview.kept_cells_image(grid, mask))


@st.cache_data(max_entries=16, show_spinner=False)
def quick_look_field(path: str, mtime_ns: int):
    return quicklook.field_picture(Path(path))


@st.cache_data(max_entries=16, show_spinner=False)
def quick_look_series(path: str, mtime_ns: int):
    return quicklook.read_csv_series(Path(path))


def show_dataset_picker(settings: Settings) -> list[datasets.DatasetInfo]:
    st.sidebar.header("1 · Data")
    index = get_index(str(settings.input_path))
    query = st.sidebar.text_input(
        "Filter by name", key="query", placeholder="words of the file name, e.g. tas monthly"
    )
    if query:
        options = index.search(query)
    else:
        folder = st.sidebar.selectbox(
            "Folder", index.folders(), key="folder", format_func=lambda f: "(data root)" if f == "." else f
        )
        options = datasets.list_folder(settings.input_path, "" if folder in (None, ".") else folder).files
    chosen = st.session_state.get("paths", [])
    options = sorted(set(options) | set(chosen))
    names = datasets.labels(options)
    picked = st.sidebar.multiselect(
        "Files",
        options,
        key="paths",
        format_func=names.get,
        help="Several files of one dataset (e.g. all decades of a variable) go into one job.",
    )
    if not options:
        st.sidebar.info("No NetCDF file matches: try fewer words, or another folder.")
    periods = datasets.periods(settings.input_path, picked)
    if len(periods) > len(picked):
        st.sidebar.button(
            f"Add every period of this dataset ({len(periods)} files)",
            key="all_periods",
            on_click=push,
            args=({"paths": periods},),
        )
    infos = []
    for path in picked:
        try:
            infos.append(describe(str(settings.input_path), path))
        except IsimipMaskError as error:
            st.sidebar.error(str(error))
    for info in infos:
        show_dataset_info(info)
    if len({(i.nlat, i.nlon, i.lat_range, i.lon_range) for i in infos}) > 1:
        st.sidebar.warning("These files have different grids; the preview shows the first one's.")
    return infos


def show_dataset_info(info: datasets.DatasetInfo) -> None:
    variables = ", ".join(f"**{name}** [{units}]" for name, units in info.variables.items())
    span = (
        f"{info.time_span[0]} to {info.time_span[1]} ({info.n_times} steps)"
        if info.time_span
        else "no time axis"
    )
    st.sidebar.markdown(
        f"`{Path(info.path).name}`  \n{variables} · "
        f"{info.nlat} × {info.nlon} cells at {info.resolution[0]:g}° · "
        f"lat {info.lat_range[0]:g}..{info.lat_range[1]:g}, "
        f"lon {info.lon_range[0]:g}..{info.lon_range[1]:g} · "
        f"{span} · {human_size(info.size_bytes)}"
    )


def push(values: dict) -> None:
    """Set widget values before the widgets are created (a keyed widget keeps its own otherwise)."""
    for key, value in values.items():
        st.session_state[key] = value


def show_region_inputs(settings: Settings):
    """The region from whichever way the user chose; None (with a hint) while there is none."""
    drawn, clicked = mapview.map_state(st.session_state.get(MAP_KEY))  # st_folium keeps it there
    try:
        drawn_region, drawing_error = mapview.region_from_drawing(drawn), None
    except IsimipMaskError as error:  # shown only where drawings count
        drawn_region, drawing_error = None, error
    if isinstance(drawn_region, BBox) and st.session_state.get("drawn_box") != drawn_region:
        st.session_state["drawn_box"] = drawn_region
        push(
            {
                "west": drawn_region.west,
                "east": drawn_region.east,
                "south": drawn_region.south,
                "north": drawn_region.north,
            }
        )
    if clicked and st.session_state.get("clicked") != clicked:
        st.session_state["clicked"] = clicked
        push({"lat": round(clicked[0], 4), "lon": round(clicked[1], 4)})
    mode = st.radio("2 · Region", MODES, key="mode", horizontal=True)
    if mode == MODES[0]:
        if drawing_error is not None:
            raise drawing_error
        if drawn_region is None:
            st.info("Draw a rectangle or a polygon with the tools at the left of the map.")
        return drawn_region
    if mode == MODES[1]:
        names = dict(country_names())
        code = st.selectbox(
            "Country",
            list(names),
            key="country",
            index=None,
            placeholder="type a name or an ISO3 code",
            format_func=lambda c: f"{names[c]} ({c})",
        )
        return Country(code) if code else None
    if mode == MODES[2]:
        st.caption(
            "Land cells: centres inside a Natural Earth country, Antarctica excluded (the ISIMIP convention)."
        )
        return LandOnly()
    if mode == MODES[3]:
        box = show_box_inputs()
        st.caption("West > east crosses the antimeridian. A rectangle drawn on the map fills these in.")
        return box
    if mode == MODES[4]:
        upload = st.file_uploader(
            "GeoJSON file, or a zipped shapefile (polygons in lon/lat)",
            type=["geojson", "json", "zip"],
            key="upload",
        )
        if upload is None:
            return None
        return parse_upload(
            upload.getvalue(), upload.name, settings.max_geojson_bytes, settings.max_geojson_vertices
        )
    left, right = st.columns(2)
    lat = left.number_input("lat", -90.0, 90.0, st.session_state.get("lat", 52.39), key="lat", format="%.4f")
    lon = right.number_input(
        "lon", -180.0, 360.0, st.session_state.get("lon", 13.06), key="lon", format="%.4f"
    )
    st.caption("Or click on the map. The time series of the nearest grid cell is extracted.")
    return Point(lat, lon)


BOX_INPUTS = {  # name: (lowest, highest, default)
    "west": (-180.0, 360.0, -10.0),
    "east": (-180.0, 360.0, 40.0),
    "south": (-90.0, 90.0, 35.0),
    "north": (-90.0, 90.0, 70.0),
}
CELL_RULES = {
    "centre": "whose centre is inside (as CDO)",
    "touch": "that the region touches (as ISIMIP's country masks)",
}
COMBINATIONS = ("nothing else", "land only", "a box")


def show_box_inputs(prefix: str = "") -> BBox:
    """Four number inputs, west, east, south, north (keys ``prefix + name``)."""
    values = {}
    for column, (name, (low, high, default)) in zip(st.columns(4), BOX_INPUTS.items()):
        key = prefix + name
        values[name] = column.number_input(
            name, low, high, st.session_state.get(key, default), step=0.5, key=key
        )
    return BBox(values["west"], values["east"], values["south"], values["north"])


def show_combination():
    """A second region the first is combined with (a cell is kept when both keep it), or None."""
    choice = st.selectbox("Keep only the cells that are also in", COMBINATIONS, key="combine")
    if choice == "land only":
        return LandOnly()
    if choice == "a box":
        return show_box_inputs("combine_")
    return None


def show_options(region) -> Plan:
    st.markdown("**3 · Options**")
    if isinstance(region, Point):
        as_csv = st.checkbox("CSV time series (else NetCDF)", value=True, key="point_csv")
        return Plan(region, output_csv=as_csv)
    rule = st.radio(
        "Keep the cells", list(CELL_RULES), format_func=CELL_RULES.get, key="rule", horizontal=True
    )
    also = show_combination()
    region = intersect([apply_rule(part, rule) for part in (region, also) if part is not None])
    crop = st.checkbox("Crop to the region's bounding box", key="crop")
    mean = st.checkbox("Field mean time series (area-weighted)", key="mean")
    as_csv = mean and st.checkbox("CSV time series (else NetCDF)", value=True, key="mean_csv")
    return Plan(region, crop=crop, compute_mean=mean, output_csv=as_csv)


def show_preview(plan: Plan | None, infos: list[datasets.DatasetInfo]) -> Preview | None:
    """Count and estimate the kept cells on the first file's grid; None if there are none."""
    if plan is None or not infos:
        return None
    info = infos[0]
    try:
        kept = preview(info.grid, json.dumps(region_config(plan.region), sort_keys=True), plan.region)
    except IsimipMaskError as error:
        st.error(f"This region keeps no cells of {Path(info.path).name}: {error}")
        return None
    cells = int(kept.mask.sum())
    estimate = output_estimate(plan, infos, cells)
    st.success(f"{cells:,} of {kept.mask.size:,} cells at {info.resolution[0]:g}° are kept: {estimate}.")
    return kept


def submit(settings: Settings, infos, plan: Plan) -> None:
    try:
        request = build_request(settings, [i.path for i in infos], plan.operations())
        info, created = get_queue().submit(request)
    except IsimipMaskError as error:
        st.error(str(error))
        return
    st.query_params["job"] = info.id
    st.toast("Job queued" if created else f"This request was submitted before: job is {info.label}")


def request_of(infos: list[datasets.DatasetInfo], plan: Plan) -> dict:
    """The request the page's inputs make, in the form a job keeps it (JobRequest.canonical)."""
    return JobRequest(tuple(i.path for i in infos), plan).canonical()


def run_again(info: JobInfo) -> None:
    """Submit a failed job's request again (checked again: its files may have changed)."""
    request = info.request
    try:
        plan = Plan.from_config(request["plan"])
        get_queue().submit(build_request(get_settings(), request["paths"], plan.operations()))
    except IsimipMaskError as error:
        st.error(str(error))
        return
    st.rerun()


def show_job(job_id: str, chosen: dict | None) -> None:
    """The job of the page's address; ``chosen`` is the request the page's inputs make now."""
    st.subheader("4 · Job")
    try:
        info = get_queue().info(job_id)
    except JobNotFound:
        st.warning(f"Job {job_id} does not exist (any more): results expire. Submit the request again.")
        return
    except IsimipMaskError as error:
        st.error(str(error))
        return
    st.caption(f"Job `{info.id}`: {info.summary}")
    if chosen is not None and chosen != info.request:
        st.info("This job is for an earlier choice of files or region: press Submit to run the current one.")
    if info.status in TERMINAL:
        show_result(info)
    else:
        follow_job(job_id)


@st.fragment(run_every=POLL_S)
def follow_job(job_id: str) -> None:
    try:
        info = get_queue().info(job_id)
    except IsimipMaskError as error:
        st.error(str(error))
        return
    if info.status in TERMINAL:
        st.rerun()  # the whole page shows the result, and polling stops
    if info.status == "queued":
        where = (
            f"position {info.position + 1} in the queue" if info.position is not None else "about to start"
        )
        st.info(f"Queued, {where}.")
    else:
        current = f"file {min(info.files_done + 1, info.files_total)} of {info.files_total}"
        steps = f", time step {info.steps_done} of {info.steps_total}" if info.steps_total else ""
        st.progress(info.fraction, text=f"Running: {current}{steps}")
    if st.button("Cancel job", key="cancel"):
        get_queue().cancel(job_id)
        st.rerun()


def show_result(info: JobInfo) -> None:
    queue = get_queue()
    if info.status == "failed":
        st.error(f"The job failed: {info.message}")
        if st.button("Run it again", key="again"):
            run_again(info)
        return
    if info.status == "cancelled":
        st.info("The job was cancelled; its files were removed.")
        return
    (st.warning if info.with_errors else st.success)(
        f"Job {info.label}: {len(info.created_files)} of {info.files_total} file(s) written."
    )
    for path, message in info.errors.items():
        st.error(f"{path}: {message}")
    path = queue.result_path(info)
    if path is None:
        st.warning("The result file is no longer there (it expired). Submit the request again.")
        return
    url = result_url(queue.settings, info.id, path.name)
    # a link, not st.download_button: the file goes from the file server to the browser, never
    # through this process's memory (a 1.3 GB result once took it to 4 GB)
    # the size first: a long name is cut at the button's edge
    st.link_button(f"Download ({human_size(path.stat().st_size)}) {path.name}", url, type="primary")
    st.caption(f"For scripts: {url}")
    if path.suffix == ".csv":
        times, columns = quick_look_series(str(path), path.stat().st_mtime_ns)
        st.line_chart({"time": times, **columns}, x="time")
    elif path.suffix == ".nc" and (look := quick_look_field(str(path), path.stat().st_mtime_ns)):
        st.image(look[0], caption=look[1])  # a series NetCDF has no field to picture


def main() -> None:
    st.set_page_config(page_title="isimip-mask", page_icon="🗺️", layout="wide")
    settings = get_settings()
    st.title("isimip-mask")
    st.caption("Cut a region out of ISIMIP NetCDF files: pick files, choose a region, submit, download.")
    infos = show_dataset_picker(settings)
    controls, view = st.columns([2, 3])
    plan = None
    with controls:
        try:
            region = show_region_inputs(settings)
            plan = show_options(region) if region is not None else None
        except IsimipMaskError as error:
            st.error(str(error))
        kept = show_preview(plan, infos)
        if not infos:
            st.info("Pick one or more files in the sidebar.")
        if st.button("Submit", type="primary", disabled=kept is None, key="submit"):
            submit(settings, infos, plan)
        if "job" in st.query_params:
            chosen = (
                {"paths": sorted(i.path for i in infos), "plan": plan.config()} if plan and infos else None
            )
            show_job(st.query_params["job"], chosen)
    with view:
        base_url = st.get_option("server.baseUrlPath").strip("/")
        static_url = f"/{base_url}/app/static/vendor" if base_url else "/app/static/vendor"
        st_folium(
            mapview.base_map(static_url),
            key=MAP_KEY,
            height=560,
            use_container_width=True,
            returned_objects=["last_active_drawing", "all_drawings", "last_clicked"],
            feature_group_to_add=mapview.overlays(
                plan.region if plan else None, kept.image if kept else None
            ),
        )


main()
