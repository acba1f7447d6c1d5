"""TICKETING_REPLICAS: N processes of every service and worker, the gateway taking turns
between them and skipping a replica that refuses the connection."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ticketing.devstack.gateway import create_gateway, server_config
from ticketing.devstack.ready import health_urls
from ticketing.devstack.stack import (
    HTTP_SERVICES,
    DevConfig,
    Process,
    parse_replicas,
    plan_processes,
)
from ticketing.testkit.serving import served

if TYPE_CHECKING:
    from conftest import StartDev

WORKERS = (*HTTP_SERVICES, "expiration")


def planned(tmp_path: Path, replicas: int) -> dict[str, Process]:
    config = DevConfig(
        port=8080, data_dir=tmp_path, expiration_window_seconds=900, replicas=replicas
    )
    processes = plan_processes(
        config,
        database_urls={"orders": "postgresql+asyncpg://dev/orders"},
        nats_url="nats://127.0.0.1:4222",
        redis_url="redis://127.0.0.1:6379/0",
        keys=("private", "public"),
    )
    return {process.name: process for process in processes}


def port_of(process: Process) -> str:
    if "EXPIRATION_HEALTH_PORT" in process.env:
        return process.env["EXPIRATION_HEALTH_PORT"]
    return process.command[process.command.index("--port") + 1]


def replica_app(name: str) -> Starlette:
    async def answer(request: Request) -> JSONResponse:
        return JSONResponse({"replica": name})

    return Starlette(routes=[Route("/{path:path}", answer)])


def test_two_replicas_are_two_processes_of_each_service_and_worker_on_their_own_ports(
    tmp_path: Path,
) -> None:
    processes = planned(tmp_path, replicas=2)

    for name in WORKERS:
        first, second = processes[name], processes[f"{name}-2"]
        assert port_of(first) != port_of(second)
        assert {k: v for k, v in first.env.items() if "PORT" not in k} == {
            k: v for k, v in second.env.items() if "PORT" not in k
        }
        assert f"{name}-3" not in processes
    assert processes["orders-2"].env["ORDERS_DATABASE_URL"] == "postgresql+asyncpg://dev/orders"
    assert processes["orders-2"].env["ORDERS_NATS_URL"] == "nats://127.0.0.1:4222"
    assert processes["expiration-2"].env["EXPIRATION_REDIS_URL"] == "redis://127.0.0.1:6379/0"
    ports = [port_of(p) for p in processes.values() if p.name.partition("-")[0] in WORKERS]
    assert len(ports) == len(set(ports)) == 2 * len(WORKERS)
    upstreams = json.loads(processes["gateway"].env["DEVSTACK_UPSTREAMS"])
    orders = [port_of(processes["orders"]), port_of(processes["orders-2"])]
    assert upstreams["orders"] == [f"http://127.0.0.1:{port}" for port in orders]
    ready = health_urls(list(processes.values()))
    assert ready[-2:] == [processes["client-2"].health_url, "http://127.0.0.1:8080/healthz"]
    assert all(f"http://127.0.0.1:{port_of(p)}/readyz" in ready for p in processes.values()
               if p.name.partition("-")[0] in WORKERS)  # fmt: skip


def test_one_replica_keeps_the_plain_process_names(tmp_path: Path) -> None:
    names = set(planned(tmp_path, replicas=1))

    assert names == {*WORKERS, "gateway"}  # its process also runs the Stripe sandbox, mail


@pytest.mark.parametrize("given", ["0", "9", "two", "-1", ""])
def test_a_replica_count_outside_one_to_eight_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="TICKETING_REPLICAS must be a whole number from 1 to 8"):
        parse_replicas(given)


def test_make_dev_refuses_a_bad_replica_count_with_a_clear_message(
    tmp_path: Path, start_dev: StartDev
) -> None:
    result = start_dev({"TICKETING_REPLICAS": "9"})

    assert result.returncode == 2
    assert "TICKETING_REPLICAS must be a whole number from 1 to 8, not '9'" in result.stderr
    assert list(tmp_path.iterdir()) == []


async def test_the_gateway_takes_turns_between_replicas_and_skips_a_stopped_one() -> None:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(served(replica_app("first")))
        second_stack = AsyncExitStack()
        second = await second_stack.enter_async_context(served(replica_app("second")))
        gateway = create_gateway({"auth": [first, second]})
        url = await stack.enter_async_context(served(server_config(gateway)))
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            both = [(await http.get("/api/users/x")).json()["replica"] for _ in range(4)]
            await second_stack.aclose()  # its port now refuses connections
            after = [await http.get("/api/users/x") for _ in range(4)]

    assert both == ["first", "second", "first", "second"]
    assert [response.status_code for response in after] == [200] * 4
    assert [response.json()["replica"] for response in after] == ["first"] * 4


async def test_the_gateway_answers_502_only_when_no_replica_answers() -> None:
    async with AsyncExitStack() as stack:
        stopped = AsyncExitStack()
        first = await stopped.enter_async_context(served(replica_app("first")))
        second = await stopped.enter_async_context(served(replica_app("second")))
        await stopped.aclose()
        gateway = create_gateway({"auth": [first, second]})
        url = await stack.enter_async_context(served(server_config(gateway)))
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            response = await http.get("/api/users/x")

    assert response.status_code == 502
    assert response.json() == {"errors": [{"message": "The auth service is not reachable"}]}
