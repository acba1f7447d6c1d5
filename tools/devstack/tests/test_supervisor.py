"""make dev's one supervisor: a crash is restarted, a held process is not, a stop (or the
supervisor's own death) leaves no process behind. Real processes and signals."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs in the lock

from ticketing.devstack.supervisor import Child, Supervisor
from ticketing.testkit.http import eventually

CRASH_ONCE = """
import pathlib, sys, time
marker = pathlib.Path(sys.argv[1])
if not marker.exists():
    marker.write_text("crashed once")
    print("about to crash", flush=True)
    sys.exit(3)
print("second run", flush=True)
time.sleep(600)
"""
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
time.sleep(600)
"""
SLEEPER = "import time; time.sleep(600)"
CHATTY = """
import sys, time
sys.stdout.write("".join(f"line {n}\\n" for n in range(5000)))  # many lines, one write
sys.stdout.write("a prompt, no newline yet")
sys.stdout.flush()
time.sleep(600)
"""
# A devstack in miniature: two children under a supervisor, their pids printed, then waiting.
SUPERVISING = f"""
import asyncio, os, sys
from pathlib import Path
from ticketing.devstack.supervisor import Child, Supervisor, until_orphaned

async def main():
    launcher = os.getppid()  # before the pids are printed: the test kills it once it has them
    supervisor = Supervisor(Path(sys.argv[1]), out=open("/dev/null", "w"))
    for name in ("first", "second"):
        await supervisor.start(Child(name, [sys.executable, "-c", {SLEEPER!r}]))
    print(os.getpid(), supervisor.pid("first"), supervisor.pid("second"), flush=True)
    if sys.argv[2:] == ["late"]:  # starts watching only once the launcher is already dead
        while os.getppid() == launcher:
            await asyncio.sleep(0.05)
    await until_orphaned(poll_seconds=0.1)  # what make dev does beside waiting for Ctrl-C
    await supervisor.stop()

asyncio.run(main())
"""
# What starts it: make, uv or a test runner, which can die without stopping it.
LAUNCHER = f"""
import subprocess, sys
subprocess.run([sys.executable, "-c", {SUPERVISING!r}, *sys.argv[1:]])
"""


class Console(io.StringIO):
    """What the supervisor printed, for the assertions."""


@asynccontextmanager
async def supervising(tmp_path: Path, *children: Child) -> AsyncIterator[Supervisor]:
    supervisor = Supervisor(tmp_path / "hold", out=Console())
    try:
        for child in children:
            await supervisor.start(child)
        yield supervisor
    finally:
        await supervisor.stop(timeout=2)


def python(name: str, code: str, *args: str) -> Child:
    return Child(name, [sys.executable, "-c", code, *args])


def output(supervisor: Supervisor) -> str:
    console = supervisor.out
    assert isinstance(console, Console)
    return console.getvalue()


async def printed(supervisor: Supervisor, text: str) -> None:
    async def seen() -> None:
        assert text in output(supervisor)

    await eventually(seen, timeout=20)


async def test_every_line_is_relayed_in_order_and_a_partial_one_after_a_pause(
    tmp_path: Path,
) -> None:
    async with supervising(tmp_path, python("chatty", CHATTY)) as supervisor:
        await printed(supervisor, "chatty   | a prompt, no newline yet\n")

        lines = output(supervisor).splitlines()
    relayed = [line.split(" | ", 1)[1] for line in lines if " chatty   | " in line]
    assert relayed[:5001] == [*(f"line {n}" for n in range(5000)), "a prompt, no newline yet"]


async def test_a_crashed_child_is_reported_and_started_again(tmp_path: Path) -> None:
    crashed = tmp_path / "crashed"
    async with supervising(tmp_path, python("worker", CRASH_ONCE, str(crashed))) as supervisor:
        await printed(supervisor, "worker   | second run")

        assert "worker   | about to crash" in output(supervisor)  # its own output, prefixed
        assert "worker   | !! exited with code 3; restarting in 1s" in output(supervisor)
        assert supervisor.restarts["worker"] == 1
        assert supervisor.state("worker") == "running"


async def test_stopping_ends_every_child_and_kills_one_that_ignores_sigterm(
    tmp_path: Path,
) -> None:
    async with supervising(
        tmp_path, python("polite", SLEEPER), python("stubborn", STUBBORN)
    ) as supervisor:
        pids = [supervisor.pid("polite"), supervisor.pid("stubborn")]
        await printed(supervisor, "stubborn | ignoring SIGTERM")

    assert [pid for pid in pids if pid is None or psutil.pid_exists(pid)] == []
    assert "stubborn | did not stop within 2s: killed" in output(supervisor)


async def test_a_held_child_is_not_started_again_until_its_marker_is_removed(
    tmp_path: Path,
) -> None:
    async with supervising(tmp_path, python("postgres", SLEEPER)) as supervisor:
        first = supervisor.pid("postgres")
        assert first is not None
        marker = tmp_path / "hold" / "postgres"
        marker.parent.mkdir()
        marker.touch()  # a planned outage: then the server is stopped
        os.kill(first, signal.SIGTERM)

        async def held() -> None:
            assert supervisor.state("postgres") == "held"

        await eventually(held, timeout=10)
        assert supervisor.pid("postgres") is None  # exited and not started again
        marker.unlink()

        async def back() -> None:
            assert supervisor.pid("postgres") not in (None, first)

        await eventually(back, timeout=10)

    assert supervisor.restarts["postgres"] == 0  # an outage ended, not a crash restarted


def test_a_killed_supervisor_leaves_no_children(tmp_path: Path) -> None:
    with launched(tmp_path) as (_, supervisor, children):
        supervisor.kill()  # SIGKILL: no handler, no cleanup of its own

        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == []


def test_a_supervisor_whose_launcher_died_stops_its_children_and_itself(tmp_path: Path) -> None:
    with launched(tmp_path) as (launcher, supervisor, children):
        launcher.kill()  # make or the test runner killed: nobody will press Ctrl-C

        _, alive = psutil.wait_procs([supervisor, *children], timeout=20)
        assert alive == []


def test_a_supervisor_whose_launcher_died_before_it_began_watching_stops_all_the_same(
    tmp_path: Path,
) -> None:
    with launched(tmp_path, "late") as (launcher, supervisor, children):
        launcher.kill()

        _, alive = psutil.wait_procs([supervisor, *children], timeout=20)
        assert alive == []


@contextmanager
def launched(
    tmp_path: Path, *how: str
) -> Iterator[tuple[subprocess.Popen[str], psutil.Process, list[psutil.Process]]]:
    """A launcher running a supervisor of two children: the launcher, the supervisor and
    its children, all killed at the end whatever the test did."""
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(tmp_path / "hold"), *how],
        stdout=subprocess.PIPE,
        text=True,
    )
    processes: list[psutil.Process] = []
    try:
        assert launcher.stdout is not None
        processes = [psutil.Process(int(pid)) for pid in launcher.stdout.readline().split()]
        assert len(processes) == 3
        yield launcher, processes[0], processes[1:]
    finally:
        for process in processes:
            with suppress(psutil.Error):
                process.kill()
        if launcher.poll() is None:
            launcher.kill()
        launcher.wait()
