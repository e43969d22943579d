"""Region types: a box, a polygon, a country, land only, a point, and the intersection of several.

Each region is a small frozen dataclass that validates itself on construction, knows a short
``tag`` for output file names and round-trips through a JSON-able ``config`` dict; its ``kind``
names it in that dict (see :data:`REGION_KINDS`).
"""

from dataclasses import dataclass, field
from typing import ClassVar

import shapely
from shapely.geometry import mapping, shape

from isimip_mask.errors import Problems, RegionError
from isimip_mask.regions.countries import ISIMIP_ONLY_COUNTRIES, country_catalogue, land_geometry


def _fmt(value: float) -> str:
    """A number as upstream writes it into file names: Python's own float repr (-10.0, -23.43651)."""
    return str(float(value))


@dataclass(frozen=True)
class BBox:
    """A longitude/latitude box; ``west > east`` means it crosses the antimeridian."""

    west: float
    east: float
    south: float
    north: float
    kind: ClassVar[str] = "bbox"

    def __post_init__(self):
        problems = Problems()
        values = {}
        for label, low, high in (
            ("west", -180, 360),
            ("east", -180, 360),
            ("south", -90, 90),
            ("north", -90, 90),
        ):
            values[label] = problems.number("bbox", label, getattr(self, label), low, high, noun="the box's")
            object.__setattr__(self, label, values[label])
        if None not in (values["south"], values["north"]) and values["south"] >= values["north"]:
            problems.add("bbox", f"the box's south={values['south']} must be below north={values['north']}")
        if None not in (values["west"], values["east"]) and values["west"] == values["east"]:
            problems.add("bbox", f"the box's west={values['west']} and east are equal: the box has no width")
        problems.raise_if_any(RegionError)

    @classmethod
    def from_list(cls, values) -> "BBox":
        """Build from ``[west, east, south, north]``, the order of the ISIMIP files API v2."""
        if not isinstance(values, list | tuple) or len(values) != 4:
            raise RegionError(f"bbox must be a list [west, east, south, north], got {values!r}", "bbox")
        return cls(*values)

    @property
    def crosses_antimeridian(self) -> bool:
        return self.west > self.east

    @property
    def tag(self) -> str:
        return f"lon{_fmt(self.west)}to{_fmt(self.east)}lat{_fmt(self.south)}to{_fmt(self.north)}"

    @property
    def geometry(self):
        """The box as a polygon, with east shifted by 360 where it crosses the antimeridian."""
        east = self.east + 360 if self.crosses_antimeridian else self.east
        return shapely.box(self.west, self.south, east, self.north)

    def config(self) -> dict:
        return {"bbox": [self.west, self.east, self.south, self.north]}

    @classmethod
    def from_config(cls, config: dict) -> "BBox":
        return cls.from_list(config["bbox"])


