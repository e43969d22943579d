"""gunicorn settings for the HTTP API; gunicorn reads this file from the working folder.

``gunicorn`` alone, in the project folder, serves ``isimip_mask.api:create_app()``. The ISIMIP
files API's deployment variables are taken when set, from the environment (as its systemd
unit's ``EnvironmentFile`` gives them) or else from ``.env``, which is read, not loaded into the
environment: ``GUNICORN_WORKER``, ``GUNICORN_PORT``, ``GUNICORN_TIMEOUT``, ``GUNICORN_PID_FILE``,
``GUNICORN_ACCESS_LOG_FILE``, ``GUNICORN_ERROR_LOG_FILE``. Flags on the command line win.
"""

import os

from dotenv import dotenv_values

_settings = {**dotenv_values(".env"), **os.environ}


def _value(name: str, default: str | None) -> str | None:
    return _settings.get(name) or default


def _number(name: str, default: int) -> int:
    value = _value(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not a whole number") from None


wsgi_app = "isimip_mask.api:create_app()"
bind = [f"127.0.0.1:{_number('GUNICORN_PORT', 5000)}"]
workers = _number("GUNICORN_WORKER", 2)
timeout = _number("GUNICORN_TIMEOUT", 120)
pidfile = _value("GUNICORN_PID_FILE", None)
accesslog = _value("GUNICORN_ACCESS_LOG_FILE", None)
errorlog = _value("GUNICORN_ERROR_LOG_FILE", "-")
