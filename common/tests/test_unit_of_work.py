"""The unit of work's staged writes (issue 14): written at commit with the outbox rows in one
statement, all or nothing, and a check on the result that can still refuse the commit."""

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.db import banned_users, outbox
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
