"""What the page says of sizes and of what a plan will write, and which files are one dataset."""

import json
import shutil

import pytest

from isimip_mask.files.datasets import describe, periods
from isimip_mask.regions.kinds import BBox, Point
from isimip_mask.requests.plan import Plan
from isimip_mask.ui.estimates import human_size, output_estimate
from tests.helpers import DIS, DIS_FILE


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1 kB"),
        (812_400, "812 kB"),
        (45_210_000, "45.2 MB"),
        (1_300_000_000, "1.3 GB"),
        (1_304_000_000, "1.3 GB"),
        (1_356_000_000, "1.36 GB"),
        (2e12, "2 TB"),
    ],
)
def test_sizes_have_three_significant_digits(size, shown):
    assert human_size(size) == shown


def test_the_estimate_follows_the_plan(settings):
    info = describe(settings.input_path, DIS)  # 1,095 daily steps, one variable
    csv = output_estimate(Plan(Point(48.1, 2.1), output_csv=True), [info, info], 1)
    netcdf = output_estimate(Plan(Point(48.1, 2.1)), [info], 1)
    assert csv.startswith("a time series of 1,095 values per file") and csv.endswith("as CSV)")
    assert netcdf.endswith("as NetCDF)")
    kept = output_estimate(Plan(BBox(0, 5, 44, 48)), [info, info], 100)
    assert kept.endswith(f"in 2 file(s) ({human_size(100 * 1095 * 4 * 2)} of data before compression)")


def test_every_period_of_the_picked_datasets_and_nothing_else(settings):
    folder = settings.input_path / "isimip"
    for name in ("x_tas_daily_2001_2010.nc", "x_tas_daily_2011_2020.nc", "x_pr_daily_2001_2010.nc"):
        shutil.copy(DIS_FILE, folder / name)
    assert periods(settings.input_path, ["isimip/x_tas_daily_2011_2020.nc"]) == [
        "isimip/x_tas_daily_2001_2010.nc",
        "isimip/x_tas_daily_2011_2020.nc",
    ]


def test_the_quick_look_has_its_extent_and_a_colour_scale(tmp_path):
    from isimip_mask.ui.quicklook import colour, field_picture

    masked = Plan(BBox(0, 5, 44, 48)).run(DIS_FILE, tmp_path)
    picture, caption, (bar, scale) = field_picture(masked)
    assert picture.ndim == 3 and "north up (lat 43.25 to 48.75, lon -0.75 to 5.75)" in caption
    assert scale.startswith("colour scale: ") and scale.endswith("m3 s-1 (2nd to 98th percentile)")
    assert bar.shape == (12, 256, 3)
    assert (bar[0, 0] == colour(bar[:1, :1, 0] * 0.0)[0, 0]).all()  # low at the left


@pytest.mark.parametrize(
    "operations",
    [
        [{"operation": "mask_regions", "regions": "countries", "output_csv": True}],
        [
            {
                "operation": "select_points",
                "points": [[48.85, 2.35], [45.76, 4.84], [43.6, 1.44]],
                "output_csv": True,
            }
        ],
    ],
    ids=["every country", "points"],
)
def test_a_table_is_estimated_with_the_columns_the_file_gives(settings, tmp_path, operations):
    """On the French cut-out, 'every country' is a dozen columns, not 241; within 2x in size."""
    import csv

    from isimip_mask.requests.chain import parse_operations

    info = describe(settings.input_path, DIS)
    plan = parse_operations(operations)
    table = plan.run(DIS_FILE, tmp_path)
    with table.open() as handle:
        columns = len(next(csv.reader(handle))) - 1
    said = output_estimate(plan, [info], 1)
    estimated_columns = int(said.split(" x ")[1].split(" ")[0].replace(",", ""))
    assert columns <= estimated_columns <= 2 * columns, said  # regions near the file's edge count
    size = table.stat().st_size
    estimated = float(said.split("about ")[1].split(" ")[0]) * {"kB": 1e3, "MB": 1e6}[said.split(" ")[-3]]
    assert size / 2 <= estimated <= size * 2, (said, size)


TRIANGLE = {"type": "Polygon", "coordinates": [[[-1, 43], [6, 43], [2.5, 50], [-1, 43]]]}
KINDS = {
    "box": [{"operation": "mask_bbox", "bbox": [0, 5, 44, 48]}],
    "box, cropped": [{"operation": "select_bbox", "bbox": [0, 5, 44, 48]}],
    "country": [{"operation": "mask_country", "country": "FRA"}],
    "country, cropped": [{"operation": "mask_country", "country": "FRA", "crop": True}],
    "polygon": [{"operation": "mask_shape", "shape": TRIANGLE}],
    "land": [{"operation": "mask_landonly"}],
    "land as CSV, a month": [
        {"operation": "mask_landonly", "output_csv": True},
        {"operation": "select_time", "period": ["2001-01", "2001-01"]},
    ],
    "point": [{"operation": "select_point", "point": [48.1, 2.1]}],
    "point as CSV": [{"operation": "select_point", "point": [48.1, 2.1], "output_csv": True}],
    "field mean": [{"operation": "mask_country", "country": "FRA", "compute_mean": True}],
    "field mean as CSV": [
        {"operation": "mask_country", "country": "FRA", "compute_mean": True, "output_csv": True}
    ],
    "statistics as CSV": [
        {
            "operation": "mask_country",
            "country": "FRA",
            "compute_mean": True,
            "output_csv": True,
            "statistics": ["mean", "max", "p95"],
        }
    ],
    "every country": [{"operation": "mask_regions", "regions": "countries"}],
    "every country as CSV": [{"operation": "mask_regions", "regions": "countries", "output_csv": True}],
    "points as CSV": [
        {"operation": "select_points", "points": [[48.85, 2.35], [45.76, 4.84]], "output_csv": True}
    ],
    "monthly means": [
        {"operation": "mask_country", "country": "FRA"},
        {"operation": "time_mean", "window": "month"},
    ],
}


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    """The data of `make run`: the real daily sample over France and a global monthly file."""
    from isimip_mask.demo import prepare
    from tests.helpers import DATA

    root = tmp_path_factory.mktemp("demo")
    prepare(root, DATA)
    return root


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "path",
    [
        "isimip2b/output/h08/h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_global_daily_DEMO_FR_2001_2003.nc",
        "demo/tas/demo_synthetic_tas_global_monthly_2001_2002.nc",
    ],
    ids=["daily sample", "global monthly"],
)
def test_the_size_said_is_within_2x_of_the_output_for_every_region_kind(demo_root, tmp_path, kind, path):
    """What the page says before Submit (the preview's count and window, as the page computes
    them) against the file the job writes."""
    from isimip_mask.regions.kinds import region_config
    from isimip_mask.requests.chain import parse_operations
    from isimip_mask.ui.state import preview

    info = describe(demo_root, path)
    plan = parse_operations(KINDS[kind])
    kept = preview.__wrapped__(info.grid, json.dumps(region_config(plan.region)), plan.region)
    said = output_estimate(plan, [info], kept.cells, kept.window)
    size = plan.run(demo_root / path, tmp_path).stat().st_size
    estimated = (
        float(said.split("about ")[-1].split(" ")[0])
        * UNITS[said.split("about ")[-1].split(" ")[1].rstrip(")")]
    )
    assert size / 2 <= estimated <= size * 2, (said, f"{size:,} bytes written")


UNITS = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
