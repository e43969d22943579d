"""Command line: ``python -m isimip_mask INPUT OUTPUT --bbox W E S N [--crop] [--mean] [--csv]``."""

import argparse
import os
import sys
from pathlib import Path

from .errors import IsimipMaskError
from .options import RunOptions
from .plan import Plan
from .regions import BBox, Country, LandOnly, Point, Touching
from .settings import load_settings
from .shapes import parse_upload


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m isimip_mask",
        description="Mask a region of a NetCDF file: cells outside it become missing values.",
    )
    parser.add_argument("input", type=Path, help="input NetCDF file")
    parser.add_argument(
        "output", help="output file, or a folder (existing, or ending in /) for an ISIMIP-style name"
    )
    region = parser.add_mutually_exclusive_group(required=True)
    region.add_argument(
        "--bbox",
        nargs=4,
        type=float,
        metavar=("W", "E", "S", "N"),
        help="box; W > E crosses the antimeridian",
    )
    region.add_argument("--country", metavar="ISO3", help="country code, e.g. DEU")
    region.add_argument("--landonly", action="store_true", help="land cells only (Antarctica excluded)")
    region.add_argument(
        "--geojson", type=Path, metavar="FILE", help="polygon(s) from a GeoJSON file or a zipped shapefile"
    )
    region.add_argument(
        "--point", nargs=2, type=float, metavar=("LAT", "LON"), help="time series of the nearest cell"
    )
    parser.add_argument(
        "--touch",
        action="store_true",
        help="keep every cell the region overlaps (ISIMIP's mask rule), not only centres inside",
    )
    parser.add_argument("--crop", action="store_true", help="cut the output to the region's bounding box")
    parser.add_argument("--mean", action="store_true", help="area-weighted field mean per time step")
    parser.add_argument(
        "--csv", action="store_true", help="write the time series as CSV (with --mean or --point)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="threads for (de)compression (default: one per core)",
    )
    return parser


def region_from_args(args):
    if args.bbox is not None:
        return BBox(*args.bbox)
    if args.country is not None:
        return Country(args.country)
    if args.landonly:
        return LandOnly()
    if args.point is not None:
        return Point(*args.point)
    limits = load_settings()  # MAX_GEOJSON_BYTES and MAX_GEOJSON_VERTICES, as for the API
    try:
        size = args.geojson.stat().st_size
        if size > limits.max_geojson_bytes:  # refused before it is read
            raise IsimipMaskError(
                f"{args.geojson} is {size} bytes, more than the limit of {limits.max_geojson_bytes} "
                "(MAX_GEOJSON_BYTES)"
            )
        data = args.geojson.read_bytes()
    except OSError as error:
        raise IsimipMaskError(f"cannot read GeoJSON file {args.geojson}: {error.strerror}") from error
    return parse_upload(data, args.geojson.name, limits.max_geojson_bytes, limits.max_geojson_vertices)


def output_target(output: str) -> tuple[Path, str | None]:
    """The folder and file name OUTPUT means; None for an ISIMIP-style name in a folder.

    An existing folder, or a path ending in ``/`` (created if missing), is a folder.
    """
    path = Path(output)
    if output.endswith(("/", os.sep)) or path.is_dir():
        return path, None
    return path.parent, path.name


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        region = region_from_args(args)
        if args.touch:
            if isinstance(region, Point):
                raise IsimipMaskError(
                    "--touch applies to areas (a box, a country, land, a GeoJSON), not to a point"
                )
            region = Touching(region)
        plan = Plan(region, args.crop, args.mean, args.csv)
        if args.csv and not plan.is_series:
            raise IsimipMaskError("--csv needs --mean or --point: a masked field has no CSV form")
        if not args.input.is_file():
            raise IsimipMaskError(f"input file {args.input} does not exist")
        with _progress_bar() as progress:
            written = _write(plan, args, progress)
    except IsimipMaskError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(written)
    return 0


def _write(plan: Plan, args, progress) -> Path:
    """Run the plan into OUTPUT, never over the input; an output that cannot be written is a
    one-line error."""
    try:
        output_dir, name = output_target(args.output)
        target = output_dir / (name or plan.output_name(args.input.name))
        if target.exists() and target.samefile(args.input):
            raise IsimipMaskError(f"output {target} is the input file: the input is never overwritten")
        output_dir.mkdir(parents=True, exist_ok=True)
        options = RunOptions.from_settings(load_settings(), threads=args.threads)
        return plan.run(args.input, output_dir, progress, options, name)
    except (OSError, ValueError) as error:  # ValueError: a NUL in the name
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise IsimipMaskError(f"cannot write {args.output!r}: {reason}") from error


class _progress_bar:
    """A tqdm bar on a terminal, nothing otherwise."""

    def __enter__(self):
        self.bar = None
        return self.update

    def update(self, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="step", file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
