"""A request that finds its database down is answered 503 with Retry-After (it is an outage,
not a bug: retrying works), never a 500; the server is really shut down."""

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from ticketing.common.db import create_engine
from ticketing.common.http_errors import install_error_handlers
from ticketing.testkit.embedded import EmbeddedPostgres


async def test_a_request_during_a_database_outage_is_a_503_with_retry_after(
    own_postgres: EmbeddedPostgres,
) -> None:
    engine = create_engine(own_postgres.create_database("answers"))
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/count")
    async def count() -> dict[str, int]:
        async with engine.connect() as conn:
            return {"count": int(await conn.scalar(sa.text("SELECT 1")) or 0)}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/count")).status_code == 200
        own_postgres.shut_down()
        try:
            response = await client.get("/count")
        finally:
            own_postgres.start_again()
            await engine.dispose()

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "errors": [{"message": "The service is temporarily unavailable, try again shortly"}]
    }
