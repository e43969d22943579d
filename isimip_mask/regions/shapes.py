"""Polygons from users: GeoJSON (text, bytes or parsed) and zipped ESRI shapefiles, checked
and repaired into a :class:`~isimip_mask.regions.kinds.Shape`. ``parse_upload`` is the one guard of
the API, the page and the command line: sizes, inflated sizes, members, nesting and vertices
are checked before anything grows in memory."""

import csv
import io
import warnings
import zipfile

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.validation import explain_validity

from isimip_mask.errors import Problems, RegionError, parse_json
from isimip_mask.regions.kinds import Shape, slug

MAX_ZIP_MEMBERS = 32  # a zipped shapefile has a handful (.shp .shx .dbf .prj .cpg ...)
SNAP_DEG = 1e-9  # the grid degenerate outlines are snapped to (see _polygonal)


def _union(polygons: list) -> shapely.Geometry:
    """One geometry covering every polygon: as it is where they do not overlap, a coverage
    union where they only share edges (a shapefile of districts), a full union otherwise."""
    combined = shapely.MultiPolygon(polygons) if len(polygons) > 1 else polygons[0]
    if combined.is_valid:
        return combined
    if shapely.coverage_is_valid(polygons):
        return shapely.coverage_union_all(polygons)
    return shapely.union_all(polygons)


def _polygonal(geometries: list, notes: list | None = None) -> shapely.Geometry:
    """One valid area from the user's geometries, repaired if need be (what was wrong is added
    to ``notes``).

    GEOS cannot node some degenerate outlines (near-coincident edges, denormal coordinates such
    as 1e-225): it fails, or returns an invalid area. Those are read again snapped to a grid of
    ``SNAP_DEG`` (0.1 mm, far below any cell), where they are ordinary polygons.
    """
    merged = _area(geometries, notes=notes)
    if merged is None or not merged.is_valid:
        merged = _area(geometries, snapped=True, notes=notes)
        if merged is None or not merged.is_valid or merged.area == 0:
            raise RegionError("shape cannot be read as an area: its outline is degenerate", "shape")
    return merged


def _area(geometries, snapped: bool = False, notes: list | None = None) -> shapely.Geometry | None:
    """The union of the polygons of ``geometries`` (``snapped`` to ``SNAP_DEG`` first), invalid
    ones repaired; None where GEOS fails."""
    try:
        return _union_of_polygons(
            shapely.set_precision(geometries, SNAP_DEG) if snapped else geometries, notes
        )
    except shapely.errors.GEOSException:
        return None


def _union_of_polygons(geometries, notes: list | None = None) -> shapely.Geometry:
    problems = Problems()
    polygons = []
    for geometry in geometries:
        if not geometry.is_valid:
            reason = explain_validity(geometry)
            if notes is not None and reason not in notes:
                notes.append(reason)
            # "structure": shells unioned, holes cut out, as a mask means; near-linear in the
            # vertices where the default ("linework") is quadratic on a self-crossing ring
            geometry = shapely.make_valid(geometry, method="structure")
            if geometry.is_empty or geometry.area == 0:
                problems.add("shape", f"shape polygon is invalid ({reason}) and cannot be repaired")
                continue
        polygons.extend(
            part for part in shapely.get_parts(geometry) if part.geom_type == "Polygon" and part.area > 0
        )
    if not polygons and not problems.errors:
        problems.add("shape", "shape contains no polygon with an area (points and lines cannot mask cells)")
    problems.raise_if_any(RegionError)
    merged = _union(polygons)
    bounds = merged.bounds
    if bounds[1] < -90 or bounds[3] > 90 or bounds[0] < -360 or bounds[2] > 360:
        raise RegionError(
            f"shape coordinates {bounds} are not lon/lat degrees (EPSG:4326, [lon, lat] order)", "shape"
        )
    return merged


