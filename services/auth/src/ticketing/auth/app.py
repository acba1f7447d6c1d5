"""The auth service, assembled: what it serves and what it runs."""

from pathlib import Path

from fastapi import FastAPI

from ticketing.auth.api import router
from ticketing.auth.config import AuthSettings
from ticketing.common.service import ServiceDefinition, create_service_app


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceDefinition(
            name="auth",
            settings=settings or AuthSettings(),  # from the environment
            migrations_dir=Path(__file__).parent / "migrations",
            routers=[router],
        )
    )
