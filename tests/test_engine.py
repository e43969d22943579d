import csv

import netCDF4
import numpy as np
import pytest

from isimip_mask import engine
from isimip_mask.engine import chunks, streaming
from isimip_mask.engine.options import RunOptions
from isimip_mask.errors import DatasetError
from isimip_mask.files.grid import Grid
from isimip_mask.files.netcdf import decode_times
from isimip_mask.regions.kinds import BBox, Country, LandOnly, Point
from isimip_mask.regions.masks import grid_mask
from isimip_mask.requests.plan import Plan
from tests.helpers import DIS_FILE, FILL, YIELD_FILE, global_axes, write_netcdf


def read(path, name="tas"):
    with netCDF4.Dataset(path) as dataset:
        dataset.set_auto_maskandscale(False)
        return dataset[name][...], dataset["lat"][:], dataset["lon"][:]


def region_mask(path, region):
    _, lat, lon = read(path)
    return grid_mask(Grid.from_arrays(lat, lon), region)


@pytest.mark.parametrize(
    ("ascending", "lon0360", "region"),
    [
        (False, False, BBox(-10, 40, 35, 70)),
        (False, False, BBox(170, -170, -10, 10)),
        (True, False, Country("DEU")),
        (False, True, BBox(-10, 40, 35, 70)),
        (True, True, Country("FJI")),
        (False, False, LandOnly()),
    ],
)
def test_masked_values_are_bit_identical_inside_and_fill_outside(tmp_path, ascending, lon0360, region):
    source = write_netcdf(tmp_path / "in.nc", *global_axes(ascending=ascending, lon0360=lon0360))
    target = engine.mask_file(source, tmp_path / "out.nc", region)
    before, after = read(source)[0], read(target)[0]
    mask = region_mask(source, region)
    assert after.dtype == before.dtype and after.shape == before.shape
    np.testing.assert_array_equal(after[:, mask], before[:, mask])
    assert np.all(after[:, ~mask] == np.float32(FILL))


def test_attributes_coordinates_and_encoding_are_kept(tmp_path):
    source = write_netcdf(tmp_path / "in.nc", *global_axes(), bounds=True)
    target = engine.mask_file(source, tmp_path / "out.nc", Country("FRA"))
    with netCDF4.Dataset(source) as src, netCDF4.Dataset(target) as out:
        assert out.data_model == src.data_model
        assert out.dimensions["time"].isunlimited()
        for name, variable in src.variables.items():
            assert out[name].dtype == variable.dtype
            assert out[name].ncattrs() == variable.ncattrs()
            for attr in variable.ncattrs():
                np.testing.assert_array_equal(out[name].getncattr(attr), variable.getncattr(attr))
            if "tas" not in variable.dimensions and name != "tas":
                np.testing.assert_array_equal(out[name][:], variable[:])
        filters = out["tas"].filters()
        assert filters["zlib"] and filters["complevel"] == 5 and filters["shuffle"]
        assert out["tas"].chunking() == [1, 360, 720]
        assert {a: out.getncattr(a) for a in out.ncattrs() if a != "history"} == {
            a: src.getncattr(a) for a in src.ncattrs() if a != "history"
        }
        history = out.history.splitlines()
        assert "isimip-mask" in history[0] and "masked tas to fra" in history[0]
        assert history[1:] == ["made by the tests"]


@pytest.mark.parametrize(
    ("region", "shape", "lon_range"),
    [
        (BBox(-10, 40, 35, 70), (70, 100), (-9.75, 39.75)),
        (BBox(170, -170, -10, 10), (40, 40), (170.25, 189.75)),
        (Country("DEU"), None, (6.25, 14.75)),
    ],
)
def test_crop_cuts_to_the_region(tmp_path, region, shape, lon_range):
    source = write_netcdf(tmp_path / "in.nc", *global_axes(), bounds=True)
    target = engine.mask_file(source, tmp_path / "out.nc", region, crop=True)
    values, lat, lon = read(target)
    full, full_lat, full_lon = read(source)
    if shape:
        assert values.shape[1:] == shape
    assert (lon.min(), lon.max()) == pytest.approx(lon_range)
    assert np.all(np.diff(lon) > 0)
    for i, cell_lat in enumerate(lat):
        for j, cell_lon in enumerate(lon):
            row = int(np.flatnonzero(full_lat == cell_lat)[0])
            col = int(np.flatnonzero(np.isclose(full_lon, (cell_lon + 180) % 360 - 180))[0])
            if values[0, i, j] != np.float32(FILL):
                assert values[0, i, j] == full[0, row, col]
    with netCDF4.Dataset(target) as out:
        np.testing.assert_allclose(out["lon_bnds"][:, 0], lon - 0.25)