def parse_geojson(
    data,
    name: str = "shape",
    max_bytes: int = 5_000_000,
    max_vertices: int = 200_000,
    layer: int | None = None,
) -> Shape:
    """Build a Shape from GeoJSON text, bytes or a parsed dict.

    Accepts a Geometry, a Feature or a FeatureCollection; polygons are unioned, invalid
    rings repaired where possible. ``layer`` keeps only that feature of a FeatureCollection
    (the ``m_<layer>`` variable of the ISIMIP files API's ``create_mask``). Raises RegionError
    naming the problem otherwise.
    """
    raw = [geometry for geometry, _ in _features(data, max_bytes)]
    if layer is not None:
        if layer >= len(raw):
            raise RegionError(
                f"layer {layer} (m_{layer}) names no feature: "
                f"{name} has {len(raw)} (m_0 to m_{len(raw) - 1})",
                "layer",
            )
        raw = [raw[layer]]
    notes: list[str] = []
    area = _polygonal(_geometries(raw, max_vertices), notes)
    return Shape(area, name=slug(name), repaired="; ".join(notes) or None)


def _features(data, max_bytes: int) -> list[tuple[dict, dict]]:
    """(geometry, properties) of each feature of GeoJSON text, bytes or a parsed dict."""
    if isinstance(data, bytes | str):
        if len(data) > max_bytes:
            raise RegionError(f"shape is {len(data)} bytes, more than the limit of {max_bytes}", "shape")
        data = parse_json(data, "shape", "shape", RegionError)
    if not isinstance(data, dict) or "type" not in data:
        raise RegionError("shape must be a GeoJSON object with a 'type'", "shape")
    kind = data["type"]
    if kind == "FeatureCollection":
        features = data.get("features") or []
        if not isinstance(features, list):
            raise RegionError("shape FeatureCollection 'features' must be a list of Features", "shape")
        features = [feature for feature in features if isinstance(feature, dict)]
    else:
        features = [data if kind == "Feature" else {"geometry": data}]
    return [
        (feature.get("geometry"), p if isinstance(p := feature.get("properties"), dict) else {})
        for feature in features
    ]


def _geometries(raw: list, max_vertices: int) -> list:
    try:
        with warnings.catch_warnings():  # NaN coordinates warn here; they are refused just below
            warnings.simplefilter("ignore", RuntimeWarning)
            geometries = [shape(item) for item in raw if item]
    except (
        AttributeError,
        IndexError,
        KeyError,
        TypeError,
        ValueError,
        RecursionError,
        shapely.errors.GEOSException,
    ):
        raise RegionError(
            "shape has a malformed GeoJSON geometry: a 'type' of Polygon or MultiPolygon needs "
            "'coordinates' as rings of [lon, lat] numbers",
            "shape",
        ) from None
    vertices = sum(int(shapely.get_num_coordinates(g)) for g in geometries)
    if vertices > max_vertices:
        raise RegionError(f"shape has {vertices} vertices, more than the limit of {max_vertices}", "shape")
    if geometries and not np.isfinite(shapely.get_coordinates(geometries)).all():
        raise RegionError("shape has coordinates that are not finite numbers (NaN or infinity)", "shape")
    return geometries


NAME_PROPERTIES = ("name", "NAME", "NAME_EN", "ISO_A3", "id", "ID")


def parse_features(data: bytes, name: str, max_bytes: int, max_vertices: int) -> list[tuple[str, Shape]]:
    """Every feature of an uploaded GeoJSON or zipped shapefile as a region of its own, named
    by its ``name`` (or ``NAME``, ``ISO_A3``, ``id``) property, else by its number."""
    if len(data) > max_bytes:
        raise RegionError(f"{name} is {len(data)} bytes, more than the limit of {max_bytes}", "regions")
    if name.lower().endswith(".zip") or data[:4] == b"PK\x03\x04":
        data = _shapefile_geojson(data, ZIP_INFLATION * max_bytes)
    features = _features(data, max_bytes)
    _geometries([geometry for geometry, _ in features], max_vertices)  # the vertex limit, in total
    named, taken = [], set()
    for number, (geometry, properties) in enumerate(features):
        label = next((str(properties[k]) for k in NAME_PROPERTIES if properties.get(k) not in (None, "")), "")
        label = label[:80] or f"{slug(name)}_{number}"
        label = label if label not in taken else f"{label}_{number}"
        taken.add(label)
        try:
            named.append((label, Shape(_polygonal(_geometries([geometry], max_vertices)), name=slug(label))))
        except RegionError as error:
            raise RegionError(f"feature {number} ({label}) of {name}: {error}", "regions") from None
    if not named:
        raise RegionError(f"{name} holds no feature", "regions")
    return named


ZIP_INFLATION = 10  # a zipped shapefile may inflate to this many times the upload limit


