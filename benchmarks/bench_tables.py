"""Many regions and many points in one pass against one series, on the 10-year file of
``bench_engine.py`` (generated there if missing): each case its own process with a thread per
core (as a worker runs it), alternated, medians. Then weighted aggregates and statistics as a
worker meets them: in one process, after a first request on the grid (the countries' cells are
kept per grid), alternated, medians.

    python benchmarks/bench_tables.py [--years 10] [--runs 3] [--workdir benchmarks/out]
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench_engine import measure

RUN = (
    "import sys, json; from pathlib import Path; from isimip_mask.requests.chain import parse_operations; "
    "from isimip_mask.engine.options import RunOptions; import os; "
    "plan = parse_operations(json.loads(sys.argv[1])); "
    "options = RunOptions(threads=os.cpu_count(), cache=Path(sys.argv[3]) / 'cache'); "
    "plan.run(Path(sys.argv[2]), Path(sys.argv[3]), None, options, 'out' + sys.argv[4])"
)


def points(count: int) -> list[list[float]]:
    """``count`` land-ish points spread over Europe and Asia."""
    return [[30.25 + (i % 50) * 0.5, -9.75 + (i // 50) * 5.0] for i in range(count)]


FIELD_MEAN = [{"operation": "mask_bbox", "bbox": [-180, 180, -90, 90], "compute_mean": True}]
COUNTRY_MEAN = [{"operation": "mask_country", "country": "DEU", "compute_mean": True}]
CASES = [  # (case, operations, reference case, its operations, target ratio or None: informs)
    (
        "241 country means",
        [{"operation": "mask_regions", "regions": "countries"}],
        "one field mean, whole grid",
        FIELD_MEAN,
        1.5,
    ),
    (  # a stricter reference: one country's mean reads 0.5% of the cells of each step
        "241 country means",
        [{"operation": "mask_regions", "regions": "countries"}],
        "one country mean (DEU)",
        COUNTRY_MEAN,
        None,
    ),
    (
        "241 country means, fractional",
        [{"operation": "mask_regions", "regions": "countries", "weights": "fraction"}],
        "one field mean, whole grid",
        FIELD_MEAN,
        None,
    ),
    (
        "1,000 points",
        [{"operation": "select_points", "points": points(1000)}],
        "one point series",
        [{"operation": "select_point", "point": [52.25, 13.25]}],
        1.2,
    ),
]


POPULATION = {"file": "pop_05deg.nc", "var": "pop"}
EVERY_STATISTIC = ["mean", "sum", "min", "max", "std", "p5", "median", "p95"]
WORKER_CASES = [  # (case, operations, reference case, its operations, target ratio or None)
    (
        "241 weighted country means",
        [{"operation": "mask_regions", "regions": "countries", "weights": POPULATION}],
        "one field mean, whole grid",
        FIELD_MEAN,
        1.5,
    ),
    (
        "241 weighted, fractional",
        [{"operation": "mask_regions", "regions": "countries", "weights": {**POPULATION, "fraction": True}}],
        "one field mean, whole grid",
        FIELD_MEAN,
        1.5,
    ),
    (
        "241 country means",
        [{"operation": "mask_regions", "regions": "countries"}],
        "one field mean, whole grid",
        FIELD_MEAN,
        1.5,
    ),
    (
        "field mean, every statistic",
        [{**FIELD_MEAN[0], "statistics": EVERY_STATISTIC}],
        "one field mean, whole grid",
        FIELD_MEAN,
        2.0,
    ),
    (
        "241 countries, every statistic",
        [{"operation": "mask_regions", "regions": "countries", "statistics": EVERY_STATISTIC}],
        "241 country means",
        [{"operation": "mask_regions", "regions": "countries"}],
        2.0,
    ),
]

WORKER = """
import json, os, statistics, sys, time
from pathlib import Path
import numpy as np, netCDF4
from isimip_mask.requests.chain import parse_operations
from isimip_mask.requests.limits import Limits
from isimip_mask.engine.options import RunOptions

