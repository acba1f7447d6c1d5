"""Which failures are the world's fault and which are the event's (DESIGN §4 "Outages spend no
retries").

A *transient* failure says nothing about the event: the database, Redis, NATS or an SMTP relay
is unreachable, restarting or timing out. Retrying later will work, so it must never count
toward dead-lettering, however long it lasts. Anything else is *deterministic* (the handler
rejects this event) and spends the event's bounded failure budget.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator

# SQLSTATE classes that mean "the server is not available right now", not "your query is bad":
# 08 connection exception, 53 insufficient resources, 57P01-03 admin shutdown / crash /
# cannot connect now, 40001/40P01 serialization failure / deadlock (retry the transaction).
_TRANSIENT_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03", "40001", "40P01")
_TRANSIENT_MODULE_PREFIXES = ("asyncpg.", "nats.", "redis.", "aiosmtplib.")
_TRANSIENT_NAME_PARTS = ("Connection", "Timeout", "Unavailable", "NoServers", "NoResponders")


class TransientError(Exception):
    """Raised by a handler whose dependency is unavailable (e.g. SMTP answered 4xx): the
    consumer holds the message and retries it without spending deliveries."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_transient_one(error: BaseException) -> bool:
    if isinstance(error, TransientError | OSError | TimeoutError | asyncio.TimeoutError):
        return True
    if _is_database_outage(error):
        return True
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATES):
        return True
    kind = type(error)
    return kind.__module__.startswith(_TRANSIENT_MODULE_PREFIXES) and any(
        part in kind.__name__ for part in _TRANSIENT_NAME_PARTS
    )


def _is_database_outage(error: BaseException) -> bool:
    """SQLAlchemy's errors that mean the database is unreachable. Looked up, not imported: a
    process without a database (the expiration worker, the client) never loads SQLAlchemy,
    and then no error can be one of its."""
    exc = sys.modules.get("sqlalchemy.exc")
    if exc is None:
        return False
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    outages = exc.OperationalError | exc.InterfaceError | exc.TimeoutError | exc.DisconnectionError
    return isinstance(error, outages)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is an outage rather than a verdict on the event."""
    return any(_is_transient_one(link) for link in _chain(error))
