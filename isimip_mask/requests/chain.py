"""A request's chain of operations, read into the plan every file gets.

A request carries a chain of operations in the ISIMIP files API v2 form, e.g.
``[{"operation": "mask_bbox", "bbox": [W, E, S, N]}, {"operation": "mask_country", "country":
"fra", "compute_mean": true, "output_csv": true}]``. The region operations of a chain become
one region (a cell is kept when every one keeps it); ``crop``, ``compute_mean`` and
``output_csv`` are flags on any of them (or standalone operations of those names);
``select_time`` and ``time_mean`` apply to the time axis; ``weights`` chooses whole or
fractional cells for means, and a weight grid; ``statistics`` what a field mean or
``mask_regions`` computes besides (or instead of) the mean.
"""

import re

from isimip_mask.engine.statistics import parse_statistics
from isimip_mask.errors import DatasetError, InputError, Problems
from isimip_mask.files.netcdf import NETCDF_MAGIC
from isimip_mask.files.paths import resolve
from isimip_mask.files.timeaxis import WINDOWS, Period
from isimip_mask.files.weights import WeightGrid, describe
from isimip_mask.regions.kinds import MaskFile, Point, Touching, intersect
from isimip_mask.regions.sets import PointSet, RegionSet
from isimip_mask.requests.limits import DEFAULT_LIMITS, Limits, store_upload
from isimip_mask.requests.operations import OPERATIONS, VARIABLE
from isimip_mask.requests.plan import FLAGS, Plan

# operations on the time axis: they take no region and apply to every file of the request
TIME_OPERATIONS = {
    "select_time": {
        "help": "keep the steps of a period, both ends included (cdo seldate)",
        "params": {"period": "[start, end]: years (2001), months (2001-06) or days (2001-06-15)"},
    },
    "time_mean": {
        "help": "the mean of each calendar month or year (cdo monmean / yearmean), of the masked "
        "grid or of the series of compute_mean and select_point; missing steps left out",
        "params": {"window": "'month' or 'year'"},
    },
}


def check_window(window) -> str:
    if not isinstance(window, str) or window not in WINDOWS:
        raise InputError(f"window must be one of {', '.join(WINDOWS)}, got {str(window)[:40]!r}", "window")
    return window


def time_operation(problems: Problems, config: dict, timing: dict) -> None:
    """Read a ``select_time`` or ``time_mean`` operation into ``timing`` (``period``, ``window``)."""
    name = config["operation"]
    key = "period" if name == "select_time" else "window"
    if key in timing:
        problems.add("operations", f"{name} may come once in a request")
        return
    try:
        timing[key] = (
            Period.parse(config.get("period")) if key == "period" else check_window(config.get("window"))
        )
    except InputError as error:
        problems.extend(error)


WEIGHTS = ("cells", "fraction")
WEIGHT_KEYS = {"file", "var", "fraction", "per_cell"}


def read_weights(config, limits: Limits) -> tuple[bool, WeightGrid | None]:
    """An operation's ``weights``: ``cells`` or ``fraction``, or a weight grid
    ``{"file": <path under the data root or an upload's name>, "var": <its variable>,
    "fraction": bool, "per_cell": bool}``. Returns (fractional, the weight grid)."""
    if isinstance(config, str) and config in WEIGHTS:
        return config == "fraction", None
    if not isinstance(config, dict):
        raise InputError(
            f"weights must be one of {', '.join(WEIGHTS)} or an object {{file, var}} naming a weight "
            f"grid, got {str(config)[:60]!r}",
            "weights",
        )
    unknown = sorted(set(config) - WEIGHT_KEYS)
    name, var = config.get("file"), config.get("var")
    flags = {key: config.get(key, False) for key in ("fraction", "per_cell")}
    if unknown or not isinstance(name, str) or not isinstance(var, str) or not VARIABLE.match(var):
        raise InputError(
            "weights must name a file (a path under the data root, or an uploaded file) and its "
            'variable, e.g. {"file": "population.nc", "var": "pop"}'
            + (f"; unknown keys: {', '.join(unknown)}" if unknown else ""),
            "weights",
        )
    if not all(isinstance(flag, bool) for flag in flags.values()):
        raise InputError("fraction and per_cell of weights must be true or false", "weights")
    if name in limits.uploads:
        data = limits.uploads[name]
        if not data.startswith(NETCDF_MAGIC) or limits.upload_dir is None:
            raise InputError(f"the weight file {name} is not a NetCDF file", "weights")
        path = store_upload(limits.upload_dir, data)
    elif limits.input_path is None:
        raise InputError(f"weights {name!r} names no uploaded file, and there is no data root", "weights")
    else:
        try:
            path = resolve(limits.input_path, name)
        except DatasetError as error:
            raise InputError(f"weights: {error}", "weights") from None
    weights = WeightGrid(name, str(path), var, flags["per_cell"])
    try:
        describe(weights)  # the variable is there: refused now, not in the job
    except DatasetError as error:
        raise InputError(f"weights: {error}", "weights") from None
    return flags["fraction"], weights


RULES = ("centre", "touch")


def apply_rule(region, rule: str):
    """The region with the cell rule asked for: ``centre`` (as CDO) or ``touch`` (as ISIMIP's masks).

    A mask file's cells are given by the file, and a point keeps its cell, whatever the rule.
    """
    if rule not in RULES:
        raise InputError(f"rule must be one of {', '.join(RULES)}, not {str(rule)[:50]!r}", "operations")
    if isinstance(region, RegionSet):
        return RegionSet(region.names, tuple(apply_rule(part, rule) for part in region.parts), region.tag)
    if rule == "touch" and not isinstance(region, MaskFile | Point | PointSet):
        return Touching(region)
    return region


