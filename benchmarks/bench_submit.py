"""How long submitting a request takes on a 30-arcsec global grid (CHELSA-W5E5 size, 20880 x 43200).

Submitting checks that the region touches every file; it must not build a full-resolution mask
(land only once took 101 s and 2.1 GB here). The file is a header with coordinates only.
``python benchmarks/bench_submit.py`` prints a table.
"""

import resource
import tempfile
import time
from pathlib import Path

import netCDF4
import numpy as np

from isimip_mask.requests.submission import build_request
from isimip_mask.settings import Settings

REQUESTS = {
    "mask_country DEU": [{"operation": "mask_country", "country": "DEU"}],
    "mask_landonly": [{"operation": "mask_landonly"}],
    "mask_landonly, rule touch": [{"operation": "mask_landonly", "rule": "touch"}],
    "mask_bbox": [{"operation": "mask_bbox", "bbox": [5, 15, 47, 55]}],
    "mask_landonly + mask_country FRA": [
        {"operation": "mask_landonly"},
        {"operation": "mask_country", "country": "FRA"},
    ],
    "select_point": [{"operation": "select_point", "point": [52.5, 13.4]}],
}


def fine_file(folder: Path) -> Path:
    path = folder / "chelsa_tas_global_daily_2001_2001.nc"
    with netCDF4.Dataset(path, "w") as out:
        out.createDimension("time", None)
        out.createDimension("lat", 20880)
        out.createDimension("lon", 43200)
        lat = out.createVariable("lat", "f8", ("lat",))
        lat[:] = 90 - (np.arange(20880) + 0.5) / 120
        lat.setncatts({"standard_name": "latitude", "units": "degrees_north"})
        lon = out.createVariable("lon", "f8", ("lon",))
        lon[:] = -180 + (np.arange(43200) + 0.5) / 120
        lon.setncatts({"standard_name": "longitude", "units": "degrees_east"})
        time_var = out.createVariable("time", "f8", ("time",))
        time_var.units = "days since 2001-01-01"
        time_var[:] = [0]
        chunks = (1, 1044, 1080)
        out.createVariable(
            "tas", "f4", ("time", "lat", "lon"), zlib=True, chunksizes=chunks, fill_value=np.float32(1e20)
        )
    return path


def main() -> None:
    root = Path(tempfile.mkdtemp())
    path = fine_file(root)
    settings = Settings(input_path=root, output_path=root / "out", _env_file=None)
    build_request(settings, [path.name], REQUESTS["mask_bbox"])  # imports and the file cache warm
    print("| request (one 30-arcsec file) | submit s |\n| --- | ---: |")
    for name, operations in REQUESTS.items():
        start = time.perf_counter()
        build_request(settings, [path.name], operations)
        print(f"| {name} | {time.perf_counter() - start:.3f} |")
    print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
