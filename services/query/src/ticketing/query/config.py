"""Query settings (env prefix ``QUERY_``): the common ones plus how the rebuild reads."""

from typing import Annotated

from fastapi import Depends
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ticketing.common.service import settings_of
from ticketing.common.settings import ServiceSettings


class QuerySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUERY_", extra="ignore", frozen=True)

    rebuild_batch_size: int = Field(default=256, ge=1, le=10_000)
    rebuild_fetch_timeout_seconds: float = Field(default=5, gt=0)


Settings = Annotated[QuerySettings, Depends(settings_of(QuerySettings))]
