"""Many regions and many points in one pass, and fractional cell weights.

Each column of a table is checked against an independent computation: the region masked into
a file and run through ``cdo fldmean``, the single-point series, and (for fractional weights)
each cell's exact overlap with the outline computed by shapely, cell by cell.
"""

import csv
import json
import shutil
import subprocess

import netCDF4
import numpy as np
import pytest
import shapely

from isimip_mask.errors import InputError
from isimip_mask.files.grid import Grid
from isimip_mask.files.netcdf import write_mask
from isimip_mask.regions.countries import country_catalogue
from isimip_mask.regions.kinds import BBox, Country, Intersection, LandOnly, Point
from isimip_mask.regions.masks import grid_mask
from isimip_mask.regions.sets import PointSet, RegionSet
from isimip_mask.regions.shapes import read_points_csv
from isimip_mask.requests.chain import parse_operations
from isimip_mask.requests.limits import Limits
from isimip_mask.requests.plan import Plan
from isimip_mask.requests.submission import build_request
from tests.helpers import DATA, DIS, DIS_FILE, global_axes, write_netcdf

# CDO writes its means as float32, from area weights of its own: on the real sample they are up to
# 6e-7 off the float64 mean with cos(lat) weights, which ours equal (checked by hand)
EPS32 = np.finfo(np.float32).eps
COUNTRIES = ("DEU", "FRA", "MLT", "DNK", "CHE")


@pytest.fixture(scope="module")
def global_file(tmp_path_factory):
    """A global 0.5° file of 12 steps with random values and scattered missing cells."""
    lat, lon = global_axes()
    rng = np.random.default_rng(3)
    values = rng.normal(280, 20, (12, lat.size, lon.size)).astype("f4")
    values[rng.random(values.shape) < 0.05] = 1e20
    return write_netcdf(
        tmp_path_factory.mktemp("tables") / "t_global_daily_2001_2001.nc", lat, lon, 12, values=values
    )


def read(path, name):
    with netCDF4.Dataset(path) as dataset:
        dataset.set_auto_maskandscale(False)
        return np.asarray(dataset[name][...])


def table_csv(path):
    rows = list(csv.reader(path.open()))
    return rows[0], np.array([[float(v) if v else np.nan for v in row[1:]] for row in rows[1:]])


@pytest.mark.skipif(shutil.which("cdo") is None, reason="cdo is not installed (apt-get install cdo)")
@pytest.mark.parametrize(
    "which, codes",
    [("global", COUNTRIES), ("real", ("FRA", "CHE", "BEL", "LUX"))],
    ids=["global file", "real sample"],
)
def test_each_column_of_mask_regions_is_cdo_fldmean_of_the_region_masked(global_file, tmp_path, which, codes):
    source, name = (global_file, "tas") if which == "global" else (DIS_FILE, "dis")
    plan = parse_operations([{"operation": "mask_regions", "regions": list(codes), "output_csv": True}])
    header, table = table_csv(plan.run(source, tmp_path))
    assert header[0] == "time" and [h.split(" [")[0] for h in header[1:]] == list(codes)
    with netCDF4.Dataset(source) as dataset:
        grid = Grid.from_arrays(dataset["lat"][:], dataset["lon"][:])
    for column, code in enumerate(codes):
        mask = write_mask(tmp_path / f"{code}.nc", grid, grid_mask(grid, Country(code)))
        reference = tmp_path / f"{code}_cdo.nc"
        subprocess.run(
            ["cdo", "-s", "fldmean", "-ifthen", str(mask), str(source), str(reference)],
            check=True,
            capture_output=True,
        )
        expected = read(reference, name).ravel()
        np.testing.assert_allclose(
            table[:, column], np.where(expected > 1e19, np.nan, expected), rtol=8 * EPS32
        )


def test_all_countries_in_one_pass_equal_one_field_mean_each(global_file, tmp_path):
    plan = parse_operations([{"operation": "mask_regions", "regions": "countries"}])
    assert len(plan.region.names) == len(country_catalogue())
    ours = plan.run(global_file, tmp_path)
    names = [n.tobytes().decode().rstrip("\0") for n in read(ours, "region_name")]
    values = read(ours, "tas")
    assert values.shape == (12, len(names))
    for code in ("DEU", "USA", "MLT", "VAT", "FJI"):  # VAT: no cell centre; FJI: across 180°
        single = Plan(Country(code), compute_mean=True).run(global_file, tmp_path / code)
        np.testing.assert_array_equal(values[:, names.index(code)], read(single, "tas").ravel())
    with netCDF4.Dataset(ours) as dataset:
        assert dataset.featureType == "timeSeries" and dataset["region_name"].cf_role == "timeseries_id"
        assert dataset["tas"].coordinates == "lat lon region_name"


