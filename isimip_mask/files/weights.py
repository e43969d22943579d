"""Weights from a grid: a variable of another NetCDF file (population, a crop's area fraction)
that weighs each cell of a region's statistics, on the data file's grid or on a grid that
contains it (a global population file for a regional cut-out).

A weight file with a time axis of several steps (annual landuse) gives each step of the data
the weights of its own year; one without (or with one step) weighs every step alike. Missing
weights count 0: such a cell is left out, as a cell outside the region.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isimip_mask.errors import DatasetError, InputError
from isimip_mask.files.grid import Grid
from isimip_mask.files.netcdf import decode_times, fill_value, open_dataset, read_layout


@dataclass(frozen=True)
class WeightGrid:
    """``var`` of the file at ``path`` (named ``name`` in the request: a path under the data
    root or an upload's name). Values are per area or a share of the cell (a crop's fraction,
    a density), so they are multiplied by the cell's area; with ``per_cell`` they are amounts
    per cell (people per cell) and are taken as they are."""

    name: str
    path: str
    var: str
    per_cell: bool = False

    def config(self) -> dict:
        return {"name": self.name, "path": self.path, "var": self.var, "per_cell": self.per_cell}

    @classmethod
    def from_config(cls, config: dict) -> "WeightGrid":
        return cls(config["name"], config["path"], config["var"], bool(config.get("per_cell")))

    def request(self) -> dict:
        """The ``weights`` object of a request naming these weights."""
        return {"file": self.name, "var": self.var, **({"per_cell": True} if self.per_cell else {})}


@dataclass(frozen=True)
class WeightFile:
    """What a weight file offers: its grid, the year of each step (None: one field for every
    step) and the units of its values."""

    grid: Grid
    years: tuple[int, ...] | None
    units: str

    def span(self) -> str:
        return "every year (no time axis)" if self.years is None else f"{min(self.years)}-{max(self.years)}"


def describe(weights: WeightGrid) -> WeightFile:
    """Open the weight file and check that ``var`` is a gridded variable of it."""
    with open_dataset(Path(weights.path)) as dataset:
        layout = read_layout(dataset, weights.name)
        if weights.var not in layout.data_vars:
            listed = ", ".join(layout.data_vars[:8])
            raise InputError(
                f"the weight file {weights.name} has no variable {weights.var!r} (it has {listed})", "weights"
            )
        variable = dataset.variables[weights.var]
        years = None
        if layout.time_dim in variable.dimensions and layout.n_times > 1:
            dates = decode_times(layout.time_values, layout.time_units, layout.calendar)
            years = tuple(int(date[:4]) for date in dates)
        return WeightFile(layout.grid, years, str(variable.__dict__.get("units", "")))


def check_fits(weights: WeightGrid, grid: Grid, years: set[int]) -> WeightFile:
    """Refuse weights whose grid does not hold every cell of ``grid`` or whose years miss one of
    ``years`` (the years of the steps a request reads), naming both."""
    offered = describe(weights)
    if grid.positions_in(offered.grid) is None:
        raise InputError(
            f"the weight file {weights.name} is on another grid ({offered.grid.dlat:g}° x "
            f"{offered.grid.dlon:g}°, {offered.grid.lat.size} x {offered.grid.lon.size} cells) that does not "
            f"hold this file's ({grid.dlat:g}° x {grid.dlon:g}°, {grid.lat.size} x {grid.lon.size} cells)",
            "weights",
        )
    missing = sorted(years - set(offered.years)) if offered.years is not None and years else []
    if missing:
        raise InputError(
            f"the weight file {weights.name} covers {offered.span()}, the request reads "
            f"{min(years)}-{max(years)} ({len(missing)} year(s) without weights, e.g. {missing[0]}); "
            "choose a period within the weights (select_time) or weights that cover it",
            "weights",
        )
    return offered


def read_weights(weights: WeightGrid, grid: Grid, years: list[int] | None) -> dict[int | None, np.ndarray]:
    """The weights of every cell of ``grid`` (a window of the data's grid) for each of ``years``
    (None: the one field of a file without time), missing values as 0."""
    offered = describe(weights)
    positions = grid.positions_in(offered.grid)
    if positions is None:
        raise DatasetError(f"the weight file {weights.name} does not hold this file's grid", "weights")
    rows, cols = positions
    span_rows = slice(int(rows.min()), int(rows.max()) + 1)
    span_cols = slice(int(cols.min()), int(cols.max()) + 1)
    wanted = [None] if offered.years is None else sorted(set(years or offered.years))
    fields = {}
    with open_dataset(Path(weights.path)) as dataset:
        variable = dataset.variables[weights.var]
        fill = fill_value(variable)
        for year in wanted:
            lead = () if year is None else (offered.years.index(year),)
            lead = lead + (0,) * (variable.ndim - 2 - len(lead))
            block = np.asarray(variable[(*lead, span_rows, span_cols)])
            values = block[np.ix_(rows - span_rows.start, cols - span_cols.start)].astype("f8")
            values[(values == fill) | ~np.isfinite(values)] = 0.0
            if (values < 0).any():
                raise DatasetError(
                    f"the weight file {weights.name} has negative weights in this region", "weights"
                )
            fields[year] = values
    return fields
