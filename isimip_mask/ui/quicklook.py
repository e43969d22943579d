"""Quick looks at results for the page: a coloured picture of a field, a CSV as a table, and
the licence and citation attributes of the input.

Results are opened with xarray: it decodes the fill and missing values to NaN and reads only
the first time step, which is all a quick look needs (the engine streams chunks instead).
"""

import csv
from pathlib import Path

import numpy as np
import xarray as xr

# a perceptually ordered ramp (dark blue -> teal -> yellow), interpolated in RGB
RAMP = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype="f8")
MISSING_RGB = (235, 235, 235)


def colour(field: np.ndarray) -> np.ndarray:
    """RGB picture of a 2-D field, missing cells light grey, scaled between its 2nd and 98th percentile."""
    picture = np.empty((*field.shape, 3), dtype=np.uint8)
    picture[:] = MISSING_RGB
    valid = np.isfinite(field)
    if valid.any():
        low, high = np.percentile(field[valid], [2, 98])
        scaled = np.clip((field[valid] - low) / ((high - low) or 1.0), 0, 1) * (len(RAMP) - 1)
        index = np.minimum(scaled.astype(int), len(RAMP) - 2)
        weight = (scaled - index)[:, None]
        picture[valid] = (RAMP[index] * (1 - weight) + RAMP[index + 1] * weight).astype(np.uint8)
    return picture


def first_field(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, str] | None:
    """The first horizontal field of the first gridded variable of a result (missing as NaN),
    its latitudes and longitudes (the variable's last two dimensions), name and units; None
    for a result without one (a series)."""
    with xr.open_dataset(path, decode_times=False) as dataset:
        # a field has coordinates on both of its last axes (a table's "region" axis has none)
        gridded = [
            (n, v)
            for n, v in dataset.data_vars.items()
            if v.ndim >= 2 and set(v.dims[-2:]) <= set(dataset.coords)
        ]
        if not gridded:
            return None
        name, variable = gridded[0]
        field = variable.isel({dim: 0 for dim in variable.dims[:-2]}).values.astype("f8")
        lat, lon = (np.asarray(dataset[dim].values, dtype="f8") for dim in variable.dims[-2:])
        return field, lat, lon, name, str(variable.attrs.get("units", ""))


def field_picture(path: Path, scale: int = 4) -> tuple[np.ndarray, str, tuple | None] | None:
    """The first time step of a NetCDF result, north up, each cell ``scale`` pixels wide, its
    caption, and the colour scale (a picture and its caption; None without values)."""
    found = first_field(path)
    if found is None:
        return None
    field, lat, lon, name, units = found
    by_lat, by_lon = np.argsort(-lat), np.argsort(lon)
    field, lat, lon = field[by_lat][:, by_lon], lat[by_lat], lon[by_lon]
    valid = np.isfinite(field)
    if valid.any():  # a masked global file is mostly empty: show the part with values
        rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
        rows, cols = slice(max(0, rows[0] - 2), rows[-1] + 3), slice(max(0, cols[0] - 2), cols[-1] + 3)
        field, lat, lon = field[rows, cols], lat[rows], lon[cols]
    picture = colour(field)
    scale = max(1, min(scale, 720 // max(1, field.shape[1]), 480 // max(1, field.shape[0])))
    extent = f"lat {lat.min():g} to {lat.max():g}, lon {lon.min():g} to {lon.max():g}"
    if not np.isfinite(field).any():
        return picture, f"{name}: no valid value in the first time step", None
    low, high = np.percentile(field[np.isfinite(field)], [2, 98])
    caption = (
        f"{name} [{units}], first time step, north up ({extent}); values {np.nanmin(field):.4g} to "
        f"{np.nanmax(field):.4g}"
    )
    legend = (colour_bar(), f"colour scale: {low:.4g} to {high:.4g} {units} (2nd to 98th percentile)")
    return np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1), caption, legend


def colour_bar(width: int = 256, height: int = 12) -> np.ndarray:
    """The colour ramp of :func:`colour`, low to high, as a picture."""
    return colour(np.tile(np.linspace(0.0, 1.0, width), (height, 1)))


def read_csv_series(path: Path, max_rows: int = 100_000) -> tuple[list[str], dict[str, list[float]]]:
    """Times and value columns of a CSV result (empty cells as NaN)."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        times, columns = [], {name: [] for name in header[1:]}
        for number, row in enumerate(reader):
            if number >= max_rows:
                break
            times.append(row[0])
            for name, value in zip(header[1:], row[1:]):
                columns[name].append(float(value) if value else float("nan"))
    return times, columns


CREDIT_ATTRIBUTES = ("title", "institution", "contact", "license", "licence", "citation", "references")


def credits(path: Path) -> dict[str, str]:
    """The licence, citation and provenance attributes of a NetCDF file (ISIMIP files carry
    them), for showing with a result: what its users must cite and whom to ask."""
    try:
        with xr.open_dataset(path, decode_times=False) as dataset:
            attrs = dataset.attrs
    except (OSError, ValueError):
        return {}
    return {key: str(attrs[key])[:300] for key in CREDIT_ATTRIBUTES if str(attrs.get(key, "")).strip(" -")}
