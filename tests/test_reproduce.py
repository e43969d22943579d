"""The page's "reproduce" texts: the curl body is the same request, and the cdo command, run as
printed, gives the same values as the job."""

import json
import shlex
import shutil
import subprocess

import netCDF4
import numpy as np
import pytest

from isimip_mask.requests.chain import parse_operations
from isimip_mask.ui.reproduce import commands
from tests.helpers import DIS, DIS_FILE


@pytest.mark.skipif(shutil.which("cdo") is None, reason="cdo is not installed (apt-get install cdo)")
@pytest.mark.parametrize(
    "operations",
    [
        [
            {"operation": "mask_bbox", "bbox": [0, 5, 44, 48]},
            {"operation": "select_time", "period": ["2002-02", 2002]},
        ],
        [
            {"operation": "mask_bbox", "bbox": [0, 5, 44, 48], "compute_mean": True},
            {"operation": "select_time", "period": [2001, 2002]},
            {"operation": "time_mean", "window": "month"},
        ],
    ],
    ids=["period", "monthly field means"],
)
def test_the_cdo_command_as_printed_gives_the_same_values(settings, tmp_path, operations):
    plan = parse_operations(operations)
    request = {"paths": [DIS], "plan": plan.config()}
    texts = commands(settings, request)
    curl_body = json.loads(shlex.split(texts["curl"].replace("\\\n", " "))[-1])
    assert parse_operations(curl_body["operations"]) == plan and curl_body["paths"] == [DIS]
    assert f"submit_job({[DIS]!r}, {plan.operations()!r}, {{}}, poll=2)" in texts["python"]
    shutil.copy(DIS_FILE, tmp_path / DIS_FILE.name)
    subprocess.run(texts["cdo"], shell=True, cwd=tmp_path, check=True, capture_output=True)
    ours = plan.run(DIS_FILE, tmp_path / "ours")
    with netCDF4.Dataset(tmp_path / ours.name) as theirs, netCDF4.Dataset(ours) as mine:
        np.testing.assert_array_equal(mine["time"][:], theirs["time"][:])
        np.testing.assert_allclose(mine["dis"][:].filled(np.nan), theirs["dis"][:].filled(np.nan), rtol=1e-6)


@pytest.mark.skipif(shutil.which("cdo") is None, reason="cdo is not installed (apt-get install cdo)")
def test_a_country_runs_as_printed_with_the_mask_the_page_offers(settings, tmp_path):
    """A one-file job of a country: the cdo line is a command (not a comment), and the mask it
    reads is the file the page offers beside it."""
    from isimip_mask.ui.job import mask_bytes

    plan = parse_operations([{"operation": "mask_country", "country": "FRA"}])
    masks = []
    texts = commands(settings, {"paths": [DIS], "plan": plan.config()}, masks)
    command = texts["cdo"].splitlines()[0]
    assert command.startswith("cdo ") and "-ifthen mask_fra_19x27.nc" in command
    assert [recipe.mask_name for recipe in masks] == ["mask_fra_19x27.nc"]
    (tmp_path / "mask_fra_19x27.nc").write_bytes(mask_bytes(masks[0]))
    shutil.copy(DIS_FILE, tmp_path / DIS_FILE.name)
    subprocess.run(command, shell=True, cwd=tmp_path, check=True, capture_output=True)
    ours = plan.run(DIS_FILE, tmp_path / "ours")
    with netCDF4.Dataset(tmp_path / ours.name) as theirs, netCDF4.Dataset(ours) as mine:
        np.testing.assert_array_equal(mine["dis"][:].filled(np.nan), theirs["dis"][:].filled(np.nan))
