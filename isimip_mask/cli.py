"""Command line: ``python -m isimip_mask INPUT OUTPUT --bbox W E S N [--crop] [--mean] [--csv]``, and
the rest of what a request can ask (``--regions``, ``--points``, ``--period``, ``--window``,
``--statistics``, ``--weights``)."""

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from isimip_mask.engine.options import RunOptions
from isimip_mask.errors import IsimipMaskError
from isimip_mask.requests.chain import parse_operations
from isimip_mask.requests.limits import Limits
from isimip_mask.requests.plan import Plan
from isimip_mask.settings import load_settings


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
    region.add_argument(
        "--regions",
        metavar="WHICH",
        help="a table of the mean of each region: 'countries', codes (DEU,FRA,...) or a GeoJSON file or "
        "zipped shapefile (every feature)",
    )
    region.add_argument(
        "--points",
        metavar="WHICH",
        help="a table of the values at each point: a CSV file (name,lat,lon) or LAT,LON;LAT,LON;...",
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
        "--period", nargs=2, metavar=("START", "END"), help="keep the steps from START to END: years or dates"
    )
    parser.add_argument("--window", choices=["month", "year"], help="monthly or annual means (cdo monmean)")
    parser.add_argument(
        "--fraction",
        action="store_true",
        help="means weigh each cell by the share of it inside the region (exact overlap)",
    )
    parser.add_argument(
        "--statistics",
        metavar="LIST",
        help="with --mean or --regions: mean,sum,min,max,std,median,p95,... (one column or variable each)",
    )
    parser.add_argument(
        "--weights",
        metavar="FILE:VAR",
        help="weigh cells (times their area) by variable VAR of a NetCDF file on this or a containing grid",
    )
    parser.add_argument(
        "--per-cell",
        action="store_true",
        help="with --weights: the weights are amounts per cell (people), not per area or a share of the cell",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="threads for (de)compression (default: one per core)",
    )
    return parser


def operations_from_args(args, max_bytes: int) -> tuple[list[dict], dict[str, bytes]]:
    """The command line as the request form the API takes (v2 operations) and the files it
    names, read as uploads: one parser for every door (``parse_operations``)."""
    uploads = {}

    def upload(path: str, what: str) -> str:
        uploads[Path(path).name] = _read_upload(Path(path), what, max_bytes)
        return Path(path).name

    if args.bbox is not None:
        operation = {"operation": "mask_bbox", "bbox": list(args.bbox)}
    elif args.country is not None:
        operation = {"operation": "mask_country", "country": args.country}
    elif args.landonly:
        operation = {"operation": "mask_landonly"}
    elif args.point is not None:
        operation = {"operation": "select_point", "point": list(args.point)}
    elif args.geojson is not None:
        operation = {"operation": "mask_shape", "shape": upload(args.geojson, "GeoJSON file")}
    elif args.regions is not None:
        chosen = args.regions if args.regions == "countries" else args.regions.split(",")
        if _names_a_file(args.regions):
            chosen = upload(args.regions, "regions file")
        operation = {"operation": "mask_regions", "regions": chosen}
    else:
        pairs = [pair.split(",") for pair in args.points.split(";") if pair.strip()]
        chosen = [[_number(v) for v in pair] for pair in pairs]
        if _names_a_file(args.points):
            chosen = upload(args.points, "points file")
        operation = {"operation": "select_points", "points": chosen}
    extras = {"rule": "touch" if args.touch else None, **_weighing(args)}
    flags = {"crop": args.crop, "compute_mean": args.mean, "output_csv": args.csv}
    operation.update({key: value for key, value in {**extras, **flags}.items() if value})
    operations = [operation]
    if args.period:
        operations.append({"operation": "select_time", "period": list(args.period)})
    if args.window:
        operations.append({"operation": "time_mean", "window": args.window})
    return operations, uploads


def _weighing(args) -> dict:
    """``weights`` and ``statistics`` of the operation, as the options ask."""
    extras = {"weights": "fraction" if args.fraction else None}
    if args.weights:
        file, _, var = args.weights.rpartition(":")
        if not file:
            raise IsimipMaskError(f"--weights must be FILE:VAR, e.g. population.nc:pop, got {args.weights!r}")
        extras["weights"] = {
            "file": Path(file).name,
            "var": var,
            "fraction": args.fraction,
            "per_cell": args.per_cell,
        }
    if args.statistics:
        extras["statistics"] = [name.strip() for name in args.statistics.split(",") if name.strip()]
    return extras


def _names_a_file(text: str) -> bool:
    """A file that exists, or text that can only be meant as one (a folder in it, an extension)."""
    if "/" in text or text.lower().endswith((".csv", ".json", ".geojson", ".zip")):
        return True
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL: not a file
        return False


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text  # Point says what is wrong with it


def _read_upload(path: Path, what: str, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:  # refused before it is read
            raise IsimipMaskError(
                f"{path} is {size} bytes, more than the limit of {max_bytes} (MAX_GEOJSON_BYTES)"
            )
        return path.read_bytes()
    except OSError as error:
        raise IsimipMaskError(f"cannot read {what} {path}: {error.strerror}") from error


def output_target(output: str) -> tuple[Path, str | None]:
    """The folder and file name OUTPUT means; None for an ISIMIP-style name in a folder.

    An existing folder, or a path ending in ``/`` (created if missing), is a folder.
    """
    path = Path(output)
    if output.endswith(("/", os.sep)) or path.is_dir():
        return path, None
    return path.parent, path.name


def joined_values(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``--points -33.9,18.4;...`` as ``--points=-33.9,18.4;...``: argparse takes a value that
    starts with "-" and is not a plain number for an option (plain negatives it reads itself)."""
    takes_one = {
        option
        for action in parser._actions  # argparse has no public list of its options
        if action.nargs is None and action.option_strings
        for option in action.option_strings
    }
    joined, skip = [], False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        following = argv[index + 1] if index + 1 < len(argv) else None
        dashed = following is not None and following.startswith("-") and following not in takes_one
        if arg in takes_one and dashed:
            joined.append(f"{arg}={following}")
            skip = True
        else:
            joined.append(arg)
    return joined


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(joined_values(list(sys.argv[1:] if argv is None else argv), parser))
    try:
        settings = load_settings()
        operations, uploads = operations_from_args(args, settings.max_geojson_bytes)
        limits = Limits.from_settings(settings, uploads)
        if args.weights:  # a weight file is read where it is: its folder is the root it is found in
            limits = replace(limits, input_path=Path(args.weights.rpartition(":")[0]).resolve().parent)
        plan = parse_operations(operations, limits)
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
    except IsimipMaskError:
        raise
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
