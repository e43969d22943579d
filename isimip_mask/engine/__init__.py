"""Running a plan on one file: masking and cropping (``mask``), field means, point series and
every kept cell (``cells``), tables of many regions or points (``tables``), the chunk fast path
and its codecs (``chunks``).

Reached only from above (``operations.Plan.run``, the worker's tasks, the command line); it
reads no settings, only the ``RunOptions`` it is given.
"""

import gc
from pathlib import Path

from ..options import DEFAULTS, RunOptions
from ..regionsets import PointSet, RegionSet
from .cells import read_cells, write_cells_csv
from .mask import mask_file
from .series import read_series, write_series_csv, write_series_netcdf
from .streaming import Progress
from .tables import read_table, write_table_csv, write_table_netcdf

__all__ = ["Progress", "mask_file", "run"]


def run(
    plan,
    source: Path,
    output_dir: Path,
    progress: Progress | None = None,
    options: RunOptions = DEFAULTS,
    name: str | None = None,
) -> Path:
    """Process ``source`` with ``plan`` (an ``operations.Plan``) into ``output_dir``, as ``name``
    (default: the ISIMIP-style name); returns the file written."""
    # the objects alive before the run (modules, catalogues) leave the collector's sight: its
    # full collections during a stream then look only at the run's own (5% of a 10-year mask)
    gc.freeze()
    target = output_dir / (name or plan.output_name(source.name))
    if isinstance(plan.region, RegionSet | PointSet):
        layout, table, steps = read_table(
            source, plan.region, plan.fractional, progress, options.threads, plan.period, plan.window
        )
        if plan.output_csv:
            write_table_csv(target, table, steps.dates)
        else:
            write_table_netcdf(target, source, layout, table, plan.describe(), steps)
        return target
    if plan.output_csv and not plan.is_series:
        write_cells_csv(target, read_cells(source, plan.region, progress, options.threads, plan.period))
        return target
    if not plan.is_series:
        return mask_file(source, target, plan.region, plan.crop, progress, options, plan.period, plan.window)
    layout, series, steps = read_series(
        source,
        plan.region,
        plan.compute_mean,
        progress,
        options.threads,
        plan.period,
        plan.window,
        plan.fractional,
    )
    if plan.output_csv:
        write_series_csv(target, series, steps.dates)
    else:
        write_series_netcdf(target, source, layout, series, plan.describe(), steps)
    return target
