"""What ``make dev`` runs: embedded infrastructure, then every process under honcho.

Infrastructure (PostgreSQL with one database per service, NATS JetStream, Redis with AOF) runs
from this process and keeps its data in ``$TICKETING_DATA_DIR`` (default ``.dev/``), so it
survives a restart; NATS and Redis are started again if they die (``keeper.py``). Services,
the expiration worker, the Stripe sandbox, the mail catcher (every email the notifications
worker sends, shown at ``/dev/mail.html``) and the gateway are honcho processes
(``processes.py``), each wrapped in ``supervise`` (restart with backoff); a ``ready`` process
prints the ready line once every service answers ``/readyz``.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys

from honcho.manager import Manager

from ticketing.devstack.databases import stale_databases, stale_message
from ticketing.devstack.keeper import Keeper, Kept
from ticketing.devstack.processes import (
    DATABASE_SERVICES,
    HTTP_SERVICES,
    DevConfig,
    Process,
    load_or_create_keys,
    parse_replicas,
    plan_processes,
)
from ticketing.testkit.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedRedis

__all__ = ["HTTP_SERVICES", "DevConfig", "Process", "parse_replicas", "plan_processes", "run"]


def _kept(name: str, server: EmbeddedNats | EmbeddedRedis) -> Kept:
    def restart() -> None:
        server.stop()  # reaps the dead process
        server.start()

    return Kept(name, server.port, restart)


def _say(line: str) -> None:
    print(line, flush=True)


def run(config: DevConfig) -> int:
    """Start everything, block until Ctrl-C (or SIGTERM), stop everything."""
    if not port_is_free(config.port):
        print(
            f"make dev: port {config.port} is in use (another make dev?); "
            "choose another with TICKETING_PORT=8081 make dev",
            file=sys.stderr,
        )
        return 1
    config.data_dir.mkdir(parents=True, exist_ok=True)
    print(f"make dev: data in {config.data_dir}", flush=True)
    postgres = EmbeddedPostgres(config.data_dir / "postgres", keep_data=True)
    nats = redis = keeper = None
    try:
        database_urls = {name: postgres.create_database(name) for name in DATABASE_SERVICES}
        if stale := stale_databases(database_urls):
            print(stale_message(stale, config.data_dir), file=sys.stderr)
            return 1
        nats = EmbeddedNats(config.data_dir / "nats").start()
        redis = EmbeddedRedis(config.data_dir / "redis", persist=True).start()
        keeper = Keeper([_kept("NATS", nats), _kept("Redis", redis)], log=_say).start()
        processes = plan_processes(
            config,
            database_urls=database_urls,
            nats_url=nats.url,
            redis_url=redis.url,
            keys=load_or_create_keys(config.data_dir / "keys"),
        )
        manager = Manager()
        supervisor = [sys.executable, "-m", "ticketing.devstack.supervise"]
        for process in processes:
            command = process.command if process.name == "ready" else supervisor + process.command
            manager.add_process(
                process.name,
                shlex.join(command),
                # readable log lines for a person (production: JSON); LOG_FORMAT=json overrides
                env={"LOG_FORMAT": "console", **os.environ, **process.env, "PYTHONUNBUFFERED": "1"},
            )
        manager.loop()
        return 0 if manager.returncode in (0, 130, 143, None) else int(manager.returncode)
    finally:
        if keeper is not None:
            keeper.stop()
        for server in (redis, nats):
            if server is not None:
                server.stop()
        postgres.stop()
        print("make dev: stopped", flush=True)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the gateway could listen on ``port``. With ``SO_REUSEADDR``, as uvicorn binds:
    connections of a stopped ``make dev`` lingering in TIME_WAIT do not make the port busy,
    a socket still listening on it does."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
