"""Statistics of a region's cells at each time step, as CDO's field operators compute them,
for one region (a field mean) or many (a table), all in the one pass over the file.

- ``mean``: weighted by area (and by a weight grid where one is given), as ``cdo fldmean``;
- ``sum``: each value times its cell's area in m² (times the weight), as
  ``cdo fldsum -mul <file> -gridarea <file>``;
- ``std``: the weighted standard deviation about the weighted mean (divisor: the sum of the
  weights), as ``cdo fldstd``;
- ``min``, ``max`` and percentiles ``p<q>`` (``p95``, ``p2.5``; ``median`` is ``p50``) over the
  cells that count, unweighted and by nearest rank, as ``cdo fldmin``, ``fldmax``, ``fldpctl,q``.

A cell counts where its weight is positive and its value is not missing; a statistic of no
such cell is missing (NaN).
"""

import re
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from isimip_mask.errors import InputError
from isimip_mask.files.grid import Grid
from isimip_mask.files.netcdf import Layout, decode_times
from isimip_mask.files.weights import WeightGrid, read_weights

STATISTICS = ("mean", "sum", "min", "max", "std")
PERCENTILE = re.compile(r"^p(100|[0-9]{1,2}(\.[0-9]{1,3})?)$")
MAX_STATISTICS = 12


