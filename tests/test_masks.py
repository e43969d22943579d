import numpy as np
import pytest
import shapely

from isimip_mask.errors import RegionError
from isimip_mask.files.grid import Grid
from isimip_mask.regions.countries import country_names
from isimip_mask.regions.kinds import BBox, Country, Intersection, LandOnly, Point, Touching
from isimip_mask.regions.masks import grid_mask, nearest_cell, overlaps
from isimip_mask.regions.shapes import parse_geojson
from isimip_mask.regions.window import mask_bounds
from tests.helpers import DATA, global_axes

GRID = Grid.from_arrays(*global_axes())


def cells(grid, mask):
    rows, cols = np.nonzero(mask)
    return sorted(zip(grid.lat[rows].tolist(), grid.lon[cols].tolist()))


def test_potsdam_mittelmark_selects_exactly_one_cell():
    shape = parse_geojson((DATA / "pm.json").read_text())
    assert cells(GRID, grid_mask(GRID, shape)) == [(52.25, 12.75)]


def test_germany_is_the_cells_whose_centre_lies_in_its_polygon():
    germany = Country("DEU")
    expected = [
        (lat, lon)
        for lat in GRID.lat
        for lon in GRID.lon
        if 45 < lat < 56 and 5 < lon < 16 and germany.geometry.intersects(shapely.Point(lon, lat))
    ]
    assert cells(GRID, grid_mask(GRID, germany)) == sorted(expected)
    assert len(expected) > 150


def test_every_country_gets_cells_on_the_half_degree_grid():
    empty = [code for code, _ in country_names() if not grid_mask(GRID, Country(code)).any()]
    assert empty == []


@pytest.mark.parametrize("code", ["VAT", "SGP", "MLT"])
def test_small_countries_fall_back_to_overlapping_cells(code):
    mask = grid_mask(GRID, Country(code))
    assert 1 <= mask.sum() <= 4


def test_land_only_excludes_ocean_and_antarctica():
    mask = grid_mask(GRID, LandOnly())
    row = lambda lat: int(np.argmin(np.abs(GRID.lat - lat)))  # noqa: E731
    col = lambda lon: int(np.argmin(np.abs(GRID.lon - lon)))  # noqa: E731
    assert mask[row(52.25), col(12.75)]  # Brandenburg
    assert not mask[row(0.25), col(-150.25)]  # Pacific
    assert not mask[GRID.lat < -60].any()  # Antarctica
    assert 55_000 < mask.sum() < 70_000


@pytest.mark.parametrize(
    ("box", "n_lat", "n_lon"),
    [
        (BBox(-10, 40, 35, 70), 70, 100),
        (BBox(-10.25, 40.25, 35.25, 69.75), 70, 102),  # edges on centres are included
        (BBox(170, -170, -10, 10), 40, 40),  # across the antimeridian
        (BBox(-180, 180, -90, 90), 360, 720),
        (BBox(0, 360, -90, 90), 360, 720),
    ],
)
def test_bbox_keeps_centres_inside_edges_included(box, n_lat, n_lon):
    mask = grid_mask(GRID, box)
    assert mask.sum() == n_lat * n_lon
    assert mask.any(axis=1).sum() == n_lat and mask.any(axis=0).sum() == n_lon


def test_tiny_box_without_a_centre_uses_the_overlapped_cell():
    assert cells(GRID, grid_mask(GRID, BBox(12.6, 12.7, 52.1, 52.2))) == [(52.25, 12.75)]


@pytest.mark.parametrize(
    "region", [BBox(170, -170, -10, 10), Country("FJI"), Country("DEU"), LandOnly(), Point(-17.8, 178.2)]
)
def test_grid_order_and_longitude_range_do_not_change_the_cells(region):
    reference = set(cells(GRID, grid_mask(GRID, region)))
    for ascending, lon0360 in [(True, False), (False, True), (True, True)]:
        grid = Grid.from_arrays(*global_axes(ascending=ascending, lon0360=lon0360))
        moved = {(lat, lon - 360 if lon > 180 else lon) for lat, lon in cells(grid, grid_mask(grid, region))}
        assert moved == reference


def test_drawn_polygon_across_the_antimeridian():
    shape = parse_geojson(
        {"type": "Polygon", "coordinates": [[[175, -1], [185, -1], [185, 1], [175, 1], [175, -1]]]}
    )
    lons = {lon for _, lon in cells(GRID, grid_mask(GRID, shape))}
    assert lons == set(np.arange(175.25, 180, 0.5)) | set(np.arange(-179.75, -175, 0.5))


@pytest.mark.parametrize(
    ("point", "cell"),
    [
        (Point(52.3, 12.8), (52.25, 12.75)),
        (Point(0, 0.1), (-0.25, 0.25)),  # on the edge of two rows: the one upstream's index rounding picks
        (Point(52, 13), (51.75, 13.25)),  # a cell corner, as the ISIMIP files API answers it
        (Point(10.1, 359.9), (10.25, -0.25)),
        (Point(-10.1, 179.9), (-10.25, 179.75)),
    ],
)
def test_point_selects_the_nearest_cell(point, cell):
    assert cells(GRID, grid_mask(GRID, point)) == [cell]


