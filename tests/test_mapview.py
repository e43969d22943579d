"""The map's outlines: a box shows where its cells are, whatever longitudes it was given in."""

import pytest
import shapely

from isimip_mask.regions.kinds import BBox, Country, LandOnly, Point, Touching
from isimip_mask.ui import mapview
from isimip_mask.ui.mapview import POINT_ZOOM, box_outline, view_of


@pytest.mark.parametrize(
    ("box", "parts"),
    [
        (BBox(-10, 40, 35, 70), [(-10, 40)]),
        (BBox(350, 10, -5, 5), [(-10, 10)]),  # 0..360 longitudes: one box around Greenwich
        (BBox(170, -170, -10, 10), [(170, 180), (-180, -170)]),  # across the antimeridian
        (BBox(190, 200, 0, 10), [(-170, -160)]),
        (BBox(100, 260, 0, 10), [(100, 180), (-180, -100)]),
    ],
)
def test_a_box_outline_covers_its_cells_on_a_minus_180_to_180_map(box, parts):
    outline = box_outline(box)
    expected = shapely.union_all([shapely.box(w, box.south, e, box.north) for w, e in parts])
    assert outline.symmetric_difference(expected).area == pytest.approx(0)
    assert outline.bounds[0] >= -180 and outline.bounds[2] <= 180


def test_the_map_goes_to_the_region_and_stays_for_land_or_nothing():
    (lat, lon), zoom = view_of(Country("LUX"))
    assert 49 < lat < 51 and 5 < lon < 7 and zoom >= 7  # Luxembourg fills the map
    (lat, lon), zoom = view_of(Country("FRA"))
    assert 42 < lat < 51 and -5 < lon < 9 and zoom >= 4  # mainland France, not its overseas parts
    (lat, lon), zoom = view_of(BBox(350, 10, -5, 5))
    assert (lat, lon) == (0, 0)
    assert view_of(Point(48.1, 2.1)) == ((48.1, 2.1), POINT_ZOOM)
    assert view_of(LandOnly()) == (None, None) and view_of(None) == (None, None)
    # land by the touch rule is still the world: the map stays, and no outline of every country
    # travels again (1.4 MB a rerun before)
    assert view_of(Touching(LandOnly())) == (None, None)
    assert not mapview.overlays(Touching(LandOnly()))._children
    (lat, lon), zoom = view_of(Touching(Country("LUX")))
    assert 49 < lat < 51 and zoom >= 7


def test_outlines_are_no_keyboard_stop_and_drawing_comes_before_zoom():
    html = mapview.base_map("/app/static/vendor", "/app/static/outlines.json").get_root().render()
    assert 'setAttribute("tabindex", "-1")' in html
    assert html.index("L.Control.Draw") < html.index("L.control.zoom") and '"zoomControl": false' in html


def test_tables_on_the_map_the_world_for_every_country_the_points_for_points():
    from isimip_mask.requests.chain import parse_operations

    countries = parse_operations([{"operation": "mask_regions", "regions": "countries"}]).region
    assert mapview.view_of(countries) == (None, None)
    group = mapview.overlays(countries)
    assert not group._children  # the base map has the outlines: 241 more would weigh on every rerun
    points = parse_operations(
        [{"operation": "select_points", "points": [[52.5, 13.4], [48.85, 2.35]]}]
    ).region
    (lat, lon), zoom = mapview.view_of(points)
    assert 48.85 < lat < 52.5 and 2.35 < lon < 13.4 and 1 <= zoom <= mapview.POINT_ZOOM
    assert len(mapview.overlays(points)._children) == 2


def test_a_30_arcsec_grid_is_previewed_on_a_view_the_map_can_show():
    import numpy as np

    from isimip_mask.files.grid import Grid
    from isimip_mask.regions.kinds import Country
    from isimip_mask.regions.masks import grid_mask, region_mask

    grid = Grid.from_arrays(90 - (np.arange(21600) + 0.5) / 120, -180 + (np.arange(43200) + 0.5) / 120)
    view, step = mapview.view_grid(grid)
    assert view.lat.size * view.lon.size <= mapview.VIEW_CELLS and step == 22
    about = int(grid_mask(view, Country("CHE")).sum()) * step * step
    exact = region_mask(grid, Country("CHE")).count()
    assert abs(about - exact) < 0.05 * exact
    small = Grid.from_arrays(np.arange(89.75, -90, -0.5), np.arange(-179.75, 180, 0.5))
    assert mapview.view_grid(small) == (small, 1)
