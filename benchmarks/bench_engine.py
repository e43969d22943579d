"""isimip_mask against CDO and NCO on an ISIMIP-like file: wall time, peak memory, output size.

Generates a 0.5 degree global daily float32 file of full precision (land values with spatial
structure, ocean = 1e20, deflate level 5, chunks (1, 360, 720)), ten years by default, then
runs each case as its own process: ours and the reference tool alternated, three times each,
and prints the medians, their ratio and the target. Usage (``make bench`` runs the default):

    python benchmarks/bench_engine.py [--years 10] [--runs 3] [--workdir benchmarks/out]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BOX = (-10.0, 40.0, 35.0, 70.0)  # west, east, south, north: Europe
# every land cell of the generated file but Antarctica's, as land only keeps: the same output
LAND_BOX = (-180.0, 180.0, -60.0, 90.0)
POINT = (52.25, 13.25)  # lat, lon: a land cell (Berlin)
CHAIN = [  # four operations, run in one pass
    {"operation": "mask_landonly"},
    {"operation": "mask_bbox", "bbox": list(BOX)},
    {"operation": "mask_country", "country": "DEU", "rule": "touch"},
    {"operation": "mask_bbox", "bbox": [0, 20, 45, 60]},
]
RSS_TARGET_MB = 250


def generate(path: Path, years: int, everywhere: bool = False) -> Path:
    from isimip_mask.demo import write_isimip_like

    return write_isimip_like(path, years * 365, everywhere=everywhere)


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process.

    Linux carries the parent's peak RSS over into a forked child, so this process keeps
    numpy and netCDF4 out of its own memory (files are generated in a child process too).
    """
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024


def ours(source: Path, target: Path, *args: str, threads: int) -> list[str]:
    return [sys.executable, "-m", "isimip_mask", str(source), str(target), *args, "--threads", str(threads)]


def chain(source: Path, target: Path, threads: int) -> list[str]:
    script = (
        "import sys, json; from pathlib import Path; "
        "from isimip_mask.requests.limits import Limits; "
        "from isimip_mask.requests.chain import parse_operations; "
        "from isimip_mask.engine.options import RunOptions; "
        "plan = parse_operations(json.loads(sys.argv[1]), Limits()); "
        f"plan.run(Path(sys.argv[2]), Path(sys.argv[3]).parent, None, RunOptions(threads={threads}), "
        "Path(sys.argv[3]).name)"
    )
    return [sys.executable, "-c", script, json.dumps(CHAIN), str(source), str(target)]


def point_index(source: Path) -> tuple[int, int]:
    """1-based (lon, lat) index of POINT's cell, as cdo's selindexbox counts."""
    lat, lon = POINT
    return int((lon + 180) / 0.5) + 1, int((90 - lat) / 0.5) + 1


