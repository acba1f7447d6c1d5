"""Schemathesis against every HTTP service's OpenAPI document, on the real platform.

Each service runs under real uvicorn on a loopback port (its lifespan run by the ``platform``
fixture: its own database, the test's bus), signed in as a real user, and schemathesis' CLI
sends a bounded, seeded set of cases. The run must find no server error, no status code the
document does not list, no response breaking its schema, no accepted invalid input, and no
error outside the contract shape (``schemathesis_hooks.py``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ticketing.payments.app import create_app as create_payments_app
from ticketing.payments.config import PaymentsSettings
from ticketing.testkit.serving import served

if TYPE_CHECKING:
    from platform_testing import Platform

SettingsFactory = Callable[[str], Awaitable[dict[str, Any]]]
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "errors_in_contract_shape",
    ]
)


async def run_schemathesis(base_url: str, session: str, max_examples: int) -> tuple[int, str]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/openapi.json",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(max_examples),
        "--seed", "20261201",
        "--generation-deterministic",
        "--workers", "1",
        "--request-timeout", "30",
        "--header", f"Cookie: session={session}",
        "--no-color",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


@asynccontextmanager
async def payments_with_webhooks(
    service_settings: SettingsFactory, stripe_sandbox: str
) -> AsyncIterator[FastAPI]:
    """Payments as deployed: with a webhook secret (without one, the webhook is a 503)."""
    settings = PaymentsSettings(
        **await service_settings("payments"),
        stripe_api_base=stripe_sandbox,
        stripe_webhook_secret=f"whsec_{secrets.token_hex(16)}",
    )
    async with LifespanManager(create_payments_app(settings), startup_timeout=60) as manager:
        yield cast(FastAPI, manager.app)


@pytest.mark.parametrize("service", ["tickets", "orders", "payments", "query", "auth"])
async def test_the_service_answers_only_what_its_openapi_document_promises(
    platform: Platform, service_settings: SettingsFactory, stripe_sandbox: str, service: str
) -> None:
    user = await platform.sign_up()
    session = user.http.cookies["session"]

    async with AsyncExitStack() as stack:
        app = platform.apps[service]
        if service == "payments":
            app = await stack.enter_async_context(
                payments_with_webhooks(service_settings, stripe_sandbox)
            )
        url = await stack.enter_async_context(served(app))
        returncode, report = await run_schemathesis(url, session, max_examples=25)

    assert returncode == 0, report
