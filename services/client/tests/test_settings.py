"""The client refuses unsafe configuration outside development and test."""

import pytest
from pydantic import ValidationError

from ticketing.client.config import ClientSettings

SECRET = "s" * 32


def test_production_needs_a_csrf_secret() -> None:
    with pytest.raises(ValidationError, match="csrf_secret"):
        ClientSettings(environment="production", cookie_secure=True)


def test_production_refuses_a_short_csrf_secret() -> None:
    with pytest.raises(ValidationError, match="csrf_secret"):
        ClientSettings(environment="production", cookie_secure=True, csrf_secret="short")


def test_production_needs_secure_cookies() -> None:
    with pytest.raises(ValidationError, match="cookie_secure"):
        ClientSettings(environment="production", csrf_secret=SECRET)


def test_production_with_a_secret_and_secure_cookies_starts() -> None:
    settings = ClientSettings(environment="production", cookie_secure=True, csrf_secret=SECRET)

    assert settings.stripe_publishable_key is None


def test_development_needs_no_secret() -> None:
    assert ClientSettings(environment="development").csrf_secret is None


def test_settings_come_from_the_client_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENT_ENVIRONMENT", "development")
    monkeypatch.setenv("CLIENT_QUERY_URL", "http://query:8000/")
    monkeypatch.setenv("CLIENT_STRIPE_PUBLISHABLE_KEY", "")

    settings = ClientSettings()

    assert settings.upstream_url("query") == "http://query:8000"
    assert settings.stripe_publishable_key is None


def test_a_secret_key_is_refused_as_the_publishable_key() -> None:
    with pytest.raises(ValidationError, match="publishable"):
        ClientSettings(environment="test", stripe_publishable_key="sk_test_oops")
