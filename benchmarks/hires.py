"""A synthetic CHELSA-W5E5-like file: a global grid at ``arcsec`` resolution (30: 21,600 x 43,200
cells), daily float32 ``tas`` with the ocean missing (1e20), chunks of one step x 1200 x 2400
cells, shuffle + deflate, as the high-resolution ISIMIP3a climate forcing is written.

Never committed: at 30 arcsec three steps take about 2.5 GB. Land comes from the package's own
land mask (Natural Earth), so a land-only request finds values on land only, as in the real
files. Tiles are deflated in threads and written with ``write_direct_chunk``: a minute or two
for three 30-arcsec steps, where writing through netCDF4 took seven.

    python benchmarks/hires.py OUT.nc [--arcsec 30] [--steps 3]
"""

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import netCDF4
import numpy as np
from isal import isal_zlib

from isimip_mask.engine.chunks import byte_planes
from isimip_mask.files.grid import Grid
from isimip_mask.files.netcdf import write_axes
from isimip_mask.regions.kinds import LandOnly
from isimip_mask.regions.masks import region_mask

FILL = np.float32(1e20)
TILE = (1200, 2400)


def grid_of(arcsec: int) -> Grid:
    per_degree = 3600 // arcsec
    lat = 90 - (np.arange(180 * per_degree) + 0.5) / per_degree
    lon = -180 + (np.arange(360 * per_degree) + 0.5) / per_degree
    return Grid.from_arrays(lat, lon)


def _skeleton(path: Path, grid: Grid, steps: int, tile: tuple[int, int]) -> None:
    with netCDF4.Dataset(path, "w", format="NETCDF4") as out:
        out.createDimension("time", None)
        write_axes(out, grid, described=True)
        time = out.createVariable("time", "f8", ("time",))
        time.setncatts({"standard_name": "time", "units": "days since 1979-01-01", "calendar": "standard"})
        time[:] = np.arange(steps, dtype="f8")
        tas = out.createVariable(
            "tas",
            "f4",
            ("time", "lat", "lon"),
            zlib=True,
            complevel=1,
            shuffle=True,
            chunksizes=(1, *tile),
            fill_value=FILL,
        )
        tas.setncatts({"missing_value": FILL, "standard_name": "air_temperature", "units": "K"})
        out.setncatts({"title": "synthetic CHELSA-W5E5-like tas (isimip-mask benchmark)"})


def write_hires(path: Path, arcsec: int = 30, steps: int = 3, tile: tuple[int, int] = TILE) -> Path:
    """Write the file and return its path (replaced if it exists)."""
    grid = grid_of(arcsec)
    _skeleton(path, grid, steps, tile)
    land = region_mask(grid, LandOnly())
    rows, cols = tile
    empty = isal_zlib.compress(byte_planes(np.full((1, rows, cols), FILL)).tobytes(), 1)

    def encode(step: int, row: int, col: int, keep: np.ndarray) -> bytes:
        lat = grid.lat[row : row + rows, None]
        lon = grid.lon[col : col + cols][None, :]
        values = np.full((1, rows, cols), FILL)
        field = 288 - 30 * np.abs(lat) / 90 + 3 * np.sin(np.deg2rad(lon) * 7 + step) + (lat * lon % 1.7)
        values[0, : field.shape[0], : field.shape[1]] = field.astype("f4")
        values = np.where(keep, values, FILL)
        return isal_zlib.compress(byte_planes(values).tobytes(), 1)

    with h5py.File(path, "r+") as handle, ThreadPoolExecutor(max_workers=2) as pool:
        dataset = handle["tas"]
        dataset.resize(steps, axis=0)  # netCDF4 leaves an unlimited axis at 0 until written
        for row in range(0, grid.lat.size, rows):
            band = np.zeros((rows, -(-grid.lon.size // cols) * cols), dtype=bool)
            band[: min(rows, grid.lat.size - row), : grid.lon.size] = land.cells(
                slice(row, min(grid.lat.size, row + rows))
            )
            for step in range(steps):
                offsets = [(step, row, col) for col in range(0, grid.lon.size, cols)]
                keeps = [band[None, :, col : col + cols] for col in range(0, grid.lon.size, cols)]
                encoded = [
                    pool.submit(encode, *offset, keep) if keep.any() else None
                    for offset, keep in zip(offsets, keeps)
                ]
                for offset, data in zip(offsets, encoded):
                    dataset.id.write_direct_chunk(offset, empty if data is None else data.result())
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--arcsec", type=int, default=30)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    write_hires(args.output, args.arcsec, args.steps)


if __name__ == "__main__":
    main()
