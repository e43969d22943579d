"""The operation registry: what a request may ask for, and the plan it becomes.

A request carries a chain of operations in the ISIMIP files API v2 form, e.g.
``[{"operation": "mask_bbox", "bbox": [W, E, S, N]}, {"operation": "mask_country", "country":
"fra", "compute_mean": true, "output_csv": true}]``. The region operations of a chain become
one region (a cell is kept when every one keeps it); ``crop``, ``compute_mean`` and
``output_csv`` are flags on any of them (or standalone operations of those names). Adding an
operation is one class and one entry in ``OPERATIONS``.
"""

import re
from typing import ClassVar

from .errors import InputError, Problems, RegionError
from .limits import DEFAULT_LIMITS, Limits, store_upload
from .netcdf import NETCDF_MAGIC, mask_variables, read_mask
from .plan import FLAGS, Plan
from .regions import (
    BBox,
    Country,
    LandOnly,
    MaskFile,
    Point,
    Region,
    Touching,
    intersect,
    slug,
)
from .shapes import parse_geojson, parse_upload
from .timeaxis import TIME_OPERATIONS, time_operation

VARIABLE = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class Operation:
    """One region-selecting operation: its name, parameters and how to build its region."""

    name: ClassVar[str]
    params: ClassVar[dict[str, str]] = {}
    crop: ClassVar[bool] = False  # operations that cut out always crop
    help: ClassVar[str] = ""
    takes_rule: ClassVar[bool] = True  # the cell rule (see _with_rule) applies to its region

    @classmethod
    def region(cls, config: dict, limits: Limits) -> Region:
        raise NotImplementedError


class MaskBBox(Operation):
    name = "mask_bbox"
    params = {"bbox": "[west, east, south, north] in degrees; west > east crosses the antimeridian"}
    help = "keep the cells whose centre lies in the box (edges included), as cdo masklonlatbox"

    @classmethod
    def region(cls, config, limits):
        return BBox.from_list(config.get("bbox"))


class SelectBBox(MaskBBox):
    name = "select_bbox"
    crop = True
    help = "mask_bbox, cut to the box"


class CutoutBBox(MaskBBox):
    name = "cutout_bbox"
    crop = True
    help = "mask_bbox, cut to the box (the v2 name of ncks -d)"


class MaskCountry(Operation):
    name = "mask_country"
    params = {"country": "ISO 3166-1 alpha-3 code, e.g. DEU (Natural Earth 1:50m outlines)"}
    help = "keep the cells of one country"

    @classmethod
    def region(cls, config, limits):
        code = config.get("country")
        if not isinstance(code, str) or not code.strip().isalpha() or len(code.strip()) > 5:
            raise RegionError(
                f"country must be an ISO3 code such as 'DEU', got {str(code)[:50]!r}", "country"
            )
        code = code.strip().upper()
        if limits.countrymasks is None:
            return Country(code)
        if f"m_{code}" not in mask_variables(str(limits.countrymasks)):
            raise RegionError(f"country {code!r} is not in the country masks (e.g. DEU, FRA, USA)", "country")
        return MaskFile(str(limits.countrymasks), f"m_{code}", code.lower())


class MaskLandonly(Operation):
    name = "mask_landonly"
    help = "keep land cells (ISIMIP's land-sea mask if set, else Natural Earth countries but Antarctica)"

    @classmethod
    def region(cls, config, limits):
        if limits.landseamask is None:
            return LandOnly()
        return MaskFile(str(limits.landseamask), None, "landonly")


class MaskMask(Operation):
    name = "mask_mask"
    takes_rule = False
    params = {
        "mask": "the name of an uploaded NetCDF mask file (multipart/form-data)",
        "var": "optional: its variable, default m_0; cells where it is neither 0 nor missing are kept",
    }
    help = "keep the cells of an uploaded NetCDF mask (on the file's grid, or a grid it contains)"

    @classmethod
    def region(cls, config, limits):
        name, var = config.get("mask"), config.get("var", "m_0")
        if not isinstance(name, str) or name not in limits.uploads:
            uploaded = sorted(limits.uploads) or "none"
            raise RegionError(
                f"mask {str(name)[:100]!r} names no uploaded file (uploaded: {uploaded})", "mask"
            )
        if not isinstance(var, str) or not VARIABLE.match(var):
            raise RegionError(
                f"var must be a variable name (letters, digits, _), got {str(var)[:100]!r}", "var"
            )
        data = limits.uploads[name]
        if len(data) > limits.max_geojson_bytes:
            raise RegionError(
                f"mask {name} is {len(data)} bytes, more than the limit of {limits.max_geojson_bytes}"
            )
        if not data.startswith(NETCDF_MAGIC) or limits.upload_dir is None:
            raise RegionError(f"mask {name} is not a NetCDF file", "mask")
        region = MaskFile(str(store_upload(limits.upload_dir, data)), var, slug(name))
        # a missing variable or a broken file is reported now, not in the job
        read_mask(region.path, var, region.tag)
        return region


