"""isimip_mask against the reference tools: CDO masklonlatbox and fldmean."""

import shutil
import subprocess
import zlib

import h5py
import netCDF4
import numpy as np
import pytest

from isimip_mask.engine import chunks
from isimip_mask.engine.options import RunOptions
from isimip_mask.errors import DatasetError
from isimip_mask.regions.kinds import BBox
from isimip_mask.requests.plan import Plan
from tests.helpers import global_axes, write_long_file, write_netcdf

pytestmark = [
    pytest.mark.cdo,
    pytest.mark.skipif(shutil.which("cdo") is None, reason="cdo is not installed (apt-get install cdo)"),
]

BOXES = [
    (-10, 40, 35, 70),
    (-10.25, 40.25, 35.25, 69.75),  # edges on cell centres
    (170, -170, -10, 10),  # across the antimeridian
    (100, 160, -45, -10),
]


def values(path):
    with netCDF4.Dataset(path) as dataset:
        dataset.set_auto_maskandscale(False)
        return dataset["tas"][...]


def cdo(*args):
    subprocess.run(["cdo", "-s", *args], check=True, capture_output=True)


@pytest.fixture(scope="module", params=[False, True], ids=["lon-180..180", "lon0..360"])
def source(request, tmp_path_factory):
    lat, lon = global_axes(lon0360=request.param)
    rng = np.random.default_rng(1)
    data = rng.normal(280, 10, (3, lat.size, lon.size)).astype("f4")
    data[:, rng.random((lat.size, lon.size)) < 0.3] = 1e20  # scattered missing cells
    return write_netcdf(tmp_path_factory.mktemp("cdo") / "in.nc", lat, lon, n_times=3, values=data)


@pytest.mark.parametrize("box", BOXES, ids=str)
def test_masklonlatbox_gives_the_same_cells_and_values(source, tmp_path, box):
    reference = tmp_path / "cdo.nc"
    cdo(
        "-f",
        "nc4c",
        "-z",
        "zip_5",
        "-L",
        f"-masklonlatbox,{','.join(map(str, box))}",
        str(source),
        str(reference),
    )
    ours = Plan(BBox(*box)).run(source, tmp_path)
    expected, got = values(reference), values(ours)
    np.testing.assert_array_equal(got == np.float32(1e20), expected == np.float32(1e20))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("box", BOXES, ids=str)
def test_compute_mean_matches_cdo_fldmean(source, tmp_path, box):
    reference = tmp_path / "fldmean.nc"
    cdo("-f", "nc4c", "fldmean", f"-masklonlatbox,{','.join(map(str, box))}", str(source), str(reference))
    ours = Plan(BBox(*box), compute_mean=True).run(source, tmp_path)
    expected, got = values(reference).ravel(), values(ours).ravel()
    np.testing.assert_allclose(got, expected, rtol=2 * np.finfo(np.float32).eps)


@pytest.mark.parametrize("compressor", ["isal", "zlib-ng"])
def test_the_fast_codecs_write_what_zlib_writes_and_cdo_and_ncdump_read_it(tmp_path, compressor):
    """Outputs deflated with ISA-L or zlib-ng decode to the same bytes as zlib's, through
    netCDF4 (HDF5's own zlib filter), ncdump and cdo."""
    source = write_long_file(tmp_path / "in.nc", 6)
    region = BBox(-10, 40, 35, 70)
    ours = Plan(region).run(
        source, tmp_path / compressor, options=RunOptions(compressor=compressor, threads=2)
    )
    plain = Plan(region).run(source, tmp_path / "zlib", options=RunOptions(compressor="zlib", threads=2))
    assert ours.read_bytes() != plain.read_bytes()  # really written by another codec
    np.testing.assert_array_equal(values(ours), values(plain))
    assert values(ours).tobytes() == values(plain).tobytes()
    dumped = subprocess.run(["ncdump", "-v", "tas", str(ours)], capture_output=True, text=True, check=True)
    reference = subprocess.run(
        ["ncdump", "-v", "tas", str(plain)], capture_output=True, text=True, check=True
    )
    assert dumped.stdout.split("data:")[1] == reference.stdout.split("data:")[1]
    compared = subprocess.run(["cdo", "-s", "diffn", str(ours), str(plain)], capture_output=True, text=True)
    assert compared.returncode == 0 and "differ" not in compared.stdout, compared.stdout + compared.stderr


def test_libdeflate_inflates_every_chunk_as_zlib_does(tmp_path):
    source = write_long_file(tmp_path / "in.nc", 20)
    with h5py.File(source) as handle:
        dataset = handle["tas"]
        size = int(np.prod(dataset.chunks)) * dataset.dtype.itemsize
        for step in range(0, 20, dataset.chunks[0]):
            raw = dataset.id.read_direct_chunk((step, 0, 0))[1]
            assert chunks.inflate(raw, size) == zlib.decompress(raw)
    with pytest.raises(DatasetError, match="damaged or truncated"):  # the file's fault, whatever the codec
        chunks.inflate(b"x\x9c" + b"\0" * 50, size)
