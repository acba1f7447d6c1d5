"""The one supervisor of ``make dev``: every process of the platform is its direct child.

Each child is spawned without a shell (exec of its argv), its output is printed line by line
behind its name (``12:00:01 orders   | ...``), and when it exits unexpectedly it is started
again with backoff (1 s, doubling to 30 s; back to 1 s once it had run 30 s), as Kubernetes
restarts a crashed container. This replaced honcho, whose ``sh`` and per-process wrapper cost
about three extra processes (and ~700 MB) per real one.

**Hold markers: a planned outage.** While ``$TICKETING_DATA_DIR/hold/<name>`` exists, the
child ``<name>`` (``postgres``, ``nats``, ``redis``, ``orders-2``, ...) is not started again
when it exits: the analogue of scaling a Deployment to zero. Whoever stops it on purpose (the
fault suite's 90 s PostgreSQL outage) creates the marker first and removes it to end the
outage; the supervisor then starts the child at once. A crash without a marker (kill -9) is
restarted as usual.

**Nothing left behind.** Each child runs in a session of its own, so a terminal's Ctrl-C
reaches the supervisor alone, which stops the children in order (the servers last, so nothing
loses its bus or database while it drains), each with its stop signal, and kills those still
alive after a timeout. Every child also carries ``PR_SET_PDEATHSIG``: if the devstack process
itself is killed (a test timeout's SIGKILL), the kernel signals each child, so no orphaned
platform keeps running. The signal is tied to the thread that forked the child, so every
spawn happens in the event loop's thread, which lives as long as the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

RESET_AFTER_SECONDS = 30.0
MAX_DELAY_SECONDS = 30.0
HOLD_POLL_SECONDS = 0.5
STOP_TIMEOUT_SECONDS = 10.0
LINE_LIMIT = 1 << 20  # the longest line shown whole
READ_SIZE = 1 << 16  # read at once: below malloc's mmap threshold (a bigger buffer was an
# mmap, mremap and munmap on every read, ~20 us more per line relayed)
RELAY_PAUSE_SECONDS = 0.05  # between two reads of a child's output: lines show within it
PARTIAL_LINE_SECONDS = 0.2  # a line without its end yet (a prompt) is shown after this
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)  # resolved here: the forked child only calls it


def _die_with_parent(signum: int) -> None:
    """Runs in the forked child, before exec (after ``user=`` switched the uid, which would
    otherwise clear the setting)."""
    _libc.prctl(_PR_SET_PDEATHSIG, signum)


@dataclass(frozen=True)
class Child:
    """One process of the platform: its name (output prefix, hold marker), argv and env."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None  # the whole environment; None: ours
    user: str | None = None  # run as this user (PostgreSQL refuses to run as root)
    stop_signal: signal.Signals = signal.SIGTERM
    death_signal: signal.Signals = signal.SIGKILL  # sent by the kernel if we die first
    server: bool = False  # infrastructure: stopped after everything else


Probe = Callable[[], Awaitable[bool]]


@dataclass
class _Kept:
    child: Child
    process: asyncio.subprocess.Process | None = None
    state: str = "starting"  # starting, running, restarting, held, stopped
    task: asyncio.Task[None] | None = None


