"""High-resolution files: masks built over the region's window (scanline, packed), and a file in
30-arcsec tiles read only where the region is (a tile it does not touch is damaged on purpose)."""

import csv

import h5py
import netCDF4
import numpy as np
import pytest
import shapely

from isimip_mask import engine
from isimip_mask.errors import DatasetError, InputError
from isimip_mask.files.grid import Grid
from isimip_mask.regions.kinds import BBox, Country, LandOnly, Point, Shape, Touching
from isimip_mask.regions.masks import grid_mask, region_mask
from isimip_mask.regions.scanline import Outline
from isimip_mask.requests.plan import Plan
from tests.helpers import FILL, write_netcdf

ARCSEC = 1 / 120  # degrees
# a 2° x 2° piece of a 30-arcsec grid over Switzerland, in tiles of one step x 60 x 80 cells
LAT = 48 - (np.arange(240) + 0.5) * ARCSEC
LON = 6 + (np.arange(240) + 0.5) * ARCSEC
TILE = (1, 60, 80)


def _shapes():
    rng = np.random.default_rng(7)
    star = [
        (np.cos(a) * r, np.sin(a) * r) for a, r in zip(np.linspace(0, 2 * np.pi, 40), rng.uniform(2, 9, 40))
    ]
    holed = shapely.Polygon([(-8, -8), (8, -8), (8, 8), (-8, 8)], [[(-3, -3), (3, -3), (3, 3), (-3, 3)]])
    on_centres = shapely.Polygon(
        [(-4.75, -4.75), (4.25, -4.75), (4.25, 3.25), (-4.75, 3.25)]
    )  # edges on centres
    touching = shapely.MultiPolygon([shapely.box(-6, -6, 0, 0), shapely.box(0, -6, 6, 0)])  # a shared edge
    across = shapely.Polygon([(170, -5), (195, -5), (195, 5), (170, 5)])  # past the antimeridian
    return [shapely.make_valid(shapely.Polygon(star)), holed, on_centres, touching, across]


@pytest.mark.parametrize(
    "geometry", _shapes(), ids=["star", "hole", "on centres", "shared edge", "antimeridian"]
)
@pytest.mark.parametrize("lon0360", [False, True])
def test_the_scanline_keeps_exactly_the_centres_shapely_finds(geometry, lon0360):
    lat = np.arange(-19.75, 20, 0.5)[::-1]
    lon = np.arange(0.25, 360, 0.5) if lon0360 else np.arange(-179.75, 180, 0.5)
    x, y = np.meshgrid(lon, lat)
    expected = np.zeros(x.shape, dtype=bool)
    for shift in (-360, 0, 360):
        expected |= shapely.intersects_xy(geometry, x + shift, y)
    np.testing.assert_array_equal(Outline(geometry).centres(lat, lon), expected)


def test_masks_of_a_30_arcsec_grid_are_held_over_the_region_window_only():
    grid = Grid.from_arrays(90 - (np.arange(21600) + 0.5) * ARCSEC, -180 + (np.arange(43200) + 0.5) * ARCSEC)
    switzerland = region_mask(grid, Country("CHE"))
    assert switzerland.bits.nbytes < 20_000  # a mask of the whole grid would be 933 MB
    rows, cols = switzerland.bounds()
    assert 45.8 < grid.lat[rows.stop - 1] < grid.lat[rows.start] < 47.9
    assert 5.9 < grid.lon[cols[0]] < grid.lon[cols[-1]] < 10.5
    point = region_mask(grid, Point(46.9, 7.4))
    assert point.count() == 1 and point.window.cols.size == 1


def write_tiles(path, n_times=3):
    """Values on Switzerland's land only (like CHELSA over the ocean), in 30-arcsec tiles."""
    rng = np.random.default_rng(3)
    values = rng.normal(280, 8, (n_times, LAT.size, LON.size)).astype("f4")
    values[:, ~grid_mask(Grid.from_arrays(LAT, LON), Shape(shapely.box(6.2, 46.2, 7.9, 47.9)))] = FILL
    return write_netcdf(path, LAT, LON, n_times, values=values, chunks=TILE), values


def damage_tile(path, offset):
    """Overwrite one stored tile with bytes no inflater accepts: reading it fails loudly."""
    with h5py.File(path, "r+") as handle:
        handle["tas"].id.write_direct_chunk(offset, b"not deflated" * 100)


def read(path):
    with netCDF4.Dataset(path) as dataset:
        dataset.set_auto_maskandscale(False)
        return dataset["tas"][...], dataset["lat"][:], dataset["lon"][:]


@pytest.fixture
def tiles(tmp_path):
    path, values = write_tiles(tmp_path / "tas_30arcsec.nc")
    damage_tile(path, (1, 180, 160))  # the south-east corner, far from the boxes below
    return path, values


