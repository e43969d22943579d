"""What a request asks of every file: one region (a chain is one intersected region), three
flags, and optionally a period of time and a time window to average over. A plan round-trips
through its JSON config (what the queue stores) and back into the request form; running it is
the engine's work (``Plan.run``)."""

from dataclasses import dataclass
from pathlib import Path

from isimip_mask.engine.options import DEFAULTS, RunOptions
from isimip_mask.files.timeaxis import CDO_NAMES, Period
from isimip_mask.files.weights import WeightGrid
from isimip_mask.regions.kinds import (
    Intersection,
    Point,
    Region,
    Shape,
    Touching,
    region_config,
    region_from_config,
    slug,
)
from isimip_mask.regions.sets import PointSet, RegionSet
from isimip_mask.requests.naming import output_name, with_period

FLAGS = ("crop", "compute_mean", "output_csv")


@dataclass(frozen=True)
class Plan:
    """What to do with every file of a request: one region plus the three flags; ``period``
    keeps the steps of a time range, ``window`` (``month``, ``year``) averages the series over
    calendar months or years; ``fractional`` weighs each cell of a mean by the share of it
    inside the region; ``statistics`` are what a field mean or a table of regions computes
    (``engine.statistics``), ``weights`` a grid each cell's weight is multiplied by."""

    region: Region
    crop: bool = False
    compute_mean: bool = False
    output_csv: bool = False
    period: Period | None = None
    window: str | None = None
    fractional: bool = False
    crop_to: Region | None = None  # the cropping operations' region in a chain: the output's grid
    upstream: bool = False  # written as the ISIMIP files API writes (a zip, CSV without header)
    mask_name: str | None = None  # create_mask alone: write the mask of each feature, so named
    statistics: tuple[str, ...] = ("mean",)
    weights: WeightGrid | None = None

    @property
    def is_series(self) -> bool:
        return self.compute_mean or isinstance(self.region, Point | RegionSet | PointSet)

    def config(self) -> dict:
        return {
            **region_config(self.region),
            "crop": self.crop,
            "compute_mean": self.compute_mean,
            "output_csv": self.output_csv,
            "period": self.period.config() if self.period else None,
            "window": self.window,
            "fractional": self.fractional,
            "crop_to": region_config(self.crop_to) if self.crop_to is not None else None,
            "upstream": self.upstream,
            "mask_name": self.mask_name,
            "statistics": list(self.statistics),
            "weights": self.weights.config() if self.weights else None,
        }

    @classmethod
    def from_config(cls, config: dict) -> "Plan":
        return cls(
            region_from_config(config),
            bool(config.get("crop")),
            bool(config.get("compute_mean")),
            bool(config.get("output_csv")),
            Period(*config["period"]) if config.get("period") else None,
            config.get("window"),
            bool(config.get("fractional")),
            region_from_config(config["crop_to"]) if config.get("crop_to") else None,
            bool(config.get("upstream")),
            config.get("mask_name"),
            tuple(config.get("statistics") or ("mean",)),
            WeightGrid.from_config(config["weights"]) if config.get("weights") else None,
        )

    def operations(self) -> list[dict]:
        """The request form of this plan: a v2 operations list that ``parse_operations`` reads back."""
        if self.mask_name is not None:
            shape = _feature_collection(self.region.names, self.region.parts)
            return [{"operation": "create_mask", "shape": shape, "mask": self.mask_name}]
        parts = self.region.parts if isinstance(self.region, Intersection) else (self.region,)
        operations = [_operation(part) for part in parts]
        croppers = _parts(self.crop_to)
        for part, operation in zip(parts, operations):
            if any(part == cropper for cropper in croppers):
                operation["crop"] = True  # this operation sets the output's grid
        flags = [flag for flag in FLAGS if getattr(self, flag) and not (flag == "crop" and croppers)]
        operations[-1].update(dict.fromkeys(flags, True))
        if self.weights:
            operations[-1]["weights"] = {
                **self.weights.request(),
                **({"fraction": True} if self.fractional else {}),
            }
        elif self.fractional:
            operations[-1]["weights"] = "fraction"
        if self.statistics != ("mean",):
            operations[-1]["statistics"] = list(self.statistics)
        if self.period:
            operations.append({"operation": "select_time", "period": self.period.config()})
        if self.window:
            operations.append({"operation": "time_mean", "window": self.window})
        return operations

    def describe(self) -> str:
        if self.mask_name is not None:
            return f"the mask of {len(self.region.names)} feature(s) of {self.region.tag} ({self.mask_name})"
        if isinstance(self.region, RegionSet | PointSet):
            count = f"{len(self.region.names)} {self.region.kind}"
            what = "field means of" if isinstance(self.region, RegionSet) else "time series at"
            return f"{what} {count} ({self.region.tag})" + self._extras()
        what = (
            "field mean over"
            if self.compute_mean
            else "time series at"
            if isinstance(self.region, Point)
            else "mask to"
        )
        return f"{what} {self.region.tag}" + self._extras()

    def _extras(self) -> str:
        extras = [flag for flag in ("crop", "output_csv") if getattr(self, flag)]
        if self.period:
            extras.append(f"{self.period.start} to {self.period.end}")
        if self.window:
            extras.append(f"{self.window}ly means")
        if self.fractional:
            extras.append("fractional cells")
        if self.statistics != ("mean",):
            extras.append(", ".join(self.statistics))
        if self.weights:
            extras.append(f"weighted by {self.weights.var} of {self.weights.name}")
        return f" ({', '.join(extras)})" if extras else ""

    def output_name(self, source_name: str) -> str:
        if self.mask_name is not None:
            return self.mask_name
        name = output_name(source_name, self.region, self._suffix(), ".csv" if self.output_csv else ".nc")
        if self.window:  # the steps written are months or years now
            step = "monthly" if self.window == "month" else "annual"
            name = name.replace("_daily_", f"_{step}_", 1).replace("_monthly_", f"_{step}_", 1)
        return with_period(name, *self.period.years) if self.period else name

    def _suffix(self) -> str:
        """``_fldmean`` (``_fldmax``, ``_fldp95``; ``_fldstats`` for several), weights, window."""
        if self.statistics == ("mean",):
            suffix = "_fldmean" if self.compute_mean and not self.upstream else ""
        else:
            suffix = "_fld" + (self.statistics[0].replace(".", "-") if len(self.statistics) == 1 else "stats")
        if self.weights:
            suffix += f"_{slug(self.weights.var)}-weighted"
        return suffix + (f"_{CDO_NAMES[self.window]}" if self.window else "")

    def run(
        self,
        source: Path,
        output_dir: Path,
        progress=None,
        options: RunOptions = DEFAULTS,
        name: str | None = None,
    ) -> Path:
        """Process one file into ``output_dir`` (as ``name``, default the ISIMIP-style name)
        with the engine (imported here: parsing a request needs none of it)."""
        from isimip_mask.engine import run

        return run(self, source, output_dir, progress, options, name)


