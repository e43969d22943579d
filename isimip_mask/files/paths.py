"""The data root's path guard: the only place that turns a user-given path into a file path;
everything else receives paths that :func:`resolve` has checked to lie inside ``INPUT_PATH``."""

from pathlib import Path, PurePosixPath

from isimip_mask.errors import DatasetError, Problems
from isimip_mask.files.netcdf import check_magic

NETCDF_SUFFIXES = (".nc", ".nc4")
MAX_PATH_CHARS = 1024


def normalize_path(user_path: str) -> str:
    """One spelling per file: ``./a//b.nc`` and ``a/b.nc`` are the same request."""
    return str(PurePosixPath(str(user_path).strip()))


def _encodable(text: str) -> bool:
    """False for strings with lone surrogates (JSON's ``"\\ud800"``): no file has such a name."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def resolve(root: Path, user_path: str) -> Path:
    """The file ``user_path`` names inside ``root``; DatasetError if it is anywhere else.

    Refuses absolute paths, ``..``, symlinks that lead out of the root, missing files and
    files that are not NetCDF.
    """
    if not isinstance(user_path, str) or not user_path.strip():
        raise DatasetError(
            f"path must be a non-empty string relative to the data root, got {str(user_path)[:80]!r}", "paths"
        )
    if len(user_path) > MAX_PATH_CHARS or "\0" in user_path or not _encodable(user_path):
        raise DatasetError(
            f"path {user_path[:80]!r}... is not a path (too long, a NUL character, or not UTF-8)", "paths"
        )
    pure = PurePosixPath(user_path.strip())
    if pure.is_absolute() or ".." in pure.parts or "\\" in user_path:
        raise DatasetError(f"path {user_path!r} must be relative to the data root, without '..'", "paths")
    root = root.resolve()
    candidate = root.joinpath(*pure.parts)
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a name too long for the file system, a link loop
        raise DatasetError(f"path {user_path!r} does not exist under the data root", "paths") from None
    if not real.is_relative_to(root):
        raise DatasetError(f"path {user_path!r} leads outside the data root", "paths")
    if not real.is_file():
        raise DatasetError(f"path {user_path!r} is not a file", "paths")
    if real.suffix.lower() not in NETCDF_SUFFIXES:
        raise DatasetError(f"path {user_path!r} is not a NetCDF file (.nc or .nc4)", "paths")
    check_magic(real)
    return real


def resolve_all(root: Path, user_paths, max_files: int) -> list[Path]:
    """Resolve every path of a request, reporting all bad ones at once."""
    problems = Problems()
    if not isinstance(user_paths, list) or not user_paths:
        raise DatasetError("paths must be a non-empty list of dataset paths", "paths")
    if len(user_paths) > max_files:
        problems.add("paths", f"{len(user_paths)} files requested, more than the limit of {max_files}")
    if len({normalize_path(p) for p in user_paths}) != len(user_paths):
        problems.add("paths", "paths lists the same file twice")
    resolved = []
    for user_path in user_paths:
        try:
            resolved.append(resolve(root, user_path))
        except DatasetError as error:
            problems.extend(error)
    problems.raise_if_any(DatasetError)
    return resolved


def resolve_folder(root: Path, folder: str) -> Path:
    pure = PurePosixPath(folder)
    if pure.is_absolute() or ".." in pure.parts:
        raise DatasetError(f"folder {folder!r} must be relative to the data root, without '..'", "folder")
    path = root.joinpath(*pure.parts).resolve()
    if not path.is_relative_to(root) or not path.is_dir():
        raise DatasetError(f"folder {folder!r} is not a folder under the data root", "folder")
    return path
