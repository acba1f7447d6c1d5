"""Auth settings (env prefix ``AUTH_``): the common ones, the signing key, admins and limits."""

from typing import Annotated, Any

from fastapi import Depends
from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from ticketing.common.service import settings_of
from ticketing.common.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", frozen=True)

    jwt_private_key: str = Field(description="PEM Ed25519 private key that signs session tokens")
    session_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Comma-separated emails of the admins, who may ban users "
        "(POST /api/users/{id}/ban); compared after NFKC + case folding",
    )
    sign_in_max_failures_per_email: int = Field(
        default=5, ge=1, description="Failed sign-ins for one email within the window before 429"
    )
    sign_in_max_failures_per_client: int = Field(
        default=50,
        ge=1,
        description="Failed sign-ins from one client address within the window before 429",
    )
    sign_in_window_seconds: int = Field(
        default=900, ge=1, description="How long a failed sign-in counts toward those limits"
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description="Take the client address from the first X-Forwarded-For hop: only behind "
        "a proxy that sets that header (the ingress); else the peer address is used",
    )
    max_in_flight_requests: int = Field(
        default=64,
        ge=1,
        description="As in every service, but more: sign-ups and sign-ins wait for a hash "
        "(AUTH_PASSWORD_HASHING_CONCURRENCY at once), not for the event loop, and a burst of "
        "them queued at admission for more than 1 s would be refused, though the hashes serve "
        "it within seconds",
    )
    password_hashing_concurrency: int = Field(
        default=2,
        ge=1,
        le=32,
        description="Password hashes computed at once per process (~19 MiB each); "
        "more sign-ins wait their turn",
    )

    @field_validator("admin_emails", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [email.strip() for email in value.split(",") if email.strip()]
        return value

    @model_validator(mode="after")
    def _private_key_is_pem(self) -> "AuthSettings":
        if "BEGIN PRIVATE KEY" not in self.jwt_private_key:
            raise ValueError("jwt_private_key must be a PEM private key")
        return self


Settings = Annotated[AuthSettings, Depends(settings_of(AuthSettings))]
