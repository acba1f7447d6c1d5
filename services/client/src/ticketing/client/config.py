"""Client settings (env prefix ``CLIENT_``): where the services are, cookies, CSRF, Stripe."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ticketing.common.settings import Environment

Upstream = Literal["auth", "tickets", "orders", "payments", "query"]
UPSTREAMS: tuple[Upstream, ...] = ("auth", "tickets", "orders", "payments", "query")
CSRF_SECRET_MIN_LENGTH = 32


class ClientSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLIENT_", extra="ignore", frozen=True)

    environment: Environment = Field(
        default="production", description="production requires csrf_secret and cookie_secure"
    )
    auth_url: str = Field(
        default="http://127.0.0.1:8001", description="Internal base URL of the auth service"
    )
    tickets_url: str = Field(
        default="http://127.0.0.1:8002", description="Internal base URL of the tickets service"
    )
    orders_url: str = Field(
        default="http://127.0.0.1:8003", description="Internal base URL of the orders service"
    )
    payments_url: str = Field(
        default="http://127.0.0.1:8004", description="Internal base URL of the payments service"
    )
    query_url: str = Field(
        default="http://127.0.0.1:8005", description="Internal base URL of the query service"
    )
    upstream_timeout_seconds: float = Field(
        default=10, gt=0, description="How long a page waits for a service"
    )
    upstream_connections: int = Field(
        default=16,
        ge=1,
        description="Calls to the services in flight at most, their connections kept alive;"
        " calls beyond wait for a free one",
    )
    cookie_secure: bool = Field(default=False, description="Mark the CSRF cookie Secure")
    csrf_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key of the CSRF tokens (at least 32 characters; required in production)",
    )
    stripe_publishable_key: str | None = Field(
        default=None,
        description="pk_... key: pay with Stripe's card element; unset: a test-card choice",
    )
    payment_authentication_origin: str = Field(
        default="https://hooks.stripe.com",
        description="Origin of the 3-D Secure pages (the sandbox in make dev)",
    )
    page_size: int = Field(default=20, ge=1, le=100, description="Tickets per page")
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1, description="Larger request bodies get 413 (the Ingress: 1m)"
    )

    @field_validator("stripe_publishable_key", "csrf_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # An optional Kubernetes secret that is absent may still arrive as "".
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> ClientSettings:
        if self.environment == "production":
            if not self.cookie_secure:
                raise ValueError("cookie_secure must be true in production (HTTPS only)")
            secret = self.csrf_secret.get_secret_value() if self.csrf_secret else ""
            if len(secret) < CSRF_SECRET_MIN_LENGTH:
                raise ValueError(
                    f"csrf_secret of at least {CSRF_SECRET_MIN_LENGTH} characters is required"
                )
        if self.stripe_publishable_key is not None and not self.stripe_publishable_key.startswith(
            "pk_"
        ):
            raise ValueError("stripe_publishable_key must be a Stripe publishable key (pk_...)")
        return self

    def upstream_url(self, service: Upstream) -> str:
        url: str = getattr(self, f"{service}_url")
        return url.rstrip("/")