def test_many_points_equal_one_point_series_each(global_file, tmp_path):
    points = [[52.5, 13.4], {"name": "Paris", "lat": 48.85, "lon": 2.35}, [-33.9, 151.2], [0.1, 179.9]]
    points += [[-33.8, 151.3]]  # the cell of the third again: each keeps its own column
    plan = parse_operations([{"operation": "select_points", "points": points, "output_csv": True}])
    header, table = table_csv(plan.run(global_file, tmp_path))
    assert header[1:] == [
        "lat52.5_lon13.4 [K]",
        "Paris [K]",
        "lat-33.9_lon151.2 [K]",
        "lat0.1_lon179.9 [K]",
        "lat-33.8_lon151.3 [K]",
    ]
    for column, point in enumerate(points):
        lat, lon = (point["lat"], point["lon"]) if isinstance(point, dict) else point
        single = read(Plan(Point(lat, lon)).run(global_file, tmp_path / str(column)), "tas").ravel()
        expected = np.where(single > 1e19, np.nan, single)
        np.testing.assert_array_equal(table[:, column].astype("f4"), expected)


def test_nan_and_infinite_values_count_as_missing_in_a_table(tmp_path):
    """Each step misses other cells (the weights kept for one pattern must not serve another):
    a NaN or an infinity drops out of its region's mean like the fill value does."""
    lat, lon = global_axes()
    values = np.random.default_rng(5).normal(280, 20, (4, lat.size, lon.size)).astype("f4")
    germany = grid_mask(Grid.from_arrays(lat, lon), Country("DEU"))
    rows, cols = np.nonzero(germany)
    values[1, rows[:5], cols[:5]] = np.nan
    values[2, rows[5:9], cols[5:9]] = np.inf
    values[3, rows, cols] = np.nan  # all of it missing: no mean
    source = write_netcdf(tmp_path / "in.nc", lat, lon, 4, values=values)
    plan = parse_operations([{"operation": "mask_regions", "regions": ["DEU", "FRA"]}])
    table = read(plan.run(source, tmp_path), "tas")
    weights = np.cos(np.deg2rad(lat))[rows]
    for step in range(3):
        kept = np.isfinite(values[step, rows, cols])
        expected = np.average(values[step, rows, cols][kept], weights=weights[kept])
        np.testing.assert_allclose(table[step, 0], expected, rtol=EPS32)
    assert table[3, 0] > 1e19 and table[3, 1] < 1e19  # written as the fill value; France has its mean


def test_monthly_means_of_a_table(tmp_path):
    lat, lon = global_axes()
    source = write_netcdf(tmp_path / "in.nc", lat, lon, 70)  # days 0..69 since 1661-01-01
    plan = parse_operations(
        [
            {"operation": "select_points", "points": [[10.25, 20.25]]},
            {"operation": "time_mean", "window": "month"},
        ]
    )
    ours = plan.run(source, tmp_path)
    np.testing.assert_array_equal(read(ours, "time_bnds"), [[0, 30], [31, 58], [59, 69]])
    np.testing.assert_array_equal(read(ours, "time"), [15, 44.5, 64])
    single = Plan(Point(10.25, 20.25), window="month").run(source, tmp_path / "single")
    np.testing.assert_array_equal(read(ours, "tas").ravel(), read(single, "tas").ravel())


def exact_mean(path, geometry, step=0):
    """The area-weighted mean with each cell's share computed by intersecting it, alone, with the
    whole outline: slow, and independent of the engine's row bands and containment tests."""
    with netCDF4.Dataset(path) as dataset:
        dataset.set_auto_maskandscale(False)
        lat, lon, values = dataset["lat"][:], dataset["lon"][:], dataset["tas"][step]
    west, south, east, north = geometry.bounds
    rows = np.flatnonzero((lat + 0.25 > south) & (lat - 0.25 < north))
    cols = np.flatnonzero((lon + 0.25 > west) & (lon - 0.25 < east))
    weights = np.zeros((rows.size, cols.size))
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            cell = shapely.box(lon[col] - 0.25, lat[row] - 0.25, lon[col] + 0.25, lat[row] + 0.25)
            weights[i, j] = shapely.intersection(geometry, cell).area / 0.25 * np.cos(np.deg2rad(lat[row]))
    block = values[np.ix_(rows, cols)].astype("f8")
    valid = block < 1e19
    return (block * weights)[valid].sum() / weights[valid].sum()


