"""make dev keeps what production keeps: a crashed NATS, Redis or PostgreSQL is started again
by its supervisor (a planned outage, marked by ``hold/<server>``, is not undone), and the
services' calls to each other go through a balancer of the callee's replicas, so a replica
killed is not a caller broken."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route as StarletteRoute

from ticketing.devstack import servers
from ticketing.devstack.processes import DevConfig, Process, plan_processes, replica_name
from ticketing.devstack.supervisor import Child, Probe, Supervisor
from ticketing.testkit.embedded import free_port, wait_for_port
from ticketing.testkit.http import eventually
from ticketing.testkit.serving import served


@asynccontextmanager
async def supervised(tmp_path: Path, child: Child, ready: Probe) -> AsyncIterator[Supervisor]:
    """``child`` run and kept by a supervisor as make dev's, ready; stopped at the end."""
    supervisor = Supervisor(tmp_path / "hold", out=io.StringIO())
    try:
        await supervisor.start(child, ready=ready)
        yield supervisor
    finally:
        await supervisor.stop()


@asynccontextmanager
async def supervised_postgres(tmp_path: Path) -> AsyncIterator[tuple[Supervisor, str]]:
    postgres = servers.DevPostgres(tmp_path / "postgres")
    await asyncio.to_thread(postgres.prepare)
    async with supervised(tmp_path, postgres.child(), postgres.ready) as supervisor:
        yield supervisor, await postgres.create_database("orders")


async def answers_queries(url: str) -> None:
    """An AssertionError unless the database at ``url`` runs a query (for ``eventually``)."""
    host = url.split("host=", 1)[1]
    try:
        connection = await asyncpg.connect(host=host, user="postgres", database="orders")
    except (OSError, asyncpg.PostgresError) as error:
        raise AssertionError(f"no database: {error}") from error
    try:
        assert await connection.fetchval("SELECT 1") == 1
    finally:
        await connection.close()


def hold(tmp_path: Path, server: str) -> Path:
    marker = tmp_path / "hold" / server
    marker.parent.mkdir(exist_ok=True)
    marker.touch()
    return marker


async def test_a_killed_nats_is_started_again_on_its_port(tmp_path: Path) -> None:
    child, port, _ = servers.nats(tmp_path / "nats")
    async with supervised(tmp_path, child, lambda: servers.listens(port)) as supervisor:
        first = supervisor.pid("nats")
        assert first is not None
        os.kill(first, signal.SIGKILL)

        async def back() -> None:
            assert supervisor.pid("nats") not in (None, first)
            assert await servers.listens(port)

        await eventually(back, timeout=30)
        assert supervisor.restarts["nats"] == 1


async def test_a_frozen_nats_is_left_alone(tmp_path: Path) -> None:
    child, port, _ = servers.nats(tmp_path / "nats")
    async with supervised(tmp_path, child, lambda: servers.listens(port)) as supervisor:
        pid = supervisor.pid("nats")
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            with socket.create_connection(("127.0.0.1", port), 2):
                pass  # the kernel still accepts: a hung server, not a dead one
        finally:
            os.kill(pid, signal.SIGCONT)

        assert supervisor.pid("nats") == pid
        assert supervisor.restarts["nats"] == 0


async def test_a_killed_postgres_is_started_again_with_its_data(tmp_path: Path) -> None:
    async with supervised_postgres(tmp_path) as (supervisor, url):
        first = supervisor.pid("postgres")
        assert first is not None
        os.kill(first, signal.SIGKILL)  # the postmaster; its backends linger a moment

        async def back() -> None:
            assert supervisor.pid("postgres") not in (None, first)
            await answers_queries(url)  # the same URL, the database kept

        await eventually(back, timeout=60)
        assert supervisor.state("postgres") == "running"


