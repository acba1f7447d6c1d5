"""The baseline of every HTTP row: a bare FastAPI app, no database, no bus, no middleware.

``GET /tickets`` answers the same body as a full page of ``GET /api/tickets`` (50 tickets, built
once, validated and serialised on every request as the service does), so the ratio of a row to
it is what the service adds on top of the framework and the server: its database, its
middleware, its dependencies. ``make bench`` serves it with the very command line ``make dev``
serves the services with (``ticketing.devstack.processes``), so loop and parser are the same.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

from fastapi import FastAPI

from ticketing.common.contracts import TicketBody

PAGE = [
    TicketBody(
        id=uuid4(),
        title=f"Seat {n}",
        price=Decimal("20.00"),
        user_id=uuid4(),
        version=0,
        order_id=None,
    ).to_json()
    for n in range(50)
]


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/tickets", response_model=list[TicketBody])
    async def tickets() -> list[dict[str, object]]:
        return PAGE

    return app
