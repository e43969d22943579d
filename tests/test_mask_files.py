"""Masks from NetCDF files: ISIMIP's country and land-sea masks, and masks uploaded as NetCDF.

The mask files are small ones written here in the layout of ISIMIP's countrymasks.nc
(``m_<CODE>(lat, lon)``, 1 inside, 0 or missing outside) on the global 0.5° grid.
"""

import io
import json

import netCDF4
import numpy as np
import pytest

from isimip_mask.api import create_app
from isimip_mask.errors import InputError, RegionError
from isimip_mask.files.grid import Grid
from isimip_mask.regions.kinds import BBox, Country
from isimip_mask.regions.masks import bbox_mask, grid_mask
from isimip_mask.requests.chain import parse_operations
from isimip_mask.requests.limits import Limits
from isimip_mask.requests.plan import Plan
from isimip_mask.requests.submission import build_request
from tests.helpers import DIS, DIS_FILE, global_axes, write_mask_file, write_netcdf, zipped_output

LAT, LON = global_axes()
GRID = Grid.from_arrays(LAT, LON)
REUNION = bbox_mask(GRID, BBox(55.2, 55.9, -21.4, -20.8))  # not a Natural Earth country of its own
FRANCE = grid_mask(GRID, Country("FRA")) | bbox_mask(GRID, BBox(5.5, 8, 43, 44.5))  # differs from NE
LAND = bbox_mask(GRID, BBox(-20, 60, -35, 70))


@pytest.fixture(scope="module")
def masks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("masks")
    countries = write_mask_file(folder / "countrymasks.nc", {"m_REU": REUNION, "m_FRA": FRANCE}, LAT, LON)
    land = write_mask_file(folder / "landseamask.nc", {"LSM_missing": LAND}, LAT, LON)
    return countries, land


def kept(path, name="tas"):
    with netCDF4.Dataset(path) as out:
        out.set_auto_maskandscale(False)
        return out[name][0] != np.float32(1e20), Grid.from_arrays(out["lat"][:], out["lon"][:])


def test_country_and_land_from_isimip_mask_files(masks, tmp_path):
    countries, land = masks
    source = write_netcdf(tmp_path / "model_tas_global_daily_2001_2001.nc", LAT, LON, n_times=2)
    limits = Limits(countrymasks=countries, landseamask=land)
    for operation, expected in (
        ({"operation": "mask_country", "country": "reu"}, REUNION),
        ({"operation": "mask_landonly"}, LAND),
    ):
        plan = parse_operations([operation], limits)
        cells, _ = kept(plan.run(source, tmp_path))
        # the corner cell of the test file is missing: compare where the input has values
        np.testing.assert_array_equal(cells, expected & kept(source)[0])
    assert plan.output_name(source.name) == "model_tas_landonly_daily_2001_2001.nc"


def test_a_code_only_isimip_has_names_the_setting_that_provides_it():
    with pytest.raises(InputError, match="set COUNTRYMASKS_FILE_PATH to ISIMIP's countrymasks.nc"):
        parse_operations([{"operation": "mask_country", "country": "REU"}])


def test_a_country_missing_from_the_mask_file_is_refused(masks):
    with pytest.raises(InputError, match="'XYZ' is not in the country masks"):
        parse_operations([{"operation": "mask_country", "country": "xyz"}], Limits(countrymasks=masks[0]))


def test_a_global_mask_applies_to_a_regional_cut_out_by_coordinates(masks, tmp_path):
    plan = parse_operations([{"operation": "mask_country", "country": "FRA"}], Limits(countrymasks=masks[0]))
    cells, grid = kept(Plan(plan.region).run(DIS_FILE, tmp_path), "dis")  # 19 x 27 cells over France
    rows = [int(np.flatnonzero(lat == LAT)[0]) for lat in grid.lat]
    cols = [int(np.flatnonzero(lon == LON)[0]) for lon in grid.lon]
    with netCDF4.Dataset(DIS_FILE) as source:
        has_value = source["dis"][0].mask == False  # noqa: E712 - a masked array
    np.testing.assert_array_equal(cells, FRANCE[np.ix_(rows, cols)] & has_value)


def test_a_mask_on_another_grid_is_refused_with_both_grids(masks, tmp_path):
    coarse = write_netcdf(tmp_path / "coarse.nc", *global_axes(1.0))
    plan = parse_operations([{"operation": "mask_country", "country": "FRA"}], Limits(countrymasks=masks[0]))
    with pytest.raises(
        RegionError, match=r"another grid \(0.5° x 0.5°, 360 x 720 cells\) than this file \(1° x 1°"
    ):
        grid_mask(Grid.from_arrays(*global_axes(1.0)), plan.region)
    assert coarse.exists()


