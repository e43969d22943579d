"""Time ranges and time means against CDO: seldate, monmean, yearmean, on the real sample file.

The sample (daily river discharge over France, 2001-2003) is used as it is (chunked one step
per chunk: the fast path) and converted to classic NetCDF (the netCDF4 path).
"""

import shutil
import subprocess
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from isimip_mask.errors import InputError
from isimip_mask.files.timeaxis import Period
from isimip_mask.jobs.tasks import run_job
from isimip_mask.regions.kinds import BBox, Point
from isimip_mask.requests.chain import parse_operations
from isimip_mask.requests.plan import Plan
from isimip_mask.requests.submission import build_request
from tests.helpers import DIS, DIS_FILE

pytestmark = [
    pytest.mark.cdo,
    pytest.mark.skipif(shutil.which("cdo") is None, reason="cdo is not installed (apt-get install cdo)"),
]

BOX = (-2.0, 6.0, 44.0, 50.0)
CDO_BOX = f"-masklonlatbox,{','.join(map(str, BOX))}"


def cdo(*args):
    subprocess.run(["cdo", "-s", *args], check=True, capture_output=True)


def read(path, name):
    with netCDF4.Dataset(path) as dataset:
        dataset.set_auto_maskandscale(False)
        return np.asarray(dataset[name][...]) if name in dataset.variables else None


