"""Bounded password hashing, measured on a real auth process: 40 sign-ups then 40 sign-ins at
once keep its resident memory under its Kubernetes memory limit (each argon2 run holds its
memory cost; unbounded, 40 at once took auth to 2 GiB)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import httpx
import psutil
import pytest
import yaml

from ticketing.auth.config import AuthSettings
from ticketing.common.auth import KeyPair
from ticketing.testkit.embedded import free_port
from ticketing.testkit.http import eventually

MANIFEST = Path(__file__).parents[3] / "infra" / "k8s" / "base" / "services" / "auth.yaml"
PASSWORD = "correct horse battery"
CONCURRENT = 40
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def kubernetes_memory_limit() -> int:
    """auth's container memory limit, in bytes, as the manifest sets it."""
    for document in yaml.safe_load_all(MANIFEST.read_text()):
        if document and document.get("kind") == "Deployment":
            (container,) = document["spec"]["template"]["spec"]["containers"]
            limit = str(container["resources"]["limits"]["memory"])
            return int(limit[:-2]) * UNITS[limit[-2:]]
    raise AssertionError(f"no Deployment in {MANIFEST}")


@pytest.fixture
async def auth_process(
    auth_settings: AuthSettings, jwt_keys: KeyPair, tmp_path: Path
) -> AsyncIterator[tuple[psutil.Process, str]]:
    """auth under uvicorn in a process of its own, on this test's database and bus."""
    port = free_port()
    env = {
        **os.environ,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_DATABASE_URL": auth_settings.database_url,
        "AUTH_NATS_URL": auth_settings.nats_url,
        "AUTH_BUS_NAMESPACE": auth_settings.bus_namespace,
        "AUTH_JWT_PUBLIC_KEY": jwt_keys.public_pem,
        "AUTH_JWT_PRIVATE_KEY": jwt_keys.private_pem,
    }
    log = tmp_path / "auth.log"
    with log.open("wb") as output:
        server = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "uvicorn", "--factory", "ticketing.auth.app:create_app"],
            *["--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            env=env,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        async def ready() -> None:
            assert server.returncode is None, log.read_text()
            try:
                async with httpx.AsyncClient(base_url=url) as http:
                    assert (await http.get("/readyz")).status_code == 200
            except httpx.TransportError as exc:
                raise AssertionError(f"auth is not up yet: {exc}") from exc

        await eventually(ready, timeout=60, interval=0.2)
        yield psutil.Process(server.pid), url
    finally:
        server.terminate()
        try:
            await asyncio.wait_for(server.wait(), timeout=30)
        except TimeoutError:
            server.kill()
            await server.wait()


async def peak_rss_while(process: psutil.Process, work: asyncio.Future[list[int]]) -> int:
    peak = 0
    while not work.done():
        peak = max(peak, process.memory_info().rss)
        await asyncio.sleep(0.01)
    return max(peak, process.memory_info().rss)


async def test_forty_concurrent_sign_ins_stay_under_the_kubernetes_memory_limit(
    auth_process: tuple[psutil.Process, str],
) -> None:
    process, url = auth_process
    emails = [f"crowd-{uuid4().hex[:8]}@example.com" for _ in range(CONCURRENT)]
    limits = httpx.Limits(max_connections=CONCURRENT)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as http:

        async def post(route: str, email: str) -> int:
            body = {"email": email, "password": PASSWORD}
            return (await http.post(f"/api/users/{route}", json=body)).status_code

        async def everyone(route: str) -> list[int]:
            return list(await asyncio.gather(*(post(route, email) for email in emails)))

        started = time.monotonic()
        sign_ups = asyncio.ensure_future(everyone("signup"))
        peak_during_sign_ups = await peak_rss_while(process, sign_ups)
        sign_ins = asyncio.ensure_future(everyone("signin"))
        peak_during_sign_ins = await peak_rss_while(process, sign_ins)
        elapsed = time.monotonic() - started

    assert sign_ups.result() == [201] * CONCURRENT
    assert sign_ins.result() == [200] * CONCURRENT
    peak = max(peak_during_sign_ups, peak_during_sign_ins)
    print(f"auth peak RSS {peak / 2**20:.0f} MiB over {2 * CONCURRENT} hashes in {elapsed:.1f}s")
    assert peak < kubernetes_memory_limit(), f"peak RSS {peak / 2**20:.0f} MiB"
