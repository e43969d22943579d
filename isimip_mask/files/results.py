"""Where a job's files live (``OUTPUT_PATH/<id>/``) and where users download them from."""

from pathlib import Path

from isimip_mask.settings import Settings


def result_url(settings: Settings, job_id: str, file_name: str) -> str:
    """Where a result is downloaded from: OUTPUT_URL (the API's /output route under ``make
    run``, the web server in production), so that no download passes through the page."""
    return f"{settings.output_url.rstrip('/')}/{job_id}/{file_name}"


def output_dir(settings: Settings, job_id: str) -> Path:
    return settings.output_path / job_id


def upload_dir(settings: Settings) -> Path:
    """Uploaded NetCDF masks, kept where every worker can read them (beside the results)."""
    return settings.output_path / "uploads"


def cache_dir(settings: Settings) -> Path:
    """What workers build once and share (the cells of every country on a grid), beside the results."""
    return settings.output_path / "cache"
