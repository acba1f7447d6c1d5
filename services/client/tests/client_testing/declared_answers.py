"""The contract_double answers only what its own OpenAPI document declares.

``test_contract_double`` checks that document against the services' committed OpenAPI; this
middleware keeps the document honest: a status a route of the double does not declare becomes
a 500 naming it (and an error in the log), so the client test that provoked it fails there
instead of passing against an answer the real service never gives.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing.common.asgi import HttpMiddleware

logger = logging.getLogger("client_testing.contract_double")


class OnlyDeclaredAnswers(HttpMiddleware):
    def __init__(self, app: ASGIApp, document_of: FastAPI) -> None:
        super().__init__(app)
        self._document_of = document_of

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = False

        async def send_declared(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start":
                problem = self._undeclared(scope, message["status"])
                if problem is not None:
                    refused = True
                    logger.error(problem)
                    await _send_error(send, problem)
            if not refused:
                await send(message)

        await self.app(scope, receive, send_declared)

    def _undeclared(self, scope: Scope, status: int) -> str | None:
        route = scope.get("route")
        if not isinstance(route, APIRoute):
            return None  # no route matched: the error handlers' 404/405
        method = str(scope["method"])
        operation = self._document_of.openapi()["paths"][route.path_format][method.lower()]
        if str(status) in operation["responses"]:
            return None
        return (
            f"contract_double answered {status} to {method} {route.path_format}, which its "
            "OpenAPI does not declare: declare it (responses=) if the real service answers it"
        )


async def _send_error(send: Send, message: str) -> None:
    body = json.dumps({"errors": [{"message": message}]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
