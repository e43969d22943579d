"""ISIMIP-style output names: the region's tag takes the place of ``global`` in the name."""

from pathlib import Path

from .regions import Region


def output_name(source_name: str, region: Region, suffix: str = "", extension: str = ".nc") -> str:
    """ISIMIP-style name: ``_global_`` becomes ``_<tag>_``, else the tag is appended."""
    stem = source_name[: -len(Path(source_name).suffix)] if Path(source_name).suffix else source_name
    tag = region.tag + suffix
    stem = stem.replace("_global_", f"_{tag}_", 1) if "_global_" in stem else f"{stem}_{tag}"
    return stem + extension