def test_point_outside_a_regional_grid_is_refused():
    grid = Grid.from_arrays(np.arange(51.25, 42, -0.5), np.arange(-4.75, 8.5, 0.5))
    row, col = nearest_cell(grid, Point(48.1, 2.1))
    assert (grid.lat[row], grid.lon[col]) == (48.25, 2.25)
    with pytest.raises(RegionError, match="outside the grid"):
        grid_mask(grid, Point(10, 2))


def test_region_that_misses_a_regional_grid_is_refused():
    grid = Grid.from_arrays(np.arange(51.25, 42, -0.5), np.arange(-4.75, 8.5, 0.5))
    with pytest.raises(RegionError, match="does not overlap the grid"):
        grid_mask(grid, Country("AUS"))


@pytest.mark.parametrize(
    ("box", "cols"),
    [(BBox(-10, 40, 35, 70), (340, 440)), (BBox(170, -170, -10, 10), (700, 20))],
)
def test_mask_bounds_take_the_short_way_round(box, cols):
    mask = grid_mask(GRID, box)
    rows, columns = mask_bounds(mask, circular=True)
    assert mask[rows][:, columns].sum() == mask.sum()
    assert (columns[0], (columns[-1] + 1) % 720) == cols


@pytest.mark.parametrize(
    "region",
    [Country("DEU"), Country("FJI"), Country("MLT"), BBox(170, -170, -10, 10), BBox(-10.1, 40.1, 35.1, 69.9)],
    ids=str,
)
@pytest.mark.parametrize("lon0360", [False, True], ids=["lon-180..180", "lon0..360"])
def test_the_touch_rule_keeps_every_cell_the_region_overlaps(region, lon0360):
    """Compared with a brute-force test of every cell box (shapely), on both longitude conventions
    (a 1° grid: the rule does not depend on the resolution, the brute force does)."""
    grid = Grid.from_arrays(*global_axes(1.0, lon0360=lon0360))
    mask = grid_mask(grid, Touching(region))
    x, y = np.meshgrid(grid.lon, grid.lat)
    geometry = region.geometry
    brute = np.zeros(mask.shape, dtype=bool)
    for shift in (-360, 0, 360):  # the outline may be in -180..180 or reach past 180
        boxes = shapely.box(x + shift - 0.5, y - 0.5, x + shift + 0.5, y + 0.5)
        brute |= shapely.intersects(geometry, boxes) & ~shapely.touches(geometry, boxes)
    np.testing.assert_array_equal(mask, brute)
    assert mask.sum() >= grid_mask(grid, region).sum()


def test_the_two_rules_on_germany_and_land():
    """The numbers the README gives: ISIMIP's masks count every touched cell."""
    assert (grid_mask(GRID, Country("DEU")).sum(), grid_mask(GRID, Touching(Country("DEU"))).sum()) == (
        188,
        230,
    )
    assert (grid_mask(GRID, LandOnly()).sum(), grid_mask(GRID, Touching(LandOnly())).sum()) == (61534, 68257)


@pytest.mark.parametrize(
    "region",
    [
        Country("FRA"),
        Country("AUS"),
        Country("MLT"),
        LandOnly(),
        BBox(170, -170, -10, 10),
        BBox(-4.7, -4.6, 43.1, 43.2),  # between cell centres: the overlap rule keeps a cell
        Touching(Country("ITA")),
        Intersection((Country("FRA"), BBox(0, 5, 44, 48))),
        Intersection((Country("FRA"), Country("AUS"))),
    ],
    ids=str,
)
@pytest.mark.parametrize("lon0360", [False, True], ids=["lon-180..180", "lon0..360"])
def test_overlaps_answers_what_the_mask_would(region, lon0360):
    """The cheap check at submit time agrees with building the mask (a regional and a global grid)."""
    lon = np.arange(-4.75, 8.5, 0.5)  # across 0: in 0..360 it starts at 355.25 and wraps
    regional = Grid.from_arrays(np.arange(51.25, 42, -0.5), lon % 360 if lon0360 else lon)
    for grid in (regional, Grid.from_arrays(*global_axes(lon0360=lon0360))):
        try:
            kept = bool(grid_mask(grid, region).any())
        except RegionError:
            kept = False
        if isinstance(region, Intersection) and not kept:  # parts may each touch the grid, not in common
            continue
        assert overlaps(grid, region) == kept


def test_regions_that_do_not_intersect_are_said_so_not_off_the_grid():
    grid = Grid.from_arrays(*global_axes(0.5))
    with pytest.raises(
        RegionError, match=r"France \(FRA\) and the box lon -10 to -6, lat 37 to 42 keep no cell in common"
    ):
        grid_mask(grid, Intersection((Country("FRA"), BBox(-10, -6, 37, 42))))
    with pytest.raises(RegionError, match="does not overlap the grid"):
        grid_mask(Grid.from_arrays(np.arange(40.25, 50, 0.5), np.arange(0.25, 10, 0.5)), Country("JPN"))
