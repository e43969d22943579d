"""The three doors accept and refuse the same requests with the same words: the command line
and the page build the request form the HTTP API takes, and one parser reads it. (The API also
reads what upstream's clients send as upstream does: a bbox with its latitudes swapped is put in
order there, see test_api.)"""

import pytest

from isimip_mask.api import create_app
from isimip_mask.cli import build_parser, main, operations_from_args
from isimip_mask.files.timeaxis import Period
from isimip_mask.regions.kinds import BBox, Country, LandOnly, Point
from isimip_mask.regions.sets import RegionSet
from isimip_mask.requests.chain import parse_operations, plan_of
from isimip_mask.settings import Settings
from tests.helpers import DIS_FILE

# (command line, the API's operations, what the page builds or None where it offers no such
# choice, None or the words of the refusal)
CASES = {
    "a CSV of every kept cell": (
        ["--landonly", "--csv"],
        [{"operation": "mask_landonly", "output_csv": True}],
        (LandOnly(), {"output_csv": True}),
        None,
    ),
    "a cropped box mean": (
        ["--bbox", "0", "5", "44", "48", "--crop", "--mean"],
        [{"operation": "mask_bbox", "bbox": [0, 5, 44, 48], "crop": True, "compute_mean": True}],
        (BBox(0, 5, 44, 48), {"crop": True, "compute_mean": True}),
        None,
    ),
    "a point series of two years": (
        ["--point", "48", "2", "--csv", "--period", "2001", "2002"],
        [
            {"operation": "select_point", "point": [48, 2], "output_csv": True},
            {"operation": "select_time", "period": ["2001", "2002"]},
        ],
        (Point(48, 2), {"output_csv": True, "period": Period.parse(["2001", "2002"])}),
        None,
    ),
    "fractional weights without a mean": (
        ["--country", "FRA", "--fraction"],
        [{"operation": "mask_country", "country": "FRA", "weights": "fraction"}],
        (Country("FRA"), {"fractional": True}),
        "weights 'fraction' applies to means",
    ),
    "a cropped table": (
        ["--regions", "FRA", "--crop"],
        [{"operation": "mask_regions", "regions": ["FRA"], "crop": True}],
        ("table", {"crop": True}),
        "crop does not apply to mask_regions and select_points",
    ),
    "the touch rule on a point": (
        ["--point", "48", "2", "--touch"],
        [{"operation": "select_point", "point": [48, 2], "rule": "touch"}],
        None,  # the page offers no rule for points
        "the touch rule applies to areas",
    ),
    "every statistic of a country": (
        ["--country", "FRA", "--mean", "--statistics", "mean,max,p95"],
        [
            {
                "operation": "mask_country",
                "country": "FRA",
                "compute_mean": True,
                "statistics": ["mean", "max", "p95"],
            }
        ],
        (Country("FRA"), {"compute_mean": True, "statistics": ("mean", "max", "p95")}),
        None,
    ),
    "statistics of a mask": (
        ["--country", "FRA", "--statistics", "max"],
        [{"operation": "mask_country", "country": "FRA", "statistics": ["max"]}],
        (Country("FRA"), {"statistics": ("max",)}),
        "statistics and a weight grid apply to a region's cells",
    ),
    "a percentile out of range": (
        ["--regions", "FRA", "--statistics", "p200"],
        [{"operation": "mask_regions", "regions": ["FRA"], "statistics": ["p200"]}],
        ("table", {"statistics": ("p200",)}),
        "statistic 'p200' is not one of",
    ),
    "monthly means as CSV without a mean": (
        ["--landonly", "--csv", "--window", "month"],
        [{"operation": "mask_landonly", "output_csv": True}, {"operation": "time_mean", "window": "month"}],
        (LandOnly(), {"output_csv": True, "window": "month"}),
        "time_mean with output_csv needs compute_mean or select_point",
    ),
}


@pytest.fixture(scope="module")
def api():
    # a Redis nobody listens on: a refused request is a 400 before the queue, an accepted one a 503
    settings = Settings(input_path=DIS_FILE.parent.parent, redis_url="redis://127.0.0.1:1/0", _env_file=None)
    return create_app(settings).test_client()


def page_plan(page):
    region, options = page
    if region == "table":
        region = RegionSet(("FRA",), (Country("FRA"),), "fra")
    return plan_of(region, **options)


@pytest.mark.parametrize(("cli", "operations", "page", "refusal"), CASES.values(), ids=CASES.keys())
def test_the_command_line_the_api_and_the_page_agree(tmp_path, capsys, api, cli, operations, page, refusal):
    code = main([str(DIS_FILE), str(tmp_path / "out"), *cli])
    err = capsys.readouterr().err
    answer = api.post("/", json={"paths": [f"data/{DIS_FILE.name}"], "operations": operations})
    if refusal is None:
        assert code == 0 and err == ""
        assert answer.status_code == 503  # accepted, then no queue to take it
        plan = parse_operations(operations)
        from_cli, _ = operations_from_args(build_parser().parse_args(["in.nc", "out.nc", *cli]), 10**7)
        assert parse_operations(from_cli) == plan
        if page is not None:
            assert page_plan(page) == plan
        return
    assert code == 1 and refusal in err
    assert answer.status_code == 400 and refusal in answer.get_data(as_text=True)
    if page is not None:
        with pytest.raises(Exception, match=refusal.replace("(", r"\(")):
            page_plan(page)
