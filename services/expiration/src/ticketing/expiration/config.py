"""Expiration settings (env prefix ``EXPIRATION_``).

The worker has no database and verifies no sessions, so it cannot use ``ServiceSettings``; the
fields it shares with it (environment, NATS, bus namespace, consumer tuning) keep the same
names, defaults and meaning.
"""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ticketing.common.settings import Environment


class ExpirationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXPIRATION_", extra="ignore", frozen=True)

    environment: Environment = "production"
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis holding the arq jobs"
    )
    nats_url: str = "nats://127.0.0.1:4222"
    bus_namespace: str = Field(
        default="ticketing",
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Subject prefix and stream name of the event bus; also prefixes the queue",
    )
    bus_stream_replicas: int = Field(
        default=1, ge=1, le=5, description="JetStream stream replicas (3 on a 3-node cluster)"
    )
    health_host: str = Field(default="0.0.0.0", description="Where the probe server listens")
    health_port: int = Field(default=8000, ge=0, le=65535, description="0 picks a free port")
    poll_delay_seconds: float = Field(
        default=0.5, gt=0, le=5, description="How late at most a due job starts"
    )
    job_max_tries: int = Field(default=20, ge=1, description="Publish attempts before giving up")
    consumer_max_deliver: int = Field(default=8, ge=1)
    consumer_backoff_seconds: list[float] = Field(default=[0.2, 0.5, 1, 2, 5, 10, 30])
    consumer_ack_wait_seconds: float = Field(default=30, gt=0)
