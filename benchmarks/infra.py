"""Real servers for the benchmarks, started and stopped like the test harness does."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ticketing.testkit.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedRedis


@dataclass(frozen=True)
class BenchInfrastructure:
    postgres: EmbeddedPostgres
    nats_url: str
    redis_url: str


@contextmanager
def bench_infrastructure() -> Iterator[BenchInfrastructure]:
    with tempfile.TemporaryDirectory(prefix="ticketing-bench-") as tmp:
        root = Path(tmp)
        postgres = EmbeddedPostgres(root / "pg")
        nats = EmbeddedNats(root / "nats").start()
        redis = EmbeddedRedis(root / "redis").start()
        try:
            yield BenchInfrastructure(postgres, nats.url, redis.url)
        finally:
            redis.stop()
            nats.stop()
            postgres.stop()
