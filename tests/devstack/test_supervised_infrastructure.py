"""make dev keeps what production keeps: a dead NATS or Redis is started again (the keeper),
and the services' calls to each other go through a balancer of the callee's replicas, so a
replica killed is not a caller broken."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the lock
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route as StarletteRoute

from ticketing.devstack.keeper import Keeper, Kept
from ticketing.devstack.processes import DevConfig, plan_processes
from ticketing.testkit.embedded import EmbeddedNats, free_port, wait_for_port
from ticketing.testkit.http import eventually
from ticketing.testkit.serving import served


@contextmanager
def kept_nats(tmp_path: Path) -> Iterator[tuple[EmbeddedNats, Keeper]]:
    nats = EmbeddedNats(tmp_path / "nats").start()

    def restart() -> None:
        nats.stop()
        nats.start()

    keeper = Keeper([Kept("NATS", nats.port, restart)], log=lambda line: None).start()
    try:
        yield nats, keeper
    finally:
        keeper.stop()
        nats.stop()


async def test_a_killed_nats_is_started_again_on_its_port(tmp_path: Path) -> None:
    with kept_nats(tmp_path) as (nats, keeper):
        for pid in _pids_listening(nats.port):
            os.kill(pid, signal.SIGKILL)

        async def back() -> None:
            assert keeper.restarts["NATS"] == 1
            wait_for_port(nats.port, timeout=1)

        await eventually(back, timeout=30)


async def test_a_frozen_nats_is_left_alone(tmp_path: Path) -> None:
    with kept_nats(tmp_path) as (nats, keeper):
        nats.freeze()
        try:
            with socket.create_connection(("127.0.0.1", nats.port), 2):
                pass  # the kernel still accepts: a hung server, not a dead one
        finally:
            nats.thaw()

    assert keeper.restarts["NATS"] == 0


def _pids_listening(port: int) -> list[int]:
    return [c.pid for c in psutil.net_connections("tcp")
            if c.laddr and c.laddr.port == port and c.status == "LISTEN" and c.pid]  # fmt: skip


def test_the_client_and_the_sandbox_call_the_balancers_not_a_replica(tmp_path: Path) -> None:
    config = DevConfig(port=8080, data_dir=tmp_path, expiration_window_seconds=900, replicas=2)
    processes = {
        process.name: process
        for process in plan_processes(
            config,
            database_urls={},
            nats_url="nats://127.0.0.1:4222",
            redis_url="redis://127.0.0.1:6379/0",
            keys=("private", "public"),
        )
    }
    balancers = json.loads(processes["gateway"].env["DEVSTACK_BALANCERS"])
    replicas = {arg for p in processes.values() for arg in p.command if arg.isdigit()}

    client = processes["client"].env
    for service in ("auth", "tickets", "orders", "payments", "query"):
        assert client[f"CLIENT_{service.upper()}_URL"] == f"http://127.0.0.1:{balancers[service]}"
        assert str(balancers[service]) not in replicas
    webhook = processes["stripe"].command[processes["stripe"].command.index("--webhook-url") + 1]
    assert webhook == f"http://127.0.0.1:{balancers['payments']}/api/payments/webhook"


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