def _flag(problems: Problems, config: dict, name: str) -> bool:
    value = config.get(name, False)
    if not isinstance(value, bool):
        problems.add("operations", f"{name} must be true or false, got {value!r}")
        return False
    return value


def parse_operations(operations, limits: Limits = DEFAULT_LIMITS) -> Plan:  # noqa: C901 (the chain's rules in order, each with its message)
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
    regions, flags, timing, fractional, croppers = [], dict.fromkeys(FLAGS, False), {}, False, []
    mask_name, weight_grid, statistics = None, None, ("mean",)
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
        if config.get("rule") == "touch" and not op.takes_rule:
            problems.add(
                "operations",
                f"the touch rule applies to areas (a box, a country, land, a shape), not to {name}",
            )
        if op.writes_mask:
            mask_name = _mask_name(problems, config.get("mask"))
        try:
            regions.append(apply_rule(op.region(config, limits), config.get("rule", "centre")))
            if op.crop or config.get("crop") is True:
                croppers.append(regions[-1])
        except InputError as error:
            problems.extend(error)
        try:
            fraction, found = read_weights(config.get("weights", "cells"), limits)
            fractional |= fraction
            weight_grid = found or weight_grid
            if "statistics" in config:
                statistics = parse_statistics(config["statistics"])
        except InputError as error:
            problems.extend(error)
        for flag in FLAGS:
            flags[flag] |= _flag(problems, config, flag)
        flags["crop"] |= op.crop
    if not regions and not problems.errors:
        problems.add("operations", f"one region operation is needed: {', '.join(sorted(OPERATIONS))}")
    if len(regions) > 1 and any(isinstance(region, Point | RegionSet | PointSet) for region in regions):
        problems.add(
            "operations",
            "select_point, cutout_point, mask_regions and select_points cannot be chained with other "
            "region operations",
        )
    if mask_name is not None and len(regions) > 1:
        problems.add(
            "operations",
            "create_mask alone writes the mask of its shape; to mask files with it, follow it with "
            "mask_mask naming the mask",
        )
    tables = mask_name is None and any(isinstance(region, RegionSet | PointSet) for region in regions)
    if tables and flags["crop"]:
        problems.add(
            "operations", "crop does not apply to mask_regions and select_points (they write tables)"
        )
    area_means = flags["compute_mean"] or any(isinstance(r, RegionSet) for r in regions)
    if fractional and not area_means:
        problems.add("weights", "weights 'fraction' applies to means: add compute_mean, or use mask_regions")
    if (weight_grid is not None or statistics != ("mean",)) and not area_means:
        problems.add(
            "statistics",
            "statistics and a weight grid apply to a region's cells: add compute_mean, or use mask_regions",
        )
    series = flags["compute_mean"] or tables or any(isinstance(region, Point) for region in regions)
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
        fractional,
        intersect(croppers) if croppers and len(croppers) < len(regions) else None,
        mask_name=mask_name,
        statistics=statistics,
        weights=weight_grid,
    )


MASK_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")


def _mask_name(problems: Problems, name) -> str | None:
    if not isinstance(name, str) or not MASK_NAME.match(name) or ".." in name:
        problems.add(
            "mask",
            "mask of create_mask must be a file name of letters, digits, '-', '_' and single '.', "
            f"e.g. 'pm.nc', got {str(name)[:60]!r}",
        )
        return None
    return name


def plan_of(region, limits: Limits = DEFAULT_LIMITS, **options) -> Plan:
    """The plan of a region a door built itself (the page's widgets), read by the one parser:
    its request form (``Plan.operations``) parsed back, so that the page, the API and the
    command line accept and refuse the same requests with the same words. ``options`` are
    the fields of :class:`Plan` besides the region."""
    return parse_operations(Plan(region, **options).operations(), limits)


RULE_PARAM = {
    "rule": "optional: 'centre' (default: cells whose centre is inside, as CDO) or 'touch' "
    "(every cell the region overlaps, as ISIMIP's own masks)"
}


WEIGHTS_PARAM = {
    "weights": "optional, for means and statistics: 'cells' (default: the cells the rule keeps, "
    "whole), 'fraction' (each cell by the share of its area inside the region; exact overlap), or "
    "a weight grid {file: a path under the data root or an uploaded file, var: its variable, "
    "fraction: true|false, per_cell: true for amounts per cell such as people}: cells weigh by "
    "area x weight (x fraction); yearly weights are matched to the data by year",
    "statistics": "optional, with compute_mean or mask_regions: a list of mean (default), sum "
    "(values x cell area in m2), min, max, std, median and percentiles p0..p100 (p95), "
    "one column or variable each, in one pass (as cdo fldmean, fldsum -mul -gridarea, fldmin, "
    "fldmax, fldstd, fldpctl)",
}


def catalogue() -> list[dict]:
    """Every operation with its parameters and flags, for ``GET /`` and the docs."""
    return [
        {
            "operation": op.name,
            "help": op.help,
            "params": {**op.params, **({**RULE_PARAM, **WEIGHTS_PARAM} if op.takes_rule else {})},
            "flags": list(FLAGS),
        }
        for op in OPERATIONS.values()
    ] + [{"operation": name, **described, "flags": []} for name, described in TIME_OPERATIONS.items()]
