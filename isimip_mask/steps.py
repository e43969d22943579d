"""The steps of a file that a plan reads, and the time axis it writes: a period of the file,
every step or one per calendar window (see :mod:`isimip_mask.timeaxis`)."""

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .netcdf import Layout, decode_times
from .timeaxis import Period, window_times, windows


@dataclass(frozen=True)
class Steps:
    """The input steps a plan reads (``read``) and the time axis it writes: every step read,
    or one step per window (``groups``, relative to ``read``) with its bounds."""

    read: slice
    values: np.ndarray
    dates: list[str]
    groups: list[slice] | None = None
    bounds: np.ndarray | None = None

    @classmethod
    def of(cls, layout: Layout, period: Period | None = None, window: str | None = None) -> "Steps":
        if (period or window) and layout.time_dim is None:
            raise InputError("the file has no time axis to select or average over", "period")
        dates = decode_times(layout.time_values, layout.time_units, layout.calendar)
        read = period.steps(dates) if period else slice(0, layout.n_times)
        values = layout.time_values[read]
        if not window:
            return cls(read, values, dates[read])
        groups = windows(dates[read], window)
        mids, bounds = window_times(values, groups)
        return cls(read, mids, decode_times(mids, layout.time_units, layout.calendar), groups, bounds)

    @property
    def count(self) -> int:
        """Steps read."""
        return self.read.stop - self.read.start

    @property
    def size(self) -> int:
        """Steps written."""
        return int(self.values.size)
