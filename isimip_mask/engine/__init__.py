"""The engine: running a plan on one file, with memory bounded by bands and chunks, not by the
grid or the time axis: masking and cropping (``mask``), field means and point series
(``series``), every kept cell (``cells``), tables of many regions or points (``tables``), the
chunk and tile fast paths with their codecs (``chunks``), what the streams share
(``streaming``), and the options a run takes (``options.RunOptions``).

Reached only from above (``Plan.run``, the worker's tasks, the command line); it reads no
settings, only the ``RunOptions`` it is given. May import: ``regions``, ``files`` and the ground.
"""

import gc
import math
from pathlib import Path

import numpy as np

from isimip_mask.engine.cells import read_cells, write_cells_csv
from isimip_mask.engine.mask import mask_file
from isimip_mask.engine.options import DEFAULTS, RunOptions
from isimip_mask.engine.series import read_series, write_series_csv, write_series_netcdf
from isimip_mask.engine.streaming import Progress
from isimip_mask.engine.tables import read_table, write_table_csv, write_table_netcdf
from isimip_mask.errors import RegionError
from isimip_mask.files.netcdf import Layout, input_chunks, open_dataset, read_layout, write_feature_masks
from isimip_mask.regions.masks import grid_mask, region_window
from isimip_mask.regions.sets import PointSet, RegionSet

__all__ = ["Progress", "mask_file", "memory_mb", "run"]

BASE_MB = 250  # the worker with its libraries, the outline of the largest region and one band
CHUNKS_IN_FLIGHT = 3  # chunks a thread holds at once (stored, inflated, masked), two per thread queued
WINDOW_BYTES = 24  # per cell of the window of a mean or a table: weights, mask and one step's values
WEIGHT_BYTES = 16  # more per cell of the window with a weight grid (its field) or sums (their weights)


def memory_mb(dataset, layout: Layout, plan, threads: int) -> int:
    """About how many MB running ``plan`` on the open ``dataset`` needs at its peak.

    What does not shrink with the region: a stored chunk is always inflated whole (a file in
    fields of 30 arcsec holds 3.7 GB a chunk), and means, tables and CSVs of every cell hold
    their window's weights and one step of its values. Masks are packed and everything else
    is streamed in bands of rows, which the base figure covers.
    """
    largest = 0
    for name in layout.data_vars:
        variable = dataset.variables[name]
        chunks = input_chunks(variable)
        if chunks:
            largest = max(largest, math.prod(chunks) * variable.dtype.itemsize)
    need = BASE_MB * 2**20 + largest * CHUNKS_IN_FLIGHT * 2 * max(1, threads)
    if plan.is_series or plan.output_csv:
        window = region_window(layout.grid, plan.region)
        per_cell = WINDOW_BYTES + (WEIGHT_BYTES if plan.weights or "sum" in plan.statistics else 0)
        need += (window.rows.stop - window.rows.start) * window.cols.size * per_cell
    return math.ceil(need / 2**20)


def run(
    plan,
    source: Path,
    output_dir: Path,
    progress: Progress | None = None,
    options: RunOptions = DEFAULTS,
    name: str | None = None,
) -> Path:
    """Process ``source`` with ``plan`` (a ``requests.plan.Plan``) into ``output_dir``, as ``name``
    (default: the ISIMIP-style name); returns the file written."""
    # the objects alive before the run (modules, catalogues) leave the collector's sight: its
    # full collections during a stream then look only at the run's own (5% of a 10-year mask)
    gc.freeze()
    target = output_dir / (name or plan.output_name(source.name))
    if plan.mask_name is not None:
        return write_masks(source, target, plan.region)
    if isinstance(plan.region, RegionSet | PointSet):
        layout, table, steps = read_table(
            source,
            plan.region,
            plan.fractional,
            progress,
            options.threads,
            plan.period,
            plan.window,
            plan.statistics,
            plan.weights,
            options.cache,
        )
        if plan.output_csv:
            write_table_csv(target, table, steps.dates)
        else:
            write_table_netcdf(target, source, layout, table, plan.describe(), steps)
        return target
    if plan.output_csv and not plan.is_series:
        cells = read_cells(source, plan.region, progress, options.threads, plan.period)
        write_cells_csv(target, cells, header=not plan.upstream)
        return target
    if not plan.is_series:
        return mask_file(
            source, target, plan.region, plan.crop, progress, options, plan.period, plan.window, plan.crop_to
        )
    layout, series, steps = read_series(
        source,
        plan.region,
        plan.compute_mean,
        progress,
        options.threads,
        plan.period,
        plan.window,
        plan.fractional,
        plan.statistics,
        plan.weights,
    )
    if plan.output_csv:
        write_series_csv(target, series, steps.dates, header=not plan.upstream)
    else:
        write_series_netcdf(target, source, layout, series, plan.describe(), steps)
    return target


def write_masks(source: Path, target: Path, region) -> Path:
    """create_mask alone: the mask of each feature of ``region`` (a set of shapes) on the grid of
    ``source``; a feature off the grid keeps no cell."""
    with open_dataset(source) as src:
        grid = read_layout(src, source.name).grid
    masks = {}
    for layer, part in zip(region.names, region.parts):
        try:
            masks[layer] = grid_mask(grid, part)
        except RegionError:
            masks[layer] = np.zeros(grid.shape, dtype=bool)
    return write_feature_masks(target, grid, masks)