def test_two_dimensional_double_field_without_time(tmp_path):
    source = write_netcdf(tmp_path / "in.nc", *global_axes(1.0), n_times=None, dtype="f8")
    target = engine.mask_file(source, tmp_path / "out.nc", BBox(0, 10, 0, 10))
    values = read(target)[0]
    assert values.dtype == np.float64 and values.shape == (180, 360)
    assert (values != FILL).sum() == 100


LAYOUTS = {
    "isimip chunks (fast path)": {"chunks": (1, 36, 72)},
    "two steps per chunk (fast path)": {"chunks": (2, 36, 72)},
    "small chunks (netCDF4 path)": {"chunks": (5, 18, 36)},
    "tiles of one step (tile path)": {"chunks": (1, 9, 16)},
    "contiguous NetCDF-4 (netCDF4 path)": {"chunks": "contiguous", "fmt": "NETCDF4"},
    "NETCDF3 classic (netCDF4 path)": {"fmt": "NETCDF3_64BIT_OFFSET"},
}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("crop", [False, True])
def test_every_storage_layout_gives_the_same_result(tmp_path, layout, crop):
    source = write_netcdf(tmp_path / "in.nc", *global_axes(5.0), n_times=7, **layout)
    reference = write_netcdf(tmp_path / "ref.nc", *global_axes(5.0), n_times=7)
    region = BBox(150, -120, -40, 40)
    got = read(engine.mask_file(source, tmp_path / "out.nc", region, crop=crop))
    expected = read(engine.mask_file(reference, tmp_path / "ref_out.nc", region, crop=crop))
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    assert (
        got[0] != FILL
    ).sum() == 7 * 16 * 18  # 16 rows from -37.5 to 37.5, 18 columns from 152.5 to -122.5


def test_a_step_the_mask_does_not_change_is_copied_as_stored(tmp_path):
    """Step 0 has values only inside the box (like an impact model's land-only output under a
    land mask): its chunk is copied byte for byte, not deflated again; step 1 has values
    everywhere: its chunk is masked and written anew."""
    import h5py

    lat, lon = global_axes()
    region = BBox(-10, 40, 35, 70)
    inside = grid_mask(Grid.from_arrays(lat, lon), region)
    values = np.random.default_rng(1).normal(280, 5, (2, lat.size, lon.size)).astype("f4")
    values[0, ~inside] = FILL
    source = write_netcdf(tmp_path / "in.nc", lat, lon, 2, values=values, chunks=(1, lat.size, lon.size))
    target = engine.mask_file(source, tmp_path / "out.nc", region, options=RunOptions(threads=2))
    with h5py.File(source) as src, h5py.File(target) as out:
        stored = [src["tas"].id.read_direct_chunk((step, 0, 0))[1] for step in range(2)]
        written = [out["tas"].id.read_direct_chunk((step, 0, 0))[1] for step in range(2)]
    assert written[0] == stored[0] and written[1] != stored[1]
    after = read(target)[0]
    np.testing.assert_array_equal(after[0], values[0])
    np.testing.assert_array_equal(after[1], np.where(inside, values[1], np.float32(FILL)))


def test_a_chunk_never_written_reads_as_missing(tmp_path):
    """HDF5 stores no chunk for a step nobody wrote; it reads as the fill value, and so does it
    on the chunk path (which reads chunks from the file itself, where HDF5 lists them)."""
    import h5py

    lat, lon = global_axes()
    field = read(write_netcdf(tmp_path / "field.nc", lat, lon, 1))[0][0]
    source = write_netcdf(tmp_path / "in.nc", lat, lon, 0, chunks=(1, lat.size, lon.size), values=field[:0])
    with netCDF4.Dataset(source, "a") as dataset:  # steps 0 and 2 written, step 1 never
        dataset["time"][:] = [0, 1, 2]
        dataset["tas"][0] = field
        dataset["tas"][2] = np.where(field < 1e19, field + 20, field)
    before = read(source)[0]
    assert np.all(before[1] == np.float32(FILL))
    with h5py.File(source) as handle:
        assert handle["tas"].id.get_chunk_info_by_coord((1, 0, 0)).byte_offset is None
    assert chunks.supported(source, "tas")
    region = BBox(-10, 40, 35, 70)
    masked = read(engine.mask_file(source, tmp_path / "out.nc", region, options=RunOptions(threads=2)))[0]
    mask = region_mask(source, region)
    np.testing.assert_array_equal(masked[:, mask], before[:, mask])
    mean = Plan(region, compute_mean=True).run(source, tmp_path / "mean")
    values = read(mean)[0].ravel()
    assert values[0] < 1e19 and values[1] == np.float32(FILL) and values[2] == pytest.approx(values[0] + 20)


