"""The operation registry: the region operations a request may ask for, each building its
region from its parameters (the chain they form is read in :mod:`isimip_mask.requests.chain`). Adding
an operation is one class and one entry in ``OPERATIONS``.
"""

import json
import re
from typing import ClassVar

from isimip_mask.errors import RegionError
from isimip_mask.files.netcdf import NETCDF_MAGIC, mask_variables, read_mask
from isimip_mask.regions.countries import country_catalogue
from isimip_mask.regions.kinds import (
    BBox,
    Country,
    LandOnly,
    MaskFile,
    Point,
    Region,
    slug,
)
from isimip_mask.regions.sets import MAX_COLUMNS, PointSet, RegionSet
from isimip_mask.regions.shapes import parse_features, parse_geojson, parse_upload, read_points_csv
from isimip_mask.requests.limits import Limits, store_upload

VARIABLE = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class Operation:
    """One region-selecting operation: its name, parameters and how to build its region."""

    name: ClassVar[str]
    params: ClassVar[dict[str, str]] = {}
    crop: ClassVar[bool] = False  # operations that cut out always crop
    help: ClassVar[str] = ""
    takes_rule: ClassVar[bool] = True  # the cell rule (see chain.apply_rule) applies to its region
    writes_mask: ClassVar[bool] = False  # create_mask alone: the output is the region's mask file

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


class MaskRegions(Operation):
    name = "mask_regions"
    params = {
        "regions": "'countries' (every country: Natural Earth, or every m_* layer of ISIMIP's "
        "country masks if set), a list of ISO3 codes, or the name of an uploaded GeoJSON or zipped "
        "shapefile (every feature, named by its name property)",
    }
    help = "the area-weighted mean of each region, one column each, in one pass over the file"

    @classmethod
    def region(cls, config, limits):
        chosen = config.get("regions")
        if chosen == "countries":
            if limits.countrymasks is not None:
                names = [v for v in mask_variables(str(limits.countrymasks)) if v.startswith("m_")]
                parts = [MaskFile(str(limits.countrymasks), v, v[2:].lower()) for v in names]
                return RegionSet(tuple(v[2:] for v in names), tuple(parts), "countries")
            codes = sorted(country_catalogue())
            return RegionSet(tuple(codes), tuple(Country(code) for code in codes), "countries")
        if isinstance(chosen, list) and chosen:
            if len(chosen) > MAX_COLUMNS:
                raise RegionError(f"{len(chosen)} regions, more than the limit of {MAX_COLUMNS:,}", "regions")
            parts = tuple(MaskCountry.region({"country": code}, limits) for code in chosen)
            return RegionSet(tuple(str(code).strip().upper() for code in chosen), parts, "countries")
        if isinstance(chosen, dict) or (isinstance(chosen, str) and chosen in limits.uploads):
            name, named = _features(chosen, limits, "regions")
            return RegionSet(tuple(n for n, _ in named), tuple(s for _, s in named), slug(name))
        raise RegionError(
            "regions must be 'countries', a list of ISO3 codes or the name of an uploaded file "
            f"(uploaded: {sorted(limits.uploads) or 'none'}), got {str(chosen)[:80]!r}",
            "regions",
        )


class CreateMask(Operation):
    name = "create_mask"
    takes_rule = False
    writes_mask = True
    params = {
        "shape": "the name of an uploaded GeoJSON or zipped shapefile, or a GeoJSON object",
        "mask": "the name of the mask file to write (letters, digits, '-', '_', '.'), e.g. 'pm.nc'",
    }
    help = (
        "alone: write the mask of each feature of a shape on the file's grid (variable m_<i>, 1 "
        "inside, missing outside); followed by mask_mask naming it: mask the files with it"
    )

    @classmethod
    def region(cls, config, limits):
        shape = config.get("shape")
        if not (isinstance(shape, dict) or (isinstance(shape, str) and shape in limits.uploads)):
            raise RegionError(
                f"shape must be a GeoJSON object or the name of an uploaded file "
                f"(uploaded: {sorted(limits.uploads) or 'none'}), got {str(shape)[:80]!r}",
                "shape",
            )
        name, named = _features(shape, limits, "shape")
        layers = tuple(f"m_{number}" for number in range(len(named)))
        return RegionSet(layers, tuple(shape for _, shape in named), slug(name))


class SelectPoints(Operation):
    name = "select_points"
    takes_rule = False
    params = {
        "points": "a list of [lat, lon] or of {name, lat, lon}, or the name of an uploaded CSV file "
        "with the columns name, lat, lon"
    }
    help = "the values of the cell nearest to each point, one column each, in one pass over the file"

    @classmethod
    def region(cls, config, limits):
        points = config.get("points")
        if isinstance(points, str) and points in limits.uploads:
            points = read_points_csv(limits.uploads[points], points, limits.max_geojson_bytes)
        if not isinstance(points, list) or not points:
            raise RegionError(
                "points must be a list of [lat, lon] or {name, lat, lon}, or the name of an uploaded "
                f"CSV file, got {str(points)[:80]!r}",
                "points",
            )
        if len(points) > MAX_COLUMNS:
            raise RegionError(f"{len(points)} points, more than the limit of {MAX_COLUMNS:,}", "points")
        names, parsed = [], []
        for number, point in enumerate(points):
            if isinstance(point, dict):
                names.append(str(point.get("name", f"point_{number}"))[:80])
                point = [point.get("lat"), point.get("lon")]
            else:
                names.append(None)
            try:
                parsed.append(Point.from_list(point))
            except RegionError as error:
                raise RegionError(f"point {number}: {error}", "points") from None
        names = [name or f"lat{p.lat:g}_lon{p.lon:g}" for name, p in zip(names, parsed)]
        return PointSet(tuple(names), tuple(parsed))


class CutoutPoint(SelectPoint):
    name = "cutout_point"
    help = "select_point (the v2 name of ncks -d at one cell)"


def _features(chosen: dict | str, limits: Limits, inline_name: str):
    """The name and the named features of a GeoJSON object or of the uploaded file it names."""
    data = json.dumps(chosen).encode() if isinstance(chosen, dict) else limits.uploads[chosen]
    name = inline_name if isinstance(chosen, dict) else chosen
    return name, parse_features(data, name, limits.max_geojson_bytes, limits.max_geojson_vertices)


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
        MaskRegions,
        SelectPoints,
        CreateMask,
    )
}
