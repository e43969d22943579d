"""Logging set-up shared by the worker, the API and the local runner."""

import logging

from .settings import Settings


def configure(settings: Settings) -> None:
    """Log to stderr, and to LOG_FILE as well when it is set."""
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
