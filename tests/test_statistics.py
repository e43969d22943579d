"""Statistics per region and weight grids.

Every statistic of a field mean is checked against CDO run on the region masked into a file
(``fldsum -mul -gridarea``, ``fldmin``, ``fldmax``, ``fldstd``, ``fldpctl``); weighted means
against an independent computation from each cell's exact overlap with the outline (shapely,
cell by cell) times the weight grid; every column of a table against the field statistics of
its region alone.
"""

import shutil
import subprocess

import netCDF4
import numpy as np
import pytest
import shapely

from isimip_mask.engine.statistics import parse_statistics
from isimip_mask.errors import InputError
from isimip_mask.files.grid import Grid
from isimip_mask.files.netcdf import write_mask
from isimip_mask.regions.kinds import Country
from isimip_mask.regions.masks import grid_mask
from isimip_mask.requests.chain import parse_operations
from isimip_mask.requests.limits import Limits
from isimip_mask.requests.submission import build_request
from tests.helpers import DIS, DIS_FILE, global_axes, write_netcdf

EPS32 = np.finfo(np.float32).eps
STATISTICS = ["mean", "sum", "min", "max", "std", "p90", "median", "p2.5"]
CDO = {
    "sum": ["fldsum", "-mul", "{masked}", "-gridarea", "{masked}"],
    "min": ["fldmin", "{masked}"],
    "max": ["fldmax", "{masked}"],
    "std": ["fldstd", "{masked}"],
    "p90": ["fldpctl,90", "{masked}"],
    "median": ["fldpctl,50", "{masked}"],
    "p2.5": ["fldpctl,2.5", "{masked}"],
    "mean": ["fldmean", "{masked}"],
}
OUTPUT = {"mean": "tas", "median": "tas_p50", "p2.5": "tas_p2_5"}
# CDO's cell areas are spherical polygons, ours the exact band of the sphere: 1e-5 apart at most
AREA_RTOL = 2e-5


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """A global 0.5° file of six daily steps, three in 2001 and three in 2002, with random
    values and scattered missing cells."""
    lat, lon = global_axes()
    rng = np.random.default_rng(11)
    values = rng.normal(280, 20, (6, lat.size, lon.size)).astype("f4")
    values[rng.random(values.shape) < 0.05] = 1e20
    folder = tmp_path_factory.mktemp("statistics")
    return write_netcdf(
        folder / "t_global_daily_2001_2002.nc", lat, lon, 6, units="days since 2001-12-29", values=values
    )


def weight_file(path, years=None, seed=5, lat=None, lon=None):
    """A weight grid ``pop``: positive random weights, some 0 and some missing; annual steps
    for ``years`` (none: one field)."""
    if lat is None:
        lat, lon = global_axes()
    rng = np.random.default_rng(seed)
    shape = (len(years), lat.size, lon.size) if years else (lat.size, lon.size)
    values = rng.uniform(0, 1000, shape).astype("f4")
    values[rng.random(shape) < 0.1] = 0
    values[rng.random(shape) < 0.05] = 1e20
    n_times = len(years) if years else None
    units = f"years since {years[0]}-01-01" if years else "days since 1661-01-01"
    return write_netcdf(path, lat, lon, n_times, units=units, name="pop", values=values)


def read(path, name):
    with netCDF4.Dataset(path) as dataset:
        dataset.set_auto_maskandscale(False)
        return np.asarray(dataset[name][...], "f8").reshape(dataset[name].shape[0], -1)


def missing(values):
    return np.where(values > 1e19, np.nan, values)


