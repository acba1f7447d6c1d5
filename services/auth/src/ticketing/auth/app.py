"""The auth service, assembled: what it serves, what it holds open and what it runs."""

from fastapi import FastAPI

from ticketing.auth.api import router
from ticketing.auth.config import AuthSettings
from ticketing.auth.passwords import Passwords, held_open
from ticketing.auth.throttle import prune_sign_in_attempts
from ticketing.common.service import ServiceDefinition, create_service_app


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or AuthSettings()  # from the environment
    return create_service_app(
        ServiceDefinition(
            name="auth",
            settings=settings,
            context=Passwords(settings.password_hashing_concurrency),
            routers=[router],
            background=[prune_sign_in_attempts],
            resources=[lambda runtime: held_open(runtime.context)],
            # Auth records its bans and sign-outs as it publishes them (``accounts``).
            consumes_session_events=False,
        )
    )
