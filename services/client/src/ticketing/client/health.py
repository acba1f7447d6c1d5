"""The client's probes (``common.health``): ready when every service it calls answers.

``/readyz`` asks each upstream's ``/healthz``: one it cannot reach reads "The auth service is
not reachable", one that answers with an error "The auth service is not healthy".
"""

from __future__ import annotations

from fastapi import FastAPI

from ticketing.client.api_client import ApiClient, UpstreamError
from ticketing.client.config import UPSTREAMS, Upstream
from ticketing.common.errors import ServiceUnavailableError
from ticketing.common.health import Check, Dependency


def upstreams(app: FastAPI) -> list[Dependency]:
    """One dependency per service the client calls, checked through the app's API client."""
    return [Dependency(f"The {service} service", _answers(app, service)) for service in UPSTREAMS]


def _answers(app: FastAPI, service: Upstream) -> Check:
    async def check() -> None:
        api: ApiClient = app.state.api  # opened by the app's lifespan
        try:
            await api.check_health(service)
        except UpstreamError as exc:
            raise ServiceUnavailableError(f"The {service} service is not healthy") from exc

    return check
