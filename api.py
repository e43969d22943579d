"""The name the ISIMIP files API's deployment uses: ``gunicorn "api:create_app()"``.

Its systemd unit runs unchanged against isimip-mask; the application is
:func:`isimip_mask.api.create_app`.
"""

from isimip_mask.api import create_app

__all__ = ["create_app"]