def cases(
    source: Path, everywhere: Path, out: Path, cores: int
) -> list[tuple[str, list[str], str, list[str], str, float | None]]:
    """(case, our command, reference, its command, output to compare sizes or '', target ratio
    or None for a row that informs). ``everywhere`` is the same file with values on every cell."""
    west, east, south, north = BOX
    box = ["--bbox", *map(str, BOX)]
    cdo_box = f"-masklonlatbox,{west},{east},{south},{north}"
    i, j = point_index(source)
    return [
        (
            f"mask box, {cores} threads",
            ours(source, out / "mask.nc", *box, threads=cores),
            "cdo masklonlatbox",
            ["cdo", "-s", "-f", "nc4c", "-z", "zip_5", "-L", cdo_box, str(source), str(out / "mask_cdo.nc")],
            "mask",
            0.33,
        ),
        (
            "mask box, 1 thread",
            ours(source, out / "mask1.nc", *box, threads=1),
            "cdo masklonlatbox",
            ["cdo", "-s", "-f", "nc4c", "-z", "zip_5", "-L", cdo_box, str(source), str(out / "mask_cdo.nc")],
            "",
            0.6,
        ),
        (
            "crop box",
            ours(source, out / "crop.nc", *box, "--crop", threads=cores),
            "ncks -d",
            ["ncks", "-O", "-4", "-L", "5", "-d", f"lat,{south},{north}", "-d", f"lon,{west},{east}"]
            + [str(source), str(out / "crop_ncks.nc")],
            "",
            0.5,
        ),
        (
            "field mean",
            ours(source, out / "mean.nc", *box, "--mean", threads=cores),
            "cdo fldmean",
            ["cdo", "-s", "-f", "nc4c", "fldmean", cdo_box, str(source), str(out / "mean_cdo.nc")],
            "",
            0.33,
        ),
        (
            "point series",
            ours(source, out / "point.csv", "--point", *map(str, POINT), "--csv", threads=cores),
            "cdo outputtab",
            ["cdo", "-s", "outputtab,date,value", f"-selindexbox,{i},{i},{j},{j}", str(source)],
            "",
            0.33,
        ),
        (
            "country (DEU)",
            ours(source, out / "country.nc", "--country", "DEU", threads=cores),
            "our mask box",
            ours(source, out / "mask.nc", *box, threads=cores),
            "",
            1.10,
        ),
        (
            "land only",
            ours(source, out / "land.nc", "--landonly", threads=cores),
            "our mask box",
            ours(source, out / "mask.nc", *box, threads=cores),
            "",
            1.10,
        ),
        (  # the same cells kept as by a box: what building the mask from polygons costs
            "land only, like for like",
            ours(source, out / "land.nc", "--landonly", threads=cores),
            "box over all land",
            ours(source, out / "land_box.nc", "--bbox", *map(str, LAND_BOX), threads=cores),
            "",
            1.10,
        ),
        (  # climate forcing data: land only removes values, so every chunk is deflated again
            "land only, values everywhere",
            ours(everywhere, out / "land_all.nc", "--landonly", threads=cores),
            "our mask box",
            ours(everywhere, out / "mask_all.nc", *box, threads=cores),
            "",
            None,
        ),
        (
            "chain of 4 operations",
            chain(source, out / "chain.nc", cores),
            "our mask box",
            ours(source, out / "mask.nc", *box, threads=cores),
            "",
            1.10,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--everywhere", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate, args.years, args.everywhere)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / f"tas_daily_{args.years}y.nc"
    everywhere = args.workdir / f"tas_daily_{args.years}y_everywhere.nc"
    for path, flags in ((source, []), (everywhere, ["--everywhere"])):
        if not path.exists():
            generate_command = [sys.executable, __file__, "--generate", str(path), "--years", str(args.years)]
            subprocess.run(generate_command + flags, check=True)
    cores = os.cpu_count() or 1
    missing = {tool for tool in ("cdo", "ncks") if shutil.which(tool) is None}
    if missing:
        raise SystemExit(f"needs {' and '.join(sorted(missing))}: apt-get install cdo nco")
    size_mb = source.stat().st_size / 1e6
    print(f"{args.years}-year daily file, {size_mb:.0f} MB, {cores} cores, medians of {args.runs}")
    header = (
        f"{'case':<24}{'ours s':>8}{'reference':>20}{'ref s':>8}{'ratio':>7}{'target':>8}{'RSS MB':>8}  ok"
    )
    print(header)
    failed = 0
    for case, command, reference, reference_command, compare, target in cases(
        source, everywhere, args.workdir, cores
    ):
        mine, theirs = [], []
        for _ in range(args.runs):  # alternated, so that a busy moment hits both
            mine.append(measure(command))
            theirs.append(measure(reference_command))
        wall, ref_wall = statistics.median(w for w, _ in mine), statistics.median(w for w, _ in theirs)
        rss = max(r for _, r in mine)
        ok = (target is None or wall / ref_wall <= target) and rss <= RSS_TARGET_MB
        failed += not ok
        verdict = ("yes" if ok else "NO") if target is not None else "(no target)"
        print(
            f"{case:<24}{wall:>8.2f}{reference:>20}{ref_wall:>8.2f}{wall / ref_wall:>7.2f}"
            f"{'-' if target is None else f'{target:.2f}':>8}{rss:>8.0f}  {verdict}"
        )
        if compare:
            size, ref_size = (
                (args.workdir / f"{compare}.nc").stat().st_size,
                (args.workdir / f"{compare}_cdo.nc").stat().st_size,
            )
            ok = size <= 1.05 * ref_size
            failed += not ok
            print(
                f"{'  output size MB':<24}{size / 1e6:>8.1f}{'cdo zip_5':>20}{ref_size / 1e6:>8.1f}"
                f"{size / ref_size:>7.2f}{1.05:>8.2f}{'':>8}  {'yes' if ok else 'NO'}"
            )
    print(f"targets missed: {failed}")


if __name__ == "__main__":
    main()