def test_a_damaged_tile_is_an_error_when_it_is_read(tmp_path, tiles):
    with pytest.raises((DatasetError, OSError, Exception), match=r"(?i)error|invalid|inflat|corrupt|damaged"):
        engine.mask_file(tiles[0], tmp_path / "out.nc", BBox(7.6, 7.99, 46.1, 46.4), crop=True)


@pytest.mark.parametrize("crop", [True, False])
def test_a_cut_out_reads_only_the_tiles_it_touches(tmp_path, tiles, crop):
    path, values = tiles
    box = BBox(6.3, 6.9, 47.2, 47.8)
    got, lat, lon = read(engine.mask_file(path, tmp_path / "out.nc", box, crop=crop))
    keep = grid_mask(Grid.from_arrays(LAT, LON), box)
    rows, cols = np.flatnonzero(keep.any(1)), np.flatnonzero(keep.any(0))
    if crop:
        assert got.shape == (3, rows.size, cols.size)
        np.testing.assert_array_equal(got, values[:, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
        np.testing.assert_array_equal(lat, LAT[rows])
    else:  # the full grid, left-out tiles written without reading them (the damaged one too)
        np.testing.assert_array_equal(got, np.where(keep, values, FILL))


def test_the_full_grid_keeps_the_input_tiles_and_copies_the_whole_ones_as_stored(tmp_path):
    path, values = write_tiles(tmp_path / "tas.nc")
    target = engine.mask_file(path, tmp_path / "out.nc", Touching(LandOnly()))
    with h5py.File(path) as src, h5py.File(target) as out:
        assert out["tas"].chunks == src["tas"].chunks == TILE
        assert (
            out["tas"].id.read_direct_chunk((2, 60, 80))[1] == src["tas"].id.read_direct_chunk((2, 60, 80))[1]
        )
    np.testing.assert_array_equal(read(target)[0], values)


def test_a_point_and_a_mean_read_only_their_own_tiles(tmp_path, tiles):
    path, values = tiles
    point = Plan(Point(47.51, 6.51), output_csv=True).run(path, tmp_path)  # not on a cell's edge
    row, col = np.argmin(abs(LAT - 47.51)), np.argmin(abs(LON - 6.51))
    with open(point) as handle:
        series = [float(r[1]) for r in list(csv.reader(handle))[1:]]
    np.testing.assert_array_equal(np.float32(series), values[:, row, col])
    box = BBox(6.3, 6.9, 47.2, 47.8)
    mean = Plan(box, compute_mean=True).run(path, tmp_path)
    keep = grid_mask(Grid.from_arrays(LAT, LON), box) & (values[0] != FILL)
    weights = np.cos(np.deg2rad(LAT))[:, None] * keep
    expected = (values.astype("f8") * weights).sum(axis=(1, 2)) / weights.sum()
    np.testing.assert_allclose(read(mean)[0].ravel(), expected, rtol=1e-6)


def write_global_skeleton(path):
    """A global 30-arcsec file in tiles whose chunks were never written: a few kB on disk."""
    lat = 90 - (np.arange(21600) + 0.5) * ARCSEC
    lon = -180 + (np.arange(43200) + 0.5) * ARCSEC
    with netCDF4.Dataset(path, "w") as out:
        out.createDimension("time", None)
        out.createDimension("lat", lat.size)
        out.createDimension("lon", lon.size)
        for name, values in (("lat", lat), ("lon", lon)):
            out.createVariable(name, "f8", (name,))[:] = values
        out.createVariable("time", "f8", ("time",))[:] = [0.0]
        out["time"].units = "days since 1979-01-01"
        out.createVariable(
            "tas", "f4", ("time", "lat", "lon"), zlib=True, chunksizes=(1, 1200, 2400), fill_value=FILL
        )
    return path


def test_a_request_a_worker_could_not_hold_is_refused_at_submit_naming_the_way_out(settings):
    from isimip_mask.requests.submission import build_request

    write_global_skeleton(settings.input_path / "tas_30arcsec_global.nc")
    path = ["tas_30arcsec_global.nc"]
    mean = [{"operation": "mask_landonly", "compute_mean": True}]
    with pytest.raises(
        InputError, match=r"needs about [\d,]+ MB in a worker, more than its 4,000 MB.*select_bbox"
    ):
        build_request(settings, path, mean)
    for fits in (
        [{"operation": "mask_landonly"}],
        [{"operation": "select_bbox", "bbox": [5.9, 10.5, 45.8, 47.9], "compute_mean": True}],
        [{"operation": "select_point", "point": [46.9, 7.4]}],
    ):
        assert build_request(settings, path, fits).paths == tuple(path)
