from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from ticketing.expiration.config import ExpirationSettings
from ticketing.expiration.worker import RunningWorker, running_worker
from ticketing.testkit.fixtures import Infrastructure, worker_settings_for_tests


@pytest.fixture
def payment_grace() -> timedelta:
    """How long after ``expiresAt`` the worker's job fires: none here, so it fires at
    ``expiresAt``; a test (or a file) with a grace overrides or parametrizes this."""
    return timedelta(0)


@pytest.fixture
def expiration_settings(
    infrastructure: Infrastructure, bus_namespace: str, payment_grace: timedelta
) -> ExpirationSettings:
    return ExpirationSettings(
        **worker_settings_for_tests(infrastructure, bus_namespace),
        poll_delay_seconds=0.1,
        payment_grace_seconds=payment_grace.total_seconds(),
    )


@pytest.fixture
async def worker(expiration_settings: ExpirationSettings) -> AsyncIterator[RunningWorker]:
    """The worker running for the length of the test, stopped after it."""
    async with running_worker(expiration_settings) as running:
        yield running
