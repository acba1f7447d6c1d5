"""The worker's probe server listens on loopback unless configured (its image's start script
opens it up)."""

from pathlib import Path

import pytest

from ticketing.expiration.config import ExpirationSettings

START_SCRIPT = Path(__file__).resolve().parents[3] / "infra/docker/start-service.sh"


def test_the_probe_listens_on_loopback_by_default() -> None:
    assert ExpirationSettings().health_host == "127.0.0.1"


def test_the_probe_host_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPIRATION_HEALTH_HOST", "0.0.0.0")

    assert ExpirationSettings().health_host == "0.0.0.0"


def test_the_image_lets_the_kubelet_reach_the_probe() -> None:
    assert 'EXPIRATION_HEALTH_HOST="${EXPIRATION_HEALTH_HOST:-0.0.0.0}"' in START_SCRIPT.read_text()
