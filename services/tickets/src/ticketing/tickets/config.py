"""Tickets settings (env prefix ``TICKETS_``): the common ones, nothing of its own yet."""

from typing import Annotated

from fastapi import Depends
from pydantic_settings import SettingsConfigDict

from ticketing.common.service import settings_of
from ticketing.common.settings import ServiceSettings


class TicketsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETS_", extra="ignore", frozen=True)


Settings = Annotated[TicketsSettings, Depends(settings_of(TicketsSettings))]
