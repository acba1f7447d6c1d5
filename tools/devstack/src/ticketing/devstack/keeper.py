"""Keeps ``make dev``'s NATS and Redis running, as Kubernetes restarts a crashed pod.

Services and workers are honcho processes wrapped in ``supervise``; NATS and Redis run from
the devstack process itself (they must be up before anything connects). Without a keeper, a
NATS that crashed (or was killed by the fault suite) stayed down until ``make dev`` was
restarted, which no production deployment does. The keeper probes each server's port; one
that refuses connections twice in a row is started again on the same port and data, so the
services reconnect to the same URL. A frozen server (SIGSTOP) still accepts connections and
is left alone: that is an outage to live through, not a crash.

PostgreSQL is not kept: it is daemonised by ``pg_ctl``, and stopping it on purpose (an
outage of minutes, ``make test-faults``) must not be undone behind the caller's back.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PROBE_SECONDS = 0.5
MISSES_BEFORE_RESTART = 2


@dataclass
class Kept:
    """A server the keeper watches: its name (for the log), port and how to start it again."""

    name: str
    port: int
    restart: Callable[[], object]
    misses: int = 0


def refuses_connections(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), 1):
        return False
    return True


class Keeper:
    """A daemon thread restarting whichever kept server stopped listening."""

    def __init__(self, servers: Sequence[Kept], log: Callable[[str], None] = print) -> None:
        self._servers = list(servers)
        self._log = log
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="keeper", daemon=True)
        self.restarts: dict[str, int] = {server.name: 0 for server in servers}

    def start(self) -> Keeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (before the servers are stopped, so none is brought back)."""
        self._stopping.set()
        self._thread.join(timeout=30)

    def _watch(self) -> None:
        while not self._stopping.wait(PROBE_SECONDS):
            for server in self._servers:
                self._check(server)

    def _check(self, server: Kept) -> None:
        if not refuses_connections(server.port):
            server.misses = 0
            return
        server.misses += 1
        if server.misses < MISSES_BEFORE_RESTART or self._stopping.is_set():
            return
        self._log(f"make dev: {server.name} is down; starting it again on port {server.port}")
        try:
            server.restart()
        except Exception as exc:  # tried again at the next probe
            self._log(f"make dev: {server.name} did not start again: {exc}")
            return
        server.misses = 0
        self.restarts[server.name] += 1
        self._log(f"make dev: {server.name} is back")