@pytest.mark.parametrize(
    "region",
    [Country("DEU"), Country("MLT"), Intersection((LandOnly(), BBox(8.1, 12.9, 54.1, 57.9)))],
    ids=["DEU", "MLT", "coast of Denmark"],
)
def test_fractional_means_equal_an_exact_overlap_computed_cell_by_cell(global_file, tmp_path, region):
    ours = Plan(region, compute_mean=True, fractional=True).run(global_file, tmp_path)
    assert read(ours, "tas").ravel()[0] == pytest.approx(exact_mean(global_file, region.geometry), rel=1e-6)
    whole = Plan(region, compute_mean=True).run(global_file, tmp_path / "whole")
    assert read(whole, "tas").ravel()[0] != read(ours, "tas").ravel()[0]  # the weights really differ


def test_fractional_weights_in_a_table_equal_the_single_region(global_file, tmp_path):
    plan = parse_operations([{"operation": "mask_regions", "regions": ["MLT", "LUX"], "weights": "fraction"}])
    table = read(plan.run(global_file, tmp_path), "tas")
    for column, code in enumerate(["MLT", "LUX"]):
        single = Plan(Country(code), compute_mean=True, fractional=True).run(global_file, tmp_path / code)
        np.testing.assert_array_equal(table[:, column], read(single, "tas").ravel())


def test_every_feature_of_an_upload_is_a_region_named_by_its_properties(global_file, tmp_path):
    collection = json.loads((DATA / "ile-de-france-box.geojson").read_text())
    feature = collection["features"][0] if collection["type"] == "FeatureCollection" else collection
    features = [
        {**feature, "properties": {"name": "first"}},
        {**feature, "properties": {"NAME": "second"}},
        {**feature, "properties": {}},
    ]
    upload = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    limits = Limits(uploads={"parts.geojson": upload})
    plan = parse_operations([{"operation": "mask_regions", "regions": "parts.geojson"}], limits)
    assert plan.region.names == ("first", "second", "parts_2")
    assert parse_operations(plan.operations()).region.names == plan.region.names
    table = read(plan.run(global_file, tmp_path), "tas")
    np.testing.assert_array_equal(table[:, 0], table[:, 1])


def test_a_points_csv_upload_is_read_by_its_header():
    data = b"city,lon,lat,name\nx,13.4,52.5,Berlin\ny,2.35,48.85,\n"
    assert read_points_csv(data, "p.csv", 1000) == [
        {"name": "Berlin", "lat": 52.5, "lon": 13.4},
        {"name": "line_3", "lat": 48.85, "lon": 2.35},
    ]
    limits = Limits(uploads={"p.csv": data})
    plan = parse_operations([{"operation": "select_points", "points": "p.csv"}], limits)
    assert isinstance(plan.region, PointSet) and plan.region.names == ("Berlin", "line_3")


@pytest.mark.parametrize(
    "operations, message",
    [
        ([{"operation": "select_points", "points": []}], "points must be a list"),
        ([{"operation": "select_points", "points": [[91, 0]]}], "point 0: point lat=91"),
        (
            [{"operation": "select_points", "points": [{"name": "a", "lat": 1, "lon": 1}] * 2}],
            "given twice: a",
        ),
        ([{"operation": "select_points", "points": "missing.csv"}], "points must be a list"),
        ([{"operation": "mask_regions", "regions": ["DEU", "XXX"]}], "'XXX' is not a known ISO3 code"),
        ([{"operation": "mask_regions", "regions": 5}], "regions must be 'countries'"),
        (
            [{"operation": "mask_regions", "regions": "countries"}, {"operation": "mask_landonly"}],
            "cannot be chained",
        ),
        (
            [{"operation": "mask_regions", "regions": ["DEU"], "crop": True}],
            "crop does not apply to mask_regions",
        ),
        (
            [{"operation": "mask_country", "country": "DEU", "weights": "fraction"}],
            "weights 'fraction' applies to means",
        ),
        (
            [{"operation": "mask_country", "country": "DEU", "weights": "area"}],
            "weights must be one of cells, fraction",
        ),
    ],
)
def test_bad_tables_say_what_is_wrong(operations, message):
    with pytest.raises(InputError) as raised:
        parse_operations(operations)
    assert message in str(raised.value)


def test_a_csv_upload_with_bad_lines_says_which(tmp_path):
    with pytest.raises(InputError, match="line 3: lat and lon must be numbers"):
        read_points_csv(b"name,lat,lon\na,1,2\nb,north,2\n", "p.csv", 1000)
    with pytest.raises(InputError, match="needs a header line with the columns name,lat,lon"):
        read_points_csv(b"1,2\n3,4\n", "p.csv", 1000)


