"""Query settings (env prefix ``QUERY_``): the common ones plus how the rebuild reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from ticketing.common.service import settings_of
from ticketing.common.settings import MIB, ServiceSettings


class QuerySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUERY_", extra="ignore", frozen=True)

    rebuild_batch_size: int = Field(default=256, ge=1, le=10_000)
    rebuild_fetch_timeout_seconds: float = Field(default=5, gt=0)
    snapshot_interval_seconds: float = Field(
        default=3600,
        gt=0,
        description="How often the read model is snapshotted to NATS, so a rebuild needs only"
        " the events since (at most a quarter of BUS_MAX_AGE_SECONDS)",
    )
    state_max_bytes: int = Field(
        default=256 * MIB,
        ge=MIB,
        description="Size cap of the snapshot stream (NATS reserves it on each node); a full"
        " stream fails the snapshot, it never drops a row",
    )

    @model_validator(mode="after")
    def _snapshots_outpace_retention(self) -> QuerySettings:
        if self.snapshot_interval_seconds * 4 > self.bus_max_age_seconds:
            raise ValueError(
                "snapshot_interval_seconds must be at most a quarter of bus_max_age_seconds:"
                " events after the last snapshot must still be on the stream for a rebuild"
            )
        return self


Settings = Annotated[QuerySettings, Depends(settings_of(QuerySettings))]
