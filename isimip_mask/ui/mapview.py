"""The map of the page: a folium map that works offline, overlays, and drawings as regions.

Leaflet and Leaflet.draw are served by the app itself (Streamlit static files, installed from
npm by ``make assets``), never from a CDN. Tiles may fail offline; a light layer of country
outlines from the bundled Natural Earth data keeps the map readable without them.
"""

import hashlib
import json
import math
from functools import lru_cache
from pathlib import Path

import folium
import folium.plugins
import numpy as np
import shapely
from folium import MacroElement
from folium.template import Template
from folium.utilities import image_to_url
from shapely.geometry import mapping

from isimip_mask.files.grid import Grid, wrap_lon
from isimip_mask.files.netcdf import atomic_output
from isimip_mask.regions.countries import country_catalogue
from isimip_mask.regions.kinds import BBox, Country, LandOnly, Point, Region, Touching
from isimip_mask.regions.sets import PointSet, RegionSet
from isimip_mask.regions.shapes import parse_geojson

MASK_RGBA = (220, 38, 38, 150)  # kept cells: translucent red
DRAWN_STYLE = {"color": "#1d4ed8", "weight": 2, "fillOpacity": 0}
RECTANGLE_TOLERANCE_DEG = 1e-9
MERCATOR_LIMIT_DEG = 85.0
DRAWN_DECIMALS = 2  # a drawn box is rounded to 0.01 degree: far finer than any grid, and readable


def use_local_assets(static_url: str) -> None:
    """Point folium at the Leaflet files served under ``static_url`` and drop unused CDN links."""
    folium.Map.default_js = [("leaflet", f"{static_url}/leaflet/leaflet.js")]
    folium.Map.default_css = [("leaflet_css", f"{static_url}/leaflet/leaflet.css")]
    folium.plugins.Draw.default_js = [("leaflet_draw_js", f"{static_url}/leaflet-draw/leaflet.draw.js")]
    folium.plugins.Draw.default_css = [("leaflet_draw_css", f"{static_url}/leaflet-draw/leaflet.draw.css")]


@lru_cache(maxsize=1)
def outline_geojson() -> dict:
    """Simplified country outlines (about 0.2 degree) for the base map."""
    features = []
    for code, (name, geometry) in country_catalogue().items():
        simple = shapely.set_precision(shapely.simplify(geometry, 0.2, preserve_topology=True), 0.05)
        if not simple.is_empty:
            features.append(
                {"type": "Feature", "properties": {"name": f"{name} ({code})"}, "geometry": mapping(simple)}
            )
    return {"type": "FeatureCollection", "features": features}


OUTLINE_STYLE = {"color": "#64748b", "weight": 0.6, "fillColor": "#e2e8f0", "fillOpacity": 0.35}


def write_outlines(folder: Path) -> str:
    """Write the outlines as a file the browser fetches once (named by their content, so a
    cached copy is never stale); returns the file's name. Sent inside the map instead, they
    were 249 of the 255 kB that every map change sent again."""
    text = json.dumps(outline_geojson(), separators=(",", ":"))
    name = f"outlines-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    path = folder / name
    if not path.exists():
        with atomic_output(path) as partial:  # whole or absent, also when two servers start at once
            partial.write_text(text)
    return name


class FetchedOutlines(MacroElement):
    """Country outlines fetched from ``url``, below every overlay, named on hover."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            map.createPane("outlines").style.zIndex = 350;
            fetch({{ this.url|tojson }}).then((answer) => answer.json()).then((data) => {
                const outlines = L.geoJson(data, {
                    pane: "outlines",
                    style: () => ({{ this.style|tojson }}),
                    onEachFeature: (feature, layer) =>
                        layer.bindTooltip(feature.properties.name, {sticky: true}),
                }).addTo(map);
                // named on hover, never a keyboard stop: Tab goes from the draw tools to the map
                outlines.eachLayer((layer) => {
                    const path = layer.getElement && layer.getElement();
                    if (path) path.setAttribute("tabindex", "-1");
                });
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, url: str):
        super().__init__()
        self._name = "FetchedOutlines"
        self.url = url
        self.style = OUTLINE_STYLE


class KeepLastDrawing(MacroElement):
    """A new drawing replaces the earlier ones (only the last one is the region)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.on("draw:created", function (event) {
            {{ this.group.get_name() }}.eachLayer(function (layer) {
                if (layer !== event.layer) {{ this.group.get_name() }}.removeLayer(layer);
            });
        });
        {% endmacro %}
        """
    )

    def __init__(self, group: folium.FeatureGroup):
        super().__init__()
        self._name = "KeepLastDrawing"
        self.group = group


class ZoomAfterDrawing(MacroElement):
    """The zoom buttons, below the draw tools in the corner and after them in the focus order."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.zoom({position: "topleft"}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self):
        super().__init__()
        self._name = "ZoomAfterDrawing"


