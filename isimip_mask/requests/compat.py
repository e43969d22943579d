"""Every request form ISIMIP clients send, read as v2 operations: the files API v2 (with
``create_mask`` + ``mask_mask``), v1 tasks, and the keys of the original masking service."""

import re

from isimip_mask.errors import InputError
from isimip_mask.requests.plan import FLAGS

# v1 tasks and the original service's keys, as v2 operations (select_* of v1 gave a field-mean CSV)
LEGACY = {
    "bbox": [{"operation": "mask_bbox"}],
    "country": [{"operation": "mask_country"}],
    "landonly": [{"operation": "mask_landonly"}],
    "point": [{"operation": "select_point"}],
    "mask_bbox": [{"operation": "mask_bbox"}],
    "mask_country": [{"operation": "mask_country"}],
    "mask_landonly": [{"operation": "mask_landonly"}],
    "cutout_bbox": [{"operation": "cutout_bbox"}],
    "select_bbox": [{"operation": "mask_bbox", "compute_mean": True, "output_csv": True}],
    "select_country": [{"operation": "mask_country", "compute_mean": True, "output_csv": True}],
    "select_point": [{"operation": "select_point", "output_csv": True}],
}
LAYER_VAR = re.compile(r"^m_(\d{1,6})$")


def normalize(payload: dict) -> tuple[list, list]:
    """Paths and v2 operations from any request form ISIMIP clients send.

    - v2: ``{"paths": [...], "operations": [...]}``; ``create_mask`` + ``mask_mask`` (the v2
      client's ``mask_shape``) become one ``mask_shape`` on the uploaded shape, of the feature
      that ``var`` (``m_<i>``) names;
    - v1: ``{"paths": [...], "task": "mask_bbox", "bbox": [S, N, W, E], ...}``;
    - the original service: ``{"path": "...", "bbox": [S, N, W, E]}``, ``{"path": ..., "country": "deu"}``
      or ``{"path": ..., "landonly": true}``.
    """
    if not isinstance(payload, dict):
        raise InputError("the request body must be a JSON object", "data")
    paths = payload.get("paths", [payload["path"]] if "path" in payload else None)
    if "operations" in payload:
        operations = _merge_shape_operations(payload["operations"])
        return paths, [_lat_ordered(op) for op in operations] if isinstance(operations, list) else operations
    task = payload.get("task") or next(
        (key for key in ("bbox", "country", "landonly", "point") if key in payload), None
    )
    if task is None:
        raise InputError("give 'operations' (v2), or one of 'bbox', 'country', 'landonly'", "operations")
    if not isinstance(task, str) or task not in LEGACY:
        raise InputError(
            f"task {str(task)[:100]!r} is not supported; choose one of {', '.join(sorted(LEGACY))}",
            "operations",
        )
    operation = dict(LEGACY[task][0])
    for key in ("bbox", "country", "point"):
        if key in payload:
            operation[key] = payload[key]
    bbox = operation.get("bbox")
    if isinstance(bbox, list) and len(bbox) == 4:
        south, north, west, east = bbox  # the order of the original service and of v1
        operation["bbox"] = [west, east, south, north]
    return paths, [_lat_ordered(operation)]


def _lat_ordered(operation):
    """A bbox with south and north swapped put in order, as upstream's cdo reads it (the page and
    the command line say what is wrong instead)."""
    bbox = operation.get("bbox") if isinstance(operation, dict) else None
    if isinstance(bbox, list) and len(bbox) == 4:
        west, east, south, north = bbox
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (south, north))
        if numbers and south > north:
            return {**operation, "bbox": [west, east, north, south]}
    return operation


def _merge_shape_operations(operations) -> list:
    if not isinstance(operations, list):
        return operations
    made = [op for op in operations if isinstance(op, dict) and op.get("operation") == "create_mask"]
    for op in made:
        if not isinstance(op.get("mask"), str):
            raise InputError(
                "mask of create_mask must be the name the mask is given, e.g. 'pm.nc', "
                f"got {str(op.get('mask'))[:60]!r}",
                "mask",
            )
    shapes = {op["mask"]: op.get("shape") for op in made}
    using = [op for op in operations if isinstance(op, dict) and op.get("operation") == "mask_mask"]
    used = {str(op.get("mask")) for op in using}
    merged = []
    for op in operations:
        if isinstance(op, dict) and op.get("operation") == "create_mask" and op["mask"] not in used:
            merged.append(op)  # alone: the mask itself is what the user gets
        elif not isinstance(op, dict) or op.get("operation") not in ("create_mask", "mask_mask"):
            merged.append(op)
        elif op["operation"] == "mask_mask":
            mask = op.get("mask")
            if not isinstance(mask, str) or mask not in shapes:
                merged.append(op)  # a mask uploaded as NetCDF
                continue
            var = op.get("var", "m_0")
            layer = LAYER_VAR.match(var) if isinstance(var, str) else None
            if layer is None:
                raise InputError(
                    f"var must name a layer of the mask, m_0, m_1, ..., got {str(var)[:100]!r}", "var"
                )
            shape = {"operation": "mask_shape", "shape": shapes[mask], "layer": int(layer.group(1))}
            merged.append({**shape, **{f: op[f] for f in FLAGS if f in op}})
    return merged
