"""Wall time and peak memory of isimip_mask against CDO (mask) and NCO (crop).

Generates ISIMIP-like files (0.5 degree global daily float32, land values with spatial
structure and full precision, ocean = 1e20, deflate level 5, chunks (1, 360, 720)), then runs
each tool as a separate process and prints one table. Usage:

    python benchmarks/bench_engine.py [--years 1 10] [--workdir benchmarks/out]
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

BOX = (-10.0, 40.0, 35.0, 70.0)  # west, east, south, north: Europe


def generate(path: Path, years: int) -> Path:
    """Write a synthetic but realistic daily 0.5 degree file of ``years`` x 365 steps."""
    from isimip_mask.demo import write_isimip_like

    return write_isimip_like(path, years * 365)


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


def cases(source: Path, out: Path) -> list[tuple[str, str, list[str]]]:
    west, east, south, north = BOX
    python = [sys.executable, "-m", "isimip_mask", str(source)]
    bbox = ["--bbox", *map(str, BOX)]
    return [
        ("mask box", "isimip_mask", [*python, str(out / "mask_isimip.nc"), *bbox]),
        (
            "mask box",
            "cdo masklonlatbox",
            [
                "cdo",
                "-s",
                "-f",
                "nc4c",
                "-z",
                "zip_5",
                "-L",
                f"-masklonlatbox,{west},{east},{south},{north}",
                str(source),
                str(out / "mask_cdo.nc"),
            ],
        ),
        ("crop box", "isimip_mask --crop", [*python, str(out / "crop_isimip.nc"), *bbox, "--crop"]),
        (
            "crop box",
            "ncks -d",
            [
                "ncks",
                "-O",
                "-4",
                "-L",
                "5",
                "-d",
                f"lat,{south},{north}",
                "-d",
                f"lon,{west},{east}",
                str(source),
                str(out / "crop_ncks.nc"),
            ],
        ),
        ("field mean", "isimip_mask --mean", [*python, str(out / "mean_isimip.nc"), *bbox, "--mean"]),
        (
            "field mean",
            "cdo fldmean",
            [
                "cdo",
                "-s",
                "-f",
                "nc4c",
                "fldmean",
                f"-masklonlatbox,{west},{east},{south},{north}",
                str(source),
                str(out / "mean_cdo.nc"),
            ],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate, args.years[0])
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for years in args.years:
        source = args.workdir / f"tas_daily_{years}y.nc"
        if not source.exists():
            subprocess.run(
                [sys.executable, __file__, "--generate", str(source), "--years", str(years)], check=True
            )
        size_mb = source.stat().st_size / 2**20
        for task, tool, command in cases(source, args.workdir):
            if shutil.which(command[0]) is None and command[0] != sys.executable:
                rows.append((years, size_mb, task, tool, float("nan"), float("nan")))
                continue
            wall, rss = measure(command)
            rows.append((years, size_mb, task, tool, wall, rss))
    print(f"{'years':>5} {'input MB':>9} {'task':<11} {'tool':<20} {'wall s':>8} {'peak RSS MB':>12}")
    for years, size_mb, task, tool, wall, rss in rows:
        print(f"{years:>5} {size_mb:>9.0f} {task:<11} {tool:<20} {wall:>8.2f} {rss:>12.0f}")


if __name__ == "__main__":
    main()
