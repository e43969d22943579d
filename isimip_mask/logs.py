"""Logging set-up shared by the worker, the API and the page (LOG_LEVEL, LOG_FILE)."""

import logging

from .settings import Settings


def configure(settings: Settings, force: bool = True) -> None:
    """Log to stderr, and to LOG_FILE as well when it is set.

    ``force=False`` leaves logging alone where the host process has set it up already (pytest,
    or a server with a logging configuration of its own).
    """
    if not force and logging.getLogger().handlers:
        return
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if settings.log_file:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(settings.log_file))
    logging.basicConfig(
        level=settings.log_level.upper(),
        handlers=handlers,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