@pytest.fixture(scope="module", params=["chunks", "classic"])
def source(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("time")
    if request.param == "chunks":
        return shutil.copy(DIS_FILE, folder / DIS_FILE.name)
    target = folder / DIS_FILE.name
    cdo("-f", "nc", "copy", str(DIS_FILE), str(target))
    return target


def assert_same_data(ours, reference, rtol=0.0):
    got, expected = read(ours, "dis"), read(reference, "dis")
    assert got.shape == expected.shape
    missing = expected >= np.float32(1e20) / 2
    np.testing.assert_array_equal(got >= np.float32(1e20) / 2, missing)
    np.testing.assert_allclose(got[~missing], expected[~missing], rtol=rtol)


@pytest.mark.parametrize(
    "period, dates",
    [
        (["2002-03", "2002-05-15"], "2002-03-01,2002-05-15T23:59:59"),
        (["2001", "2001"], "2001-01-01,2001-12-31T23:59:59"),
        (["2003-12-31", "2010"], "2003-12-31,2010-12-31T23:59:59"),  # beyond the file's end
    ],
)
def test_select_time_keeps_the_steps_cdo_seldate_keeps(source, tmp_path, period, dates):
    reference = tmp_path / "cdo.nc"
    cdo(f"-seldate,{dates}", CDO_BOX, str(source), str(reference))
    ours = Plan(BBox(*BOX), period=Period.parse(period)).run(source, tmp_path)
    np.testing.assert_array_equal(read(ours, "time"), read(reference, "time"))
    assert_same_data(ours, reference)


@pytest.mark.parametrize("window, operator", [("month", "monmean"), ("year", "yearmean")])
def test_time_means_of_the_masked_grid_equal_cdo(source, tmp_path, window, operator):
    reference = tmp_path / "cdo.nc"
    cdo(f"-{operator}", "-seldate,2001-11-10,2003-02-20", CDO_BOX, str(source), str(reference))
    plan = Plan(BBox(*BOX), period=Period.parse(["2001-11-10", "2003-02-20"]), window=window)
    ours = plan.run(source, tmp_path)
    np.testing.assert_array_equal(read(ours, "time"), read(reference, "time"))
    np.testing.assert_array_equal(read(ours, "time_bnds"), read(reference, "time_bnds"))
    assert_same_data(ours, reference, rtol=1e-6)  # CDO sums in double, as we do
    with netCDF4.Dataset(ours) as dataset:
        assert dataset["time"].bounds == "time_bnds"
        assert "time: mean" in dataset["dis"].cell_methods


@pytest.mark.parametrize("window, operator", [("month", "monmean"), ("year", "yearmean")])
@pytest.mark.parametrize("what", ["fldmean", "point"])
def test_time_means_of_series_equal_cdo(source, tmp_path, window, operator, what):
    reference = tmp_path / "cdo.nc"
    if what == "fldmean":
        cdo(f"-{operator}", "-fldmean", CDO_BOX, str(source), str(reference))
        plan = Plan(BBox(*BOX), compute_mean=True, window=window)
    else:  # the cell at 46.75 N, 2.25 E: column 15 and row 10 of the sample, 1-based
        cdo(f"-{operator}", "-selindexbox,15,15,10,10", str(source), str(reference))
        plan = Plan(Point(46.75, 2.25), window=window)
    ours = plan.run(source, tmp_path)
    np.testing.assert_array_equal(read(ours, "time"), read(reference, "time"))
    np.testing.assert_array_equal(read(ours, "time_bnds"), read(reference, "time_bnds"))
    assert_same_data(ours, reference, rtol=2e-6)


def test_a_csv_of_monthly_means_has_a_row_per_month(source, tmp_path):
    ours = Plan(BBox(*BOX), compute_mean=True, output_csv=True, window="month").run(source, tmp_path)
    lines = ours.read_text().splitlines()
    assert len(lines) == 1 + 36
    assert lines[1].startswith("2001-01-16T00:00:00,") and lines[2].startswith("2001-02-14T12:00:00,")


def test_a_period_outside_a_file_is_refused_before_anything_is_queued(settings):
    operations = [
        {"operation": "mask_bbox", "bbox": list(BOX)},
        {"operation": "select_time", "period": [2010, 2012]},
    ]
    with pytest.raises(InputError) as raised:
        build_request(settings, [DIS], operations)
    assert "the period 2010 to 2012 is outside the file (2001-01-01 to 2003-12-31)" in str(raised.value)
    operations[1]["period"] = [2002, 2012]
    assert build_request(settings, [DIS], operations).plan.period == Period("2002", "2012")


@pytest.mark.parametrize(
    "period, expected",
    [
        (2001, Period("2001", "2001")),
        ("2001-06", Period("2001-06", "2001-06")),
        ([2001, "2005-06-30"], Period("2001", "2005-06-30")),
        (["2001-06-01", "2001-06"], Period("2001-06-01", "2001-06")),  # within the same month
    ],
)
def test_period_bounds_may_be_years_months_or_days(period, expected):
    assert Period.parse(period) == expected


@pytest.mark.parametrize(
    "period, message",
    [
        ([2005, 2001], "starts (2005) after it ends (2001)"),
        (["2001-13", 2002], "must be YYYY, YYYY-MM or YYYY-MM-DD, got '2001-13'"),
        (["01-01-2001", 2002], "got '01-01-2001'"),
        ([True, 2002], "got 'True'"),
        ([2001, 2002, 2003], "period must be [start, end]"),
        (None, "period must be [start, end]"),
    ],
)
def test_bad_periods_say_what_is_wrong(period, message):
    with pytest.raises(InputError) as raised:
        parse_operations([{"operation": "mask_landonly"}, {"operation": "select_time", "period": period}])
    assert message in str(raised.value) and "period" in raised.value.errors


def test_time_operations_round_trip_through_the_queue_and_name_their_outputs():
    plan = parse_operations(
        [
            {"operation": "mask_country", "country": "FRA", "compute_mean": True},
            {"operation": "select_time", "period": [2002, 2003]},
            {"operation": "time_mean", "window": "year"},
        ]
    )
    assert Plan.from_config(plan.config()) == plan
    assert parse_operations(plan.operations()) == plan
    assert (
        plan.output_name("h08_dis_global_daily_2001_2010.nc")
        == "h08_dis_fra_fldmean_yearmean_annual_2002_2003.nc"
    )
    with pytest.raises(InputError, match="window must be one of month, year"):
        parse_operations([{"operation": "mask_landonly"}, {"operation": "time_mean", "window": "week"}])


@pytest.fixture
def yearly_dataset(settings):
    """The sample split into one file per year under the data root, named as ISIMIP names them."""
    folder = settings.input_path / "isimip"
    stem = DIS_FILE.name.replace("_2001_2003.nc", "")
    cdo("splityear", str(DIS_FILE), str(folder / "year_"))
    paths = []
    for year in (2001, 2002, 2003):
        target = folder / f"{stem}_{year}_{year}.nc"
        (folder / f"year_{year}.nc").rename(target)
        paths.append(f"isimip/{target.name}")
    return paths


@pytest.mark.parametrize(
    "extra",
    [
        [],
        [{"operation": "compute_mean"}, {"operation": "output_csv"}],
        [{"operation": "time_mean", "window": "month"}],
    ],
    ids=["mask", "field mean CSV", "monthly means"],
)
def test_a_period_across_the_files_of_a_dataset_is_one_output(settings, yearly_dataset, tmp_path, extra):
    operations = [
        {"operation": "mask_bbox", "bbox": list(BOX)},
        {"operation": "select_time", "period": ["2001-06-15", "2003-02"]},
        *extra,
    ]
    request = build_request(settings, yearly_dataset, operations)
    result = run_job(request.canonical(), settings)
    merged = settings.output_path / "local" / result["file_name"]
    assert result["created_files"] == [merged.name] and sorted(p.name for p in merged.parent.iterdir()) == [
        merged.name
    ]
    step = "monthly" if {"operation": "time_mean", "window": "month"} in extra else "daily"
    assert merged.name.endswith(f"_{step}_DEMO_FR_2001_2003" + merged.suffix)
    whole = request.plan.run(DIS_FILE, tmp_path, name="whole" + merged.suffix)  # the same plan on one file
    if merged.suffix == ".csv":
        assert merged.read_text() == whole.read_text()
        return
    for name in ("time", "dis", "time_bnds"):
        np.testing.assert_array_equal(read(merged, name), read(whole, name))


def test_a_joined_output_equals_cdo_mergetime_of_the_files(settings, yearly_dataset, tmp_path):
    request = build_request(
        settings,
        yearly_dataset,
        [{"operation": "mask_bbox", "bbox": list(BOX)}, {"operation": "select_time", "period": [2001, 2003]}],
    )
    merged = settings.output_path / "local" / run_job(request.canonical(), settings)["file_name"]
    parts = []
    for path in yearly_dataset:
        parts.append(tmp_path / Path(path).name)
        cdo(CDO_BOX, str(settings.input_path / path), str(parts[-1]))
    reference = tmp_path / "mergetime.nc"
    cdo("mergetime", *map(str, parts), str(reference))
    np.testing.assert_array_equal(read(merged, "time"), read(reference, "time"))
    assert_same_data(merged, reference)


def test_files_a_period_does_not_reach_are_left_out(settings, yearly_dataset):
    request = build_request(
        settings,
        yearly_dataset,
        [{"operation": "mask_landonly"}, {"operation": "select_time", "period": [2002, 2002]}],
    )
    assert request.paths == (yearly_dataset[1],)
    assert request.plan.output_name(Path(yearly_dataset[1]).name).endswith(
        "_landonly_daily_DEMO_FR_2002_2002.nc"
    )


def test_through_the_queue_the_parts_of_a_period_are_joined(service, yearly_dataset, tmp_path):
    operations = [
        {"operation": "mask_country", "country": "FRA"},
        {"operation": "select_time", "period": ["2001-12", "2002"]},
    ]
    request = build_request(service.settings, yearly_dataset, operations)
    assert len(request.paths) == 2  # 2003 is left out
    info, _ = service.queue.submit(request)
    done = service.wait(info.id)
    assert done.status == "finished" and done.file_name.endswith("_fra_daily_DEMO_FR_2001_2002.nc")
    whole = request.plan.run(DIS_FILE, tmp_path, name="whole.nc")
    merged = service.queue.result_path(done)
    for name in ("time", "dis"):
        np.testing.assert_array_equal(read(merged, name), read(whole, name))


def test_a_request_without_time_operations_decodes_no_time_axis(settings, monkeypatch):
    import isimip_mask.files.steps

    def refuse(*args):
        raise AssertionError("a time axis was decoded")

    monkeypatch.setattr(isimip_mask.files.steps, "decode_times", refuse)
    request = build_request(settings, [DIS], [{"operation": "mask_bbox", "bbox": list(BOX)}])
    assert request.plan.period is None
