"""ISIMIP-style output names: the region's tag takes the place of ``global`` in the name, and a
period of time the place of the file's own years."""

import re
from pathlib import Path

from .datasets import resolve
from .errors import IsimipMaskError
from .regions import Region


def output_name(source_name: str, region: Region, suffix: str = "", extension: str = ".nc") -> str:
    """ISIMIP-style name: ``_global_`` becomes ``_<tag>_``, else the tag is appended."""
    stem = source_name[: -len(Path(source_name).suffix)] if Path(source_name).suffix else source_name
    tag = region.tag + suffix
    stem = stem.replace("_global_", f"_{tag}_", 1) if "_global_" in stem else f"{stem}_{tag}"
    return stem + extension


YEARS = re.compile(r"_\d{4}_\d{4}(?=\.[^.]+$)")


def with_period(name: str, years: str) -> str:
    """``..._2001_2010.nc`` becomes ``..._2003_2005.nc`` for the years ``2003_2005``; a name
    without years gets them before its extension."""
    if YEARS.search(name):
        return YEARS.sub(f"_{years}", name, count=1)
    stem, dot, extension = name.rpartition(".")
    return f"{stem}_{years}.{extension}" if dot else f"{name}_{years}"


def output_names(settings, plan, paths: list[str]) -> list[str]:
    """The name of each file's output, decided up front so that parts can run anywhere at once:
    files of the same name from different folders get their folders in front."""
    names: list[str] = []
    for user_path in paths:
        try:
            source_name = resolve(settings.input_path, user_path).name
        except IsimipMaskError:  # that file fails when its part runs
            source_name = Path(user_path).name
        names.append(unique_name(plan.output_name(source_name), user_path, set(names)))
    return names


def unique_name(name: str, user_path: str, taken: set[str]) -> str:
    """Files of the same name from different folders get their folders in front."""
    if name not in taken:
        return name
    return "_".join(Path(user_path).parent.parts) + "_" + name
