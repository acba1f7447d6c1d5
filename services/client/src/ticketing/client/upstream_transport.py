"""httpx's API over pyreqwest (Rust's reqwest and hyper), for the client's calls to the services.

The client keeps httpx's requests and responses (its errors, its tests' in-process transports,
OpenTelemetry's httpx spans) and sends them through reqwest's connection pool. httpcore, httpx's
own transport, cost ~2.6 ms of CPU per listing page fetched with 32 pages at once: its pool
rescans every connection and polls each idle socket on every call, and h11 parses in Python.
Through this transport the same call costs ~0.7 ms (docs/performance.md, fix 30). aiohttp
costs the same, but nats-py imports aiohttp wherever it is installed: ~8 MiB more in every
process of ``make dev``, which shares one environment. Every failure to get an answer is
raised as the ``httpx.TransportError`` httpcore would raise, so callers see one HTTP client.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from pyreqwest import exceptions
from pyreqwest.client import Client, ClientBuilder

KEEPALIVE_SECONDS = 2.0
"""How long an idle connection is kept: well under uvicorn's 5 s, so the client does not pick a
connection that the service is closing at that moment (hyper resends a call whose connection
closed before the call was written; one written and then lost is an error, never resent)."""

_AS_HTTPX: tuple[tuple[type[exceptions.PyreqwestError], type[httpx.TransportError]], ...] = (
    (exceptions.ConnectTimeoutError, httpx.ConnectTimeout),
    (exceptions.PoolTimeoutError, httpx.PoolTimeout),
    (exceptions.RequestTimeoutError, httpx.ReadTimeout),
    (exceptions.ConnectError, httpx.ConnectError),
    (exceptions.PyreqwestError, httpx.NetworkError),
)
"""reqwest's errors as httpx's, the first that matches: the order goes from narrow to wide."""


class ReqwestTransport(httpx.AsyncBaseTransport):
    """At most ``connections`` calls in flight, their connections kept alive; calls beyond
    wait for a free one. A call's deadline is the longest of its httpx timeouts, from the
    connect to the last byte of the answer."""

    def __init__(self, connections: int) -> None:
        self._connections = connections
        self._client: Client | None = None

    def _opened(self) -> Client:
        # Made on first use, inside the event loop that will await its calls.
        if self._client is None:
            self._client = (
                ClientBuilder()
                .max_connections(self._connections)
                .pool_idle_timeout(timedelta(seconds=KEEPALIVE_SECONDS))
                .build()
            )
        return self._client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = (
            self._opened()
            .request(request.method, str(request.url))
            .headers(request.headers.multi_items())
            .body_bytes(request.content)
        )
        if (deadline := _deadline_of(request)) is not None:
            call = call.timeout(deadline)
        try:
            answer = await call.build().send()
            body = bytes(await answer.bytes())
        except exceptions.PyreqwestError as exc:
            raise _as_httpx(exc, request) from exc
        return httpx.Response(answer.status, headers=list(answer.headers.items()), content=body)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _deadline_of(request: httpx.Request) -> timedelta | None:
    timeouts = [s for s in request.extensions.get("timeout", {}).values() if s is not None]
    return timedelta(seconds=max(timeouts)) if timeouts else None


def _as_httpx(exc: exceptions.PyreqwestError, request: httpx.Request) -> httpx.TransportError:
    kind = next(httpx_kind for kind, httpx_kind in _AS_HTTPX if isinstance(exc, kind))
    return kind(str(exc) or type(exc).__name__, request=request)
