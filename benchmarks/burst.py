"""A burst driver: a thousand clients at once, each on a connection of its own, for the cost of
a few socket calls per request.

httpx (httpcore 1.0) cannot be that driver: its connection pool re-scans every queued request
against every connection each time one request starts or ends, so a thousand concurrent
requests from one pool cost it O(n²) work in one event loop. In the flash sale the orders
process answered all 1,000 first requests within 1.8 s (its access log), and httpx handed the
last of those answers to the buyers 20 s later (the row's "first answers" were the driver's
own queue). Here each buyer writes its request on its own socket and reads the answer itself:
HTTP/1.1, ``Content-Length`` bodies (what uvicorn sends for a JSON answer), keep-alive so a
buyer told to come back reuses its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One client's keep-alive connection to ``base_url`` (``http://host:port``)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post_json(self, path: str, body: object, *, cookie: str = "") -> Answer:
        """One request; a connection the server closed meanwhile is opened again, once."""
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            + (f"Cookie: {cookie}\r\n" if cookie else "")
            + "\r\n"
        ).encode()
        for attempt in (1, 2):
            reused = self._streams is not None
            reader, writer = self._streams or await asyncio.open_connection(self.host, self.port)
            self._streams = reader, writer
            try:
                writer.write(head + payload)
                await writer.drain()
                return await self._read(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if not reused or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _read(self, reader: asyncio.StreamReader) -> Answer:
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        answer = Answer(int(status_line.split()[1]))
        for line in lines:
            if ":" in line:
                name, value = line.split(":", 1)
                answer.headers[name.strip().lower()] = value.strip()
        answer.body = await reader.readexactly(int(answer.headers.get("content-length", "0")))
        if answer.headers.get("connection", "").lower() == "close":
            await self.close()
        return answer

    async def close(self) -> None:
        if self._streams is not None:
            writer, self._streams = self._streams[1], None
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