def test_a_chain_of_a_mask_file_and_a_box(masks, tmp_path):
    source = write_netcdf(tmp_path / "model_tas_global_daily_2001_2001.nc", LAT, LON, n_times=2)
    limits = Limits(countrymasks=masks[0])
    plan = parse_operations(
        [
            {"operation": "mask_country", "country": "FRA"},
            {"operation": "mask_bbox", "bbox": [-5, 3, 40, 60]},
        ],
        limits,
    )
    cells, _ = kept(plan.run(source, tmp_path))
    np.testing.assert_array_equal(cells, FRANCE & bbox_mask(GRID, BBox(-5, 3, 40, 60)))
    assert plan.region.tag == "fra+lon-5.0to3.0lat40.0to60.0"


@pytest.fixture
def upload(tmp_path):
    lat, lon = global_axes()
    grid = Grid.from_arrays(lat, lon)
    layers = {"m_0": bbox_mask(grid, BBox(-1, 3, 44, 47)), "m_1": bbox_mask(grid, BBox(2, 6, 46, 49))}
    return write_mask_file(tmp_path / "mask.nc", layers, lat, lon).read_bytes(), layers


def test_an_uploaded_netcdf_mask_masks_its_variable(service, upload, tmp_path):
    data, layers = upload
    client = create_app(service.settings).test_client()
    request = {"paths": [DIS], "operations": [{"operation": "mask_mask", "mask": "mask.nc", "var": "m_1"}]}
    answer = client.post(
        "/",
        data={"data": json.dumps(request), "mask.nc": (io.BytesIO(data), "mask.nc")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 201, answer.get_json()
    info = service.wait(answer.get_json()["id"])
    output = zipped_output(service.queue.result_path(info), service.settings.output_path / "unzipped")
    assert info.status == "finished" and output.name.endswith("_mask_daily_DEMO_FR_2001_2003.nc")
    with netCDF4.Dataset(output) as out, netCDF4.Dataset(DIS_FILE) as source:
        out.set_auto_maskandscale(False)
        source.set_auto_maskandscale(False)
        grid = Grid.from_arrays(source["lat"][:], source["lon"][:])
        expected = bbox_mask(grid, BBox(2, 6, 46, 49))
        np.testing.assert_array_equal(out["dis"][:][:, expected], source["dis"][:][:, expected])
        assert np.all(out["dis"][:][:, ~expected] == np.float32(1e20))


@pytest.mark.parametrize(
    ("operation", "upload_name", "content", "field", "message"),
    [
        ({"mask": "mask.nc", "var": "m_7"}, "mask.nc", None, "paths", "has no variable 'm_7' on its grid"),
        ({"mask": "mask.nc", "var": "m 0; rm"}, "mask.nc", None, "var", "must be a variable name"),
        ({"mask": "other.nc"}, "mask.nc", None, "mask", "names no uploaded file"),
        ({"mask": "mask.nc"}, "mask.nc", b"not a netcdf file", "mask", "is not a NetCDF file"),
    ],
)
def test_bad_uploaded_masks_are_refused_before_queueing(
    settings, upload, operation, upload_name, content, field, message
):
    data = content if content is not None else upload[0]
    with pytest.raises(InputError) as error:
        build_request(settings, [DIS], [{"operation": "mask_mask", **operation}], {upload_name: data})
    errors = error.value.errors
    assert any(message in m for messages in errors.values() for m in messages), errors


def test_every_country_of_isimip_country_masks_is_a_column(masks, tmp_path):
    countries, _ = masks
    source = write_netcdf(tmp_path / "model_tas_global_daily_2001_2001.nc", LAT, LON, n_times=2)
    limits = Limits(countrymasks=countries)
    plan = parse_operations(
        [{"operation": "mask_regions", "regions": "countries", "output_csv": True}], limits
    )
    assert plan.region.names == ("REU", "FRA")  # every m_* layer, named by its code
    header, *rows = plan.run(source, tmp_path).read_text().splitlines()
    assert header == "time,REU [K],FRA [K]" and len(rows) == 2
    for column, code in enumerate(("REU", "FRA"), start=1):
        single = parse_operations(
            [{"operation": "mask_country", "country": code, "compute_mean": True, "output_csv": True}], limits
        )
        expected = [
            line.split(",")[1] for line in single.run(source, tmp_path / code).read_text().splitlines()[1:]
        ]
        assert [row.split(",")[column] for row in rows] == expected