@pytest.mark.skipif(shutil.which("cdo") is None, reason="cdo is not installed (apt-get install cdo)")
@pytest.mark.parametrize("code", ["FRA", "CHE", "DNK", "NLD"])  # large, land-locked, coastal, small coastal
def test_every_statistic_of_a_country_equals_cdo_on_the_country_masked(data_file, tmp_path, code):
    plan = parse_operations(
        [{"operation": "mask_country", "country": code, "compute_mean": True, "statistics": STATISTICS}]
    )
    ours = plan.run(data_file, tmp_path)
    assert ours.name == f"t_{code.lower()}_fldstats_daily_2001_2002.nc"
    with netCDF4.Dataset(data_file) as dataset:
        grid = Grid.from_arrays(dataset["lat"][:], dataset["lon"][:])
    mask = write_mask(tmp_path / "mask.nc", grid, grid_mask(grid, Country(code)))
    masked = tmp_path / "masked.nc"
    subprocess.run(["cdo", "-s", "ifthen", str(mask), str(data_file), str(masked)], check=True)
    for statistic, command in CDO.items():
        reference = tmp_path / f"{statistic}.nc"
        arguments = [str(masked) if part == "{masked}" else part for part in command]
        subprocess.run(["cdo", "-s", *arguments, str(reference)], check=True, capture_output=True)
        expected = missing(read(reference, "tas" if statistic != "sum" else "tas").ravel())
        found = missing(read(ours, OUTPUT.get(statistic, f"tas_{statistic}")).ravel())
        rtol = {"sum": AREA_RTOL, "std": 1e-5, "mean": 8 * EPS32}.get(statistic, 0)
        np.testing.assert_allclose(found, expected, rtol=rtol, err_msg=f"{code} {statistic}")
    with netCDF4.Dataset(ours) as dataset:
        assert dataset["tas_sum"].units == "K m2"
        assert dataset["tas_max"].cell_methods == "lat: lon: maximum"
        assert dataset["tas"].cell_methods == "lat: lon: mean (area-weighted)"


def test_every_column_of_a_table_equals_the_field_statistics_of_its_region(data_file, tmp_path):
    codes = ["DEU", "FJI", "LUX", "CHE"]  # FJI across 180°; LUX: one or two cells
    weights = {"file": "pop.nc", "var": "pop", "fraction": True}
    limits = Limits(uploads={"pop.nc": weight_file(tmp_path / "pop.nc").read_bytes()}, upload_dir=tmp_path)
    table = parse_operations(
        [{"operation": "mask_regions", "regions": codes, "statistics": STATISTICS, "weights": weights}],
        limits,
    ).run(data_file, tmp_path / "table")
    for column, code in enumerate(codes):
        single = parse_operations(
            [
                {
                    "operation": "mask_country",
                    "country": code,
                    "compute_mean": True,
                    "statistics": STATISTICS,
                    "weights": weights,
                }
            ],
            limits,
        ).run(data_file, tmp_path / code)
        for statistic in STATISTICS:
            name = OUTPUT.get(statistic, f"tas_{statistic}")
            np.testing.assert_array_equal(
                read(table, name)[:, column], read(single, name).ravel(), err_msg=code
            )


def overlap_weights(lat, lon, geometry, pop):
    """Each cell's exact share inside ``geometry`` (its intersection alone, by shapely) times
    cos(lat) and the weight grid: the weights of a fractional, weighted area mean."""
    west, south, east, north = geometry.bounds
    rows = np.flatnonzero((lat > south - 0.5) & (lat < north + 0.5))
    cols = np.flatnonzero((lon > west - 0.5) & (lon < east + 0.5))
    weights = np.zeros((lat.size, lon.size))
    for r in rows:
        for c in cols:
            cell = shapely.box(lon[c] - 0.25, lat[r] - 0.25, lon[c] + 0.25, lat[r] + 0.25)
            share = shapely.intersection(geometry, cell).area / 0.25
            weights[r, c] = share * np.cos(np.deg2rad(lat[r])) * pop[r, c]
    return weights


@pytest.mark.parametrize("code", ["CHE", "DNK", "NLD", "LUX"])  # land-locked, coastal, small
def test_a_weighted_fractional_mean_equals_an_independent_overlap_computation(data_file, tmp_path, code):
    lat, lon = global_axes()
    pop_file = weight_file(tmp_path / "pop.nc")
    pop = missing(read(pop_file, "pop").reshape(lat.size, lon.size))
    pop = np.nan_to_num(pop)
    limits = Limits(uploads={"pop.nc": pop_file.read_bytes()}, upload_dir=tmp_path)
    weights = {"file": "pop.nc", "var": "pop", "fraction": True}
    plan = parse_operations(
        [{"operation": "mask_country", "country": code, "compute_mean": True, "weights": weights}], limits
    )
    ours = read(plan.run(data_file, tmp_path), "tas").ravel()
    assert plan.output_name(data_file.name) == f"t_{code.lower()}_fldmean_pop-weighted_daily_2001_2002.nc"
    cell_weights = overlap_weights(lat, lon, Country(code).geometry, pop)
    values = missing(read(data_file, "tas").reshape(-1, lat.size, lon.size))
    for step in range(values.shape[0]):
        valid = np.isfinite(values[step]) & (cell_weights > 0)
        expected = np.average(values[step][valid], weights=cell_weights[valid])
        np.testing.assert_allclose(ours[step], expected, rtol=4 * EPS32)


