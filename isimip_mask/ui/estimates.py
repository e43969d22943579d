"""What the page says before and after a job runs: sizes as people read them, and what a plan
will write for the files picked (the same rules the engine follows)."""

from isimip_mask.files.datasets import DatasetInfo
from isimip_mask.files.grid import wrap_lon
from isimip_mask.regions.sets import PointSet
from isimip_mask.requests.plan import Plan

# a CSV row of a series: an ISO date, a comma and a float32 written as repr (up to 13 chars
# with the sign and exponent), per variable, and the newline
CSV_DATE_CHARS = len("2001-01-01")
CSV_VALUE_CHARS = 1 + 13


def human_size(size: float) -> str:
    """Three significant digits: 1.30 GB, 45.2 MB, 812 kB."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 999.5:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} TB"


NETCDF_HEADER = 24_000  # bytes of a written NetCDF-4 file before its data: header, axes, attributes
STEP_CHUNK_BYTES = 70  # a chunk of one step (a series' value, a mask's step): its index and time
FILL_SHARE = 1 / 1000  # a chunk of missing values deflates to about this share (zlib's limit: 1/1032)
CSV_CELL_CHARS = len("2001-01-01,-12.25,131.75,") + CSV_VALUE_CHARS  # a row of a CSV of every cell


def output_estimate(plan: Plan, infos: list[DatasetInfo], cells: int, window_cells: int | None = None) -> str:
    """What ``plan`` writes for the files ``infos`` when ``cells`` cells of the first one's grid
    are kept (within ``window_cells``, the box round them, where a crop cuts to it), in words,
    with the size the output files will have (within 2x over the demo data)."""
    info = infos[0]
    steps = output_steps(plan, info)
    values = max(1, len(info.variables))
    if plan.is_series:
        what = "CSV" if plan.output_csv else "NetCDF"
        columns = table_columns(plan, info) * (
            1 if isinstance(plan.region, PointSet) else len(plan.statistics)
        )
        if plan.output_csv:
            size = steps * (CSV_DATE_CHARS + CSV_VALUE_CHARS * values * columns + 1)
        elif hasattr(plan.region, "names"):  # a table: chunks of about a MB
            size = NETCDF_HEADER + steps * values * columns * 4
        else:  # (time, 1, 1) variables, a chunk a step as cdo writes them
            size = NETCDF_HEADER + steps * (values * columns * 4 + STEP_CHUNK_BYTES)
        shape = (
            f"a table of {steps:,} rows x {columns:,} columns"
            if columns > 1
            else f"a time series of {steps:,} values"
        )
        return f"{shape} per file (about {human_size(size * len(infos))} as {what})"
    if plan.output_csv:
        rows = cells * steps
        size = rows * CSV_CELL_CHARS * values * len(infos)
        return f"a CSV of about {rows:,} rows per file (about {human_size(size)})"
    total = info.nlat * info.nlon
    grid_cells = window_cells if plan.crop and window_cells else total
    # the input's bytes per cell with a value and step: its compression of these data
    valid = info.valid_cells or total
    per_value = info.size_bytes / max(1, valid * max(1, info.n_times))
    step = cells * per_value + (grid_cells - cells) * 4 * FILL_SHARE * values + STEP_CHUNK_BYTES
    size = NETCDF_HEADER + steps * step
    raw = info.kept_bytes(cells) * steps // max(1, info.n_times)
    return (
        f"about {human_size(size * len(infos))} in {len(infos)} file(s) "
        f"({human_size(raw * len(infos))} of data before compression)"
    )


def output_steps(plan: Plan, info: DatasetInfo) -> int:
    """Time steps written for ``info``: all, the share of its time span in the plan's period, or
    one per month or year of it (counted in days of the calendar: an estimate)."""
    steps = max(1, info.n_times)
    if not info.time_span or not (plan.period or plan.window):
        return steps
    first, last = _day(info.time_span[0]), _day(info.time_span[1], end=True)
    start, end = (_day(plan.period.start), _day(plan.period.end, end=True)) if plan.period else (first, last)
    days = max(0.0, min(last, end) - max(first, start))
    if plan.window:
        return max(1, round(days / (DAYS_PER_MONTH if plan.window == "month" else DAYS_PER_YEAR)))
    return max(1, min(steps, round(steps * days / max(1.0, last - first))))


DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12


def _day(date: str, end: bool = False) -> float:
    """An ISO year, month or day as a count of days, at its start (``end``: its end)."""
    parts = [int(part) for part in date[:10].split("-")]
    year, month, day = (parts + [None, None])[:3]
    if month is None:
        return (year + (1 if end else 0)) * DAYS_PER_YEAR
    start = year * DAYS_PER_YEAR + (month - 1) * DAYS_PER_MONTH
    if day is None:
        return start + (DAYS_PER_MONTH if end else 0)
    return start + day - 1 + (1 if end else 0)


def table_columns(plan: Plan, info: DatasetInfo) -> int:
    """The columns a table of ``plan`` gets on ``info``'s grid: its regions or points that reach
    the grid's extent (a region without a cell on the file has no column); 1 for a series."""
    parts = getattr(plan.region, "parts", None) if hasattr(plan.region, "names") else None
    if not parts:
        return 1
    dlat, dlon = info.resolution
    south, north = info.lat_range[0] - dlat / 2, info.lat_range[1] + dlat / 2
    west, east = info.lon_range[0] - dlon / 2, info.lon_range[1] + dlon / 2
    every_lon = east - west >= 360 - dlon

    def reaches(low_lon, low_lat, high_lon, high_lat) -> bool:
        if high_lat < south or low_lat > north:
            return False
        start = wrap_lon(low_lon, west)  # the part's west edge moved next to the grid's
        return every_lon or start <= east or start + (high_lon - low_lon) >= west + 360

    if isinstance(plan.region, PointSet):
        return max(1, sum(reaches(p.lon, p.lat, p.lon, p.lat) for p in parts))
    outlined = [part for part in parts if getattr(part, "geometry", None) is not None]
    unknown = len(parts) - len(outlined)  # mask files: counted, their cells are not known here
    return max(1, unknown + sum(reaches(*part.geometry.bounds) for part in outlined))
