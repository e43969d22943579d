"""What the page says before and after a job runs: sizes as people read them, and what a plan
will write for the files picked (the same rules the engine follows)."""

from .datasets import DatasetInfo
from .plan import Plan

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


def output_estimate(plan: Plan, infos: list[DatasetInfo], cells: int) -> str:
    """What ``plan`` writes for the files ``infos`` when ``cells`` cells of the first one's grid
    are kept, in words."""
    info = infos[0]
    steps = max(1, info.n_times)
    if plan.is_series:
        what = "CSV" if plan.output_csv else "NetCDF"
        row = CSV_DATE_CHARS + CSV_VALUE_CHARS * max(1, len(info.variables)) + 1
        return (
            f"a time series of {steps} values per file "
            f"(about {human_size(steps * row * len(infos))} as {what})"
        )
    raw = info.kept_bytes(cells) * len(infos)
    return f"about {human_size(raw)} of data before compression, in {len(infos)} file(s)"
