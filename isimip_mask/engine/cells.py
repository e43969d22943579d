"""Every kept cell's values at every time step, for a CSV of one row per cell and step
(``output_csv`` without a mean)."""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isimip_mask.engine.series import stream_series
from isimip_mask.engine.streaming import Progress
from isimip_mask.errors import DatasetError
from isimip_mask.files.netcdf import atomic_output, fill_value, open_dataset, read_layout
from isimip_mask.files.steps import Steps
from isimip_mask.files.timeaxis import Period
from isimip_mask.regions.kinds import Region
from isimip_mask.regions.masks import grid_mask
from isimip_mask.regions.window import mask_bounds


@dataclass(frozen=True)
class Cells:
    """The values of every kept cell at every time step: ``values[name]`` is (time, cell)."""

    values: dict[str, np.ndarray]
    lat: np.ndarray
    lon: np.ndarray
    times: list[str]
    units: dict[str, str]
    fills: dict[str, float]
    dtypes: dict[str, np.dtype]


def read_cells(
    source: Path,
    region: Region,
    progress: Progress | None = None,
    threads: int = 1,
    period: Period | None = None,
) -> Cells:
    """Every kept cell of every data variable over ``period`` (default: every step), for a CSV
    of one row per cell and time step."""
    with open_dataset(source) as src:
        layout = read_layout(src, source.name)
        grid, steps = layout.grid, Steps.of(layout, period)
        mask = grid_mask(grid, region)
        rows, _ = mask_bounds(mask, grid.is_global)
        keep = mask[rows]
        values = {}
        for name in layout.data_vars:
            variable = src.variables[name]
            if variable.ndim != 3:
                raise DatasetError(
                    f"CSV output needs (time, lat, lon) variables; {name} has {variable.dimensions}"
                )
            values[name] = stream_series(
                source, variable, rows, lambda block: block[:, keep], steps, progress, threads
            )
        r, c = np.nonzero(mask)
        variables = {name: src.variables[name] for name in layout.data_vars}
        return Cells(
            values,
            grid.lat[r],
            grid.lon[c],
            steps.dates,
            units={name: str(v.__dict__.get("units", "")) for name, v in variables.items()},
            fills={name: fill_value(v) for name, v in variables.items()},
            dtypes={name: v.dtype for name, v in variables.items()},
        )


def write_cells_csv(target: Path, cells: Cells, header: bool = True) -> None:
    """``time,lat,lon,<var> [<units>]...``: one row per kept cell and time step, empty where
    missing; the header row left out as the ISIMIP files API writes its tables."""
    with atomic_output(target) as partial, open(partial, "w", newline="") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(
                ["time", "lat", "lon", *(f"{name} [{units}]" for name, units in cells.units.items())]
            )
        coordinates = [(repr(float(lat)), repr(float(lon))) for lat, lon in zip(cells.lat, cells.lon)]
        for step, time in enumerate(cells.times or [""]):
            columns = [
                [
                    "" if v == cells.fills[name] or not np.isfinite(v) else str(v)
                    for v in cells.values[name][step]
                ]
                for name in cells.values
            ]
            for cell, (lat, lon) in enumerate(coordinates):
                writer.writerow([time, lat, lon, *(column[cell] for column in columns)])