def test_yearly_weights_weigh_the_steps_of_their_own_year(data_file, tmp_path):
    lat, lon = global_axes()
    pop_file = weight_file(tmp_path / "pop.nc", years=[2000, 2001, 2002])
    pop = np.nan_to_num(missing(read(pop_file, "pop").reshape(3, lat.size, lon.size)))
    limits = Limits(uploads={"pop.nc": pop_file.read_bytes()}, upload_dir=tmp_path)
    plan = parse_operations(
        [
            {
                "operation": "mask_country",
                "country": "DEU",
                "compute_mean": True,
                "weights": {"file": "pop.nc", "var": "pop", "per_cell": True},
                "statistics": ["mean", "sum"],
            }
        ],
        limits,
    )
    result = plan.run(data_file, tmp_path)
    means, sums = read(result, "tas").ravel(), read(result, "tas_sum").ravel()
    germany = grid_mask(Grid.from_arrays(lat, lon), Country("DEU"))
    values = missing(read(data_file, "tas").reshape(-1, lat.size, lon.size))
    for step, year in enumerate([1, 1, 1, 2, 2, 2]):  # 2001-12-29 .. 2002-01-03
        valid = np.isfinite(values[step]) & germany & (pop[year] > 0)
        weights = pop[year][valid]  # per cell: people, not people per m²
        np.testing.assert_allclose(
            means[step], np.average(values[step][valid], weights=weights), rtol=4 * EPS32
        )
        np.testing.assert_allclose(sums[step], (values[step][valid] * weights).sum(), rtol=4 * EPS32)


def test_weights_that_miss_a_year_or_the_grid_are_refused_at_submit_naming_both(settings):
    lat, lon = global_axes()
    weight_file(settings.input_path / "pop_2001.nc", years=[2001])  # one step: every year alike
    weight_file(settings.input_path / "pop_2001_2002.nc", years=[2001, 2002])
    coarse_lat, coarse_lon = global_axes(1.0)
    weight_file(settings.input_path / "pop_1deg.nc", lat=coarse_lat, lon=coarse_lon)

    def submit(file, period=None):
        operations = [
            {
                "operation": "mask_country",
                "country": "FRA",
                "compute_mean": True,
                "weights": {"file": file, "var": "pop"},
            }
        ]
        operations += [{"operation": "select_time", "period": period}] if period else []
        return build_request(settings, [DIS], operations)

    assert submit("pop_2001.nc").plan.weights.var == "pop"  # the file reads 2001-2003
    with pytest.raises(InputError, match=r"covers 2001-2002, the request reads 2001-2003 \(1 year"):
        submit("pop_2001_2002.nc")
    assert submit("pop_2001_2002.nc", [2001, 2002]).plan.weights.name == "pop_2001_2002.nc"
    with pytest.raises(InputError, match=r"on another grid \(1° x 1°, 180 x 360 cells\) that does not hold"):
        submit("pop_1deg.nc")
    with pytest.raises(InputError, match="weights: path 'nothere.nc' does not exist under the data root"):
        submit("nothere.nc")


def test_weights_of_a_global_file_serve_a_regional_cut_out(tmp_path):
    """The real French sample (19 x 27 cells) takes its weights from a global grid."""
    lat, lon = global_axes()
    pop_file = weight_file(tmp_path / "pop.nc")
    pop = np.nan_to_num(missing(read(pop_file, "pop").reshape(lat.size, lon.size)))
    limits = Limits(uploads={"pop.nc": pop_file.read_bytes()}, upload_dir=tmp_path)
    plan = parse_operations(
        [
            {
                "operation": "mask_country",
                "country": "FRA",
                "compute_mean": True,
                "weights": {"file": "pop.nc", "var": "pop"},
            }
        ],
        limits,
    )
    ours = read(plan.run(DIS_FILE, tmp_path), "dis").ravel()
    with netCDF4.Dataset(DIS_FILE) as dataset:
        small_lat, small_lon = np.asarray(dataset["lat"][:], "f8"), np.asarray(dataset["lon"][:], "f8")
        values = missing(np.asarray(dataset["dis"][:5], "f8"))
    grid = Grid.from_arrays(small_lat, small_lon)
    rows, cols = grid.positions_in(Grid.from_arrays(lat, lon))
    weights = (
        pop[np.ix_(rows, cols)] * np.cos(np.deg2rad(small_lat))[:, None] * grid_mask(grid, Country("FRA"))
    )
    for step in range(5):
        valid = np.isfinite(values[step]) & (weights > 0)
        np.testing.assert_allclose(
            ours[step], np.average(values[step][valid], weights=weights[valid]), rtol=4 * EPS32
        )