def _parts(region) -> tuple:
    if region is None:
        return ()
    return region.parts if isinstance(region, Intersection) else (region,)


REQUEST_NAMES = {
    "bbox": "mask_bbox",
    "country": "mask_country",
    "landonly": "mask_landonly",
    "point": "select_point",
    "shape": "mask_shape",
}


def _operation(region) -> dict:
    if isinstance(region, PointSet):
        points = [{"name": n, "lat": p.lat, "lon": p.lon} for n, p in zip(region.names, region.points)]
        return {"operation": "select_points", "points": points}
    if isinstance(region, RegionSet):
        return _regions_operation(region)
    if isinstance(region, Touching):
        return {**_operation(region.area), "rule": "touch"}
    config = {key: value for key, value in region.config().items() if key != "name" or region.kind == "shape"}
    return {"operation": REQUEST_NAMES[region.kind], **config}


def _regions_operation(region: RegionSet) -> dict:
    """Countries as ``countries`` or their codes; shapes as an inline FeatureCollection."""
    touch = all(isinstance(part, Touching) for part in region.parts)
    areas = [part.area if touch else part for part in region.parts]
    if all(isinstance(area, Shape) for area in areas):
        chosen = _feature_collection(region.names, areas)
    else:
        chosen = "countries" if region.tag == "countries" and len(areas) > 100 else list(region.names)
    return {"operation": "mask_regions", "regions": chosen, **({"rule": "touch"} if touch else {})}


def _feature_collection(names, shapes) -> dict:
    features = [
        {"type": "Feature", "properties": {"name": name}, "geometry": shape.config()["shape"]}
        for name, shape in zip(names, shapes)
    ]
    return {"type": "FeatureCollection", "features": features}
