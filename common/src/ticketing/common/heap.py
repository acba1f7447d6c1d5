"""The garbage collector, told once that what a process built at start-up lives for good.

A service's long-lived heap (every imported module, the app, its routes, models, compiled
statements: some 160,000 objects) sits in the collector's oldest generation, and every full
collection walks all of it again: under load each one took ~140 ms of one core (py-spy and
``gc.callbacks`` on tickets, issue 14), about a fifth of the process's CPU. ``gc.freeze()``
moves what exists at that moment out of the collector's reach, so a collection walks only what
requests and events left behind; reference counting frees the rest as before.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_heap() -> None:
    """Freeze the heap once per process, when start-up is over (a second call does nothing:
    the tests start many apps in one process, and only the first start-up is the process's)."""
    global _frozen
    if _frozen:
        return
    gc.collect()  # the start-up's own garbage goes first, so none of it is kept for good
    gc.freeze()
    _frozen = True