def test_a_csv_table_has_a_column_per_region_and_statistic(data_file, tmp_path):
    plan = parse_operations(
        [
            {
                "operation": "mask_regions",
                "regions": ["FRA", "DEU"],
                "statistics": ["mean", "max", "sum"],
                "output_csv": True,
            }
        ]
    )
    header = plan.run(data_file, tmp_path).read_text().splitlines()[0]
    assert header == "time,FRA [K],DEU [K],FRA max [K],DEU max [K],FRA sum [K m2],DEU sum [K m2]"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"statistics": ["mean", "avg"]}, "statistic 'avg' is not one of mean, sum, min, max, std, median"),
        ({"statistics": ["p101"]}, "statistic 'p101' is not one of"),
        ({"statistics": []}, "statistics must be a list of 1 to 12"),
        ({"weights": {"file": "pop.nc"}}, "weights must name a file .* and its variable"),
        ({"weights": {"file": "pop.nc", "var": "pop", "area": 1}}, "unknown keys: area"),
        ({"weights": {"file": "pop.nc", "var": "nope"}}, "has no variable 'nope'"),
        ({"weights": {"file": "pop.nc", "var": "pop", "fraction": "yes"}}, "must be true or false"),
        ({"weights": {"file": "notes.nc", "var": "pop"}}, "the weight file notes.nc is not a NetCDF file"),
        ({"compute_mean": False, "statistics": ["max"]}, "add compute_mean, or use mask_regions"),
    ],
)
def test_bad_statistics_and_weights_get_a_clear_message(tmp_path, change, message):
    uploads = {"pop.nc": weight_file(tmp_path / "pop.nc").read_bytes(), "notes.nc": b"just text"}
    limits = Limits(uploads=uploads, upload_dir=tmp_path)
    operation = {"operation": "mask_country", "country": "FRA", "compute_mean": True, **change}
    with pytest.raises(InputError, match=message):
        parse_operations([operation], limits)


def test_statistics_are_read_in_order_without_repeats():
    assert parse_statistics(["max", "median", "p50", "mean", "max"]) == ("max", "p50", "mean")
    assert parse_statistics("sum") == ("sum",)


@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_ranked_statistics_of_values_of_both_signs_equal_numpy_nearest_rank(tmp_path, dtype):
    """Negative and positive values, zeros of both signs, NaN and the fill value, in a table of
    several regions (float32 is ranked by its bits, other types by value)."""
    lat, lon = global_axes()
    rng = np.random.default_rng(7)
    values = rng.normal(0, 5, (3, lat.size, lon.size)).astype(dtype)
    values[rng.random(values.shape) < 0.05] = -0.0
    values[rng.random(values.shape) < 0.05] = np.nan
    values[rng.random(values.shape) < 0.05] = 1e20
    source = write_netcdf(tmp_path / "signs.nc", lat, lon, 3, values=values, dtype=dtype)
    codes, ranked = ["NOR", "ESP", "ITA"], ["min", "p2.5", "median", "p90", "max"]
    table = parse_operations([{"operation": "mask_regions", "regions": codes, "statistics": ranked}]).run(
        source, tmp_path
    )
    grid = Grid.from_arrays(lat, lon)
    for column, code in enumerate(codes):
        inside = grid_mask(grid, Country(code))
        for step in range(3):
            kept = values[step][inside & np.isfinite(values[step]) & (values[step] != 1e20)]
            for statistic in ranked:
                named = {"min": 0, "max": 100, "median": 50}
                q = named[statistic] if statistic in named else float(statistic[1:])
                expected = np.percentile(kept, q, method="inverted_cdf")
                name = OUTPUT.get(statistic, f"tas_{statistic.replace('.', '_')}")
                assert read(table, name)[step, column] == expected, (code, step, statistic)