class Supervisor:
    """Starts children, keeps them running, stops them all; use inside one event loop."""

    def __init__(self, hold_dir: Path, out: TextIO | None = None, width: int = 8) -> None:
        self.hold_dir = hold_dir
        self.out = out or sys.stdout
        self._kept: dict[str, _Kept] = {}
        self._stopping = asyncio.Event()
        self._width = width  # of the name column (the longest name, given or seen)
        self.restarts: Counter[str] = Counter()

    def say(self, name: str, line: str) -> None:
        self.say_all(name, [line])

    def say_all(self, name: str, lines: list[str]) -> None:
        """Each line prefixed with the time and the child's name, in one write."""
        prefix = f"{time.strftime('%H:%M:%S')} {name:<{self._width}} | "
        self.out.write("".join(f"{prefix}{line}\n" for line in lines))
        self.out.flush()

    def held(self, name: str) -> bool:
        return (self.hold_dir / name).exists()

    def state(self, name: str) -> str:
        return self._kept[name].state

    def pid(self, name: str) -> int | None:
        process = self._kept[name].process
        return process.pid if process is not None and process.returncode is None else None

    async def start(self, child: Child, ready: Probe | None = None, timeout: float = 60) -> None:
        """Spawn ``child`` and keep it; with ``ready``, return once it answers (raises
        ``RuntimeError`` if it does not within ``timeout``)."""
        if child.name in self._kept:
            raise ValueError(f"{child.name} is already supervised")
        self._width = max(self._width, len(child.name))
        kept = self._kept[child.name] = _Kept(child)
        first = asyncio.get_running_loop().create_future()
        kept.task = asyncio.create_task(self._keep(kept, first), name=f"keep {child.name}")
        await first  # spawned (or failed to)
        if ready is not None:
            await until_ready(child.name, ready, timeout)

    async def _keep(self, kept: _Kept, first: asyncio.Future[None]) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                code = await self._run_once(kept, first)
            except OSError as error:  # the binary itself is missing: no retry helps
                if not first.done():
                    first.set_exception(error)
                kept.state = "stopped"
                return
            if self._stopping.is_set():
                break
            if time.monotonic() - started > RESET_AFTER_SECONDS:
                delay = 1.0  # it ran for a while: a new crash, not a crash loop
            if self.held(kept.child.name):
                await self._sit_out_the_hold(kept, code)
                delay = 1.0
                continue
            kept.state = "restarting"
            self.say(kept.child.name, f"!! exited with code {code}; restarting in {delay:.0f}s")
            if await self._stopped_within(delay):
                break
            delay = min(delay * 2, MAX_DELAY_SECONDS)
            self.restarts[kept.child.name] += 1
        kept.state = "stopped"

    async def _sit_out_the_hold(self, kept: _Kept, code: int) -> None:
        """A planned outage: wait (without starting it) until the marker is removed."""
        name = kept.child.name
        kept.state = "held"
        marker = f"{self.hold_dir.name}/{name}"
        self.say(name, f"exited ({code}); held by {marker}: not started until it is removed")
        while self.held(name):
            if await self._stopped_within(HOLD_POLL_SECONDS):
                return
        self.say(name, "hold removed: starting again")

    async def _run_once(self, kept: _Kept, first: asyncio.Future[None]) -> int:
        child = kept.child
        read_end, write_end = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *child.argv,
                env=child.env,
                user=child.user,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_end,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us alone: we stop the servers last
                preexec_fn=functools.partial(_die_with_parent, child.death_signal),
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)  # the child's copy is the only one: its exit is the pipe's end
        kept.process = process
        kept.state = "running"
        if not first.done():
            first.set_result(None)
        relay = _OutputRelay(self, child.name, read_end)
        code = await process.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(relay.done), 2)  # the last lines of a crash
        return code

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    async def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop every child (all at once; the servers after the rest, so nothing loses its
        database while it drains); kill what is still alive after ``timeout``."""
        self._stopping.set()
        for servers in (False, True):
            kept = [k for k in self._kept.values() if k.child.server is servers]
            await asyncio.gather(*(self._stop_one(k, timeout) for k in kept))
        tasks = [kept.task for kept in self._kept.values() if kept.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _stop_one(self, kept: _Kept, timeout: float) -> None:
        process = kept.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(kept.child.stop_signal)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            self.say(kept.child.name, f"did not stop within {timeout:.0f}s: killed")
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class _OutputRelay:
    """A child's output, relayed as it comes, in batches: the loop calls ``_readable`` when
    its pipe has data, which takes what is there, writes its complete lines at once (each
    with the time and the child's name), and waits ``RELAY_PAUSE_SECONDS`` before it reads
    again. No task and no stream per child: through an asyncio stream a line cost ~65 µs of
    this process's CPU (~0.3 ms per ticket listed, five services logging a line each), and
    each line the child wrote woke this process. A partial line is shown once its end comes,
    after ``PARTIAL_LINE_SECONDS`` of silence, or when it reaches ``LINE_LIMIT``; ``done`` is
    set at the pipe's end (the child and whatever it started with the pipe have all exited).
    """

    def __init__(self, supervisor: Supervisor, name: str, fd: int) -> None:
        self._supervisor, self._name, self._fd = supervisor, name, fd
        self._loop = asyncio.get_running_loop()
        self._pending = b""
        self._partial_timer: asyncio.TimerHandle | None = None
        self.done: asyncio.Future[None] = self._loop.create_future()
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            chunk = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close()
            return
        # Read again after a pause: meanwhile nobody waits on the pipe, so the child's
        # writes wake no one (a wakeup per line cost each service ~0.1 ms of CPU a line).
        self._loop.remove_reader(self._fd)
        self._loop.call_later(RELAY_PAUSE_SECONDS, self._resume)
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        if len(self._pending) >= LINE_LIMIT:  # show what fits
            lines, self._pending = [*lines, self._pending], b""
        if lines:
            self._say(lines)
        if self._partial_timer is not None:
            self._partial_timer.cancel()
            self._partial_timer = None
        if self._pending:
            self._partial_timer = self._loop.call_later(PARTIAL_LINE_SECONDS, self._say_partial)

    def _resume(self) -> None:
        if not self.done.done():
            self._loop.add_reader(self._fd, self._readable)

    def _say(self, lines: list[bytes]) -> None:
        self._supervisor.say_all(self._name, [line.decode(errors="replace") for line in lines])

    def _say_partial(self) -> None:
        self._partial_timer = None
        if self._pending:
            lines, self._pending = [self._pending], b""
            self._say(lines)

    def _close(self) -> None:
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
        if self._partial_timer is not None:
            self._partial_timer.cancel()
        self._say_partial()
        self.done.set_result(None)


async def until_ready(name: str, ready: Probe, timeout: float = 60) -> None:
    """Return once ``ready()`` is true; ``RuntimeError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not get ready within {timeout:.0f}s")
        await asyncio.sleep(0.05)


STARTED_BY = os.getppid()
"""The process that started this one, read as this module is imported: read any later, it
may already be the reaper that adopted us (the launcher killed meanwhile), and the death
would never be noticed. A fresh-clone CI run caught exactly that: the launcher killed between
the supervisor printing its pids and starting to watch."""


async def until_orphaned(poll_seconds: float = 1.0, parent: int = STARTED_BY) -> None:
    """Return once ``parent``, the process that started us (make, uv, a test), has died:
    nobody is left to press Ctrl-C, and a platform nobody owns must not keep running (a test
    runner killed by its timeout used to leave make dev's whole platform behind)."""
    while True:  # no event to wait on: the kernel tells a child only through getppid()
        await asyncio.sleep(poll_seconds)
        if os.getppid() != parent:
            return


def stop_on_signals(stopping: asyncio.Event) -> None:
    """Ctrl-C (SIGINT) and SIGTERM set ``stopping`` instead of raising in the loop."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
