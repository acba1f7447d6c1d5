"""A body over the limit is a 413, refused while it is read, never buffered (DESIGN §3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from ticketing.common.http_limits import BodyLimitMiddleware
from ticketing.testkit.embedded import free_port

CHUNK = 64 * 1024
LIMIT = 1024 * 1024
TOO_LARGE = {"errors": [{"message": "Request body is too large"}]}


class Recorder:
    """An ASGI app that reads the whole body, and what the middleware let it see."""

    def __init__(self) -> None:
        self.calls = 0
        self.bytes_seen = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        more = True
        while more:
            message = await receive()
            self.bytes_seen += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(
    app: BodyLimitMiddleware, chunks: int, headers: list[tuple[bytes, bytes]]
) -> tuple[list[Message], int]:
    """Run one request of ``chunks`` 64 KiB chunks; returns what was sent and chunks pulled."""
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": pulled < chunks}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await app(scope, receive, send)
    return sent, pulled


def status_and_body(sent: list[Message]) -> tuple[int, object]:
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body) if sent[0]["status"] == 413 else body


async def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    app = Recorder()
    declared = [(b"content-length", str(2 * LIMIT).encode())]

    sent, pulled = await call(BodyLimitMiddleware(app, LIMIT), 32, declared)

    assert status_and_body(sent) == (413, TOO_LARGE)
    assert (app.calls, pulled) == (0, 0)


async def test_a_streamed_body_is_refused_at_the_first_chunk_over_the_limit() -> None:
    app = Recorder()

    sent, pulled = await call(BodyLimitMiddleware(app, LIMIT), 1600, [])  # 100 MiB, chunked

    assert status_and_body(sent) == (413, TOO_LARGE)
    assert pulled == LIMIT // CHUNK + 1  # nothing read past the chunk that crossed the limit
    assert app.bytes_seen == LIMIT


async def test_a_body_at_the_limit_reaches_the_app() -> None:
    app = Recorder()

    sent, _ = await call(BodyLimitMiddleware(app, LIMIT), LIMIT // CHUNK, [])

    assert status_and_body(sent) == (200, b"ok")
    assert app.bytes_seen == LIMIT


APP_MODULE = """
from fastapi import FastAPI
from pydantic import BaseModel

from ticketing.common.http_errors import install_error_handlers


class Thing(BaseModel):
    items: list[int]


def create_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/things")
    async def create(body: Thing) -> dict[str, int]:
        return {"items": len(body.items)}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    return app
"""


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The app above under a real uvicorn process, as every service runs."""
    (tmp_path / "limited_app.py").write_text(textwrap.dedent(APP_MODULE))
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "limited_app:create_app"]
    server = subprocess.Popen(
        [*command, "--app-dir", str(tmp_path), "--port", str(port), "--log-level", "warning"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.05)
    try:
        yield url, server
    finally:
        server.terminate()
        server.wait(timeout=30)
        assert server.stderr is not None
        server.stderr.close()


async def test_a_100_mb_upload_is_refused_without_the_process_growing(
    served_app: tuple[str, subprocess.Popen[str]],
) -> None:
    url, server = served_app
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        await http.post("/things", json={"items": [1, 2, 3]})  # warm: imports, first parse
        before = peak_rss_kib(server.pid)

        async def hundred_megabytes() -> AsyncIterator[bytes]:
            yield b'{"items": ['
            for _ in range(100 * 16):
                yield b"1," * (CHUNK // 2)
            yield b"1]}"

        response = await http.post(
            "/things", content=hundred_megabytes(), headers={"content-type": "application/json"}
        )
        after = peak_rss_kib(server.pid)

    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert after - before < 32 * 1024, f"peak RSS grew by {(after - before) // 1024} MiB"


def test_an_unexpected_error_is_logged_once_in_one_line_without_its_message(
    served_app: tuple[str, subprocess.Popen[str]],
) -> None:
    url, server = served_app

    response = httpx.get(f"{url}/boom", timeout=30)
    server.terminate()
    server.wait(timeout=30)
    assert server.stderr is not None
    log = server.stderr.read()

    assert response.status_code == 500
    [line] = [line for line in log.splitlines() if "RuntimeError" in line]
    assert "/boom" in line
    assert "Traceback" not in log  # neither ours nor uvicorn's "Exception in ASGI application"
    assert "Exception in ASGI application" not in log
    assert "hunter2" not in log
