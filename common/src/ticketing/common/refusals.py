"""Bans and revoked sessions answered from memory, in every replica (DESIGN §6, issue 14).

The service's durable consumer records ``user.banned`` and ``session.revoked`` in its database
(``revocation.py``), but it hands each event to *one* replica. So every process also follows
those two subjects itself, with an ordered consumer of its own, and keeps two sets in memory:
the banned users and the unexpired revoked sessions. A request's check is then a set lookup
instead of a database round trip (and a connection checkout of its own).

**Nothing falls in a gap.** ``start`` reads how far the durable has handled the stream (its ack
floor: every event at or below it was committed to the database before it was acked), loads
both tables, then follows the two subjects from the floor on. An event is therefore either in
what was loaded or among what the ordered consumer delivers (both, often: adding is
idempotent). The ordered consumer resumes from the last message it saw when its heartbeats
stop (NATS restarted, the connection dropped), so an outage misses nothing the stream kept.

**When memory cannot accept** (``current`` is False), a token memory does not refuse is
checked against the database, as before: until ``start`` has loaded the sets, while this
process is disconnected from NATS, and after a reconnection until ``run`` has loaded the
tables again. While NATS is down no ban can be published at all (auth's relay waits too), so
memory and database together are as current as anything is: a ban the durable recorded in
another replica just before this one lost its connection is refused, from the database.
Besides, ``run`` unions the tables into memory every ``RELOAD_SECONDS`` (a backstop: memory is
never staler than that even if following broke without a disconnect), and forgets revocations
whose token has expired (the signature check refuses those anyway). Bans are permanent:
nothing is ever removed from that set.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.common.auth import UserSession
from ticketing.common.bus import Bus
from ticketing.common.contracts import utcnow
from ticketing.common.db import banned_users, revoked_sessions
from ticketing.common.events import SessionRevoked, UnknownEventError, UserBanned, parse_event

logger = logging.getLogger("ticketing.refusals")

RELOAD_SECONDS = 60.0
"""How often the tables are unioned into memory whatever happened (the staleness backstop)."""
CHECK_SECONDS = 0.5
"""How often ``run`` looks for a reconnection to reload after."""
HEARTBEAT_SECONDS = 1.0
"""The ordered consumer's idle heartbeat: two missed and it resumes from its last message."""


class SessionRefusals:
    """The banned users and revoked sessions of one service, in this process's memory."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], bus: Bus, *, durable: str
    ) -> None:
        self._sessionmaker = sessionmaker
        self._bus = bus
        self._durable = durable
        self.banned: set[UUID] = set()
        self.revoked: dict[UUID, datetime] = {}  # session id → its token's exp
        self._loaded_at: int | None = None  # the bus's reconnect count when the tables loaded
        self._subscription: object | None = None

    @property
    def current(self) -> bool:
        """Whether memory answers: loaded, connected, and loaded again since any reconnect."""
        return self._bus.is_connected and self._loaded_at == self._bus.reconnects

    def refuses(self, session: UserSession) -> bool:
        """The user is banned or the session revoked, as far as memory knows: True is sure,
        False only while ``current``."""
        return session.user.id in self.banned or session.id in self.revoked

    async def start(self) -> None:
        """Load what the database knows and follow the stream from where it ends."""
        handled_up_to = await self._handled_up_to()
        await self.load()
        names = self._bus.names
        subjects = [names.subject(UserBanned.TYPE), names.subject(SessionRevoked.TYPE)]
        config = ConsumerConfig(
            filter_subjects=subjects,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=handled_up_to + 1,
        )
        self._subscription = await self._bus.js.subscribe(
            subjects[0],
            stream=names.stream,
            config=config,
            ordered_consumer=True,
            idle_heartbeat=HEARTBEAT_SECONDS,
            cb=self._on_message,
        )

    async def run(self) -> None:
        """Load again after a reconnection, and every ``RELOAD_SECONDS``."""
        loop = asyncio.get_running_loop()
        last_reload = loop.time()
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            reconnected = self._loaded_at != self._bus.reconnects
            due = loop.time() - last_reload >= RELOAD_SECONDS
            if self._bus.is_connected and (reconnected or due):
                await self.load()
                last_reload = loop.time()

    async def load(self) -> None:
        """Union both tables into memory and forget expired sessions; ``current`` from then
        on, unless NATS reconnected meanwhile (then the next ``run`` round loads again)."""
        reconnects = self._bus.reconnects
        now = utcnow()
        async with self._sessionmaker() as db:
            banned = (await db.scalars(sa.select(banned_users.c.user_id))).all()
            revoked = (
                await db.execute(
                    sa.select(revoked_sessions.c.session_id, revoked_sessions.c.expires_at).where(
                        revoked_sessions.c.expires_at > now
                    )
                )
            ).all()
        self.banned.update(banned)
        self.revoked.update({row.session_id: row.expires_at for row in revoked})
        self._forget_expired()
        self._loaded_at = reconnects

    async def _handled_up_to(self) -> int:
        """The durable's ack floor: every event up to this stream sequence is in the database."""
        try:
            info = await self._bus.js.consumer_info(self._bus.names.stream, self._durable)
        except NotFoundError:
            return 0  # the durable starts with this process: everything is still to come
        return info.ack_floor.stream_seq if info.ack_floor else 0

    async def _on_message(self, message: Msg) -> None:
        try:
            event = parse_event(message.data)
        except UnknownEventError:
            logger.warning("Not an event on %s; ignored by the refusal sets", message.subject)
            return
        if isinstance(event, UserBanned | SessionRevoked):
            self.learn(event)

    def learn(self, event: UserBanned | SessionRevoked) -> None:
        """Refuse from now on what ``event`` says (the ordered consumer's messages, and the
        durable's in this replica: memory is never behind this replica's own database)."""
        if isinstance(event, UserBanned):
            self.banned.add(event.data.user_id)
        elif event.data.expires_at > utcnow():
            self.revoked[event.data.session_id] = event.data.expires_at

    def _forget_expired(self) -> None:
        now = utcnow()
        for session_id in [sid for sid, exp in self.revoked.items() if exp <= now]:
            del self.revoked[session_id]
