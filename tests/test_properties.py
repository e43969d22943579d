"""Property-based tests: whatever a client sends as a box, a point, GeoJSON or a list of
operations, the parsers give a valid region or our own error with a message, never anything else.
"""

import json

import numpy as np
import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from isimip_mask.errors import InputError, RegionError
from isimip_mask.regions.kinds import BBox, Point
from isimip_mask.regions.shapes import parse_geojson
from isimip_mask.requests.chain import parse_operations
from isimip_mask.requests.limits import Limits

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
NUMBERS = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**30), 10**30) | JSON_SCALARS
RING = st.lists(st.tuples(st.floats(-200, 200), st.floats(-100, 100)), min_size=0, max_size=12)
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@QUICK
@given(st.lists(NUMBERS, min_size=0, max_size=6) | JSON)
def test_any_bbox_is_a_valid_box_or_a_region_error(values):
    try:
        box = BBox.from_list(values)
    except RegionError as error:
        assert str(error) and set(error.errors) == {"bbox"}
        return
    numbers = np.array([box.west, box.east, box.south, box.north])
    assert np.isfinite(numbers).all() and -90 <= box.south < box.north <= 90 and box.west != box.east


@QUICK
@given(st.lists(NUMBERS, min_size=0, max_size=4) | JSON)
def test_any_point_is_a_valid_point_or_a_region_error(values):
    try:
        point = Point.from_list(values)
    except RegionError as error:
        assert str(error) and set(error.errors) == {"point"}
        return
    assert -90 <= point.lat <= 90 and -180 <= point.lon <= 360


GEOMETRIES = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["Polygon", "MultiPolygon", "Point", "LineString", "Feature", "FeatureCollection"]
        )
    },
    optional={
        "coordinates": st.lists(RING.map(lambda r: [list(p) for p in r]), max_size=3) | JSON,
        "features": JSON,
    },
)


DEGENERATE = [  # found by this test: GEOS failed to node them, or returned an invalid area
    [[[0.0, -17.0], [0.0, 0.0], [1.183724548875465e-225, -10.0], [-138.0, 0.0]],
     [[0.0, -17.0], [-122.0, -1.0], [0.0, -10.0], [-138.0, 0.0]],
     [[0.0, -10.0], [0.0, -11.0], [1.0, 0.0]]],
    [[[0.0, -3.0], [0.0, -1.0], [-57.0, -5.7745781823700256e-114]],
     [[0.0, 0.0], [0.0, -1.0], [-57.0, 0.0]],
     [[0.0, -4.596101496900502], [-57.0, 0.0], [-57.0, -1.0]]],
    [[[0.0, -3.0], [0.0, -1.0], [1.0, -5.7745781823700256e-114]], [[0.0, 0.0], [0.0, -1.0], [1.0, 0.0]]],
]  # fmt: skip


@QUICK
@given(GEOMETRIES | JSON)
@example({"type": "Polygon", "coordinates": DEGENERATE[0]})
@example({"type": "Polygon", "coordinates": DEGENERATE[1]})
@example({"type": "Polygon", "coordinates": DEGENERATE[2]})
def test_any_geojson_is_a_valid_shape_or_a_region_error(document):
    try:
        region = parse_geojson(json.dumps(document), max_vertices=10_000)
    except RegionError as error:
        assert str(error)
        return
    assert region.geometry.is_valid and region.geometry.area > 0
    assert np.isfinite(shapely.get_coordinates(region.geometry)).all()


OPERATION = st.fixed_dictionaries(
    {
        "operation": st.sampled_from(
            ["mask_bbox", "select_point", "mask_country", "mask_shape", "mask_mask", "nope"]
        )
        | JSON
    },
    optional={
        "bbox": st.lists(NUMBERS, max_size=5),
        "point": st.lists(NUMBERS, max_size=3),
        "country": JSON,
        "shape": JSON,
        "rule": JSON,
        "layer": JSON,
        "compute_mean": JSON,
        "output_csv": JSON,
    },
)


@QUICK
@given(st.lists(OPERATION, max_size=5) | JSON)
def test_any_operation_list_is_a_plan_or_an_input_error(operations):
    try:
        plan = parse_operations(operations, Limits())
    except InputError as error:
        assert error.errors and all(messages for messages in error.errors.values())
        return
    assert plan.region is not None