def base_map(static_url: str, outlines_url: str | None = None) -> folium.Map:
    """The map every rerun starts from; it never changes, so drawings on it survive reruns.

    The country outlines come from ``outlines_url`` (see :func:`write_outlines`), or are
    embedded in the map where no such file could be written."""
    use_local_assets(static_url)
    world = folium.Map(
        location=(20, 0),
        zoom_start=2,
        min_zoom=1,
        tiles="OpenStreetMap",
        world_copy_jump=True,
        zoom_control=False,  # added after the draw tools: Tab reaches drawing first
    )
    if outlines_url:
        world.add_child(FetchedOutlines(outlines_url))
        # a click on a country focuses its path: no focus ring round its box (France's spans the
        # Atlantic); the outlines are for hovering, never a keyboard stop
        world.get_root().header.add_child(
            folium.Element("<style>.leaflet-outlines-pane path:focus { outline: none; }</style>")
        )
    else:
        folium.GeoJson(
            outline_geojson(),
            name="countries",
            style_function=lambda _: OUTLINE_STYLE,
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
        ).add_to(world)
    drawings = folium.FeatureGroup(name="drawings", control=False).add_to(world)
    folium.plugins.Draw(
        feature_group=drawings,
        export=False,
        draw_options={
            "polyline": False,
            "circle": False,
            "circlemarker": False,
            "marker": False,
            # drawn outlines stay unfilled so that the kept cells show through
            "rectangle": {"showArea": False, "shapeOptions": DRAWN_STYLE},
            "polygon": {"allowIntersection": False, "shapeOptions": DRAWN_STYLE},
        },
        edit_options={"edit": True, "remove": True},
    ).add_to(world)
    world.add_child(ZoomAfterDrawing())
    world.add_child(KeepLastDrawing(drawings))
    return world


def map_state(value) -> tuple[dict | None, tuple[float, float] | None]:
    """The last drawing and the last click (lat, lon) of what the map component sent.

    That value comes from the browser: anything that is not a drawing or a click of two finite
    numbers is ignored rather than trusted.
    """
    value = value if isinstance(value, dict) else {}
    drawings = value.get("all_drawings")
    drawings = [d for d in drawings if isinstance(d, dict)] if isinstance(drawings, list) else []
    last = value.get("last_active_drawing")
    feature = last if isinstance(last, dict) and last in drawings else (drawings[-1] if drawings else None)
    clicked = value.get("last_clicked")
    numbers = [clicked.get(k) for k in ("lat", "lng")] if isinstance(clicked, dict) else []
    if len(numbers) == 2 and all(
        isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in numbers
    ):
        return feature, (numbers[0], _wrap_lon(numbers[1]))
    return feature, None


def region_from_drawing(feature: dict | None) -> Region | None:
    """A drawn rectangle becomes a BBox (the cdo rule), any other polygon a Shape; markers and
    circles are no region. A broken polygon is a RegionError, as for an upload."""
    if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
        return None
    if feature["geometry"].get("type") != "Polygon":
        return None
    drawn = parse_geojson(feature, name="drawn")
    geometry = drawn.geometry
    west, south, east, north = geometry.bounds
    if geometry.geom_type == "Polygon" and abs(
        geometry.area - (east - west) * (north - south)
    ) < RECTANGLE_TOLERANCE_DEG * max(1.0, geometry.area):
        west, east = _wrap_lon(west), _wrap_lon(east)
        return BBox(*(round(v, DRAWN_DECIMALS) for v in (west, east, max(south, -90), min(north, 90))))
    return drawn


