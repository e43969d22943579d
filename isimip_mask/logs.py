"""Logging set-up shared by the worker, the API and the page (LOG_LEVEL, LOG_FILE)."""

import logging

from isimip_mask.settings import Settings


def configure(settings: Settings, force: bool = True) -> None:
    """Log to stderr, and to LOG_FILE as well when it is set.

    ``force=False`` leaves logging alone where the host process has set it up already (pytest,
    or a server with a logging configuration of its own).
    """
    if not force and logging.getLogger().handlers:
        return
    logging.basicConfig(
        level=settings.log_level,
        handlers=[logging.StreamHandler(), *file_handlers(settings)],
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def file_handlers(settings: Settings) -> list[logging.Handler]:
    """A handler for LOG_FILE if it is set; a file that cannot be written stops the program
    with one line."""
    if not settings.log_file:
        return []
    try:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
        return [logging.FileHandler(settings.log_file)]
    except OSError as error:
        raise SystemExit(
            f"error: bad setting: LOG_FILE={str(settings.log_file)!r}: {error.strerror}"
        ) from None