async def test_a_held_postgres_is_not_started_again_until_its_marker_is_removed(
    tmp_path: Path,
) -> None:
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

    async with supervised_postgres(tmp_path) as (supervisor, url):
        pgdata = tmp_path / "postgres"
        marker = hold(tmp_path, "postgres")
        await asyncio.to_thread(
            pg_ctl, ["-w", "stop", "-m", "fast"], pgdata=pgdata, user=pgdata.owner()
        )

        async def held() -> None:
            assert supervisor.state("postgres") == "held"

        await eventually(held, timeout=30)
        assert supervisor.pid("postgres") is None
        marker.unlink()  # the outage is over

        await eventually(lambda: answers_queries(url), timeout=60)
        assert supervisor.restarts["postgres"] == 0


def planned(data_dir: Path, *, replicas: int) -> dict[str, Process]:
    """The processes make dev would start, by name (nothing is started)."""
    config = DevConfig(
        port=8080, data_dir=data_dir, expiration_window_seconds=900, replicas=replicas
    )
    return {
        process.name: process
        for process in plan_processes(
            config,
            database_urls={},
            nats_url="nats://127.0.0.1:4222",
            redis_url="redis://127.0.0.1:6379/0",
            keys=("private", "public"),
        )
    }


def test_the_client_and_the_sandbox_call_the_balancers_not_a_replica(tmp_path: Path) -> None:
    processes = planned(tmp_path, replicas=2)
    balancers = json.loads(processes["gateway"].env["DEVSTACK_BALANCERS"])
    replicas = {arg for p in processes.values() for arg in p.command if arg.isdigit()}

    client = processes["client"].env
    for service in ("auth", "tickets", "orders", "payments", "query"):
        assert client[f"CLIENT_{service.upper()}_URL"] == f"http://127.0.0.1:{balancers[service]}"
        assert str(balancers[service]) not in replicas
    gateway = processes["gateway"].command  # the sandbox is served by the gateway's process
    webhook = gateway[gateway.index("--stripe-webhook-url") + 1]
    assert webhook == f"http://127.0.0.1:{balancers['payments']}/api/payments/webhook"


def test_with_one_replica_the_client_and_the_sandbox_call_it_directly(tmp_path: Path) -> None:
    processes = planned(tmp_path, replicas=1)

    client = processes["client"].env
    assert json.loads(processes["gateway"].env["DEVSTACK_BALANCERS"]) == {}
    for service in ("auth", "tickets", "orders", "payments", "query"):
        port = client[f"CLIENT_{service.upper()}_URL"].rsplit(":", 1)[1]
        assert port in processes[replica_name(service, 1)].command
    gateway = processes["gateway"].command  # the sandbox is served by the gateway's process
    webhook = gateway[gateway.index("--stripe-webhook-url") + 1]
    assert webhook == f"{client['CLIENT_PAYMENTS_URL']}/api/payments/webhook"


def echo(name: str) -> Starlette:
    async def answer(request: Request) -> JSONResponse:
        return JSONResponse({"replica": name, "forwarded": request.headers.get("x-forwarded-for")})

    return Starlette(routes=[StarletteRoute("/{path:path}", answer)])


async def test_a_balancer_takes_turns_and_relays_the_callers_forwarded_address() -> None:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(served(echo("first")))
        second = await stack.enter_async_context(served(echo("second")))
        port, balancer_port = free_port(), free_port()
        upstreams = {"auth": [first, second], "client": [first]}
        env = {"DEVSTACK_UPSTREAMS": json.dumps(upstreams),
               "DEVSTACK_BALANCERS": json.dumps({"auth": balancer_port})}  # fmt: skip
        gateway = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ticketing.devstack.gateway", "--port", str(port),
            env={**os.environ, **env},
        )  # fmt: skip
        try:
            wait_for_port(balancer_port)
            async with httpx.AsyncClient(timeout=10) as http:
                answers = [
                    (await http.get(f"http://127.0.0.1:{balancer_port}/healthz",
                                    headers={"X-Forwarded-For": "203.0.113.7"})).json()
                    for _ in range(2)
                ]  # fmt: skip
        finally:
            gateway.terminate()
            await asyncio.wait_for(gateway.wait(), 10)

    assert [a["replica"] for a in answers] == ["first", "second"]  # /healthz: not the client's
    assert [a["forwarded"] for a in answers] == ["203.0.113.7"] * 2