source, folder, runs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
cases = json.loads(sys.argv[4])
weights = folder / "pop_05deg.nc"
if not weights.exists():  # people per cell: skewed, a tenth of the cells without anyone
    rng = np.random.default_rng(1)
    with netCDF4.Dataset(weights, "w") as out:
        out.createDimension("lat", 360), out.createDimension("lon", 720)
        out.createVariable("lat", "f8", ("lat",))[:] = np.arange(89.75, -90, -0.5)
        out.createVariable("lon", "f8", ("lon",))[:] = np.arange(-179.75, 180, 0.5)
        pop = out.createVariable("pop", "f4", ("lat", "lon"), fill_value=np.float32(1e20), zlib=True)
        values = rng.lognormal(8, 2, (360, 720)).astype("f4")
        values[rng.random((360, 720)) < 0.1] = 0
        pop[:] = values
limits = Limits(input_path=folder)
options = RunOptions(threads=os.cpu_count())
plans = [(parse_operations(a, limits), parse_operations(b, limits)) for a, b in cases]
for mine, theirs in plans:  # the first request on the grid: its countries' cells are built
    mine.run(source, folder, None, options, "worker_warm.nc")
times = [([], []) for _ in plans]
for _ in range(runs):
    for (mine, theirs), (ours, reference) in zip(plans, times):
        for plan, kept in ((mine, ours), (theirs, reference)):
            start = time.perf_counter()
            plan.run(source, folder, None, options, "worker_out.nc")
            kept.append(time.perf_counter() - start)
print(json.dumps([[statistics.median(a), statistics.median(b)] for a, b in times]))
"""


def worker_cases(source: Path, folder: Path, runs: int) -> int:
    """The weighted and statistics cases in one process, as a worker runs them; targets missed."""
    cases = [[operations, reference] for _, operations, _, reference, _ in WORKER_CASES]
    found = subprocess.run(
        [sys.executable, "-c", WORKER, str(source), str(folder), str(runs), json.dumps(cases)],
        check=True,
        capture_output=True,
        text=True,
    )
    print(f"\nin one worker process, after a first request on the grid (medians of {runs})")
    print(f"{'case':<32}{'s':>7}  {'reference':<30}{'s':>7}{'ratio':>7}{'target':>8}  ok")
    failed = 0
    for (case, _, reference, _, target), (wall, ref_wall) in zip(WORKER_CASES, json.loads(found.stdout)):
        ok = target is None or wall / ref_wall <= target
        failed += not ok
        print(
            f"{case:<32}{wall:>7.2f}  {reference:<30}{ref_wall:>7.2f}{wall / ref_wall:>7.2f}"
            f"{'-' if target is None else f'{target:.2f}':>8}  {'yes' if ok else 'NO'}"
        )
    return failed


def command(operations: list[dict], source: Path, folder: Path, suffix: str) -> list[str]:
    return [sys.executable, "-c", RUN, json.dumps(operations), str(source), str(folder), suffix]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--worker-only", action="store_true", help="only the cases in one worker process")
    args = parser.parse_args()
    source = args.workdir / f"tas_daily_{args.years}y.nc"
    if not source.exists():
        engine = Path(__file__).parent / "bench_engine.py"
        subprocess.run([sys.executable, engine, "--generate", source, "--years", str(args.years)], check=True)
    if args.worker_only:
        raise SystemExit(worker_cases(source, args.workdir, args.runs))
    print(f"{args.years}-year daily file, medians of {args.runs}")
    print(f"{'case':<32}{'s':>7}  {'reference':<30}{'s':>7}{'ratio':>7}{'target':>8}{'RSS MB':>8}  ok")
    failed = 0
    for case, operations, reference, reference_operations, target in CASES:
        mine, theirs = [], []
        for _ in range(args.runs):
            mine.append(measure(command(operations, source, args.workdir, ".nc")))
            theirs.append(measure(command(reference_operations, source, args.workdir, "_ref.nc")))
        wall, ref_wall = statistics.median(w for w, _ in mine), statistics.median(w for w, _ in theirs)
        ok = target is None or wall / ref_wall <= target
        failed += not ok
        rss = max(r for _, r in mine)
        verdict = ("yes" if ok else "NO") if target is not None else "(no target)"
        print(
            f"{case:<32}{wall:>7.2f}  {reference:<30}{ref_wall:>7.2f}{wall / ref_wall:>7.2f}"
            f"{'-' if target is None else f'{target:.2f}':>8}{rss:>8.0f}  {verdict}"
        )
    failed += worker_cases(source, args.workdir, args.runs)
    print(f"targets missed: {failed}")


if __name__ == "__main__":
    main()
