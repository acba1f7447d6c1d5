"""The one settings pattern: every service subclasses ``ServiceSettings`` with its env prefix.

Every value comes from the environment (``AUTH_DATABASE_URL``, ``ORDERS_NATS_URL`` ...). Secrets
have no defaults: a service refuses to start without them, and outside development it refuses
insecure choices too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]
DAY = 24 * 60 * 60
MIB = 1024 * 1024
GIB = 1024 * MIB


class BusSettings(BaseSettings):
    """What every process on the bus needs; a worker without a database uses this alone."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Environment = "production"
    nats_url: str = "nats://127.0.0.1:4222"
    bus_namespace: str = Field(
        default="ticketing",
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Subject prefix and stream name of the event bus (tests isolate with it)",
    )
    bus_stream_replicas: int = Field(
        default=1, ge=1, le=5, description="JetStream stream replicas (3 on a 3-node cluster)"
    )
    bus_max_age_seconds: float = Field(
        default=7 * DAY,
        gt=0,
        description="How long the event stream keeps an event (then it is deleted): longer than"
        " any consumer outage; the query rebuild starts from its snapshot, not from event 1",
    )
    bus_max_bytes: int = Field(
        default=GIB,
        ge=MIB,
        description="Size cap of the event stream (the oldest events go first). NATS reserves"
        " every stream's cap on each node: the caps together stay below max_file_store",
    )
    bus_dlq_max_age_seconds: float = Field(
        default=30 * DAY,
        gt=0,
        description="How long a dead letter stays listable and replayable",
    )
    bus_dlq_max_bytes: int = Field(
        default=128 * MIB, ge=MIB, description="Size cap of the dead-letter stream"
    )
    consumer_max_deliver: int = Field(default=8, ge=1)
    consumer_backoff_seconds: list[float] = Field(default=[0.2, 0.5, 1, 2, 5, 10, 30])
    consumer_ack_wait_seconds: float = Field(default=30, gt=0)
    consumer_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Events one process handles at once, of different aggregates (one"
        " aggregate's events are always handled in order); each holds a database connection",
    )


class ServiceSettings(BusSettings):
    """What every HTTP service needs on top: its database and the key that verifies sessions."""

    database_url: str = Field(
        description="postgresql+asyncpg:// URL of this service's own database"
    )
    jwt_public_key: str = Field(description="PEM public key that verifies session tokens")
    cookie_secure: bool = Field(default=False, description="Mark the session cookie Secure")
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    loop_stall_seconds: float = Field(
        default=60.0,
        gt=0,
        description="/readyz fails when the event consumer or the outbox relay has not finished"
        " a turn for this long (idle, each finishes one every second or so)",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1, description="Larger request bodies get 413 (the Ingress: 1m)"
    )
    max_in_flight_requests: int = Field(
        default=16,
        ge=1,
        description="Requests one process handles at once; 8 times as many more wait up to 1 s"
        " for a slot, the rest are answered 503 with a Retry-After of 1 to 3 s (admission"
        " control: a flash sale's first answers come sooner with fewer at once)",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> ServiceSettings:
        if self.environment == "production" and not self.cookie_secure:
            raise ValueError(
                "cookie_secure must be true in production (sessions travel over HTTPS)"
            )
        if "BEGIN PUBLIC KEY" not in self.jwt_public_key:
            raise ValueError("jwt_public_key must be a PEM public key")
        return self
