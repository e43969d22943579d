"""Steps 2 and 3 of the page: the region (drawn, a country, land, a box, an upload, a point,
every country, a table of points), the cell rule, a second region to combine with, the
options (crop, means, fractional cells, statistics and weights, years, monthly or annual
means), and the preview of kept cells."""

import json
from pathlib import Path

import streamlit as st

from isimip_mask.errors import IsimipMaskError
from isimip_mask.files import datasets
from isimip_mask.files.timeaxis import Period
from isimip_mask.files.weights import WeightGrid
from isimip_mask.regions.countries import country_names
from isimip_mask.regions.kinds import BBox, Country, LandOnly, Point, intersect, region_config
from isimip_mask.regions.masks import placed_cells
from isimip_mask.regions.sets import PointSet, RegionSet
from isimip_mask.regions.shapes import parse_upload, read_points_csv
from isimip_mask.requests.chain import apply_rule, plan_of
from isimip_mask.requests.limits import Limits
from isimip_mask.requests.operations import MaskRegions, SelectPoints
from isimip_mask.requests.plan import Plan
from isimip_mask.settings import Settings
from isimip_mask.ui import mapview
from isimip_mask.ui.estimates import output_estimate
from isimip_mask.ui.state import MAP_KEY, Preview, describe, get_index, preview, push

MODES = (
    "Draw on the map",
    "Country",
    "Land only",
    "Box",
    "GeoJSON upload",
    "Point",
    "Every country",
    "Points",
)
DEFAULT_POINTS = [{"name": "Berlin", "lat": 52.52, "lon": 13.4}, {"name": "Paris", "lat": 48.85, "lon": 2.35}]
WINDOWS = {
    None: "every time step",
    "month": "monthly means (cdo monmean)",
    "year": "annual means (cdo yearmean)",
}


def show_region_inputs(settings: Settings):  # noqa: C901 (one branch per region kind the page offers)
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
        st.session_state["clicked"] = clicked  # seen: a vertex of a polygon drawn is no point
        if st.session_state.get("mode") == MODES[5]:
            push({"lat": round(clicked[0], 4), "lon": round(clicked[1], 4)})
    st.subheader("2 · Region")  # the steps are headings of one level: 1 · Data ... 4 · Job
    mode = st.radio("Region", MODES, key="mode", horizontal=True, label_visibility="collapsed")
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
        st.caption(
            "Longitudes in -180..180 or 0..360 (350 to 10 is 10°W to 10°E); west > east crosses "
            "the antimeridian (170 to -170). A rectangle drawn on the map fills these in."
        )
        return box
    if mode == MODES[4]:
        upload = st.file_uploader(
            "GeoJSON file, or a zipped shapefile (polygons in lon/lat)",
            type=["geojson", "json", "zip"],
            key="upload",
        )
        if upload is None:
            return None
        shape = parse_upload(
            upload.getvalue(), upload.name, settings.max_geojson_bytes, settings.max_geojson_vertices
        )
        if shape.repaired:
            st.warning(
                f"The outline of {upload.name} is not a valid polygon ({shape.repaired}) and was "
                "repaired: outer rings joined, holes cut out. The cells kept follow the repaired outline."
            )
        return shape
    if mode == MODES[6]:
        st.caption("The area-weighted mean of every country, one column each, in one pass over each file.")
        return MaskRegions.region({"regions": "countries"}, Limits.from_settings(settings, {}))
    if mode == MODES[7]:
        return show_points(settings)
    left, right = st.columns(2)
    # no limits on the inputs: a browser keeps the last value in range without a word; the
    # region's own checks name the value typed (e.g. "point lat=95.0 is above 90")
    lat = kept_number(left, "lat", "lat", 52.39, format="%.4f")
    lon = kept_number(right, "lon", "lon", 13.06, format="%.4f")
    st.caption("Or click on the map. The time series of the nearest grid cell is extracted.")
    return Point(lat, lon)


