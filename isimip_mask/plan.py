"""What a request asks of every file: one region (a chain is one intersected region) and three
flags. A plan round-trips through its JSON config (what the queue stores) and back into the
request form; running it is the engine's work (``Plan.run``)."""

from dataclasses import dataclass
from pathlib import Path

from .naming import output_name
from .options import DEFAULTS, RunOptions
from .regions import Intersection, Point, Region, Touching, region_config, region_from_config

FLAGS = ("crop", "compute_mean", "output_csv")


@dataclass(frozen=True)
class Plan:
    """What to do with every file of a request: one region plus the three flags."""

    region: Region
    crop: bool = False
    compute_mean: bool = False
    output_csv: bool = False

    @property
    def is_series(self) -> bool:
        return self.compute_mean or isinstance(self.region, Point)

    def config(self) -> dict:
        return {
            **region_config(self.region),
            "crop": self.crop,
            "compute_mean": self.compute_mean,
            "output_csv": self.output_csv,
        }

    @classmethod
    def from_config(cls, config: dict) -> "Plan":
        return cls(
            region_from_config(config),
            bool(config.get("crop")),
            bool(config.get("compute_mean")),
            bool(config.get("output_csv")),
        )

    def operations(self) -> list[dict]:
        """The request form of this plan: a v2 operations list that ``parse_operations`` reads back."""
        parts = self.region.parts if isinstance(self.region, Intersection) else (self.region,)
        operations = [_operation(part) for part in parts]
        operations[-1].update({flag: True for flag in FLAGS if getattr(self, flag)})
        return operations

    def describe(self) -> str:
        what = (
            "field mean over"
            if self.compute_mean
            else "time series at"
            if isinstance(self.region, Point)
            else "mask to"
        )
        extras = [flag for flag in ("crop", "output_csv") if getattr(self, flag)]
        return f"{what} {self.region.tag}" + (f" ({', '.join(extras)})" if extras else "")

    def output_name(self, source_name: str) -> str:
        suffix = "_fldmean" if self.compute_mean else ""
        return output_name(source_name, self.region, suffix, ".csv" if self.output_csv else ".nc")

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
        from .engine import run

        return run(self, source, output_dir, progress, options, name)


REQUEST_NAMES = {
    "bbox": "mask_bbox",
    "country": "mask_country",
    "landonly": "mask_landonly",
    "point": "select_point",
    "shape": "mask_shape",
}


def _operation(region) -> dict:
    if isinstance(region, Touching):
        return {**_operation(region.area), "rule": "touch"}
    config = {key: value for key, value in region.config().items() if key != "name" or region.kind == "shape"}
    return {"operation": REQUEST_NAMES[region.kind], **config}
