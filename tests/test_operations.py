import json

import pytest
import shapely

from isimip_mask.errors import InputError
from isimip_mask.regions.kinds import BBox, Country, Intersection, LandOnly, Point, Shape, Touching
from isimip_mask.requests.chain import catalogue, parse_operations
from isimip_mask.requests.limits import Limits
from isimip_mask.requests.plan import Plan
from tests.helpers import DATA


@pytest.mark.parametrize(
    ("operations", "plan"),
    [
        ([{"operation": "mask_bbox", "bbox": [-10, 40, 35, 70]}], Plan(BBox(-10, 40, 35, 70))),
        ([{"operation": "select_bbox", "bbox": [-10, 40, 35, 70]}], Plan(BBox(-10, 40, 35, 70), crop=True)),
        (
            [{"operation": "cutout_bbox", "bbox": [-10, 40, 35, 70], "compute_mean": True}],
            Plan(BBox(-10, 40, 35, 70), crop=True, compute_mean=True),
        ),
        (
            [{"operation": "mask_country", "country": "deu", "compute_mean": True, "output_csv": True}],
            Plan(Country("DEU"), compute_mean=True, output_csv=True),
        ),
        ([{"operation": "mask_landonly"}, {"operation": "crop"}], Plan(LandOnly(), crop=True)),
        (
            [{"operation": "select_point", "point": [52.3, 12.8], "output_csv": True}],
            Plan(Point(52.3, 12.8), output_csv=True),
        ),
        ([{"operation": "cutout_point", "point": [52.3, 12.8]}], Plan(Point(52.3, 12.8))),
        (
            [
                {
                    "operation": "mask_shape",
                    "shape": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
                }
            ],
            Plan(Shape(shapely.Polygon([(0, 0), (1, 0), (1, 1)]))),
        ),
    ],
)
def test_operations_become_plans(operations, plan):
    assert parse_operations(operations) == plan


SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


def test_a_chain_of_masks_is_one_intersection_with_the_flags_of_every_step():
    plan = parse_operations(
        [
            {"operation": "mask_bbox", "bbox": [-10, 40, 35, 70]},
            {"operation": "mask_country", "country": "fra", "compute_mean": True},
            {"operation": "mask_landonly"},
            {"operation": "output_csv"},
        ]
    )
    assert plan == Plan(Intersection((BBox(-10, 40, 35, 70), Country("FRA"), LandOnly())), False, True, True)
    assert plan.region.tag == "lon-10.0to40.0lat35.0to70.0+fra+landonly"
    assert parse_operations(plan.operations()) == plan
    assert Plan.from_config(plan.config()) == plan


def test_the_touch_rule_is_asked_for_per_operation_and_round_trips():
    plan = parse_operations(
        [
            {"operation": "mask_country", "country": "DEU", "rule": "touch"},
            {"operation": "mask_bbox", "bbox": [5, 10, 47, 55]},
        ]
    )
    assert plan.region == Intersection((Touching(Country("DEU")), BBox(5, 10, 47, 55)))
    assert plan.region.tag == "deu+lon5.0to10.0lat47.0to55.0"
    assert parse_operations(plan.operations()) == plan and Plan.from_config(plan.config()) == plan
    assert parse_operations(
        [{"operation": "select_point", "point": [52, 13], "rule": "centre"}]
    ).region == Point(52, 13)
    with pytest.raises(InputError, match="the touch rule applies to areas"):
        parse_operations([{"operation": "select_point", "point": [52, 13], "rule": "touch"}])
    with pytest.raises(InputError, match="rule must be one of centre, touch"):
        parse_operations([{"operation": "mask_landonly", "rule": "all"}])


def test_a_layer_of_an_upload_is_one_feature():
    features = [
        {
            "type": "Feature",
            "geometry": {**SQUARE, "coordinates": [[[x + d for d in c] for c in SQUARE["coordinates"][0]]]},
        }
        for x in (0, 10)
    ]
    uploads = {"two.geojson": json.dumps({"type": "FeatureCollection", "features": features}).encode()}
    for layer, west in ((0, 0.0), (1, 10.0), (None, 0.0)):
        config = {
            "operation": "mask_shape",
            "shape": "two.geojson",
            **({"layer": layer} if layer is not None else {}),
        }
        region = parse_operations([config], Limits(uploads=uploads)).region
        assert region.geometry.bounds[0] == west and region.tag == "two"
        assert region.geometry.bounds[2] == (11.0 if layer is None else west + 1)


def test_uploaded_shapes_by_name():
    uploads = {"pm.json": (DATA / "pm.json").read_bytes(), "pm.zip": (DATA / "pm.zip").read_bytes()}
    for name in uploads:
        plan = parse_operations([{"operation": "mask_shape", "shape": name}], Limits(uploads=uploads))
        assert plan.region.tag == "pm"


