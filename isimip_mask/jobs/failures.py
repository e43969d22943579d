"""What a user is told when a file fails unexpectedly: its kind, never a server path or a
traceback (those go to the worker's log)."""

import errno
import shutil
from pathlib import Path

FULL_DISK_BYTES = 1_000_000  # less free than this after a failed write: the disk filled up


def failure_message(error: Exception, target_dir: Path | None = None) -> str:
    """What a user is told of an unexpected failure: its kind, never server paths or a traceback
    (those are in the worker's log). HDF5 reports a full disk as a plain "HDF error", so the
    free space of the results' disk decides."""
    full = target_dir is not None and _free_bytes(target_dir) < FULL_DISK_BYTES
    if full or (isinstance(error, OSError) and error.errno == errno.ENOSPC):
        return "the disk that holds the results is full; the administrators have been told in the log"
    if isinstance(error, OSError | RuntimeError) and "HDF" in str(error):
        return (
            "the file could not be read (its data is damaged); the administrators have been told in the log"
        )
    return f"internal error ({type(error).__name__}); the administrators have been told in the log"


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return FULL_DISK_BYTES  # unknown: say nothing about the disk