def parse_upload(
    data: bytes, name: str, max_bytes: int, max_vertices: int, layer: int | None = None
) -> Shape:
    """An uploaded shape file: a zipped shapefile (named .zip, or starting like a zip) or GeoJSON.

    The one guard of the API, the page and the command line: the size, what a zip inflates to,
    its members, the nesting and the vertices are all checked before anything grows in memory.
    """
    if len(data) > max_bytes:
        raise RegionError(f"{name} is {len(data)} bytes, more than the limit of {max_bytes}", "shape")
    if name.lower().endswith(".zip") or data[:4] == b"PK\x03\x04":
        return parse_shapefile_zip(data, name, max_vertices, layer, ZIP_INFLATION * max_bytes)
    return parse_geojson(data, name, max_bytes, max_vertices, layer)


def parse_shapefile_zip(
    data: bytes,
    name: str = "shape",
    max_vertices: int = 200_000,
    layer: int | None = None,
    max_inflated: int = 50_000_000,
) -> Shape:
    """Build a Shape from a zipped ESRI shapefile (.shp + .shx + .dbf) in lon/lat."""
    return parse_geojson(_shapefile_geojson(data, max_inflated), name, len(data) + 1, max_vertices, layer)


def _shapefile_geojson(data: bytes, max_inflated: int) -> dict:
    """The features of a zipped shapefile, with the attributes of its .dbf, as GeoJSON."""
    import shapefile  # pyshp: only needed for this upload format

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if len(archive.infolist()) > MAX_ZIP_MEMBERS:
                raise RegionError(f"shape zip holds more than {MAX_ZIP_MEMBERS} files", "shape")
            members = {n.rsplit(".", 1)[-1].lower(): n for n in archive.namelist() if "." in n}
            if "shp" not in members:
                raise RegionError("shape zip holds no .shp file", "shape")
            # sizes as the zip declares them, checked before anything is inflated (zip bombs);
            # zipfile never returns more than a member's declared size
            inflated = sum(
                archive.getinfo(members[ext]).file_size for ext in ("shp", "shx", "dbf") if ext in members
            )
            if inflated > max_inflated:
                raise RegionError(
                    f"shape zip inflates to {inflated} bytes, more than the limit of {max_inflated}", "shape"
                )
            streams = {
                ext: io.BytesIO(archive.read(members[ext])) for ext in ("shp", "shx", "dbf") if ext in members
            }
        with warnings.catch_warnings():  # pyshp warns of damaged headers; damage is an error below
            warnings.simplefilter("ignore")
            reader = shapefile.Reader(**streams)
            records = reader.records() if "dbf" in streams else []
            geojson = {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": item.__geo_interface__,
                        "properties": records[i].as_dict() if i < len(records) else {},
                    }
                    for i, item in enumerate(reader.shapes())
                ],
            }
    except RegionError:
        raise
    except zipfile.BadZipFile as error:
        raise RegionError(f"shape is not a valid zip file: {error}", "shape") from error
    except Exception as error:  # noqa: BLE001 - pyshp fails on damaged bytes with any kind of error
        detail = str(error) if isinstance(error, shapefile.ShapefileException) else type(error).__name__
        raise RegionError(f"shape zip is not a readable shapefile ({detail})", "shape") from error
    return geojson


def read_points_csv(data: bytes, name: str, max_bytes: int) -> list[dict]:
    """Points from an uploaded CSV with a header of ``name,lat,lon`` (``name`` optional; any
    other columns are ignored): ``[{"name", "lat", "lon"}, ...]``, checked by ``Point``."""
    if len(data) > max_bytes:
        raise RegionError(f"{name} is {len(data)} bytes, more than the limit of {max_bytes}", "points")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RegionError(f"{name} is not UTF-8 text (a CSV of name,lat,lon)", "points") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    header = {key.strip().lower() for key in (rows[0].keys() if rows else []) if key}
    if not {"lat", "lon"} <= header:
        raise RegionError(f"{name} needs a header line with the columns name,lat,lon", "points")
    points = []
    for number, row in enumerate(rows, start=2):  # line numbers as an editor shows them
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()}
        try:
            lat, lon = float(row["lat"]), float(row["lon"])
        except ValueError:
            raise RegionError(f"{name} line {number}: lat and lon must be numbers", "points") from None
        points.append({"name": row.get("name") or f"line_{number}", "lat": lat, "lon": lon})
    return points
