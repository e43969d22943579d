"""isimip-mask: the page, laid out. Its parts are in ``isimip_mask.ui``; the work happens in
``isimip_mask``."""

from pathlib import Path

import streamlit as st
from streamlit_folium import st_folium

from isimip_mask.errors import IsimipMaskError
from isimip_mask.ui import mapview
from isimip_mask.ui.job import request_of, show_job, show_recent_jobs, submit
from isimip_mask.ui.picker import show_dataset_picker
from isimip_mask.ui.region import show_options, show_preview, show_region_inputs
from isimip_mask.ui.state import MAP_KEY, get_settings, outlines_url

STATIC = Path(__file__).parent / "static"  # served by Streamlit at app/static


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
            plan = show_options(region, infos, settings) if region is not None else None
        except IsimipMaskError as error:
            st.error(str(error))
        kept = show_preview(plan, infos)
        if not infos:
            st.info("Pick one or more files in the sidebar.")
        if st.button("Submit", type="primary", disabled=kept is None, key="submit"):
            submit(settings, infos, plan)
        shown = plan.region if plan else None  # the region on the map
        if "job" in st.query_params:
            chosen = None if plan is None or not infos else request_of(infos, plan)
            job_region = show_job(st.query_params["job"], chosen)
            shown = shown or job_region  # a shared link shows the job's region until another is chosen
        show_recent_jobs()
    with view:
        base_url = st.get_option("server.baseUrlPath").strip("/")
        static_url = f"/{base_url}/app/static" if base_url else "/app/static"
        outlines = outlines_url(str(STATIC), static_url)
        center, zoom = mapview.view_of(shown)  # the map follows the region
        st_folium(
            mapview.base_map(f"{static_url}/vendor", outlines),
            key=MAP_KEY,
            center=center,
            zoom=zoom,
            height=560,
            use_container_width=True,
            returned_objects=["last_active_drawing", "all_drawings", "last_clicked"],
            feature_group_to_add=mapview.overlays(shown, kept.image if kept else None),
        )


main()