def test_regions_and_points_that_miss_a_file_have_no_column(settings, tmp_path):
    request = build_request(
        settings, [DIS], [{"operation": "mask_regions", "regions": ["FRA", "USA", "CHE"]}]
    )
    assert isinstance(request.plan.region, RegionSet)
    source = settings.input_path / DIS
    ours = request.plan.run(source, tmp_path)
    names = [n.tobytes().decode().rstrip("\0") for n in read(ours, "region_name")]
    assert names == ["FRA", "CHE"]
    points = [{"name": "Paris", "lat": 48.85, "lon": 2.35}, {"name": "New York", "lat": 40.7, "lon": -74.0}]
    request = build_request(settings, [DIS], [{"operation": "select_points", "points": points}])
    ours = request.plan.run(source, tmp_path / "points")
    assert [n.tobytes().decode().rstrip("\0") for n in read(ours, "region_name")] == ["Paris"]
    with pytest.raises(InputError, match=r"none of the 1 points lies on the grid of this file \(lat 42.25"):
        build_request(settings, [DIS], [{"operation": "select_points", "points": [[40.7, -74.0]]}])


def test_a_table_too_large_to_hold_is_refused_with_the_ways_out(settings, monkeypatch):
    import isimip_mask.requests.submission

    monkeypatch.setattr(isimip_mask.requests.submission, "MAX_TABLE_VALUES", 1095 * 3 - 1)
    operations = [{"operation": "mask_regions", "regions": ["FRA", "CHE", "BEL"]}]
    with pytest.raises(InputError, match=r"1,095 steps x 3 columns = 3,285 values, more than the limit"):
        build_request(settings, [DIS], operations)
    operations.append({"operation": "time_mean", "window": "month"})  # 36 rows
    assert build_request(settings, [DIS], operations).plan.window == "month"


def test_a_table_has_no_field_for_the_quick_look(global_file, tmp_path):
    from isimip_mask.ui.quicklook import first_field

    table = parse_operations([{"operation": "mask_regions", "regions": ["FRA", "DEU"]}]).run(
        global_file, tmp_path
    )
    assert first_field(table) is None


def test_a_column_centre_is_taken_round_the_globe_in_the_file_own_longitudes():
    from isimip_mask.engine.tables import columns_of

    lat, _ = global_axes()
    for lon, point_lon in ((global_axes()[1], -9.75), (global_axes(lon0360=True)[1], 350.25)):
        grid = Grid.from_arrays(lat, lon)
        fiji = columns_of(grid, parse_operations([{"operation": "mask_regions", "regions": ["FJI"]}]).region)
        assert 175 < fiji.lon[0] < 180  # its cells lie on both sides of 180°: not near 0°
        points = parse_operations([{"operation": "select_points", "points": [[0.25, -9.75]]}]).region
        assert columns_of(grid, points).lon[0] == point_lon


def test_the_cells_of_every_country_are_built_once_per_grid_for_every_worker(tmp_path, monkeypatch):
    """A job runs in a forked process: what it builds is kept in the shared folder, and the
    next job (here: this process with its memory emptied) reads it instead of building it."""
    from isimip_mask.engine import tables

    lat, lon = global_axes()
    grid = Grid.from_arrays(lat, lon)
    region = parse_operations([{"operation": "mask_regions", "regions": "countries"}]).region
    tables._KEPT.clear()
    built = tables.columns_of(grid, region, cache=tmp_path)
    (kept,) = tmp_path.glob("columns-*.npz")
    tables._KEPT.clear()
    monkeypatch.setattr(tables, "_columns_of", lambda *args: pytest.fail("built again"))
    read_back = tables.columns_of(grid, region, cache=tmp_path)
    assert read_back.names == built.names and read_back.rows == built.rows
    for name in tables.COLUMN_ARRAYS:
        np.testing.assert_array_equal(getattr(read_back, name), getattr(built, name))
    # other regions, another rule: other files; a damaged file is built again, not trusted
    monkeypatch.undo()
    tables._KEPT.clear()
    two = parse_operations([{"operation": "mask_regions", "regions": ["FRA", "DEU"]}]).region
    tables.columns_of(grid, two, cache=tmp_path)
    tables.columns_of(grid, two, fractional=True, cache=tmp_path)
    assert len(list(tmp_path.glob("columns-*.npz"))) == 3
    kept.write_bytes(b"not an npz")
    tables._KEPT.clear()
    assert tables.columns_of(grid, region, cache=tmp_path).names == built.names
    tables._KEPT.clear()
