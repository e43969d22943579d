"""The page's shared state: settings, the queue, caches of file descriptions, previews and
quick looks (Streamlit caches: one per server process), and setting widget values."""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from isimip_mask import logs
from isimip_mask.files import datasets
from isimip_mask.jobs.queue import JobQueue
from isimip_mask.regions.masks import grid_mask
from isimip_mask.regions.window import mask_bounds
from isimip_mask.settings import Settings, load_settings
from isimip_mask.ui import mapview, quicklook

MAP_KEY = "map"  # where st_folium keeps what the map sent


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


@st.cache_resource
def outlines_url(static_folder: str, static_url: str) -> str | None:
    """Where the browser fetches the map's country outlines (a file written into the folder
    Streamlit serves at ``static_url``); None (sent inside the map) if it cannot be written."""
    try:
        return f"{static_url}/{mapview.write_outlines(Path(static_folder))}"
    except OSError as error:
        logging.getLogger(__name__).warning("country outlines go inside the map: %s", error)
        return None


@st.cache_data(max_entries=512, show_spinner=False)
def describe(root: str, path: str) -> datasets.DatasetInfo:
    return datasets.describe(Path(root), path)


@dataclass(frozen=True)
class Preview:
    """How many cells a region keeps on a file's grid (counted on a coarser view of a fine
    grid: ``exact`` False), of how many, and their picture for the map."""

    cells: int
    total: int
    image: tuple[str, list]
    exact: bool = True
    window: int | None = None  # cells of the box round the kept ones: what a crop writes


@st.cache_data(max_entries=64, show_spinner=False)
def preview(grid, region_key: str, _region) -> Preview:
    """Cached by the region's canonical config (``region_key``); the region itself is not hashed.
    A grid finer than the map can show (30 arcsec: 933 million cells) is previewed on every
    ``step``-th cell, so that the page answers at once whatever the file."""
    view, step = mapview.view_grid(grid)
    mask = grid_mask(view, _region)
    cells = int(mask.sum()) * step * step
    rows, cols = mask_bounds(mask, view.is_global) if cells else (slice(0, 0), np.zeros(0))
    window = (rows.stop - rows.start) * len(cols) * step * step
    image = mapview.kept_cells_image(view, mask)
    return Preview(cells, grid.lat.size * grid.lon.size, image, step == 1, window)


@st.cache_data(max_entries=16, show_spinner=False)
def quick_look_field(path: str, mtime_ns: int):
    return quicklook.field_picture(Path(path))


@st.cache_data(max_entries=16, show_spinner=False)
def input_credits(path: str, mtime_ns: int) -> dict[str, str]:
    return quicklook.credits(Path(path))


@st.cache_data(max_entries=16, show_spinner=False)
def quick_look_series(path: str, mtime_ns: int):
    return quicklook.read_csv_series(Path(path))


def push(values: dict) -> None:
    """Set widget values before the widgets are created (a keyed widget keeps its own otherwise),
    and the values kept for them while they are hidden (see ``region.kept_number``)."""
    for key, value in values.items():
        st.session_state[key] = value
        st.session_state[f"typed_{key}"] = value