@dataclass(frozen=True)
class Shape:
    """A polygon or multipolygon in lon/lat (EPSG:4326), e.g. drawn on the map or uploaded."""

    geometry: shapely.Geometry = field(compare=False)
    name: str = "shape"
    repaired: str | None = field(default=None, compare=False)  # why the outline given was invalid
    wkb: bytes = field(init=False, repr=False)
    kind: ClassVar[str] = "shape"

    def __post_init__(self):
        object.__setattr__(self, "wkb", shapely.to_wkb(shapely.normalize(self.geometry)))

    @property
    def tag(self) -> str:
        return self.name

    def config(self) -> dict:
        return {"shape": mapping(self.geometry), "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> "Shape":
        return cls(shape(config["shape"]), name=config.get("name", "shape"))


@dataclass(frozen=True)
class Country:
    """A country by ISO 3166-1 alpha-3 code, outlined by Natural Earth 1:50m."""

    iso3: str
    kind: ClassVar[str] = "country"

    def __post_init__(self):
        code = str(self.iso3).strip().upper()
        catalogue = country_catalogue()
        if code in ISIMIP_ONLY_COUNTRIES and code not in catalogue:
            raise RegionError(
                f"country {code} is in ISIMIP's country masks but has no Natural Earth outline: "
                "set COUNTRYMASKS_FILE_PATH to ISIMIP's countrymasks.nc to use it",
                "country",
            )
        if code not in catalogue:
            raise RegionError(
                f"country {self.iso3!r} is not a known ISO3 code (e.g. DEU, FRA, USA; "
                f"{len(catalogue)} countries from Natural Earth 1:50m)",
                "country",
            )
        object.__setattr__(self, "iso3", code)

    @property
    def name(self) -> str:
        return country_catalogue()[self.iso3][0]

    @property
    def geometry(self):
        return country_catalogue()[self.iso3][1]

    @property
    def tag(self) -> str:
        return self.iso3.lower()

    def config(self) -> dict:
        return {"country": self.iso3}

    @classmethod
    def from_config(cls, config: dict) -> "Country":
        return cls(config["country"])


@dataclass(frozen=True)
class LandOnly:
    """All land cells: Natural Earth countries except Antarctica (the ISIMIP convention)."""

    tag: ClassVar[str] = "landonly"
    kind: ClassVar[str] = "landonly"

    @property
    def geometry(self):
        return land_geometry()

    def config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "LandOnly":
        return cls()


@dataclass(frozen=True)
class Point:
    """A single location; the mask keeps the grid cell nearest to it."""

    lat: float
    lon: float
    kind: ClassVar[str] = "point"

    def __post_init__(self):
        problems = Problems()
        object.__setattr__(self, "lat", problems.number("point", "lat", self.lat, -90, 90))
        object.__setattr__(self, "lon", problems.number("point", "lon", self.lon, -180, 360))
        problems.raise_if_any(RegionError)

    @classmethod
    def from_list(cls, values) -> "Point":
        """Build from ``[lat, lon]``, the order the ISIMIP client sends."""
        if not isinstance(values, list | tuple) or len(values) != 2:
            raise RegionError(f"point must be a list [lat, lon], got {values!r}", "point")
        return cls(*values)

    @property
    def tag(self) -> str:
        return f"lat{_fmt(self.lat)}lon{_fmt(self.lon)}"

    def config(self) -> dict:
        return {"point": [self.lat, self.lon]}

    @classmethod
    def from_config(cls, config: dict) -> "Point":
        return cls.from_list(config["point"])


@dataclass(frozen=True)
class MaskFile:
    """The cells where a variable of a NetCDF mask file is neither zero nor missing.

    ISIMIP's country masks (``m_DEU``, ...) and land-sea mask, or a mask uploaded with a
    request. ``path`` is a server path; ``var`` None means the file's first gridded variable.
    """

    path: str
    var: str | None
    tag: str
    kind: ClassVar[str] = "maskfile"

    @property
    def geometry(self):
        return None  # cells, not an outline

    def config(self) -> dict:
        return {"path": self.path, "var": self.var, "tag": self.tag}

    @classmethod
    def from_config(cls, config: dict) -> "MaskFile":
        return cls(config["path"], config.get("var"), config["tag"])


@dataclass(frozen=True)
class Touching:
    """An area by the rule of ISIMIP's own masks: every cell it overlaps, not only the cells
    whose centre lies inside (the default, as CDO)."""

    area: BBox | Shape | Country | LandOnly
    kind: ClassVar[str] = "touch"

    def __post_init__(self):
        if not isinstance(self.area, BBox | Shape | Country | LandOnly):
            raise RegionError("rule 'touch' applies to boxes, countries, land and shapes", "operations")

    @property
    def tag(self) -> str:
        return self.area.tag

    @property
    def geometry(self):
        return self.area.geometry

    def config(self) -> dict:
        return {"area": region_config(self.area)}

    @classmethod
    def from_config(cls, config: dict) -> "Touching":
        return cls(region_from_config(config["area"]))


@dataclass(frozen=True)
class Intersection:
    """Several regions at once (a chain of mask operations): a cell is kept when each keeps it."""

    parts: tuple
    kind: ClassVar[str] = "intersection"

    def __post_init__(self):
        if len(self.parts) < 2 or any(isinstance(part, Point | Intersection) for part in self.parts):
            raise RegionError("an intersection needs two or more areas (no points)", "operations")

    @property
    def tag(self) -> str:
        return "+".join(part.tag for part in self.parts)

    @property
    def geometry(self):
        """The common outline of the parts that have one (mask files have none)."""
        outlines = [part.geometry for part in self.parts if part.geometry is not None]
        return shapely.intersection_all(outlines) if outlines else None

    def config(self) -> dict:
        return {"parts": [region_config(part) for part in self.parts]}

    @classmethod
    def from_config(cls, config: dict) -> "Intersection":
        return cls(tuple(region_from_config(part) for part in config["parts"]))


Region = BBox | Shape | Country | LandOnly | Point | MaskFile | Touching | Intersection
REGION_KINDS: dict[str, type] = {
    kind.kind: kind for kind in (BBox, Shape, Country, LandOnly, Point, MaskFile, Touching, Intersection)
}


def intersect(regions: list) -> "Region":
    """One region for a chain of masks: the region itself, or the intersection of all of them."""
    return regions[0] if len(regions) == 1 else Intersection(tuple(regions))


def words(region) -> str:
    """A region as a message names it to a user: "Japan (JPN)", "the box lon 0 to 5, lat 44 to 48",
    "the shape drawn" (never the tags of file names: ``jpn``, ``lon0.0to5.0lat44.0to48.0``)."""
    if isinstance(region, Country):
        try:
            return f"{region.name} ({region.iso3})"
        except KeyError:
            return region.iso3
    if isinstance(region, BBox):
        west, east, south, north = (f"{v:g}" for v in (region.west, region.east, region.south, region.north))
        return f"the box lon {west} to {east}, lat {south} to {north}"
    if isinstance(region, Shape):
        return "the shape drawn" if region.name == "drawn" else f"the shape {region.name}"
    if isinstance(region, LandOnly):
        return "land"
    if isinstance(region, Point):
        return f"the point lat {region.lat:g}, lon {region.lon:g}"
    if isinstance(region, MaskFile):
        return f"the mask {region.tag}"
    if isinstance(region, Touching):
        return f"{words(region.area)} (every cell it touches)"
    if isinstance(region, Intersection):
        return " and ".join(words(part) for part in region.parts)
    return f"the {len(getattr(region, 'names', ()))} {getattr(region, 'kind', 'regions')}"


def slug(name: str) -> str:
    """A name for file names: the file name's stem (``two_boxes.json`` -> ``two_boxes``,
    ``pm.zip.nc`` -> ``pm.zip``, as the ISIMIP files API names them), lower case, anything but
    letters, digits, ``-``, ``_`` and ``.`` as ``-``."""
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem).strip("-.")
    return slug[:40] or "shape"


def region_config(region: Region) -> dict:
    """A JSON-able dict that ``region_from_config`` turns back into the same region."""
    return {"region": region.kind, **region.config()}


def region_from_config(config: dict) -> Region:
    kind = REGION_KINDS.get(config.get("region"))
    if kind is None:
        raise RegionError(f"unknown region kind {config.get('region')!r}", "region")
    return kind.from_config(config)
