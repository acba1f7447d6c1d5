"""Password hashing, bounded per process: argon2id with OWASP's parameters, a few at a time.

Each argon2 hash or verify holds its memory cost (19 MiB) for its whole run. Unbounded, a burst
of sign-ins multiplies that: 40 at once under the old profile (64 MiB each) took auth to 2 GiB.
Here at most ``concurrency`` run at once, on as many threads of our own (the event loop stays
free, and glibc's per-thread arenas stay as few as the threads); the others wait their turn.

A hash made with older parameters is replaced on the next successful sign-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet, argon2id minimum: m=19 MiB, t=2, p=1.
MEMORY_COST_KIB, TIME_COST, PARALLELISM = 19 * 1024, 2, 1

T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    matches: bool
    new_hash: str | None = None  # the password hashed anew, when the stored hash is outdated


class Passwords:
    def __init__(self, concurrency: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=TIME_COST,
            memory_cost=MEMORY_COST_KIB,
            parallelism=PARALLELISM,
            type=Type.ID,
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2")
        # Verified against when the email is unknown, so both failures take the same time.
        self._decoy = self._hasher.hash("decoy password for unknown emails")

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> Verdict:
        """With no hash (unknown user) burns the same time and does not match."""
        if password_hash is None:
            await self._run(self._matches, self._decoy, password)
            return Verdict(matches=False)
        return await self._run(self._verify_and_rehash, password_hash, password)

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        async with self._slots:  # queued callers wait here, holding no memory
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._threads, function, *args)

    def _matches(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _verify_and_rehash(self, password_hash: str, password: str) -> Verdict:
        if not self._matches(password_hash, password):
            return Verdict(matches=False)
        if self._hasher.check_needs_rehash(password_hash):
            return Verdict(matches=True, new_hash=self._hasher.hash(password))
        return Verdict(matches=True)


@asynccontextmanager
async def held_open(passwords: Passwords) -> AsyncIterator[Passwords]:
    """While the service runs; its threads stop with it."""
    try:
        yield passwords
    finally:
        passwords.close()
