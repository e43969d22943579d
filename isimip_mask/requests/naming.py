"""ISIMIP-style output names: the region's tag takes the place of ``global`` in the name, and a
period of time the place of the file's own years."""

from pathlib import Path

from isimip_mask.errors import IsimipMaskError
from isimip_mask.files.facets import name_period, with_name_period
from isimip_mask.files.paths import resolve
from isimip_mask.regions.kinds import Region


def output_name(source_name: str, region: Region, suffix: str = "", extension: str = ".nc") -> str:
    """ISIMIP-style name: ``_global_`` becomes ``_<tag>_``, else the tag is appended."""
    stem = source_name[: -len(Path(source_name).suffix)] if Path(source_name).suffix else source_name
    tag = region.tag + suffix
    stem = stem.replace("_global_", f"_{tag}_", 1) if "_global_" in stem else f"{stem}_{tag}"
    return stem + extension


def with_period(name: str, start: int, end: int) -> str:
    """The years ``start`` to ``end`` in a name: ``..._2001_2010.nc`` becomes ``..._2003_2005.nc``
    for 2003 to 2005 (a file's own years bound them: ``..._2001_2010.nc`` for 2005 to 2015 becomes
    ``..._2005_2010.nc``, so that each file of a dataset keeps a name of its own); a name without
    years gets them before its extension."""
    own = name_period(name)
    if own:
        if max(own[0], start) <= min(own[1], end):
            start, end = max(own[0], start), min(own[1], end)
        return with_name_period(name, start, end)
    stem, dot, extension = name.rpartition(".")
    return f"{stem}_{start:04d}_{end:04d}.{extension}" if dot else f"{name}_{start:04d}_{end:04d}"


def file_years(name: str) -> tuple[int, int] | None:
    """The years an ISIMIP-style name ends with, if it does (see ``facets.name_period``)."""
    return name_period(name)


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
