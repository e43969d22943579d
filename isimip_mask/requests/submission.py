"""A request checked completely before anything is queued: its paths, its operations, and
that its region touches every file; what the queue gets is the canonical ``JobRequest``. Files
that a request's period does not reach (other periods of the dataset) are left out of it."""

from collections.abc import Mapping
from dataclasses import dataclass

from isimip_mask.engine import memory_mb
from isimip_mask.engine.options import RunOptions
from isimip_mask.errors import DatasetError, InputError, Problems, RegionError
from isimip_mask.files.netcdf import decode_times, open_dataset, read_layout
from isimip_mask.files.paths import normalize_path, resolve_all
from isimip_mask.files.steps import Steps
from isimip_mask.files.weights import check_fits
from isimip_mask.regions.masks import overlaps, region_mask, why_empty
from isimip_mask.requests.chain import parse_operations
from isimip_mask.requests.limits import Limits
from isimip_mask.requests.plan import Plan
from isimip_mask.settings import Settings

# a table (mask_regions, select_points) is held in memory while it is read: ~30 bytes a value
MAX_TABLE_VALUES = 10_000_000
CSV_GRID_CELLS = 4_000_000  # a CSV of every cell is counted at submit; on finer grids it is refused


@dataclass(frozen=True)
class JobRequest:
    """Validated dataset paths (relative to the data root) and the plan for each of them."""

    paths: tuple[str, ...]
    plan: Plan

    def canonical(self) -> dict:
        return {"paths": sorted(self.paths), "plan": self.plan.config()}


def build_request(  # noqa: C901 (every check collected before one error is raised)
    settings: Settings, paths, operations, uploads: Mapping[str, bytes] | None = None
) -> JobRequest:
    """Check paths and operations completely before anything is queued.

    Raises InputError (or a subclass) listing every problem, keyed by field.
    """
    problems = Problems()
    resolved, plan = [], None
    try:
        resolved = resolve_all(settings.input_path, paths, settings.max_files)
    except DatasetError as error:
        problems.extend(error)
    limits = Limits.from_settings(settings, uploads or {})
    try:
        plan = parse_operations(operations, limits)
    except InputError as error:
        problems.extend(error)
    if plan is not None and resolved:
        misses, outside = {}, set()
        for user_path, path in zip(paths, resolved):
            try:
                with open_dataset(path) as dataset:
                    layout = read_layout(dataset, path.name)
                    need_mb = memory_mb(dataset, layout, plan, RunOptions.from_settings(settings).threads)
                if not overlaps(layout.grid, plan.region):  # no mask is built: fine grids stay cheap
                    raise RegionError(why_empty(layout.grid, plan.region))
                try:
                    steps = Steps.of(layout, plan.period, plan.window)
                except InputError as error:
                    if plan.period is not None and error.errors.keys() == {"period"}:
                        outside.add(user_path)  # a file of the dataset the period does not reach
                    raise
            except DatasetError as error:
                problems.add("paths", f"{user_path}: {error}")
                continue
            except InputError as error:  # region or period: that file fails in the job, the others go on
                misses[user_path] = str(error)
                continue
            if plan.weights is not None:
                try:
                    check_fits(plan.weights, layout.grid, _years(layout, steps))
                except InputError as error:
                    problems.add("weights", f"{user_path}: {error}")
                    continue
            for message in _costs(settings, plan, layout, steps, need_mb):
                problems.add("operations", f"{user_path}: {message}")
        if len(misses) == len(paths):
            for user_path, message in misses.items():
                problems.add("paths", f"{user_path}: {message}")
        paths = [p for p in paths if p not in outside or len(outside) == len(paths)]
    problems.raise_if_any(InputError)
    return JobRequest(tuple(normalize_path(p) for p in paths), plan)


def _years(layout, steps: Steps) -> set[int]:
    """The years of the steps a plan reads."""
    if layout.time_dim is None or not steps.count:
        return set()
    return {
        int(date[:4])
        for date in decode_times(layout.time_values[steps.read], layout.time_units, layout.calendar)
    }


def _costs(settings: Settings, plan: Plan, layout, steps: Steps, need_mb: int) -> list[str]:
    """What a file of the request would cost beyond a limit (memory, table size, CSV rows): the
    first limit it passes, named with the way out; none when it fits."""
    if need_mb > settings.worker_max_memory_mb:
        return [
            f"this request needs about {need_mb:,} MB in a worker, more than its "
            f"{settings.worker_max_memory_mb:,} MB (WORKER_MAX_MEMORY_MB); cut out a smaller region "
            "(select_bbox), ask for a mask or a cut-out instead of a mean or a table, or fewer regions"
        ]
    columns = len(getattr(plan.region, "names", ()))
    if columns * steps.size > MAX_TABLE_VALUES:
        return [
            f"a table of {steps.size:,} steps x {columns:,} columns = {steps.size * columns:,} values, "
            f"more than the limit of {MAX_TABLE_VALUES:,}; choose a shorter period (select_time), "
            "monthly or annual means (time_mean), or fewer regions or points"
        ]
    if not plan.output_csv or plan.is_series:
        return []
    cells = layout.grid.lat.size * layout.grid.lon.size
    if cells > CSV_GRID_CELLS:
        return [
            f"output_csv without compute_mean is offered on grids of up to {CSV_GRID_CELLS:,} cells "
            f"(this one has {cells:,}); add compute_mean, or use NetCDF"
        ]
    kept = region_mask(layout.grid, plan.region).count()
    rows = kept * max(1, steps.count)
    if rows > settings.max_csv_rows:
        return [
            "output_csv without compute_mean writes a row per kept cell and time step: "
            f"{kept:,} cells x {steps.count:,} steps = {rows:,} rows, more than the limit of "
            f"{settings.max_csv_rows:,}; add compute_mean, or choose a smaller region"
        ]
    return []