def test_chunk_path_reports_progress_per_step(tmp_path):
    source = write_netcdf(tmp_path / "in.nc", *global_axes(5.0), n_times=5, chunks=(2, 36, 72))
    seen = []
    engine.mask_file(
        source,
        tmp_path / "out.nc",
        LandOnly(),
        progress=lambda done, total: seen.append((done, total)),
        options=RunOptions(threads=2),
    )
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_slabs_stream_many_steps_in_bounded_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "SLAB_BYTES", 3 * 4 * 36 * 72)  # three steps per slab
    source = write_netcdf(tmp_path / "in.nc", *global_axes(5.0), n_times=10, chunks=(5, 18, 36))
    seen = []
    target = engine.mask_file(
        source, tmp_path / "out.nc", Country("BRA"), progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(3, 10), (6, 10), (9, 10), (10, 10)]
    mask = region_mask(source, Country("BRA"))
    np.testing.assert_array_equal(read(target)[0][:, mask], read(source)[0][:, mask])


def test_a_crash_leaves_no_output_and_no_partial_file(tmp_path, monkeypatch):
    source = write_netcdf(tmp_path / "in.nc", *global_axes(5.0), n_times=6)

    def boom(done, total):
        raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        engine.mask_file(source, tmp_path / "out" / "out.nc", LandOnly(), progress=boom)
    assert list((tmp_path / "out").iterdir()) == []


def test_the_input_is_not_modified(tmp_path):
    source = write_netcdf(tmp_path / "in.nc", *global_axes(5.0))
    before = source.read_bytes()
    engine.mask_file(source, tmp_path / "out.nc", LandOnly())
    assert source.read_bytes() == before


def test_real_discharge_file_masked_to_france(tmp_path):
    target = Plan(Country("FRA")).run(DIS_FILE, tmp_path)
    assert target.name == "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_fra_daily_DEMO_FR_2001_2003.nc"
    before, after = read(DIS_FILE, "dis")[0], read(target, "dis")[0]
    with netCDF4.Dataset(DIS_FILE) as src:
        grid = Grid.from_arrays(src["lat"][:], src["lon"][:])
    mask = grid_mask(grid, Country("FRA"))
    assert 0 < mask.sum() < mask.size
    np.testing.assert_array_equal(after[:, mask], before[:, mask])
    assert np.all(after[:, ~mask] == np.float32(FILL))


def test_years_since_time_axis_is_decoded():
    with netCDF4.Dataset(YIELD_FILE) as src:
        times = decode_times(src["time"][:], src["time"].units, src["time"].calendar)
    assert (times[0], times[-1], len(times)) == ("1861-01-01", "2005-01-01", 145)


@pytest.mark.parametrize(
    ("units", "first", "second"),
    [
        ("days since 1661-01-01 00:00:00", "1661-01-01", "1661-01-02"),
        ("hours since 2000-01-01", "2000-01-01T00:00:00", "2000-01-01T01:00:00"),
        ("months since 1901-01-01", "1901-01-01", "1901-02-01"),
        ("years since 1850-01-01", "1850-01-01", "1851-01-01"),
    ],
)
def test_time_units(units, first, second):
    assert decode_times(np.array([0.0, 1.0]), units)[:2] == [first, second]


def test_undecodable_time_units_are_refused():
    with pytest.raises(DatasetError, match="cannot be decoded"):
        decode_times(np.array([0.0]), "fortnights since the flood")


def test_point_csv_names_the_cell_and_units(tmp_path):
    target = Plan(Point(48.1, 2.1), output_csv=True).run(DIS_FILE, tmp_path)
    rows = list(csv.reader(target.open()))
    assert rows[0] == ["time", "dis [m3 s-1] at lat=48.25 lon=2.25"]
    assert rows[1][0] == "2001-01-01" and len(rows) == 1096
    with netCDF4.Dataset(DIS_FILE) as src:
        lat, lon = list(src["lat"][:]), list(src["lon"][:])
        expected = src["dis"][0, lat.index(48.25), lon.index(2.25)]
    assert float(rows[1][1]) == pytest.approx(float(expected), rel=1e-7)


