"""Start an RQ worker for isimip-mask on the configured queue: ``python worker.py``.

The package is imported here, in the parent, so that each forked job starts with NumPy,
netCDF4, shapely and the country outlines already loaded.
"""

from isimip_mask import logs
from isimip_mask.jobs import connect
from isimip_mask.regions import land_geometry
from isimip_mask.settings import Settings
from isimip_mask.tasks import MaskWorker


def main() -> None:
    settings = Settings()
    logs.configure(settings)
    land_geometry()  # loads the country catalogue too
    worker = MaskWorker([settings.queue_name], connection=connect(settings.redis_url), settings=settings)
    worker.work(logging_level=settings.log_level.upper())


if __name__ == "__main__":
    main()