@pytest.mark.parametrize(
    ("operations", "field", "message"),
    [
        (None, "operations", "non-empty list"),
        ([{"operation": "mask_everything"}], "operations", "'mask_everything' is not supported"),
        (
            [
                {"operation": "select_point", "point": [52, 13]},
                {"operation": "mask_country", "country": "DEU"},
            ],
            "operations",
            "select_point, cutout_point, mask_regions and select_points cannot be chained",
        ),
        ([{"operation": "mask_landonly"}] * 5, "operations", "5 operations, more than the limit of 4"),
        (
            [{"operation": "mask_shape", "shape": SQUARE, "layer": 1}],
            "layer",
            "layer 1 (m_1) names no feature",
        ),
        (
            [{"operation": "mask_shape", "shape": SQUARE, "layer": -1}],
            "layer",
            "layer must be a feature number",
        ),
        ([{"operation": "compute_mean"}], "operations", "one region operation is needed"),
        ([{"operation": "mask_landonly", "crop": "yes"}], "operations", "crop must be true or false"),
        ([{"operation": "mask_country", "country": 7}], "country", "ISO3 code"),
        ([{"operation": "mask_shape", "shape": "missing.json"}], "shape", "names no uploaded file"),
        ([{"operation": "mask_bbox", "bbox": [0, 10, 5, 1]}], "bbox", "must be below north"),
    ],
)
def test_bad_operations_name_the_problem(operations, field, message):
    with pytest.raises(InputError) as error:
        parse_operations(operations)
    assert any(message in m for m in error.value.errors[field])


@pytest.mark.parametrize(
    "plan",
    [
        Plan(BBox(170, -170, -10, 10), crop=True),
        Plan(Country("FRA"), compute_mean=True, output_csv=True),
        Plan(LandOnly()),
        Plan(Point(1, 2), output_csv=True),
        Plan(Shape(shapely.box(0, 0, 2, 2), "drawn")),
    ],
)
def test_plan_round_trips_through_its_operations(plan):
    assert parse_operations(plan.operations()) == plan
    assert Plan.from_config(plan.config()) == plan


# what isimip-client 2.x sends for its methods (select_bbox ... mask_shape, v2)
CLIENT_OPERATIONS = {
    "mask_bbox": {"bbox"},
    "select_bbox": {"bbox"},
    "cutout_bbox": {"bbox"},
    "mask_country": {"country"},
    "mask_landonly": set(),
    "mask_shape": {"shape"},
    "select_point": {"point"},
    "cutout_point": {"point"},
}


@pytest.mark.parametrize(("name", "params"), CLIENT_OPERATIONS.items())
def test_catalogue_documents_what_the_client_sends(name, params):
    entry = next(entry for entry in catalogue() if entry["operation"] == name)
    required = {key for key, text in entry["params"].items() if not text.startswith("optional")}
    assert required == params and all(entry["params"].values())
    assert entry["help"] and entry["flags"] == ["crop", "compute_mean", "output_csv"]


@pytest.mark.parametrize(
    "operations",
    [
        [
            {"operation": "select_bbox", "bbox": [0, 20, 40, 55]},
            {"operation": "mask_bbox", "bbox": [5, 10, 45, 50]},
        ],
        [
            {"operation": "cutout_bbox", "bbox": [0, 20, 40, 55]},
            {"operation": "mask_country", "country": "CHE"},
        ],
    ],
    ids=["select then mask", "cut-out then a shape"],
)
def test_a_cropping_operation_sets_the_grid_and_the_others_mask_inside_it(tmp_path, operations):
    """As upstream: select_bbox / cutout_bbox cut the output; a later region masks inside it."""
    import netCDF4
    import numpy as np

    from tests.helpers import FILL, global_axes, write_netcdf

    source = write_netcdf(tmp_path / "in.nc", *global_axes(0.5), n_times=2)
    plan = parse_operations(operations)
    assert parse_operations(plan.operations()) == plan and Plan.from_config(plan.config()) == plan
    with netCDF4.Dataset(plan.run(source, tmp_path)) as out:
        values, lat, lon = out["tas"][:].filled(FILL), out["lat"][:], out["lon"][:]
    assert values.shape == (2, 30, 40) and lat.min() == 40.25 and lon.max() == 19.75
    kept = values[0] != FILL
    second = plan.region.parts[1]
    assert 0 < kept.sum() < kept.size
    if second.kind == "bbox":
        assert kept.sum() == 10 * 10 and kept[np.ix_((lat > 45) & (lat < 50), (lon > 5) & (lon < 10))].all()