def show_points(settings: Settings) -> PointSet | None:
    """A table of named points to type into, or an uploaded CSV of name,lat,lon."""
    upload = st.file_uploader("CSV of name,lat,lon (or type them below)", type=["csv"], key="points_upload")
    if upload is not None:
        points = read_points_csv(upload.getvalue(), upload.name, settings.max_geojson_bytes)
    else:
        rows = st.data_editor(DEFAULT_POINTS, num_rows="dynamic", key="points", use_container_width=True)
        points = [row for row in rows if any(row.get(k) not in (None, "") for k in ("lat", "lon"))]
    if not points:
        st.info("Give at least one point.")
        return None
    st.caption("The time series of the grid cell nearest to each point, one column each.")
    return SelectPoints.region({"points": points}, Limits.from_settings(settings, {}))


BOX_INPUTS = {"west": -10.0, "east": 40.0, "south": 35.0, "north": 70.0}  # name: default
CELL_RULES = {
    "centre": "whose centre is inside (as CDO)",
    "touch": "that the region touches (as ISIMIP's country masks)",
}
COMBINATIONS = ("nothing else", "land only", "a box")


def show_box_inputs(prefix: str = "") -> BBox:
    """Four number inputs, west, east, south, north (keys ``prefix + name``)."""
    values = {}
    for column, (name, default) in zip(st.columns(4), BOX_INPUTS.items()):
        # no limits, as for a point: the box names a value out of range
        values[name] = kept_number(column, name, prefix + name, default, step=0.5)
    return BBox(values["west"], values["east"], values["south"], values["north"])


def kept_number(container, label: str, key: str, default: float, **options) -> float:
    """A number input whose value outlives it: Streamlit forgets a widget's value when another
    mode hides it (and shows an older value set from code instead), so each change is kept
    beside it (``typed_<key>``) and given back whenever the input shows; a value set from the
    map (``push``) goes to both."""
    kept = f"typed_{key}"

    def keep() -> None:
        st.session_state[kept] = st.session_state[key]

    st.session_state[key] = st.session_state.get(kept, default)
    return container.number_input(label, key=key, on_change=keep, **options)


def show_combination():
    """A second region the first is combined with (a cell is kept when both keep it), or None."""
    choice = st.selectbox("Keep only the cells that are also in", COMBINATIONS, key="combine")
    if choice == "land only":
        return LandOnly()
    if choice == "a box":
        return show_box_inputs("combine_")
    return None


FRACTION = "Fractional cells: each counts by the share of it inside the region"
FRACTION_HELP = (
    "The exact overlap of each cell with the outline, so that small countries and coasts weigh right"
)


STATISTIC_CHOICES = {
    "mean": "mean",
    "sum": "sum (x cell area, m²)",
    "min": "minimum",
    "max": "maximum",
    "std": "standard deviation",
    "p50": "median",
    "p5": "5th percentile",
    "p95": "95th percentile",
}
AREA_ONLY = "cell area only"
MAX_WEIGHT_FILES = 500  # files offered as weights: every rerun sends the list to the browser


def show_weighing(settings: Settings, infos: list[datasets.DatasetInfo]) -> dict:
    """The statistics of each region and the grid its cells weigh by: ``Plan`` fields."""
    chosen = st.multiselect(
        "Statistics per region",
        list(STATISTIC_CHOICES),
        default=["mean"],
        format_func=STATISTIC_CHOICES.get,
        key="statistics",
        help="One column (CSV) or variable (NetCDF) each, in the one pass over the file, as cdo fldmean, "
        "fldsum -mul -gridarea, fldmin, fldmax, fldstd, fldpctl. Ranks are by nearest rank, unweighted.",
    )
    picked = {info.path for info in infos}
    files = [path for path in get_index(str(settings.input_path)).paths() if path not in picked]
    weights_file = st.selectbox(
        "Weigh cells by",
        [AREA_ONLY, *files[:MAX_WEIGHT_FILES]],
        key="weights_file",
        help="A grid from the data root on this file's grid or one containing it (a crop's share of each "
        f"cell, population): each cell weighs by its area times that value; yearly weights by year. The "
        f"first {MAX_WEIGHT_FILES} files of the data root are offered; the API takes any by its path.",
    )
    options = {"statistics": tuple(chosen) or ("mean",)}
    if weights_file != AREA_ONLY:
        variables = list(describe(str(settings.input_path), weights_file).variables)
        var = st.selectbox("Weight variable", variables, key="weights_var")
        per_cell = st.checkbox(
            "Amounts per cell (people), not shares of the cell or densities", key="per_cell"
        )
        options["weights"] = WeightGrid(weights_file, weights_file, var, per_cell)
    return options


