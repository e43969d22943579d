"""isimip_mask against the reference tools: CDO masklonlatbox and fldmean."""

import shutil
import subprocess

import netCDF4
import numpy as np
import pytest

from isimip_mask.operations import Plan
from isimip_mask.regions import BBox
from tests.helpers import global_axes, write_netcdf

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
