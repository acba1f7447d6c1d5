"""The base of our pure ASGI middlewares: they act on HTTP requests only.

Lifespan events (and anything else that is not HTTP) pass straight through, so a middleware
says only what it does to a request, in ``handle``. Pure ASGI rather than Starlette's
``BaseHTTPMiddleware``: a body is streamed, never buffered, and a refusal costs nothing.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What this middleware does with one HTTP request (``self.app`` is the rest)."""
        raise NotImplementedError
