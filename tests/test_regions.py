import json

import pytest
import shapely

from isimip_mask.errors import RegionError
from isimip_mask.regions.countries import country_names
from isimip_mask.regions.kinds import BBox, Country, LandOnly, Point, Shape, region_config, region_from_config
from isimip_mask.regions.shapes import parse_geojson, parse_shapefile_zip
from isimip_mask.requests.naming import output_name
from tests.helpers import DATA

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0, 10, 20, 10], "south=20.0 must be below north=10.0"),
        ([0, 10, -91, 10], "south=-91.0 is below -90"),
        ([0, 10, 0, 90.5], "north=90.5 is above 90"),
        ([-181, 10, 0, 10], "west=-181.0 is below -180"),
        ([5, 5, 0, 10], "has no width"),
        (["a", 10, 0, 10], "west='a' is not a number"),
        ([0, 10, 0, float("nan")], "not a finite number"),
        ([0, 10, 0], r"\[west, east, south, north\]"),
    ],
)
def test_bbox_refuses_bad_values(values, message):
    with pytest.raises(RegionError, match=message):
        BBox.from_list(values)


def test_bbox_reports_every_problem_at_once():
    with pytest.raises(RegionError) as error:
        BBox(-200, 10, 50, -100)
    assert len(error.value.errors["bbox"]) == 2


@pytest.mark.parametrize(
    ("region", "tag"),
    [
        (BBox(-10, 40, 35, 70), "lon-10.0to40.0lat35.0to70.0"),
        (BBox(170, -170, -10.5, 10), "lon170.0to-170.0lat-10.5to10.0"),
        (Country("deu"), "deu"),
        (LandOnly(), "landonly"),
        (Point(52.25, 12.75), "lat52.25lon12.75"),
    ],
)
def test_tags(region, tag):
    assert region.tag == tag


def test_antimeridian_box_geometry_spans_across():
    box = BBox(170, -170, -10, 10)
    assert box.crosses_antimeridian
    assert box.geometry.bounds == (170, -10, 190, 10)


@pytest.mark.parametrize("code", ["DEU", "deu", " Deu "])
def test_country_is_case_insensitive(code):
    assert Country(code).iso3 == "DEU"
    assert Country(code).name == "Germany"


def test_unknown_country_names_the_code():
    with pytest.raises(RegionError, match="'XYZ' is not a known ISO3 code"):
        Country("XYZ")


def test_country_names_are_sorted_codes_with_names():
    pairs = country_names()
    codes = [code for code, _ in pairs]
    assert len(set(codes)) == len(codes), "a code listed twice"
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in codes)
    assert [name for _, name in pairs] == sorted(name for _, name in pairs)
    names = dict(pairs)
    # France and Norway have ISO_A3 = -99 in Natural Earth; the bundled file fills them in
    assert names["FRA"] == "France" and names["NOR"] == "Norway" and names["DEU"] == "Germany"


def test_land_leaves_out_antarctica():
    assert LandOnly().geometry.bounds[1] > -60
    assert not LandOnly().geometry.intersects(shapely.Point(0, -80))


@pytest.mark.parametrize(
    "document",
    [
        SQUARE,
        {"type": "Feature", "properties": {}, "geometry": SQUARE},
        {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": SQUARE}]},
        json.dumps(SQUARE),
        json.dumps(SQUARE).encode(),
    ],
)
def test_geojson_forms(document):
    shape = parse_geojson(document)
    assert shape.geometry.equals(shapely.box(0, 0, 2, 2))


def test_geojson_multipolygon_parts_are_unioned():
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": SQUARE},
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[[5, 5], [6, 5], [6, 6], [5, 5]]]},
            },
        ],
    }
    assert parse_geojson(collection).geometry.geom_type == "MultiPolygon"


def test_self_intersecting_ring_is_repaired():
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    shape = parse_geojson(bowtie)
    assert shape.geometry.is_valid and shape.geometry.area == pytest.approx(2.0)


def test_a_long_self_crossing_ring_is_repaired_as_the_area_it_encloses():
    """A zigzag of 40,000 vertices across a band, closed by the band's diagonal, which crosses
    every zigzag segment. GEOS's default repair takes minutes on it (quadratic); a request must not.

    Where the diagonal is at a fraction t of the band's height, it cuts the zigzag's teeth into
    parts enclosed between the two, of (1 - t)² and t² of the band there; averaged over t that is
    a third of the band."""
    zigzag = [[x / 1000, 45 + (x % 2) / 10] for x in range(40_000)]
    shape = parse_geojson({"type": "Polygon", "coordinates": [[*zigzag, zigzag[0]]]}, max_bytes=10**8)
    band = shapely.box(0, 45, 39.999, 45.1)
    assert shape.geometry.is_valid and shape.geometry.within(band.buffer(1e-9))
    assert shape.geometry.area == pytest.approx(band.area / 3, rel=0.01)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "GeoJSON object"),
        ({"type": "Point", "coordinates": [1, 2]}, "no polygon with an area"),
        ({"type": "Polygon", "coordinates": "nonsense"}, "malformed GeoJSON"),
        ({"type": "FeatureCollection", "features": []}, "no polygon with an area"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 200], [0, 0]]]}, "not lon/lat degrees"),
    ],
)
def test_broken_geojson_is_refused(document, message):
    with pytest.raises(RegionError, match=message):
        parse_geojson(document)


def test_geojson_limits():
    with pytest.raises(RegionError, match="more than the limit of 10"):
        parse_geojson(json.dumps(SQUARE), max_bytes=10)
    with pytest.raises(RegionError, match="5 vertices, more than the limit of 4"):
        parse_geojson(SQUARE, max_vertices=4)


def test_shapefile_zip_matches_geojson():
    from_zip = parse_shapefile_zip((DATA / "pm.zip").read_bytes(), "pm.zip")
    from_json = parse_geojson((DATA / "pm.json").read_text(), "pm.json")
    assert from_zip.geometry.equals_exact(from_json.geometry, 1e-4)
    assert from_zip.tag == "pm"


def test_bad_zip_is_refused():
    with pytest.raises(RegionError, match="not a valid zip"):
        parse_shapefile_zip(b"not a zip")


@pytest.mark.parametrize(
    ("values", "message"),
    [([91, 0], "lat=91.0 is above 90"), ([0, -200], "lon=-200.0 is below -180"), ([1], r"\[lat, lon\]")],
)
def test_point_refuses_bad_values(values, message):
    with pytest.raises(RegionError, match=message):
        Point.from_list(values)


@pytest.mark.parametrize(
    "region",
    [
        BBox(170, -170, -10, 10),
        Country("FRA"),
        LandOnly(),
        Point(1.5, 2.5),
        Shape(shapely.box(0, 0, 2, 2), "drawn"),
    ],
)
def test_region_config_round_trip(region):
    config = json.loads(json.dumps(region_config(region)))
    assert region_from_config(config) == region


@pytest.mark.parametrize(
    ("upload", "tag"),
    [("two_boxes.json", "two_boxes"), ("pm.zip.nc", "pm.zip"), ("Île de France.geojson", "île-de-france")],
)
def test_an_upload_names_outputs_as_the_isimip_files_api_does(upload, tag):
    from isimip_mask.regions.kinds import slug

    assert slug(upload) == tag
    assert output_name("x_global_daily_2001_2010.nc", Shape(shapely.box(0, 0, 1, 1), name=slug(upload))) == (
        f"x_{tag}_daily_2001_2010.nc"
    )
