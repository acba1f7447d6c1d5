"""Bans and sign-outs refused by every replica, from memory (``common.refusals``): two
replicas of orders on one database and one durable, which hands each event to one of them.
NATS outages are real: a server of the test's own, stopped and started again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from ticketing.common.auth import CurrentUser, KeyPair, sign_session_token
from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.events import SessionRevoked, SessionRevokedData, UserBanned, UserBannedData
from ticketing.common.refusals import SessionRefusals
from ticketing.common.revocation import remember_ban
from ticketing.orders.app import create_app
from ticketing.orders.config import OrdersSettings
from ticketing.testkit.embedded import EmbeddedNats
from ticketing.testkit.events import publish_event
from ticketing.testkit.http import eventually, running_app


class Replica:
    """One running orders process: its app and a client of it."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client

    @property
    def refusals(self) -> SessionRefusals:
        refusals: SessionRefusals = self.app.state.runtime.refusals
        return refusals

    async def status_for(self, token: str) -> int:
        return (await self.client.get("/api/orders", cookies={"session": token})).status_code


class Replicas:
    """Starts orders replicas sharing ``settings`` (database, namespace, durable)."""

    def __init__(self, settings: OrdersSettings, stack: AsyncExitStack) -> None:
        self.settings, self._stack = settings, stack

    async def start(self) -> Replica:
        app = create_app(self.settings)
        client = await self._stack.enter_async_context(running_app(app))
        return Replica(app, client)


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats").start()
    yield server
    server.stop()


async def replicas_on(settings: OrdersSettings) -> AsyncIterator[Replicas]:
    async with AsyncExitStack() as stack:
        yield Replicas(settings, stack)


@pytest.fixture
async def replicas(orders_settings: OrdersSettings) -> AsyncIterator[Replicas]:
    async for started in replicas_on(orders_settings):
        yield started


@pytest.fixture
async def bus_of_own_nats(own_nats: EmbeddedNats, bus_namespace: str) -> AsyncIterator[Bus]:
    bus = Bus(own_nats.url, bus_namespace)
    await bus.connect(attempts=1)
    yield bus
    await bus.close()


@pytest.fixture
async def replicas_on_own_nats(
    orders_settings: OrdersSettings, own_nats: EmbeddedNats, bus_of_own_nats: Bus
) -> AsyncIterator[Replicas]:
    settings = orders_settings.model_copy(update={"nats_url": own_nats.url})
    async for started in replicas_on(settings):
        yield started


def a_user(keys: KeyPair) -> tuple[CurrentUser, str]:
    user = CurrentUser(id=uuid4(), email=f"user-{uuid4().hex[:8]}@example.com")
    return user, sign_session_token(user, keys.private_pem)


async def refused_by(replica: Replica, token: str) -> None:
    assert await replica.status_for(token) == 401


async def refused_by_each(replicas: tuple[Replica, ...], token: str) -> None:
    """Until every replica refuses ``token`` (each learns it from the bus on its own)."""
    for replica in replicas:
        await eventually(lambda: refused_by(replica, token))  # noqa: B023 (awaited at once)


async def test_a_ban_is_refused_by_both_replicas_although_only_one_receives_it(
    replicas: Replicas, bus: Bus, jwt_keys: KeyPair
) -> None:
    first, second = await replicas.start(), await replicas.start()
    user, token = a_user(jwt_keys)
    assert await first.status_for(token) == await second.status_for(token) == 200

    await publish_event(bus, UserBanned(data=UserBannedData(user_id=user.id)))

    await refused_by_each((first, second), token)
    assert first.refusals.current and second.refusals.current  # answered from memory


async def test_a_replica_started_after_a_ban_refuses_it_from_the_database(
    replicas: Replicas, bus: Bus, jwt_keys: KeyPair
) -> None:
    first = await replicas.start()
    user, token = a_user(jwt_keys)
    await publish_event(bus, UserBanned(data=UserBannedData(user_id=user.id)))
    await eventually(lambda: refused_by(first, token))

    later = await replicas.start()

    assert user.id in later.refusals.banned  # loaded before the replica served anything
    assert await later.status_for(token) == 401


async def test_a_revoked_session_is_refused_by_both_replicas_and_the_users_next_is_not(
    replicas: Replicas, bus: Bus, jwt_keys: KeyPair
) -> None:
    first, second = await replicas.start(), await replicas.start()
    user, token = a_user(jwt_keys)
    next_token = sign_session_token(user, jwt_keys.private_pem)
    signed_out = SessionRevokedData(
        session_id=first.app.state.runtime.token_verifier.verify_session(token).id,
        user_id=user.id,
        expires_at=utcnow() + timedelta(days=1),
    )

    await publish_event(bus, SessionRevoked(data=signed_out))

    await refused_by_each((first, second), token)
    assert await first.status_for(next_token) == await second.status_for(next_token) == 200


async def test_while_nats_is_down_requests_ask_the_database_and_memory_answers_again_after(
    replicas_on_own_nats: Replicas,
    own_nats: EmbeddedNats,
    bus_of_own_nats: Bus,
    jwt_keys: KeyPair,
) -> None:
    replica = await replicas_on_own_nats.start()
    banned_before, banned_before_token = a_user(jwt_keys)
    await publish_event(bus_of_own_nats, UserBanned(data=UserBannedData(user_id=banned_before.id)))
    await eventually(lambda: refused_by(replica, banned_before_token))
    _, innocent_token = a_user(jwt_keys)

    own_nats.stop()
    try:
        await eventually(lambda: _not_current(replica.refusals))
        # What another replica's durable recorded just before this one lost NATS:
        banned_meanwhile, banned_meanwhile_token = a_user(jwt_keys)
        async with replica.app.state.runtime.sessionmaker() as db:
            await remember_ban(db, banned_meanwhile.id)
            await db.commit()

        assert await replica.status_for(banned_meanwhile_token) == 401  # from the database
        assert await replica.status_for(banned_before_token) == 401
        assert await replica.status_for(innocent_token) == 200
    finally:
        own_nats.start()

    await eventually(lambda: _current(replica.refusals), timeout=30)
    assert banned_meanwhile.id in replica.refusals.banned  # loaded again after reconnecting
    banned_after, banned_after_token = a_user(jwt_keys)
    await publish_event(bus_of_own_nats, UserBanned(data=UserBannedData(user_id=banned_after.id)))
    await eventually(lambda: refused_by(replica, banned_after_token), timeout=30)
    assert await replica.status_for(innocent_token) == 200


async def _not_current(refusals: SessionRefusals) -> None:
    assert not refusals.current


async def _current(refusals: SessionRefusals) -> None:
    assert refusals.current
