"""docker-compose.test.yml serves exactly the TEST_* URLs the test suite documents."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import yaml

# What DESIGN.md §9 and the compose file's header tell you to export.
TEST_URLS = {
    "postgres": "postgresql+asyncpg://postgres:postgres@127.0.0.1:55432/postgres",
    "nats": "nats://127.0.0.1:54222",
    "redis": "redis://127.0.0.1:56379/0",
}
CONTAINER_PORTS = {"postgres": 5432, "nats": 4222, "redis": 6379}


def test_compose_publishes_each_server_on_its_test_url_port(repo: Path) -> None:
    compose_text = (repo / "docker-compose.test.yml").read_text()
    services = yaml.safe_load(compose_text)["services"]

    assert set(services) == set(TEST_URLS)
    for name, url in TEST_URLS.items():
        parts = urlsplit(url)
        assert services[name]["ports"] == [f"{parts.hostname}:{parts.port}:{CONTAINER_PORTS[name]}"]
        assert url in compose_text, f"the header documents {url}"
        assert "test" in services[name]["healthcheck"]


def test_compose_runs_postgres_16_nats_jetstream_and_redis_7(repo: Path) -> None:
    services = yaml.safe_load((repo / "docker-compose.test.yml").read_text())["services"]

    assert services["postgres"]["image"] == "postgres:16"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "postgres"
    assert services["nats"]["image"].startswith("nats:2.")  # which 2.x: test_nats.py
    assert "-js" in services["nats"]["command"]
    assert services["redis"]["image"].startswith("redis:7")
