"""Many regions and many points in one pass against one series, on the 10-year file of
``bench_engine.py`` (generated there if missing): each case its own process with a thread per
core (as a worker runs it), alternated, medians.

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
    "options = RunOptions(threads=os.cpu_count()); "
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


def command(operations: list[dict], source: Path, folder: Path, suffix: str) -> list[str]:
    return [sys.executable, "-c", RUN, json.dumps(operations), str(source), str(folder), suffix]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    source = args.workdir / f"tas_daily_{args.years}y.nc"
    if not source.exists():
        engine = Path(__file__).parent / "bench_engine.py"
        subprocess.run([sys.executable, engine, "--generate", source, "--years", str(args.years)], check=True)
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
    print(f"targets missed: {failed}")


if __name__ == "__main__":
    main()
