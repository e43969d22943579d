"""Time ranges and time windows on a file's time axis, calendar by calendar as the file has it.

Dates are compared as ISO text (``2001-02-30`` exists in a 360-day calendar and sorts right),
so a period bound may be a year (``2001``), a month (``2001-06``) or a day (``2001-06-15``),
both ends included: ``["2001", "2005"]`` is every step of the five years, as
``cdo seldate,2001-01-01,2005-12-31T23:59:59``. A window (``month``, ``year``) groups the
steps of each calendar month or year, as ``cdo monmean`` / ``yearmean`` do; its time stamp is
the middle of its first and last step and its bounds are those two steps, as CDO writes them.
"""

import calendar
import re
from dataclasses import dataclass

import numpy as np

from isimip_mask.errors import InputError

DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
WINDOWS = {"month": 7, "year": 4}  # window -> length of the ISO prefix that names it
CDO_NAMES = {"month": "monmean", "year": "yearmean"}


@dataclass(frozen=True)
class Period:
    """From ``start`` to ``end``, both included, each a year, a month or a day in ISO form."""

    start: str
    end: str

    @classmethod
    def parse(cls, value) -> "Period":
        """Build from ``[start, end]``; a lone year or date stands for both ends."""
        if isinstance(value, str | int) and not isinstance(value, bool):
            value = [value, value]
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise InputError(
                f"period must be [start, end] as years or dates, e.g. [2001, 2005] or "
                f"['2001-06-01', '2001-08-31'], got {str(value)[:80]!r}",
                "period",
            )
        start, end = (_date(part) for part in value)
        if _padded(start, "0") > _padded(end, "9"):
            raise InputError(f"period starts ({start}) after it ends ({end})", "period")
        return cls(start, end)

    def contains(self, date: str) -> bool:
        return date[: len(self.start)] >= self.start and date[: len(self.end)] <= self.end

    def steps(self, dates: list[str]) -> slice:
        """The steps of ``dates`` (the file's own, in order) inside the period."""
        inside = np.flatnonzero([self.contains(date) for date in dates])
        if inside.size == 0:
            span = f"{dates[0][:10]} to {dates[-1][:10]}" if dates else "no time axis"
            raise InputError(f"the period {self.start} to {self.end} is outside the file ({span})", "period")
        return slice(int(inside[0]), int(inside[-1]) + 1)

    @property
    def years(self) -> tuple[int, int]:
        """The first and last year, for file names (ISIMIP names spell a file's period so)."""
        return int(self.start[:4]), int(self.end[:4])

    def config(self) -> list[str]:
        return [self.start, self.end]

    @property
    def cdo_operator(self) -> str:
        """The cdo operator that keeps the same steps (Gregorian month lengths)."""
        if len(self.start) == len(self.end) == 4:
            return f"-selyear,{self.start}/{self.end}"
        end = self.end
        if len(end) < 10:
            year, month = int(end[:4]), int(end[5:7]) if len(end) > 4 else 12
            end = f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"
        return f"-seldate,{_padded(self.start, '0').replace('-00', '-01')},{end}T23:59:59"


def _date(value) -> str:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    match = DATE.match(text.strip())
    month, day = (int(match.group(i)) if match and match.group(i) else 1 for i in (2, 3))
    if not match or not 1 <= month <= 12 or not 1 <= day <= 31:
        raise InputError(
            f"a period bound must be YYYY, YYYY-MM or YYYY-MM-DD, got {str(value)[:40]!r}", "period"
        )
    return text.strip()


def _padded(date: str, digit: str) -> str:
    return date + "-00-00"[len(date) - 4 :].replace("0", digit) if len(date) < 10 else date


def windows(dates: list[str], window: str) -> list[slice]:
    """Consecutive steps of the same calendar month or year."""
    length = WINDOWS[window]
    groups: list[slice] = []
    start = 0
    for i in range(1, len(dates) + 1):
        if i == len(dates) or dates[i][:length] != dates[start][:length]:
            groups.append(slice(start, i))
            start = i
    return groups


def window_times(values: np.ndarray, groups: list[slice]) -> tuple[np.ndarray, np.ndarray]:
    """Each window's time stamp (the middle of its first and last step) and bounds."""
    bounds = np.array([[values[g.start], values[g.stop - 1]] for g in groups], dtype="f8").reshape(-1, 2)
    return bounds.mean(axis=1), bounds


def window_means(series: np.ndarray, groups: list[slice]) -> np.ndarray:
    """The mean of each window along the first axis, missing (NaN) steps left out; NaN where a
    window has no value."""
    out = np.full((len(groups), *series.shape[1:]), np.nan)
    with np.errstate(invalid="ignore"):
        for i, group in enumerate(groups):
            part = series[group]
            count = np.sum(~np.isnan(part), axis=0)
            total = np.nansum(part, axis=0)
            out[i] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out
