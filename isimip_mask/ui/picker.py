"""Step 1 of the page: pick dataset files (word filter or folder, every period at once)."""

from pathlib import Path

import streamlit as st

from isimip_mask.errors import IsimipMaskError
from isimip_mask.files import datasets
from isimip_mask.files.facets import FACETS
from isimip_mask.settings import Settings
from isimip_mask.ui.estimates import human_size
from isimip_mask.ui.state import describe, get_index, push


def show_dataset_picker(settings: Settings) -> list[datasets.DatasetInfo]:
    st.sidebar.subheader("1 · Data")
    index = get_index(str(settings.input_path))
    query = st.sidebar.text_input(
        "Filter by name", key="query", placeholder="words of the file name, e.g. tas monthly"
    )
    facet_choice = show_facet_filters(index)
    if query or facet_choice:
        found = index.search(query, chosen=facet_choice)
        options = found.paths
        if found.total > len(found.paths):
            st.sidebar.caption(
                f"{found.total:,} files match; the first {len(found.paths)} are listed. "
                "Choose more facets or words to narrow them."
            )
    else:
        folder = st.sidebar.selectbox(
            "Folder", index.folders(), key="folder", format_func=lambda f: "(data root)" if f == "." else f
        )
        options = datasets.list_folder(settings.input_path, "" if folder in (None, ".") else folder).files
    chosen = st.session_state.get("paths", [])
    options = sorted(set(options) | set(chosen))
    names = datasets.labels(options)
    # above the files: the list grows while it has the focus and shrinks on the click that
    # takes it away, which moved a button below it from under the mouse (the first click missed)
    every_period = st.sidebar.empty()
    picked = st.sidebar.multiselect(
        "Files",
        options,
        key="paths",
        format_func=names.get,
        placeholder="choose files (type to filter)",
        select_all=False,  # "Select all" of a folder or a search is rarely meant: every period has its button
        wrap=True,
        help="Several files of one dataset (e.g. all decades of a variable) go into one job. "
        "Each is named by its years first, then the file name without them.",
    )
    if not options:
        st.sidebar.info("No NetCDF file matches: try fewer words, or another folder.")
    periods = datasets.periods(settings.input_path, picked)
    if len(periods) > len(picked):
        every_period.button(
            f"Add every period of the picked dataset ({len(periods)} files)",
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


def show_facet_filters(index: datasets.FileIndex) -> dict[str, list[str]]:
    """Filters by the ISIMIP facets of the files' names, as the ISIMIP repository's search:
    each value says how many files it would give with the other choices."""
    table = index.facets()
    if not table.values:
        return {}
    chosen = {facet: st.session_state.get(f"facet_{facet}") for facet in FACETS}
    chosen = {facet: values for facet, values in chosen.items() if values}
    counts = table.counts(chosen)
    with st.sidebar.expander("Filter by ISIMIP facets", expanded=bool(chosen)):
        for facet, label in FACETS.items():
            values = counts.get(facet, {})
            if len(values) > 1 or facet in chosen or 0 < sum(values.values()) < table.size:  # a choice
                st.multiselect(
                    label,
                    list(values),
                    key=f"facet_{facet}",
                    format_func=lambda value, values=values: f"{value} ({values[value]:,})",
                    placeholder="any",
                )
    return chosen


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
