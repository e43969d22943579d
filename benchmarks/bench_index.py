"""How fast the dataset picker is on a large archive: build the index once, then search.

Creates an ISIMIP-like tree of empty ``.nc`` files (round/product/sector/model/files) and
prints a table. Usage: ``python benchmarks/bench_index.py [--files 100000] [--workdir DIR]``
"""

import argparse
import time
from pathlib import Path

from isimip_mask.datasets import FileIndex, list_folder

VARIABLES = ("tas", "pr", "dis", "qtot", "yield-whe-noirr", "evap", "soilmoist", "lai")


def make_tree(root: Path, n_files: int) -> None:
    if (root / ".complete").exists():
        return
    count = 0
    for model in range(n_files // 400 + 1):
        folder = root / "ISIMIP3b" / "OutputData" / f"sector{model % 7}" / f"model{model}"
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(400):
            if count == n_files:
                break
            variable = VARIABLES[number % len(VARIABLES)]
            decade = 1850 + 10 * (number // len(VARIABLES) % 25)
            (
                folder / f"model{model}_gcm{number % 5}_ssp585_{variable}_global_daily"
                f"_{decade}_{decade + 9}_{number}.nc"
            ).touch()
            count += 1
    (root / ".complete").touch()


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out" / "archive")
    args = parser.parse_args()
    make_tree(args.workdir, args.files)
    index = FileIndex(args.workdir)
    rows = [
        ("build the index (one walk)", *timed(lambda: len(index.paths()))),
        ("folders for the picker", *timed(lambda: len(index.folders()))),
        ("search 'model17 tas 1900' (index built)", *timed(lambda: len(index.search("model17 tas 1900")))),
        ("search 'pr' (first 200 hits)", *timed(lambda: len(index.search("pr")))),
        ("search 'nothing-matches' (full scan)", *timed(lambda: len(index.search("nothing-matches")))),
        (
            "list one folder of 400 files",
            *timed(lambda: len(list_folder(args.workdir, "ISIMIP3b/OutputData/sector3/model10").files)),
        ),
    ]
    print(f"{'step':<44} {'seconds':>8} {'results':>8}")
    for step, seconds, count in rows:
        print(f"{step:<44} {seconds:>8.3f} {count:>8}")


if __name__ == "__main__":
    main()
