"""PostgreSQL, NATS and Redis as children of ``make dev``'s supervisor (``supervisor.py``).

They run from the same pip packages as the tests' servers (``ticketing.testkit.embedded``), but
in the foreground, supervised like every other process: a crashed server is started again on
the same port (PostgreSQL: the same unix socket) and data, so the services reconnect to the
URL they have; a server stopped on purpose is left down while its hold marker exists
(``hold/postgres``); a frozen server (SIGSTOP) has not exited and is left alone, an outage to
live through. PostgreSQL is no longer daemonised by ``pg_ctl``: the postmaster is our child,
so it dies with ``make dev`` (its death signal is SIGQUIT, PostgreSQL's immediate shutdown,
which takes its backends with it). ``pg_ctl stop`` still works on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import tempfile
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs in the lock

from ticketing.devstack.supervisor import Child
from ticketing.testkit.embedded import EmbeddedNats, EmbeddedRedis, asyncpg_url

POSTGRES_USER = "postgres"  # the database role
SYSTEM_USER = "pgserver"  # the OS user PostgreSQL runs as when we are root (pgserver's)


class _Planned:
    """A testkit server whose ``start()`` only records the command: the supervisor runs it."""

    argv: list[str]

    def _run(self, argv: list[str]) -> None:
        self.argv = argv


class _Nats(_Planned, EmbeddedNats):
    pass


class _Redis(_Planned, EmbeddedRedis):
    pass


def nats(data_dir: Path) -> tuple[Child, int, str]:
    """NATS JetStream (store in ``data_dir``): its child, port and URL."""
    server = _Nats(data_dir)
    server.start()
    return Child("nats", server.argv, server=True), server.port, server.url


def redis(data_dir: Path) -> tuple[Child, int, str]:
    """Redis with its append-only file in ``data_dir``: its child, port and URL."""
    server = _Redis(data_dir, persist=True)
    server.start()
    return Child("redis", server.argv, server=True), server.port, server.url


async def listens(port: int) -> bool:
    """Whether something accepts connections on ``127.0.0.1:port``."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class DevPostgres:
    """One PostgreSQL server in ``pgdata`` (initialised on first use), one database per
    service, reached on a unix socket only."""

    def __init__(self, pgdata: Path) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH  # late: it prepares dirs on import

        self.pgdata = pgdata
        self.bin = Path(POSTGRES_BIN_PATH)
        self.user = SYSTEM_USER if os.geteuid() == 0 else None
        self.socket_dir = pgdata

    def prepare(self) -> None:
        """``initdb`` on the first run; stop a server an older ``make dev`` daemonised."""
        from pgserver._commands import initdb, pg_ctl  # type: ignore[attr-defined]
        from pgserver.utils import find_suitable_socket_dir

        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            self._let_the_system_user_in()
        if not (self.pgdata / "PG_VERSION").exists():
            flags = ["--auth=trust", "--auth-local=trust", "--encoding=utf8"]
            initdb([*flags, "-U", POSTGRES_USER], pgdata=self.pgdata, user=self.user)
        elif (pid := self._postmaster_pid()) is not None and psutil.pid_exists(pid):
            pg_ctl(["-w", "stop", "-m", "fast"], pgdata=self.pgdata, user=self.user)
        runtime = Path(tempfile.gettempdir()) / "ticketing-postgres"
        self.socket_dir = find_suitable_socket_dir(self.pgdata, runtime)
        if self.user is not None and self.socket_dir != self.pgdata:
            self.socket_dir.chmod(0o777)

    def _let_the_system_user_in(self) -> None:
        """What pgserver does as root: its own user, who can reach the binaries and data."""
        import pwd

        from pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        assert self.user is not None
        ensure_user_exists(self.user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(self.bin)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(self.bin, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(self.bin.parent / "lib", readable)
        entry = pwd.getpwnam(self.user)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def child(self) -> Child:
        # no logical replication: nothing subscribes, and its launcher is a process (~6 MiB)
        argv = [str(self.bin / "postgres"), "-D", str(self.pgdata), "-h", "",
                "-k", str(self.socket_dir), "-c", "max_logical_replication_workers=0"]  # fmt: skip
        return Child(
            "postgres",
            argv,
            user=self.user,
            stop_signal=signal.SIGINT,  # fast shutdown: sessions ended, data safe
            death_signal=signal.SIGQUIT,  # immediate shutdown, backends included
            server=True,
        )

    def _postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
        return None

    async def ready(self) -> bool:
        """The running postmaster says it accepts connections (``postmaster.pid``: a stale
        file left by a killed server names a dead pid)."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return (
            len(lines) >= 8
            and lines[7].strip() == "ready"
            and psutil.pid_exists(int(lines[0]))
            and (self.socket_dir / ".s.PGSQL.5432").exists()
        )

    def url(self, database: str) -> str:
        return asyncpg_url(f"postgresql://{POSTGRES_USER}:@/{database}?host={self.socket_dir}")

    async def create_database(self, name: str) -> str:
        """Create ``name`` unless it exists; its asyncpg SQLAlchemy URL."""
        import asyncpg

        if not name.isidentifier() or not name.islower():
            raise ValueError(f"not a plain database name: {name!r}")
        connection = await asyncpg.connect(
            host=str(self.socket_dir), user=POSTGRES_USER, database="postgres"
        )
        try:
            if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await connection.execute(f"CREATE DATABASE {name}")
        finally:
            await connection.close()
        return self.url(name)
