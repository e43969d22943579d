"""isimip_mask on a 30-arcsec file against the tools upstream runs (ncks, cdo): time and peak memory.

Writes (once) a synthetic CHELSA-W5E5-like global file with ``benchmarks/hires.py`` (three daily
steps, 21,600 x 43,200 cells, tiles of 1 x 1200 x 2400, shuffle + deflate, ocean missing), then
runs each case as its own process, ours and the reference alternated, and prints medians, the
ratio, the target and our peak RSS against its limit. ``make bench`` runs it after the 0.5° table.

    python benchmarks/bench_hires.py [--arcsec 30] [--runs 3] [--workdir benchmarks/out]
"""

import argparse
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from bench_engine import measure

BOX = (5.9, 10.5, 45.8, 47.9)  # west, east, south, north: Switzerland's box, upstream's example
POINT = (46.9, 7.4)  # lat, lon: Bern


def ours(source: Path, target: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "isimip_mask", str(source), str(target), *args]


def ncks_box(source: Path, target: Path) -> list[str]:
    west, east, south, north = BOX
    return ["ncks", "-O", "-d", f"lat,{south},{north}", "-d", f"lon,{west},{east}", str(source), str(target)]


def ncks_mean(source: Path, out: Path) -> list[str]:
    cut = " ".join(ncks_box(source, out / "box_ref.nc"))
    return ["sh", "-c", f"{cut} && cdo -s outputtab,date,value -fldmean {out / 'box_ref.nc'}"]


def cases(source: Path, out: Path):
    """(case, our command, reference, its command, time target as a ratio or None, RSS limit MB)."""
    west, east, south, north = BOX
    lat, lon = POINT
    box = ["--bbox", *map(str, BOX)]
    cdo_box = ["cdo", "-s", "-z", "zip_5", f"-masklonlatbox,{west},{east},{south},{north}", str(source)]
    return [
        (
            "cut-out (box, crop)",
            ours(source, out / "crop.nc", *box, "--crop"),
            "ncks -d",
            ncks_box(source, out / "crop_ref.nc"),
            1.5,
            300,
        ),
        (
            "point",
            ours(source, out / "point.csv", "--point", *map(str, POINT), "--csv"),
            "ncks -d",
            ["ncks", "-O", "-d", f"lat,{lat}", "-d", f"lon,{lon}", str(source), str(out / "point_ref.nc")],
            1.5,
            300,
        ),
        (
            "field mean of the box",
            ours(source, out / "mean.csv", *box, "--mean", "--csv"),
            "ncks + cdo fldmean",
            ncks_mean(source, out),
            1.5,
            300,
        ),
        (
            "country (CHE, crop)",
            ours(source, out / "che.nc", "--country", "CHE", "--crop"),
            "ncks -d",
            ncks_box(source, out / "crop_ref.nc"),
            None,
            300,
        ),
        (
            "full-grid mask of the box",
            ours(source, out / "full.nc", *box),
            "cdo masklonlatbox",
            cdo_box + [str(out / "full_ref.nc")],
            0.5,
            500,
        ),
        (
            "land only, full grid",
            ours(source, out / "land.nc", "--landonly"),
            "cdo masklonlatbox",
            cdo_box + [str(out / "full_ref.nc")],
            1.0,
            500,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arcsec", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    missing = {tool for tool in ("cdo", "ncks") if shutil.which(tool) is None}
    if missing:
        raise SystemExit(f"needs {' and '.join(sorted(missing))}: apt-get install cdo nco")
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / f"tas_{args.arcsec}arcsec_3steps.nc"
    if not source.exists():
        print(f"writing {source.name} (a minute or two at 30 arcsec)", flush=True)
        here = Path(__file__).parent
        subprocess.run(
            [sys.executable, str(here / "hires.py"), str(source), "--arcsec", str(args.arcsec)], check=True
        )
    startup = statistics.median(measure([sys.executable, "-m", "isimip_mask", "--help"])[0] for _ in range(3))
    print(
        f"{args.arcsec}-arcsec file, 3 daily steps, {source.stat().st_size / 1e9:.2f} GB; "
        f"medians of {args.runs}; start-up (--help) {startup:.2f} s, taken off ours for the ratio"
    )
    print(
        f"{'case':<28}{'ours s':>8}{'RSS MB':>8}{'limit':>7}{'reference':>20}{'ref s':>7}{'ref MB':>8}"
        f"{'ratio':>7}{'target':>7}  ok"
    )
    failed = 0
    for case, command, reference, reference_command, target, rss_limit in cases(source, args.workdir):
        mine, theirs = [], []
        for _ in range(args.runs):  # alternated, so that a busy moment hits both
            mine.append(measure(command))
            theirs.append(measure(reference_command))
        wall, ref_wall = statistics.median(w for w, _ in mine), statistics.median(w for w, _ in theirs)
        rss, ref_rss = max(r for _, r in mine), max(r for _, r in theirs)
        ratio = max(wall - startup, 0.01) / ref_wall if target and target >= 1.5 else wall / ref_wall
        ok = (target is None or ratio <= target) and rss <= rss_limit
        failed += not ok
        print(
            f"{case:<28}{wall:>8.2f}{rss:>8.0f}{rss_limit:>7}{reference:>20}{ref_wall:>7.2f}{ref_rss:>8.0f}"
            f"{ratio:>7.2f}{'-' if target is None else f'{target:.1f}':>7}  {'yes' if ok else 'NO'}"
        )
    print(f"targets missed: {failed}")


if __name__ == "__main__":
    main()