class MaskShape(Operation):
    name = "mask_shape"
    params = {
        "shape": "GeoJSON object, or the name of an uploaded .geojson/.json or zipped shapefile",
        "layer": "optional: keep feature number `layer` only (0, 1, ...: create_mask's m_0, m_1, ...)",
    }
    help = "keep the cells of a polygon or multipolygon"

    @classmethod
    def region(cls, config, limits):
        shape, layer = config.get("shape"), config.get("layer")
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int) or layer < 0):
            raise RegionError(f"layer must be a feature number 0, 1, ..., got {layer!r}", "layer")
        if isinstance(shape, str):
            if shape not in limits.uploads:
                raise RegionError(
                    f"shape {shape!r} names no uploaded file (uploaded: {sorted(limits.uploads) or 'none'})",
                    "shape",
                )
            data = limits.uploads[shape]
            return parse_upload(data, shape, limits.max_geojson_bytes, limits.max_geojson_vertices, layer)
        if isinstance(shape, dict):
            name = config.get("name", "shape")
            return parse_geojson(shape, name, limits.max_geojson_bytes, limits.max_geojson_vertices, layer)
        raise RegionError("shape must be a GeoJSON object or the name of an uploaded file", "shape")


class SelectPoint(Operation):
    name = "select_point"
    takes_rule = False
    params = {"point": "[lat, lon] in degrees (the order the ISIMIP client sends)"}
    help = "time series of the grid cell nearest to the point"

    @classmethod
    def region(cls, config, limits):
        return Point.from_list(config.get("point"))


class CutoutPoint(SelectPoint):
    name = "cutout_point"
    help = "select_point (the v2 name of ncks -d at one cell)"


OPERATIONS: dict[str, type[Operation]] = {
    op.name: op
    for op in (
        MaskBBox,
        SelectBBox,
        CutoutBBox,
        MaskCountry,
        MaskLandonly,
        MaskShape,
        MaskMask,
        SelectPoint,
        CutoutPoint,
    )
}


RULES = ("centre", "touch")


def apply_rule(region, rule: str):
    """The region with the cell rule asked for: ``centre`` (as CDO) or ``touch`` (as ISIMIP's masks).

    A mask file's cells are given by the file, and a point keeps its cell, whatever the rule.
    """
    if rule not in RULES:
        raise InputError(f"rule must be one of {', '.join(RULES)}, not {str(rule)[:50]!r}", "operations")
    if rule == "touch" and not isinstance(region, MaskFile | Point):
        return Touching(region)
    return region


def _flag(problems: Problems, config: dict, name: str) -> bool:
    value = config.get(name, False)
    if not isinstance(value, bool):
        problems.add("operations", f"{name} must be true or false, got {value!r}")
        return False
    return value


def parse_operations(operations, limits: Limits = DEFAULT_LIMITS) -> Plan:
    """Validate a v2 operations list into a Plan; InputError lists every problem found."""
    problems = Problems()
    if not isinstance(operations, list) or not operations:
        raise InputError(
            "operations must be a non-empty list of objects with an 'operation' key", "operations"
        )
    if len(operations) > limits.max_operations:
        problems.add(
            "operations", f"{len(operations)} operations, more than the limit of {limits.max_operations}"
        )
    regions, flags, timing = [], dict.fromkeys(FLAGS, False), {}
    for config in operations:
        name = config.get("operation") if isinstance(config, dict) else None
        if not isinstance(name, str):
            problems.add("operations", f"every operation needs an 'operation' name, got {str(config)[:80]!r}")
            continue
        if name in FLAGS:
            flags[name] = True
            continue
        if name in TIME_OPERATIONS:
            time_operation(problems, config, timing)
            continue
        if name not in OPERATIONS:
            problems.add(
                "operations",
                f"operation {name!r} is not supported; choose one of "
                f"{', '.join(sorted([*OPERATIONS, *TIME_OPERATIONS]))}",
            )
            continue
        op = OPERATIONS[name]
        try:
            regions.append(apply_rule(op.region(config, limits), config.get("rule", "centre")))
        except InputError as error:
            problems.extend(error)
        for flag in FLAGS:
            flags[flag] |= _flag(problems, config, flag)
        flags["crop"] |= op.crop
    if not regions and not problems.errors:
        problems.add("operations", f"one region operation is needed: {', '.join(sorted(OPERATIONS))}")
    if len(regions) > 1 and any(isinstance(region, Point) for region in regions):
        problems.add(
            "operations", "select_point and cutout_point cannot be chained with other region operations"
        )
    series = flags["compute_mean"] or any(isinstance(region, Point) for region in regions)
    if "window" in timing and flags["output_csv"] and not series:
        problems.add("window", "time_mean with output_csv needs compute_mean or select_point (a table)")
    problems.raise_if_any(InputError)
    return Plan(
        intersect(regions),
        flags["crop"],
        flags["compute_mean"],
        flags["output_csv"],
        timing.get("period"),
        timing.get("window"),
    )


RULE_PARAM = {
    "rule": "optional: 'centre' (default: cells whose centre is inside, as CDO) or 'touch' "
    "(every cell the region overlaps, as ISIMIP's own masks)"
}


def catalogue() -> list[dict]:
    """Every operation with its parameters and flags, for ``GET /`` and the docs."""
    return [
        {
            "operation": op.name,
            "help": op.help,
            "params": {**op.params, **(RULE_PARAM if op.takes_rule else {})},
            "flags": list(FLAGS),
        }
        for op in OPERATIONS.values()
    ] + [{"operation": name, **described, "flags": []} for name, described in TIME_OPERATIONS.items()]
