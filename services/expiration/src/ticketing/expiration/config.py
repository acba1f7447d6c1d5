"""Expiration settings (env prefix ``EXPIRATION_``): the bus settings plus Redis and probes.

The worker has no database and verifies no sessions, so it builds on ``BusSettings``.
"""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ticketing.common.settings import BusSettings


class ExpirationSettings(BusSettings):
    model_config = SettingsConfigDict(env_prefix="EXPIRATION_", extra="ignore", frozen=True)

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis holding the arq jobs"
    )
    health_host: str = Field(
        default="127.0.0.1",
        description="Where the probe server listens (the image sets 0.0.0.0 for the kubelet)",
    )
    health_port: int = Field(default=8000, ge=0, le=65535, description="0 picks a free port")
    poll_delay_seconds: float = Field(
        default=0.05,
        gt=0,
        le=5,
        description="How late at most a due job starts (one Redis query a poll: 20 a second)",
    )
    max_jobs: int = Field(
        default=100,
        ge=1,
        description="Expiries being published at once (a flash sale's expire together)",
    )
    job_max_tries: int = Field(default=20, ge=1, description="Publish attempts before giving up")
    payment_grace_seconds: float = Field(
        default=30,
        ge=0,
        description=(
            "How long after expiresAt the expiry fires, so that a payment accepted before "
            "expiresAt completes the order (same value as ORDERS_PAYMENT_GRACE_SECONDS)"
        ),
    )