def _wrap_lon(lon: float) -> float:
    """Leaflet lets a drawing go round the world; bring longitudes back to -180..180."""
    return lon if -180 <= lon <= 180 else float(wrap_lon(lon))


def mask_image(grid: Grid, mask: np.ndarray) -> tuple[np.ndarray, list[list[float]]]:
    """An RGBA picture of the kept cells, north up, longitudes -180..180, cut to their extent.

    Its bounds stop at the Web Mercator limit (about 85 degrees), which the map cannot show.
    """
    lon = wrap_lon(grid.lon)
    order_lat, order_lon = np.argsort(-grid.lat), np.argsort(lon)
    kept = mask[order_lat][:, order_lon]
    lat, lon = grid.lat[order_lat], lon[order_lon]
    rows, cols = np.flatnonzero(kept.any(axis=1)), np.flatnonzero(kept.any(axis=0))
    rows = (
        rows[np.abs(lat[rows]) < MERCATOR_LIMIT_DEG]
        if np.any(np.abs(lat[rows]) < MERCATOR_LIMIT_DEG)
        else rows
    )
    kept = kept[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    half_lat, half_lon = grid.dlat / 2, grid.dlon / 2
    south = max(-MERCATOR_LIMIT_DEG, float(lat[rows[-1]] - half_lat))
    north = min(MERCATOR_LIMIT_DEG, float(lat[rows[0]] + half_lat))
    kept = _to_mercator_rows(kept, lat[rows[0] : rows[-1] + 1], south, north)
    picture = np.zeros((*kept.shape, 4), dtype=np.uint8)
    picture[kept] = MASK_RGBA
    return picture, [[south, float(lon[cols[0]] - half_lon)], [north, float(lon[cols[-1]] + half_lon)]]


def _mercator_y(lat):
    return np.log(np.tan(np.pi / 4 + np.deg2rad(lat) / 2))


def _to_mercator_rows(
    kept: np.ndarray, lat: np.ndarray, south: float, north: float, rows_per_cell: int = 4
) -> np.ndarray:
    """Resample rows (north first) so that they are evenly spaced on the Web Mercator map.

    Leaflet stretches an image overlay linearly in Mercator y; without this, cells far from
    the equator would be drawn at the wrong latitude.
    """
    n_rows = max(1, kept.shape[0] * rows_per_cell)
    y = (
        np.linspace(_mercator_y(north), _mercator_y(south), n_rows, endpoint=False)
        - (_mercator_y(north) - _mercator_y(south)) / n_rows / 2
    )
    row_lat = np.rad2deg(2 * np.arctan(np.exp(y)) - np.pi / 2)
    nearest = np.abs(row_lat[:, None] - lat[None, :]).argmin(axis=1)
    return kept[nearest]


VIEW_CELLS = 2_000_000  # a grid above this is previewed on a coarser view of its cells


def view_grid(grid: Grid, max_cells: int = VIEW_CELLS) -> tuple[Grid, int]:
    """The grid itself, or every ``step``-th of its cells in both directions where it has more
    than ``max_cells`` (what a map can show of it), and the step."""
    cells = grid.lat.size * grid.lon.size
    if cells <= max_cells:
        return grid, 1
    step = math.ceil(math.sqrt(cells / max_cells))
    start = step // 2
    return Grid(grid.lat[start::step], grid.lon[start::step], (grid.dlat * step, grid.dlon * step)), step


def kept_cells_image(grid: Grid, mask: np.ndarray) -> tuple[str, list[list[float]]]:
    """The kept cells as a PNG data URL and its bounds, ready for an image overlay."""
    picture, bounds = mask_image(grid, mask)
    return image_to_url(picture), bounds


POINT_ZOOM = 6
MAX_MARKERS = 500  # a table of more points shows its kept cells only


def view_of(region: Region | None) -> tuple[tuple[float, float] | None, int | None]:
    """Centre and zoom that show ``region`` (its largest part: France without its overseas
    departments); (None, None) leaves the map where it is (nothing chosen, or land: the world)."""
    if isinstance(region, Point):
        return (region.lat, region.lon), POINT_ZOOM
    if region is None or everywhere(region):  # the world: the map stays where the user has it
        return None, None
    if isinstance(region, PointSet):
        if len(region.points) == 1:
            return (region.points[0].lat, region.points[0].lon), POINT_ZOOM
        west, south, east, north = region.geometry.bounds
        span = max(east - west, (north - south) * 2, 1e-3)
        zoom = int(max(1, min(POINT_ZOOM, math.floor(math.log2(360 / span)))))
        return ((south + north) / 2, (west + east) / 2), zoom
    try:
        geometry = box_outline(region) if isinstance(region, BBox) else display_outline(region.geometry)
    except (AttributeError, NotImplementedError):  # a region without an outline of its own
        return None, None
    if geometry is None or geometry.is_empty:
        return None, None
    west, south, east, north = max(shapely.get_parts(geometry), key=lambda part: part.area).bounds
    span = max(east - west, (north - south) * 2, 1e-3)
    zoom = int(max(1, min(7, math.floor(math.log2(360 / span)))))  # closer, the base outlines get coarse
    return ((south + north) / 2, (west + east) / 2), zoom


def everywhere(region: Region) -> bool:
    """Land, or every country (by either cell rule): the base map's outlines already show it,
    and outlining it again would send every country's outline on each change."""
    area = region.area if isinstance(region, Touching) else region
    return isinstance(area, LandOnly | RegionSet)


def box_outline(box: BBox) -> shapely.Geometry:
    """The box as it shows on a -180..180 map: 0..360 longitudes moved round the globe, and
    split in two where it crosses 180° (350 to 10 is one box, 10°W to 10°E)."""
    west, _, east, _ = box.geometry.bounds  # east > west, at most 360 apart
    shift = west - float(wrap_lon(west))
    west, east = west - shift, east - shift
    if east <= 180:
        return shapely.box(west, box.south, east, box.north)
    return shapely.MultiPolygon(
        [shapely.box(west, box.south, 180, box.north), shapely.box(-180, box.south, east - 360, box.north)]
    )


DISPLAY_TOLERANCE_DEG = 0.01  # under a screen pixel at the map's closest zoom (7: 0.011 degree)


def display_outline(geometry):
    """The outline as drawn: simplified to what the map can show, so a detailed country or a
    large upload does not travel to the browser in full on every rerun."""
    simple = shapely.simplify(geometry, DISPLAY_TOLERANCE_DEG, preserve_topology=True)
    simple = shapely.transform(simple, lambda xy: np.round(xy, 3))  # 3 decimals in the JSON
    return geometry if simple.is_empty else simple


def overlays(
    region: Region | None, cells: tuple[str, list[list[float]]] | None = None
) -> folium.FeatureGroup:
    """The layers that change from rerun to rerun: the region's outline and its kept cells.

    ``cells`` is what :func:`kept_cells_image` returns (encoding it is the slow part: cache it).
    """
    group = folium.FeatureGroup(name="selection")
    if cells is not None:
        url, bounds = cells
        folium.raster_layers.ImageOverlay(url, bounds, pixelated=True, name="kept cells").add_to(group)
    if isinstance(region, Point | PointSet):
        named = zip(region.names, region.points) if isinstance(region, PointSet) else [(None, region)]
        for name, point in list(named)[:MAX_MARKERS]:
            folium.CircleMarker(
                (point.lat, point.lon), radius=6, color="#1d4ed8", fill=True, tooltip=name
            ).add_to(group)
    elif region is not None and not everywhere(region):  # countries: the base map
        geometry = box_outline(region) if isinstance(region, BBox) else display_outline(region.geometry)
        label = region.name if isinstance(region, Country) else region.tag
        folium.GeoJson(
            mapping(geometry),
            name="region",
            tooltip=label,
            style_function=lambda _: {"color": "#1d4ed8", "weight": 2, "fillOpacity": 0.05},
        ).add_to(group)
    return group
