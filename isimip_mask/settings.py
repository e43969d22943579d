"""One typed settings object, read from the environment and a ``.env`` file.

Names follow the ISIMIP files API where it has one (``INPUT_PATH``, ``OUTPUT_PATH``,
``REDIS_URL``, ``BASE_URL``, ``OUTPUT_URL``, ``LOG_LEVEL``, ``LOG_FILE``). Entry points build
them once with ``load_settings()`` and pass them down; domain code never reads ``os.environ``.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

COMPRESSORS = ("auto", "isal", "zlib-ng", "zlib")  # deflate codecs of the output chunks


class Settings(BaseSettings):
    # an empty variable (``LOG_FILE=``) means unset; durations are finite numbers
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True, allow_inf_nan=False
    )

    input_path: Path = Field(Path("var/input"), description="data root: every dataset path is relative to it")
    output_path: Path = Field(
        Path("var/output"), description="where results are written (shared by all workers)"
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="the Redis server that holds the queue")
    queue_name: str = Field("default", description="the RQ queue jobs go to")
    base_url: str = Field("http://127.0.0.1:5000", description="public URL of the HTTP API, for job_url")
    output_url: str = Field(
        "http://127.0.0.1:5000/output", description="public URL of OUTPUT_PATH, for file_url"
    )
    cors: bool = Field(
        True, description="answer cross-origin requests (the ISIMIP portal calls from its own origin)"
    )
    cors_origins: str = Field("*", description="comma-separated origins allowed by CORS, * for any")
    countrymasks_file_path: Path | None = Field(
        None, description="ISIMIP's countrymasks.nc (m_<CODE> variables); unset: Natural Earth outlines"
    )
    landseamask_file_path: Path | None = Field(
        None, description="ISIMIP's land-sea mask file; unset: Natural Earth land without Antarctica"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="logging level"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value):
        return value.upper() if isinstance(value, str) else value

    log_file: Path | None = Field(None, description="log to this file as well as to stderr")

    max_files: int = Field(32, ge=1, description="most dataset files in one job")
    max_operations: int = Field(4, ge=1, description="most operations in one request (a chain)")
    max_geojson_bytes: int = Field(
        5_000_000, ge=1, description="largest GeoJSON (or zipped shapefile) accepted"
    )
    max_geojson_vertices: int = Field(200_000, ge=4, description="most polygon vertices accepted")
    max_csv_rows: int = Field(5_000_000, ge=1, description="most rows of a CSV of every kept cell (no mean)")
    result_ttl_s: int = Field(7 * 24 * 3600, ge=1, description="how long results and job records are kept")
    job_retries: int = Field(
        2, ge=0, le=10, description="times a job whose worker died (killed, machine down) is run again"
    )
    job_timeout_min_s: int = Field(600, ge=1, description="shortest job timeout")
    job_timeout_s_per_gb: int = Field(900, ge=1, description="job timeout added per GB of input")
    compression_level: int = Field(5, ge=1, le=9, description="deflate level of the output files")
    worker_threads: int = Field(0, ge=0, description="threads for (de)compression, 0 = one per core")
    worker_max_memory_mb: int = Field(
        4000,
        ge=100,
        description="memory one job may need in a worker; a request estimated above it is refused",
    )
    compressor: Literal[COMPRESSORS] = Field(
        "auto", description="deflate codec of the output chunks (auto: ISA-L, zlib-ng for sparse masks)"
    )
    secret_key: str | None = Field(
        None, description="key of the job ids (HMAC); unset: one is generated once and kept in Redis"
    )
    job_lease_s: float = Field(
        30,
        ge=1,
        description="a running job whose lease was not renewed for this long is failed as abandoned",
    )
    progress_interval_s: float = Field(
        1.0, gt=0, description="how often a running job writes its progress to Redis"
    )
    redis_wait_s: float = Field(
        300,
        ge=0,
        description="how long a worker whose Redis went away waits for it to come back before giving up",
    )


def load_settings(**overrides) -> Settings:
    """The settings of the environment and ``.env``; a bad value stops the program with one
    line naming the variable (never a traceback)."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = "; ".join(
            f"{'_'.join(str(part) for part in problem['loc']).upper()}={_shown(problem.get('input'))}: "
            f"{problem['msg']}"
            for problem in error.errors()
        )
        raise SystemExit(f"error: bad setting: {problems}") from None


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
