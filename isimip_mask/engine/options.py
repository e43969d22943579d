"""How a file is processed: built once from the settings (or the command line) and passed down
to the engine, which never reads settings itself."""

import os
from dataclasses import dataclass
from pathlib import Path

from isimip_mask.files.results import cache_dir
from isimip_mask.settings import COMPRESSORS, Settings

DEFAULT = {name: field.default for name, field in Settings.model_fields.items()}  # defaults live there


@dataclass(frozen=True)
class RunOptions:
    """``compressor`` deflates the chunks the fast path writes (all of them write the standard
    zlib format that HDF5, netCDF-C, CDO and NCO read): ISA-L at its level 2 (about ten times
    zlib's speed, outputs ~4% larger than zlib level 5), zlib-ng or zlib at ``compression``, or
    ``auto`` (see :func:`isimip_mask.engine.chunks.compressor`). ``cache`` is a folder shared by
    the workers where what is built once per grid is kept (forked jobs keep nothing in memory)."""

    compression: int = DEFAULT["compression_level"]
    compressor: str = DEFAULT["compressor"]
    threads: int = 1
    cache: Path | None = None  # where the cells of sets of regions are kept per grid, for every worker

    def __post_init__(self):
        if self.compressor not in COMPRESSORS:
            raise ValueError(f"compressor must be one of {', '.join(COMPRESSORS)}, not {self.compressor!r}")

    @classmethod
    def from_settings(cls, settings: Settings, threads: int | None = None) -> "RunOptions":
        return cls(
            compression=settings.compression_level,
            compressor=settings.compressor,
            threads=threads or settings.worker_threads or os.cpu_count() or 1,
            cache=cache_dir(settings),
        )


DEFAULTS = RunOptions()
