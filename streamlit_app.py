"""isimip-mask: the page, laid out. Its parts are in ``isimip_mask.ui``; the work happens in
``isimip_mask``.

The region's inputs and options are at the left; at the right the map and, under it, the
answer: what the region keeps, Submit, and the job with its download and quick look, so
that after Submit the result is in view without scrolling (1400 x 900). On a phone the
columns stack with the map and the answer first.
"""

from pathlib import Path

import streamlit as st
from streamlit_folium import st_folium

from isimip_mask.errors import IsimipMaskError
from isimip_mask.ui import mapview
from isimip_mask.ui.job import request_of, show_job, show_recent_jobs, show_reproduce, submit
from isimip_mask.ui.picker import show_dataset_picker
from isimip_mask.ui.region import show_options, show_preview, show_region_inputs
from isimip_mask.ui.state import MAP_KEY, get_settings, outlines_url

STATIC = Path(__file__).parent / "static"  # served by Streamlit at app/static
MAP_HEIGHT = 380
# less empty space above the title; file chips as wide as their names; on a narrow screen the
# map and the answer come before the inputs (the columns stack in reverse)
STYLE = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem; padding-bottom: 2rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 1.9rem; padding: 0.2rem 0 0 0; }
[data-testid="stSidebar"] span[data-tag] { max-width: 100%; height: auto; }
[data-testid="stSidebar"] span[data-tag] span[title] {
  max-width: none; white-space: normal; overflow-wrap: anywhere; line-height: 1.3; padding: 2px 0;
}
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-top: 3.5rem; }
  .st-key-page-columns [data-testid="stHorizontalBlock"] { flex-direction: column-reverse; }
}
</style>
"""


def main() -> None:
    st.set_page_config(page_title="isimip-mask", page_icon="🗺️", layout="wide")
    settings = get_settings()
    st.html(STYLE)
    st.title("isimip-mask")
    st.caption("Cut a region out of ISIMIP NetCDF files: pick files, choose a region, submit, download.")
    infos = show_dataset_picker(settings)
    with st.container(key="page-columns"):
        controls, view = st.columns([2, 3])
    plan, problem = None, None
    with controls:
        try:
            region = show_region_inputs(settings)
            plan = show_options(region, infos, settings) if region is not None else None
        except IsimipMaskError as error:
            problem = error
    with view:
        map_place = st.container()  # filled last: the map shows the region the answer settles on
        if problem is not None:
            st.error(str(problem))
        submit_column, preview_column = st.columns([1, 5], vertical_alignment="center")
        with preview_column:
            kept = show_preview(plan, infos)
            if not infos:
                st.info("Pick one or more files in the sidebar (on a phone: the » at the top left).")
        if submit_column.button("Submit", type="primary", disabled=kept is None, key="submit"):
            submit(settings, infos, plan)
        request = request_of(infos, plan) if plan is not None and infos else None
        shown = plan.region if plan else None  # the region on the map
        if "job" in st.query_params:
            job_region = show_job(st.query_params["job"], request)
            shown = shown or job_region  # a shared link shows the job's region until another is chosen
        if request is not None and kept is not None:
            show_reproduce(
                settings, request, "before you submit" if "job" not in st.query_params else "this choice"
            )
    with controls:  # after Submit: a job just submitted is among them
        show_recent_jobs()
    with map_place:
        base_url = st.get_option("server.baseUrlPath").strip("/")
        static_url = f"/{base_url}/app/static" if base_url else "/app/static"
        outlines = outlines_url(str(STATIC), static_url)
        center, zoom = mapview.view_of(shown)  # the map follows the region
        st_folium(
            mapview.base_map(f"{static_url}/vendor", outlines),
            key=MAP_KEY,
            center=center,
            zoom=zoom,
            height=MAP_HEIGHT,
            use_container_width=True,
            returned_objects=["last_active_drawing", "all_drawings", "last_clicked"],
            feature_group_to_add=mapview.overlays(shown, kept.image if kept else None),
        )


main()