def test_point_netcdf_keeps_the_cell_coordinates(tmp_path):
    target = Plan(Point(48.1, 2.1)).run(DIS_FILE, tmp_path)
    with netCDF4.Dataset(target) as out:
        assert out["dis"].shape == (1095, 1, 1)
        assert (float(out["lat"][0]), float(out["lon"][0])) == (48.25, 2.25)


def test_field_mean_is_area_weighted_and_skips_missing(tmp_path):
    lat, lon = global_axes(10.0)
    values = np.full((2, lat.size, lon.size), FILL)
    row_a, row_b = list(lat).index(5.0), list(lat).index(55.0)
    values[:, row_a, 0], values[:, row_b, 0] = 10.0, 20.0
    source = write_netcdf(tmp_path / "in.nc", lat, lon, n_times=2, values=values)
    target = Plan(BBox(-180, -170, -90, 90), compute_mean=True, output_csv=True).run(source, tmp_path)
    w_a, w_b = np.cos(np.deg2rad(5.0)), np.cos(np.deg2rad(55.0))
    expected = (10 * w_a + 20 * w_b) / (w_a + w_b)
    rows = list(csv.reader(target.open()))
    assert rows[0] == ["time", "tas [K] area-weighted mean"]
    assert float(rows[1][1]) == pytest.approx(expected, rel=1e-6)


def test_annual_mean_csv_on_the_real_yield_file(tmp_path):
    target = Plan(BBox(116, 118, 38, 40), compute_mean=True, output_csv=True).run(YIELD_FILE, tmp_path)
    rows = list(csv.reader(target.open()))
    assert target.name.endswith("_lon116.0to118.0lat38.0to40.0_fldmean_annual_DEMO_TJANJIN_1861_2005.csv")
    assert rows[1][0] == "1861-01-01" and len(rows) == 146


@pytest.mark.parametrize(
    ("name", "plan", "expected"),
    [
        ("a_global_daily_2001.nc", Plan(Country("DEU")), "a_deu_daily_2001.nc"),
        (
            "a_global_daily_2001.nc",
            Plan(BBox(-10, 40, 35, 70)),
            "a_lon-10.0to40.0lat35.0to70.0_daily_2001.nc",
        ),
        ("a_global_daily_2001.nc", Plan(LandOnly()), "a_landonly_daily_2001.nc"),
        (
            "a_global_daily_2001.nc",
            Plan(Country("DEU"), compute_mean=True, output_csv=True),
            "a_deu_fldmean_daily_2001.csv",
        ),
        ("regional.nc", Plan(Point(1, 2), output_csv=True), "regional_lat1.0lon2.0.csv"),
    ],
)
def test_output_names_follow_isimip_practice(name, plan, expected):
    assert plan.output_name(name) == expected


def test_file_without_a_grid_is_refused(tmp_path):
    path = tmp_path / "nogrid.nc"
    with netCDF4.Dataset(path, "w") as out:
        out.createDimension("station", 3)
        out.createVariable("flow", "f4", ("station",))[:] = [1, 2, 3]
    with pytest.raises(DatasetError, match="no lat/lon coordinates"):
        engine.mask_file(path, tmp_path / "out.nc", LandOnly())


def test_text_file_named_nc_is_refused(tmp_path):
    path = tmp_path / "fake.nc"
    path.write_text("just text")
    with pytest.raises(DatasetError, match="is not a NetCDF file"):
        engine.mask_file(path, tmp_path / "out.nc", LandOnly())


def test_a_time_axis_of_length_zero_gives_empty_series(tmp_path):
    lat, lon = global_axes(5.0)
    source = write_netcdf(
        tmp_path / "empty_global.nc", lat, lon, n_times=0, values=np.zeros((0, lat.size, lon.size))
    )
    csv_out = Plan(Country("FRA"), compute_mean=True, output_csv=True).run(source, tmp_path)
    assert csv_out.read_text().splitlines() == ["time,tas [K] area-weighted mean"]
    nc_out = Plan(Country("FRA"), compute_mean=True).run(source, tmp_path)
    with netCDF4.Dataset(nc_out) as out:
        assert out["tas"].shape == (0, 1, 1)
    masked = Plan(Country("FRA")).run(source, tmp_path)
    with netCDF4.Dataset(masked) as out:
        assert out["tas"].shape == (0, lat.size, lon.size)
