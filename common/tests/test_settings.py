"""Outside development a service refuses to start with a missing or unsafe setting (DESIGN §6)."""

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from ticketing.common.auth import generate_key_pair
from ticketing.common.settings import ServiceSettings

DATABASE = "postgresql+asyncpg://u:p@db/ticketing"


def test_a_service_refuses_to_start_without_the_session_public_key() -> None:
    with pytest.raises(ValidationError, match="jwt_public_key"):
        ServiceSettings(database_url=DATABASE, cookie_secure=True)  # type: ignore[call-arg]


def test_a_key_that_is_not_a_pem_public_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="PEM public key"):
        ServiceSettings(database_url=DATABASE, jwt_public_key="changeme", cookie_secure=True)


def test_production_refuses_session_cookies_without_secure() -> None:
    public_key = generate_key_pair().public_pem

    with pytest.raises(ValidationError, match="cookie_secure"):
        ServiceSettings(database_url=DATABASE, jwt_public_key=public_key, environment="production")

    development = ServiceSettings(
        database_url=DATABASE, jwt_public_key=public_key, environment="development"
    )
    assert development.cookie_secure is False


def test_settings_come_from_the_environment_with_the_service_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class ExampleSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="EXAMPLE_", extra="ignore", frozen=True)

    monkeypatch.setenv("EXAMPLE_DATABASE_URL", DATABASE)
    monkeypatch.setenv("EXAMPLE_JWT_PUBLIC_KEY", generate_key_pair().public_pem)
    monkeypatch.setenv("EXAMPLE_ENVIRONMENT", "development")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://not/this/one")

    assert ExampleSettings().database_url == DATABASE  # type: ignore[call-arg]
