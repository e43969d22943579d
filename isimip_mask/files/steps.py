"""The steps of a file that a plan reads, and the time axis it writes: a period of the file,
every step or one per calendar window (see :mod:`isimip_mask.files.timeaxis`)."""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from isimip_mask.errors import InputError
from isimip_mask.files.netcdf import Layout, decode_times
from isimip_mask.files.timeaxis import Period, window_times, windows


@dataclass(frozen=True)
class Steps:
    """The input steps a plan reads (``read``) and the time axis it writes: every step read,
    or one step per window (``groups``, relative to ``read``) with its bounds. The ISO dates of
    the steps written are decoded only when asked for (a CSV's time column): a plain request's
    check at submit decodes no time axis."""

    read: slice
    values: np.ndarray
    units: str
    calendar: str
    groups: list[slice] | None = None
    bounds: np.ndarray | None = None

    @classmethod
    def of(cls, layout: Layout, period: Period | None = None, window: str | None = None) -> "Steps":
        if (period or window) and layout.time_dim is None:
            raise InputError("the file has no time axis to select or average over", "period")
        units, calendar = layout.time_units, layout.calendar
        if period is None and window is None:
            return cls(slice(0, layout.n_times), layout.time_values, units, calendar)
        dates = decode_times(layout.time_values, units, calendar)
        read = period.steps(dates) if period else slice(0, layout.n_times)
        values = layout.time_values[read]
        if not window:
            return cls(read, values, units, calendar)
        groups = windows(dates[read], window)
        mids, bounds = window_times(values, groups)
        return cls(read, mids, units, calendar, groups, bounds)

    @cached_property
    def dates(self) -> list[str]:
        """ISO dates of the steps written."""
        return decode_times(self.values, self.units, self.calendar)

    @property
    def count(self) -> int:
        """Steps read."""
        return self.read.stop - self.read.start

    @property
    def size(self) -> int:
        """Steps written."""
        return int(self.values.size)
