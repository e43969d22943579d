"""How fast the dataset picker is on a large archive: build the index once, then search by
words and by ISIMIP facets.

Creates an ISIMIP-like tree of empty ``.nc`` files named by the ISIMIP3b protocol
(round/product/sector/model, one file per model, forcing, scenario, variable and decade) and
prints a table. Usage: ``python benchmarks/bench_index.py [--files 100000] [--workdir DIR]``
"""

import argparse
import itertools
import time
from pathlib import Path

from isimip_mask.files.datasets import FileIndex, list_folder

SECTORS = ("water_global", "agriculture", "biomes", "fire", "lakes_global", "permafrost", "forestry")
FORCINGS = ("gfdl-esm4", "ipsl-cm6a-lr", "mpi-esm1-2-hr", "mri-esm2-0", "ukesm1-0-ll")
SCENARIOS = ("historical", "picontrol", "ssp126", "ssp370", "ssp585")
VARIABLES = ("dis", "qtot", "evap", "soilmoist", "lai", "yield-whe-noirr", "tsl", "swe")


def make_tree(root: Path, n_files: int) -> None:
    if (root / ".complete").exists():
        return
    names = list(itertools.product(FORCINGS, SCENARIOS, VARIABLES, range(1850, 2100, 10)))
    for count in range(n_files):
        model = count // 400
        forcing, scenario, variable, decade = names[count % len(names)]
        folder = root / "ISIMIP3b" / "OutputData" / SECTORS[model % len(SECTORS)] / f"model{model}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"model{model}_{forcing}_w5e5_{scenario}_2015soc_default_{variable}_global_daily"
        (folder / f"{name}_{decade}_{decade + 9}.nc").touch()
    (root / ".complete").touch()


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out" / "archive-isimip")
    args = parser.parse_args()
    make_tree(args.workdir, args.files)
    index = FileIndex(args.workdir)
    two = {"model": ["model17", "model40"], "climate_scenario": ["ssp585"]}
    rows = [
        ("build the index (one walk)", *timed(lambda: len(index.paths()))),
        ("folders for the picker", *timed(lambda: len(index.folders()))),
        ("search 'model17 dis 1900' (index built)", *timed(lambda: index.search("model17 dis 1900").total)),
        ("search 'ssp' (count every hit)", *timed(lambda: index.search("ssp").total)),
        ("search 'nothing-matches' (full scan)", *timed(lambda: index.search("nothing-matches").total)),
        ("facets of every file (first use)", *timed(lambda: index.facets().size)),
        ("facet counts, nothing chosen", *timed(lambda: len(index.facets().counts({})))),
        ("facet counts, 2 models + 1 scenario", *timed(lambda: len(index.facets().counts(two)))),
        ("files of 2 models + 1 scenario", *timed(lambda: index.search("", chosen=two).total)),
        ("... and the word 'dis'", *timed(lambda: index.search("dis", chosen=two).total)),
        (
            "list one folder of 400 files",
            *timed(lambda: len(list_folder(args.workdir, "ISIMIP3b/OutputData/fire/model10").files)),
        ),
    ]
    print(f"{'step':<44} {'seconds':>8} {'results':>8}")
    for step, seconds, count in rows:
        print(f"{step:<44} {seconds:>8.3f} {count:>8}")


if __name__ == "__main__":
    main()
