"""What ``make dev`` runs: the whole platform as children of one supervisor.

PostgreSQL (one database per service), NATS JetStream and Redis (AOF) keep their data in
``$TICKETING_DATA_DIR`` (default ``.dev/``), so it survives a restart. They, the services,
the expiration worker and the gateway (``processes.py``; its process also runs the Stripe
sandbox and the mail catcher, every email the notifications worker sends, shown at
``/dev/mail.html``) are each one child process of this one (``supervisor.py``): output
prefixed by name, a crash restarted
with backoff, ``hold/<name>`` for a planned outage, nothing left running after Ctrl-C, a
kill of this process or the death of the process that started it. The ready line is printed
once every process answers its health URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time

from ticketing.devstack import servers
from ticketing.devstack.databases import stale_databases_checked_apart, stale_message
from ticketing.devstack.processes import (
    DATABASE_SERVICES,
    HTTP_SERVICES,
    REPLICATED,
    DevConfig,
    Process,
    load_or_create_keys,
    parse_replicas,
    plan_processes,
)
from ticketing.devstack.ready import announce_when_ready, health_urls
from ticketing.devstack.supervisor import (
    Child,
    Supervisor,
    stop_on_signals,
    until_orphaned,
    until_ready,
)

NEEDS_NO_SERVER = ("gateway",)

__all__ = ["HTTP_SERVICES", "DevConfig", "Process", "parse_replicas", "plan_processes", "run"]


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
    return asyncio.run(_up(config, time.monotonic()))


async def _up(config: DevConfig, started: float) -> int:
    longest = max(len(name) for name in REPLICATED) + (len("-N") if config.replicas > 1 else 0)
    supervisor = Supervisor(config.data_dir / "hold", width=longest)
    stopping = asyncio.Event()
    stop_on_signals(stopping)
    serving = asyncio.create_task(_serve(config, supervisor, started))
    # Ctrl-C, SIGTERM, or the death of whoever started us
    ending = {asyncio.create_task(stopping.wait()), asyncio.create_task(until_orphaned())}
    try:
        await asyncio.wait({serving, *ending}, return_when=asyncio.FIRST_COMPLETED)
        return serving.result() if serving.done() else 0
    except RuntimeError as error:  # a server that did not start
        print(f"make dev: {error}", file=sys.stderr)
        return 1
    finally:
        for task in (serving, *ending):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            await serving
        await supervisor.stop()
        print("make dev: stopped", flush=True)


async def _serve(config: DevConfig, supervisor: Supervisor, started: float) -> int:
    """Servers first (the services connect at start), then every process; runs until
    cancelled. 1 when the kept databases are too new for this checkout."""
    nats, nats_port, nats_url = servers.nats(config.data_dir / "nats")
    redis, redis_port, redis_url = servers.redis(config.data_dir / "redis")
    await supervisor.start(nats)
    await supervisor.start(redis)
    postgres = servers.DevPostgres(config.data_dir / "postgres")
    await asyncio.to_thread(postgres.prepare)
    await supervisor.start(postgres.child())
    database_urls = {name: postgres.url(name) for name in DATABASE_SERVICES}
    processes = plan_processes(
        config,
        database_urls=database_urls,
        nats_url=nats_url,
        redis_url=redis_url,
        keys=load_or_create_keys(config.data_dir / "keys"),
    )
    # what needs no server imports its modules while the servers get ready (2 cores)
    for process in processes:
        if process.name in NEEDS_NO_SERVER:
            await supervisor.start(_child(process))
    await until_ready("PostgreSQL", postgres.ready)
    for name in DATABASE_SERVICES:
        await postgres.create_database(name)
    if stale := await stale_databases_checked_apart(database_urls):
        print(stale_message(stale, config.data_dir), file=sys.stderr)
        return 1
    await until_ready("NATS", lambda: servers.listens(nats_port))
    await until_ready("Redis", lambda: servers.listens(redis_port))
    for process in processes:
        if process.name not in NEEDS_NO_SERVER:
            await supervisor.start(_child(process))
    public_url = f"http://localhost:{config.port}"
    await announce_when_ready(public_url, health_urls(processes), started, _say)
    await asyncio.Event().wait()  # until Ctrl-C cancels it
    return 0


def _child(process: Process) -> Child:
    # readable log lines for a person (production: JSON); LOG_FORMAT=json overrides
    env = {"LOG_FORMAT": "console", **os.environ, **process.env, "PYTHONUNBUFFERED": "1"}
    return Child(process.name, process.command, env)


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
