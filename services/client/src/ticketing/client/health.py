"""Probes: ``/healthz`` (this process answers) and ``/readyz`` (every service it calls does)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ticketing.client.api_client import UpstreamError
from ticketing.client.config import UPSTREAMS
from ticketing.client.session import Api
from ticketing.common.errors import CustomError

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(api: Api) -> JSONResponse | dict[str, str]:
    results = await asyncio.gather(
        *(api.check_health(service) for service in UPSTREAMS), return_exceptions=True
    )
    problems = [
        {"message": f"The {service} service is not healthy"}
        if isinstance(result, UpstreamError)
        else {"message": result.message}
        for service, result in zip(UPSTREAMS, results, strict=True)
        if isinstance(result, CustomError)
    ]
    if problems:
        return JSONResponse(status_code=503, content={"errors": problems})
    return {"status": "ready"}
