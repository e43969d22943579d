"""Many regions or many points at once: one column each in one table, read in one pass.

A :class:`RegionSet` (every country, a list of countries, every feature of an uploaded file)
gives the area-weighted mean of each region; a :class:`PointSet` the values of the cell nearest
to each point. Both are regions of their own kind (``regions``, ``points``) in a plan's
config; importing this module registers them with :data:`isimip_mask.regions.kinds.REGION_KINDS`.
"""

from dataclasses import dataclass
from typing import ClassVar

import shapely

from isimip_mask.errors import RegionError
from isimip_mask.regions.kinds import REGION_KINDS, Point, region_config, region_from_config

MAX_COLUMNS = 10_000  # regions or points in one request


def _names(names: tuple[str, ...], what: str) -> None:
    if not names:
        raise RegionError(f"{what} needs at least one entry", what)
    if len(names) > MAX_COLUMNS:
        raise RegionError(f"{len(names)} {what}, more than the limit of {MAX_COLUMNS:,}", what)
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})[:5]
        raise RegionError(f"{what} need distinct names; given twice: {', '.join(twice)}", what)


@dataclass(frozen=True)
class RegionSet:
    """Named areas (countries, shapes, mask files), each averaged on its own."""

    names: tuple[str, ...]
    parts: tuple
    tag: str = "regions"
    kind: ClassVar[str] = "regions"

    def __post_init__(self):
        _names(self.names, "regions")
        if len(self.parts) != len(self.names):
            raise RegionError("regions need one name per area", "regions")

    @property
    def geometry(self):
        """Every part's outline, not merged (a union of 241 countries takes seconds)."""
        outlines = [part.geometry for part in self.parts if part.geometry is not None]
        return shapely.GeometryCollection(outlines) if outlines else None

    def config(self) -> dict:
        return {"names": list(self.names), "parts": [region_config(p) for p in self.parts], "tag": self.tag}

    @classmethod
    def from_config(cls, config: dict) -> "RegionSet":
        parts = tuple(region_from_config(part) for part in config["parts"])
        return cls(tuple(config["names"]), parts, config.get("tag", "regions"))


@dataclass(frozen=True)
class PointSet:
    """Named points, each the cell nearest to it."""

    names: tuple[str, ...]
    points: tuple[Point, ...]
    tag: str = "points"
    kind: ClassVar[str] = "points"

    def __post_init__(self):
        _names(self.names, "points")
        if len(self.points) != len(self.names):
            raise RegionError("points need one name per point", "points")

    @property
    def parts(self) -> tuple[Point, ...]:
        return self.points

    @property
    def geometry(self):
        return shapely.MultiPoint([(p.lon, p.lat) for p in self.points])

    def config(self) -> dict:
        return {"names": list(self.names), "points": [[p.lat, p.lon] for p in self.points], "tag": self.tag}

    @classmethod
    def from_config(cls, config: dict) -> "PointSet":
        points = tuple(Point.from_list(point) for point in config["points"])
        return cls(tuple(config["names"]), points, config.get("tag", "points"))


REGION_KINDS.update({kind.kind: kind for kind in (RegionSet, PointSet)})
