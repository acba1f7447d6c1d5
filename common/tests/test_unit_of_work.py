"""The unit of work's staged writes (issue 14): written at commit with the outbox rows in one
statement, all or nothing, and a check on the result that can still refuse the commit. A unit
of work that is that one statement alone sends no BEGIN and no COMMIT (counted where asyncpg
sends them)."""

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.common.db import banned_users, bound, outbox
from ticketing.common.errors import BadRequestError
from ticketing.common.events import UserBanned, UserBannedData
from ticketing.common.uow import UnitOfWork


def ban(user_id: Any) -> sa.Insert:
    return (
        insert(banned_users)
        .values(user_id=user_id)
        .on_conflict_do_nothing()
        .returning(banned_users.c.user_id)
    )


BAN = insert(banned_users).values(bound(banned_users, "user_id")).on_conflict_do_nothing()
"""Built once, its values given when staged (``stage(..., params=)``)."""


@dataclass
class Sent:
    """What went to PostgreSQL: statements (their first word), and the BEGINs and COMMITs
    asyncpg sends for SQLAlchemy's transactions (as it logs them)."""

    statements: list[str] = field(default_factory=list)
    transaction_control: list[str] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)  # id() of each one checked out


@contextmanager
def sent(engine: AsyncEngine) -> Iterator[Sent]:
    """Everything sent on connections checked out during the block."""
    traffic = Sent()

    def statement(_conn: Any, _cursor: Any, text: str, *_: Any) -> None:
        traffic.statements.append(text.split(None, 1)[0].upper())

    def control(record: Any) -> None:  # asyncpg logs its simple queries, not prepared ones
        # the first word: a BEGIN may name the isolation level, the default one included
        traffic.transaction_control.append(record.query.split(None, 1)[0].rstrip(";").upper())

    def checkout(dbapi_connection: Any, *_: Any) -> None:
        traffic.connections.append(id(dbapi_connection.driver_connection))
        dbapi_connection.driver_connection.add_query_logger(control)

    def checkin(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection.remove_query_logger(control)

    listeners: list[tuple[str, Callable[..., None]]] = [
        ("before_cursor_execute", statement),
        ("checkout", checkout),
        ("checkin", checkin),
    ]
    for name, listener in listeners:
        sa.event.listen(engine.sync_engine, name, listener)
    try:
        yield traffic
    finally:
        for name, listener in listeners:
            sa.event.remove(engine.sync_engine, name, listener)


async def logged() -> None:
    """asyncpg calls its query loggers on the loop's next turns."""
    for _ in range(3):
        await asyncio.sleep(0)


def refuse_if_none(result: sa.Result[Any]) -> None:
    if result.first() is None:
        raise BadRequestError("Already banned")


async def written(sessionmaker: async_sessionmaker[AsyncSession], event: UserBanned) -> bool:
    async with sessionmaker() as session:
        ban_row = bool(
            await session.scalar(
                sa.select(sa.func.count()).where(banned_users.c.user_id == event.data.user_id)
            )
        )
        event_row = await session.scalar(
            sa.select(sa.func.count()).where(outbox.c.event_id == event.id)
        )
    assert ban_row == bool(event_row), "the staged write and the outbox row went apart"
    return ban_row


async def test_a_staged_write_commits_with_the_outbox_row(
    unit_of_work: Callable[[], UnitOfWork], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    event = UserBanned(data=UserBannedData(user_id=uuid4()))
    async with unit_of_work() as uow:
        uow.stage(ban(event.data.user_id), then=refuse_if_none)
        uow.publish(event)
        await uow.commit()

    assert await written(sessionmaker, event)


async def test_a_check_that_refuses_the_result_writes_nothing(
    unit_of_work: Callable[[], UnitOfWork], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user_id = uuid4()
    async with unit_of_work() as uow:
        uow.stage(ban(user_id))
        await uow.commit()
    again = UserBanned(data=UserBannedData(user_id=user_id))

    async with unit_of_work() as uow:
        uow.stage(ban(user_id), then=refuse_if_none)  # does nothing: the check refuses
        uow.publish(again)
        with pytest.raises(BadRequestError):
            await uow.commit()

    async with sessionmaker() as session:
        assert not await session.scalar(
            sa.select(sa.func.count()).where(outbox.c.event_id == again.id)
        )


async def test_a_write_staged_with_its_values_and_its_event_is_one_statement_alone(
    unit_of_work: Callable[[], UnitOfWork],
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
) -> None:
    event = UserBanned(data=UserBannedData(user_id=uuid4()))

    with sent(engine) as queries:
        async with unit_of_work() as uow:
            uow.stage(BAN, params={"user_id": event.data.user_id})
            uow.publish(event)
            await uow.commit()
        await logged()

    assert queries.statements == ["WITH"]  # the write as a CTE of the outbox row's insert
    assert queries.transaction_control == []
    assert await written(sessionmaker, event)


async def test_the_connection_of_a_lone_statement_goes_back_to_transactions(
    unit_of_work: Callable[[], UnitOfWork], engine: AsyncEngine
) -> None:
    with sent(engine) as queries:
        async with unit_of_work() as uow:
            uow.stage(BAN, params={"user_id": uuid4()})
            await uow.commit()
        async with unit_of_work() as uow:
            await uow.session.execute(sa.select(banned_users.c.user_id).limit(1))
            await uow.rollback()
        await logged()

    first, second = queries.connections
    assert first == second  # the same connection, handed out again
    assert queries.transaction_control == ["BEGIN", "ROLLBACK"]


async def test_the_one_statement_alone_is_still_all_or_nothing(
    unit_of_work: Callable[[], UnitOfWork], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = UserBanned(data=UserBannedData(user_id=uuid4()))
    async with unit_of_work() as uow:
        uow.publish(first)
        await uow.commit()
    same_id = UserBanned(id=first.id, data=UserBannedData(user_id=uuid4()))

    async with unit_of_work() as uow:
        uow.stage(BAN, params={"user_id": same_id.data.user_id})
        uow.publish(same_id)  # its outbox row fails on the event id: the ban goes with it
        with pytest.raises(IntegrityError):
            await uow.commit()

    async with sessionmaker() as session:
        assert not await session.scalar(
            sa.select(sa.func.count()).where(banned_users.c.user_id == same_id.data.user_id)
        )


async def test_a_unit_of_work_that_read_first_or_checks_its_write_commits_a_transaction(
    unit_of_work: Callable[[], UnitOfWork], engine: AsyncEngine
) -> None:
    with sent(engine) as queries:
        async with unit_of_work() as uow:
            await uow.session.execute(sa.select(banned_users.c.user_id).limit(1))
            uow.stage(BAN, params={"user_id": uuid4()})
            await uow.commit()
        async with unit_of_work() as uow:
            uow.stage(ban(uuid4()), then=refuse_if_none)
            uow.publish(UserBanned(data=UserBannedData(user_id=uuid4())))
            await uow.commit()
        await logged()

    assert queries.statements == ["SELECT", "INSERT", "WITH"]
    assert queries.transaction_control == ["BEGIN", "COMMIT", "BEGIN", "COMMIT"]
