"""The version rule of replicated aggregates (DESIGN §4 "Ordering by version"), in one place.

Handlers raise ``EventOutOfOrder`` when an event builds on a version the replica has not seen
yet; the consumer then waits for its predecessor without spending the failure budget.
"""

from __future__ import annotations


class EventOutOfOrder(Exception):  # noqa: N818 - it is a signal, not a failure
    """The event builds on a version this replica has not seen yet: try again later."""


def should_apply(local_version: int | None, event_version: int) -> bool:
    """The version rule every replica follows (DESIGN §4), in one place.

    Version n+1 applies on top of n: True. A version the replica already has (n or older) is a
    duplicate: False, nothing to do. Anything further ahead, or an aggregate the replica has not
    seen yet (``local_version`` None), is early: ``EventOutOfOrder``, so it comes back later.
    """
    if local_version is not None and local_version >= event_version:
        return False
    if local_version is not None and local_version == event_version - 1:
        return True
    raise EventOutOfOrder(f"version {event_version} cannot follow {local_version}")
