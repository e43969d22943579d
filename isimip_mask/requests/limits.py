"""What a request may hold (sizes, counts), the files uploaded with it, the ISIMIP mask files
to use, and where uploaded masks are kept: built from the settings in one place."""

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from isimip_mask.files.netcdf import atomic_output
from isimip_mask.files.results import upload_dir
from isimip_mask.settings import Settings


@dataclass(frozen=True)
class Limits:
    """Limits and uploaded files that operations need while they parse."""

    max_geojson_bytes: int = Settings.model_fields["max_geojson_bytes"].default
    max_geojson_vertices: int = Settings.model_fields["max_geojson_vertices"].default
    max_operations: int = Settings.model_fields["max_operations"].default
    uploads: Mapping[str, bytes] = field(default_factory=dict)
    countrymasks: Path | None = None  # ISIMIP's countrymasks.nc, else Natural Earth outlines
    landseamask: Path | None = None  # ISIMIP's land-sea mask, else Natural Earth land
    upload_dir: Path | None = None  # where uploaded NetCDF masks are kept for the workers
    input_path: Path | None = None  # the data root, where weight files are found

    @classmethod
    def from_settings(cls, settings: Settings, uploads: Mapping[str, bytes]) -> "Limits":
        return cls(
            settings.max_geojson_bytes,
            settings.max_geojson_vertices,
            settings.max_operations,
            uploads,
            settings.countrymasks_file_path,
            settings.landseamask_file_path,
            upload_dir(settings),
            settings.input_path,
        )


def store_upload(folder: Path, data: bytes) -> Path:
    """Keep an uploaded file under its content hash (the same upload is the same file, and job)."""
    target = folder / f"{hashlib.sha256(data).hexdigest()}.nc"
    if not target.exists():
        with atomic_output(target) as partial:
            partial.write_bytes(data)
    os.utime(target)  # kept as long as it is used: see workers.cleanup_expired
    return target


DEFAULT_LIMITS = Limits()  # the settings' defaults, for callers without settings (tests, benchmarks)