def parse_statistics(value) -> tuple[str, ...]:
    """The statistics a request names, in its order without repeats; InputError otherwise."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or len(value) > MAX_STATISTICS:
        raise InputError(
            f"statistics must be a list of 1 to {MAX_STATISTICS} of {', '.join(STATISTICS)}, median or "
            f"percentiles such as p95, got {str(value)[:60]!r}",
            "statistics",
        )
    names = []
    for item in value:
        name = "p50" if item == "median" else item
        if not isinstance(name, str) or not (name in STATISTICS or PERCENTILE.match(name)):
            raise InputError(
                f"statistic {str(item)[:30]!r} is not one of {', '.join(STATISTICS)}, median or a "
                "percentile p0 to p100 (p95, p2.5)",
                "statistics",
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def suffix(statistic: str) -> str:
    """What a statistic adds to a variable's or column's name: nothing for the mean (or a
    point's value)."""
    return "" if statistic in ("mean", "point") else f"_{statistic.replace('.', '_')}"


def units_of(statistic: str, units: str) -> str:
    """The units of a statistic of values in ``units``: a sum over areas adds m²."""
    if statistic != "sum":
        return units
    return "m2" if units in ("", "1") else f"{units} m2"


def label(statistic: str, weights: str | None = None) -> str:
    """How a CSV header and a description name a statistic."""
    weighed = f"{weights}-weighted" if weights else "area-weighted"
    if statistic == "mean":
        return f"{weighed} mean"
    if statistic == "std":
        return f"{weighed} standard deviation"
    if statistic == "sum":
        return "sum of values x cell area" + (f" x {weights}" if weights else "")
    if statistic in ("min", "max"):
        return {"min": "minimum", "max": "maximum"}[statistic]
    return f"percentile {statistic[1:]} (nearest rank)"


def cell_method(statistic: str) -> str:
    """The CF cell method of a statistic over the area."""
    methods = {"mean": "mean (area-weighted)", "sum": "sum", "min": "minimum", "max": "maximum"}
    methods["std"] = "standard_deviation (area-weighted)"
    if statistic in methods:
        return methods[statistic]
    return "median" if statistic == "p50" else f"point (comment: percentile {statistic[1:]}, nearest rank)"


@dataclass(frozen=True)
class Groups:
    """Which column each entry of a step's values belongs to: ``sums(entries)`` adds up
    ``(time, entry)`` per column; ``column`` is each entry's column; ``order`` lists the
    entries column by column (None: already so), each column's from ``starts``."""

    sums: object
    column: np.ndarray
    order: np.ndarray | None
    starts: np.ndarray

    @classmethod
    def one(cls, size: int) -> "Groups":
        """Every entry in one column."""
        return cls(
            lambda entries: entries.sum(axis=1, keepdims=True), np.zeros(size, "i8"), None, np.zeros(1, "i8")
        )

    @property
    def count(self) -> int:
        return int(self.starts.size)

    @cached_property
    def high(self) -> np.ndarray:
        """Each entry's column in the high half of a 64-bit sort key."""
        return self.column.astype(np.uint64) << np.uint64(32)


def reducer(statistics: tuple[str, ...], groups: Groups, weights: np.ndarray, areas: np.ndarray | None, fill):
    """``reduce(values) -> (time, column, statistic)`` from the values ``(time, entry)`` of a
    block of steps: ``weights`` (per entry) weigh means and standard deviations, ``areas``
    (per entry, m² times the weights) the sums; missing values (``fill``, NaN, infinities) and
    entries of weight 0 are left out.

    The valid entries' weights and their totals are kept for the last pattern of missing
    values seen (ISIMIP files miss the same cells at every step) and made anew when it
    changes. Threads share the reducer: what is kept is replaced whole, never changed in place.
    """
    members = weights > 0
    ranked = [s for s in statistics if s in ("min", "max") or s.startswith("p")]
    kept = None

    def prepared(valid: np.ndarray):
        nonlocal kept
        known = kept
        if known is None or known[0].shape != valid.shape or not np.array_equal(known[0], valid):
            valid_weights = weights * valid
            valid_areas = areas * valid if areas is not None else None
            known = kept = (valid, valid_weights, groups.sums(valid_weights), valid_areas)
        return known[1:]

    def reduce(values: np.ndarray) -> np.ndarray:
        valid = (values != fill) & np.isfinite(values) & members  # in the file's type: fill compares exactly
        valid_weights, totals, valid_areas = prepared(valid)
        clean = None
        found = totals > 0
        results = {}
        if "mean" in statistics or "std" in statistics:
            weighted = groups.sums(np.multiply(values, valid_weights, dtype="f8"))
            if not np.isfinite(weighted).all():  # a NaN or infinite value times its weight 0
                clean = np.where(valid, values, 0).astype("f8")
                weighted = groups.sums(clean * valid_weights)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.where(found, weighted / totals, np.nan)
            results["mean"] = means
            if "std" in statistics:
                centre = np.nan_to_num(means) if groups.count == 1 else np.nan_to_num(means)[:, groups.column]
                source = values if clean is None else clean
                deviations = np.subtract(source, centre, dtype="f8")
                squares = groups.sums(np.square(deviations, out=deviations) * valid_weights)
                if not np.isfinite(squares).all():
                    clean = np.where(valid, values, 0).astype("f8") if clean is None else clean
                    deviations = (clean - centre) ** 2 * valid_weights
                    squares = groups.sums(deviations)
                with np.errstate(invalid="ignore", divide="ignore"):
                    results["std"] = np.where(found, np.sqrt(squares / totals), np.nan)
        if "sum" in statistics:
            total = groups.sums(np.multiply(values, valid_areas, dtype="f8"))
            if not np.isfinite(total).all():
                clean = np.where(valid, values, 0).astype("f8") if clean is None else clean
                total = groups.sums(clean * valid_areas)
            results["sum"] = np.where(found, total, np.nan)
        if ranked:
            results.update(_ranked(ranked, groups, values, valid, found))
        return np.stack([results[s] for s in statistics], axis=-1)

    return reduce


def _ranked(
    statistics: list[str], groups: Groups, values: np.ndarray, valid: np.ndarray, found: np.ndarray
) -> dict:
    """Minimum, maximum and percentiles (nearest rank, as CDO) of each column's valid entries.

    Without percentiles, the extremes come from one pass over the entries in column order.
    With them, each step's valid values are sorted once, for many columns at once as keys that
    order by column, then by value (a float32's bits made to sort as unsigned integers, below
    the column's number: numpy sorts integers faster than it selects many ranks)."""
    quantiles = [_quantile(s) for s in statistics]
    if not any(s.startswith("p") for s in statistics):
        results = {}
        for name, reduce, empty in (("min", np.minimum, np.inf), ("max", np.maximum, -np.inf)):
            if name in statistics:
                entries = np.where(valid, values, empty)
                entries = entries if groups.order is None else entries[:, groups.order]
                results[name] = np.where(found, reduce.reduceat(entries, groups.starts, axis=1), np.nan)
        return results
    q = np.array(quantiles)
    counts = valid.sum(axis=1, keepdims=True) if groups.count == 1 else groups.sums(valid.astype("f8"))
    counts = counts.astype("i8")  # (time, column)
    # the nearest rank: the smallest value with at least q of the values at or below it
    rank = np.clip(np.ceil(counts[..., None] * q).astype("i8") - 1, 0, None)
    rank = np.minimum(rank, np.maximum(counts[..., None] - 1, 0))
    wanted = (groups.starts[None, :, None] + rank).reshape(values.shape[0], -1)
    picked = _at_ranks(groups, values, valid, wanted).reshape(rank.shape).astype("f8")
    picked[counts == 0] = np.nan
    return {name: picked[:, :, i] for i, name in enumerate(statistics)}


def _quantile(statistic: str) -> float:
    """The quantile of a ranked statistic: 0 for the minimum, 1 for the maximum."""
    return (
        {"min": 0.0, "max": 1.0}[statistic] if not statistic.startswith("p") else float(statistic[1:]) / 100
    )


def _at_ranks(groups: Groups, values: np.ndarray, valid: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The values at positions ``wanted`` (time, k) of each step's entries sorted by column,
    then value, missing ones last in their column (so each column's segment starts where
    ``groups.starts`` says, its valid values in ascending order)."""
    if groups.count == 1:  # the valid values of each step, sorted
        rows = [step[kept] for step, kept in zip(values, valid)]
        for row in rows:
            row.sort()  # copies: sorted in place
        return np.stack(
            [
                row[positions] if row.size else np.full(positions.shape, np.nan)
                for row, positions in zip(rows, wanted)
            ]
        )
    if values.dtype == np.float32:
        bits = values.view(np.uint32)
        flip = (values.view(np.int32) >> 31).view(np.uint32) | np.uint32(0x80000000)  # negatives: every bit
        keys = groups.high | np.where(valid, bits ^ flip, np.uint32(0xFFFFFFFF))
        keys.sort(axis=1)  # a new array: sorted in place
        low = (np.take_along_axis(keys, wanted, axis=1) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        return (low ^ np.where(low >> 31, np.uint32(0x80000000), np.uint32(0xFFFFFFFF))).view(np.float32)
    rows = []
    for step, kept, positions in zip(values, valid, wanted):  # other types: by column, then value
        entries = np.where(kept, step, np.inf)
        rows.append(entries[np.lexsort((entries, groups.column))][positions])
    return np.stack(rows)


@dataclass(frozen=True)
class Entries:
    """The cells a step's values come in, as rows and columns of a window of the grid, and the
    share of each that belongs to its region (1 for whole cells, the overlap for fractions).
    Without ``rows`` and ``cols`` the entries are every cell of the window in row order and
    ``shares`` is the window's ``(rows, cols)`` array: nothing per cell beyond it is kept."""

    rows: np.ndarray | None
    cols: np.ndarray | None
    shares: np.ndarray

    @classmethod
    def window(cls, shares: np.ndarray) -> "Entries":
        return cls(None, None, shares)


@dataclass(frozen=True)
class Weighing:
    """How the cells of a window weigh: by area (``lat_weights`` per row, for means; ``areas``
    in m² per cell, for sums) times the weight grid's ``fields`` (per year, or one under
    None) where there is one; ``per_cell`` weights replace the areas instead."""

    lat_weights: np.ndarray
    areas: np.ndarray
    fields: dict | None = None
    per_cell: bool = False

    def of(self, entries: Entries, year, sums: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """The weights of means and (``sums``) of sums of each entry, in ``year``."""
        field = None if self.fields is None else self.fields[year if year in self.fields else None]
        if entries.rows is None:  # a whole window: arrays of its shape, flattened at the end
            shares = entries.shares if field is None else entries.shares * field
            lat_weights, areas = self.lat_weights[:, None], self.areas
        else:
            shares = entries.shares if field is None else entries.shares * field[entries.rows, entries.cols]
            lat_weights, areas = self.lat_weights[entries.rows], self.areas[entries.rows, entries.cols]
        if self.per_cell:
            weights = np.asarray(shares, dtype="f8")
            return weights.ravel(), weights.ravel() if sums else None
        return (shares * lat_weights).ravel(), (shares * areas).ravel() if sums else None


def year_segments(steps, years: list[int] | None, fields: dict | None) -> list[tuple[object, int | None]]:
    """The read steps in runs of one weight year: ``[(steps, year)]``; one run (year None) when
    the weights do not change with time."""
    if fields is None or None in fields or years is None:
        return [(steps, None)]
    first, segments, start = steps.read.start, [], 0
    for i in range(1, len(years) + 1):
        if i == len(years) or years[i] != years[start]:
            segments.append((replace(steps, read=slice(first + start, first + i)), years[start]))
            start = i
    return segments


def stream_statistics(
    read, statistics, groups: Groups, entries: Entries, weighing: Weighing, fill, steps, years, progress
):
    """Run ``read(reduce, steps, progress) -> (time, column, statistic)`` over the steps in
    runs of one weight year, each with the reducer of its year's weights; the runs read in
    turn, so every step is still read once."""
    parts, done = [], 0
    for part, year in year_segments(steps, years, weighing.fields):
        weights, areas = weighing.of(entries, year, "sum" in statistics)
        reduce = reducer(statistics, groups, weights, areas, fill)

        def advance(stop, total, offset=done):
            if progress:
                progress(offset + stop, steps.count)

        parts.append(read(reduce, part, advance))
        done += part.count
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def weighing_for(
    dataset,
    layout: Layout,
    name: str,
    grid: Grid,
    rows: slice,
    cols: np.ndarray,
    weights: WeightGrid | None,
    steps,
):
    """The weighing of the window ``rows`` x ``cols`` (``grid``, cut to it) of variable ``name``:
    cell areas from the file's CF ``cell_measures`` where it names an area variable on the
    grid, else from the grid; the weight grid's fields for the years of the steps read.
    Returns the weighing and the year of each step read (None without yearly weights)."""
    areas = _measured_areas(dataset, layout, name, rows, cols)
    if areas is None:
        areas = np.broadcast_to(grid.cell_areas()[:, None], grid.shape)
    fields, years = None, None
    if weights is not None:
        if layout.time_dim is not None and steps.count:
            dates = decode_times(layout.time_values[steps.read], layout.time_units, layout.calendar)
            years = [int(date[:4]) for date in dates]
        fields = read_weights(weights, grid, years)
    return Weighing(grid.lat_weights(), areas, fields, weights.per_cell if weights else False), years


def _measured_areas(dataset, layout: Layout, name: str, rows: slice, cols: np.ndarray) -> np.ndarray | None:
    """The cell areas the variable's ``cell_measures = "area: <variable>"`` names, if that
    variable is in the file on the grid (in m²), over the window; else None."""
    measures = str(dataset.variables[name].__dict__.get("cell_measures", ""))
    found = re.search(r"area:\s*(\S+)", measures)
    variable = dataset.variables.get(found.group(1)) if found else None
    if variable is None or tuple(variable.dimensions) != (layout.lat_dim, layout.lon_dim):
        return None
    return np.asarray(variable[rows, :], dtype="f8")[:, cols]