def show_options(region, infos: list[datasets.DatasetInfo], settings: Settings) -> Plan:
    """The options of the plan, read into it by the parser every door uses (``plan_of``)."""
    st.subheader("3 · Options")
    limits = Limits.from_settings(settings, {})
    period, window = show_time(infos)
    if isinstance(region, Point | PointSet):
        as_csv = st.checkbox("CSV (else NetCDF)", value=True, key="point_csv")
        return plan_of(region, limits, output_csv=as_csv, period=period, window=window)
    rule = st.radio(
        "Keep the cells", list(CELL_RULES), format_func=CELL_RULES.get, key="rule", horizontal=True
    )
    if isinstance(region, RegionSet):
        fractional = st.checkbox(FRACTION, key="fraction", help=FRACTION_HELP)
        weighing = show_weighing(settings, infos)
        as_csv = st.checkbox("CSV table (else NetCDF)", value=True, key="table_csv")
        region = apply_rule(region, rule)
        return plan_of(
            region, limits, output_csv=as_csv, period=period, window=window, fractional=fractional, **weighing
        )
    also = show_combination()
    region = intersect([apply_rule(part, rule) for part in (region, also) if part is not None])
    crop = st.checkbox("Crop to the region's bounding box", key="crop")
    mean = st.checkbox("Field mean time series (area-weighted)", key="mean")
    fractional = mean and st.checkbox(FRACTION, key="fraction", help=FRACTION_HELP)
    weighing = show_weighing(settings, infos) if mean else {}
    as_csv = mean and st.checkbox("CSV time series (else NetCDF)", value=True, key="mean_csv")
    return plan_of(
        region,
        limits,
        crop=crop,
        compute_mean=mean,
        output_csv=as_csv,
        period=period,
        window=window,
        fractional=fractional,
        **weighing,
    )


def show_time(infos: list[datasets.DatasetInfo]) -> tuple[Period | None, str | None]:
    """The years to keep (a slider over the picked files' years; all of them: no period) and
    the time means."""
    spans = [info.time_span for info in infos if info.time_span]
    period = None
    if spans:
        first, last = min(int(s[0][:4]) for s in spans), max(int(s[1][:4]) for s in spans)
        if last > first:
            chosen = st.slider("Years", first, last, (first, last), key="years")
            period = None if chosen == (first, last) else Period.parse(list(chosen))
    window = st.selectbox("Time", list(WINDOWS), format_func=WINDOWS.get, key="window")
    return period, window


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
    estimate = output_estimate(plan, infos, kept.cells, kept.window)
    about = "" if kept.exact else "about "  # counted on a coarser view of a fine grid
    resolution = f"{info.resolution[0]:g}°"
    st.success(f"{about}{kept.cells:,} of {kept.total:,} cells at {resolution} are kept: {estimate}.")
    if isinstance(plan.region, PointSet):
        on_grid = placed_cells(info.grid, plan.region.points)[2]
        off = [name for name, on in zip(plan.region.names, on_grid) if not on]
        if off:
            listed = ", ".join(off[:5]) + (f" and {len(off) - 5} more" if len(off) > 5 else "")
            st.caption(f"Outside {Path(info.path).name}: {listed} (no column).")
    return kept
