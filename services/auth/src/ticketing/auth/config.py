"""Auth settings (env prefix ``AUTH_``): the common ones plus the signing key."""

from typing import Annotated

from fastapi import Depends
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from ticketing.common.service import settings_of
from ticketing.common.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", frozen=True)

    jwt_private_key: str = Field(description="PEM Ed25519 private key that signs session tokens")
    session_ttl_seconds: int = Field(default=24 * 3600, gt=0)

    @model_validator(mode="after")
    def _private_key_is_pem(self) -> "AuthSettings":
        if "BEGIN PRIVATE KEY" not in self.jwt_private_key:
            raise ValueError("jwt_private_key must be a PEM private key")
        return self


Settings = Annotated[AuthSettings, Depends(settings_of(AuthSettings))]
