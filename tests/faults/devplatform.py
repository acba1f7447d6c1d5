"""``make dev`` as the fault suite runs it, and the handles it needs to hurt it for real.

The platform is started exactly as ``make dev`` starts it (``python -m ticketing.devstack up``,
two replicas of everything) and everything the suite needs is found in the running processes,
never configured twice: each replica is a child of the devstack process (its one supervisor),
known by its port, so a replica restarted is the new child on the same port; the database,
NATS, Redis and Stripe sandbox URLs are read from the services' own environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the lock
from sqlalchemy.engine import make_url

READY_TIMEOUT = 180
SERVICES = ("auth", "tickets", "orders", "payments", "query", "notifications", "client")
WORKERS = (*SERVICES, "expiration")
DATABASES = ("auth", "tickets", "orders", "payments", "query", "notifications")


@dataclass(frozen=True)
class Replica:
    """One replica of a service: whichever child of the supervisor serves its port (the
    supervisor starts a new one on the same port when it dies)."""

    service: str
    supervisor: psutil.Process  # the devstack process
    port: str
    health_url: str

    def child(self) -> psutil.Process | None:
        for proc in self.supervisor.children():
            with contextlib.suppress(psutil.Error):
                if _service_of(proc) == (self.service, self.port):
                    return proc
        return None


def _service_of(proc: psutil.Process) -> tuple[str, str] | None:
    """(service, port) of a service's or worker's process, None for any other process."""
    cmdline = proc.cmdline()
    text = " ".join(cmdline)
    if "-m ticketing.expiration" in text:
        return "expiration", proc.environ()["EXPIRATION_HEALTH_PORT"]
    service = next((s for s in SERVICES if f"ticketing.{s}.app:create_app" in text), None)
    if service is None:
        return None
    return service, cmdline[cmdline.index("--port") + 1]


class DevPlatform:
    """A running ``make dev``: its replicas, its servers, and what reaches them."""

    def __init__(self, process: subprocess.Popen[str], base_url: str, data_dir: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.data_dir = data_dir
        self.replicas = self._find_replicas()
        self.guests: list[subprocess.Popen[bytes]] = []  # run beside make dev's own processes
        env = self._environ("orders")
        orders_db = make_url(env["ORDERS_DATABASE_URL"])
        self.database_urls = {
            name: orders_db.set(database=name).render_as_string(hide_password=False)
            for name in DATABASES
        }
        self.nats_url = env["ORDERS_NATS_URL"]
        self.sandbox_url = self._environ("payments")["PAYMENTS_STRIPE_API_BASE"]
        self.redis_url = self._environ("expiration")["EXPIRATION_REDIS_URL"]

    def _find_replicas(self) -> list[Replica]:
        supervisor = psutil.Process(self.process.pid)
        found = []
        for proc in supervisor.children():
            if (known := _service_of(proc)) is None:
                continue
            service, port = known
            found.append(Replica(service, supervisor, port, f"http://127.0.0.1:{port}/readyz"))
        return sorted(found, key=lambda r: (r.service, int(r.port)))

    def run_beside(self, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start a process beside make dev's own (a newer build, mid-rollout); it runs until
        the platform stops, and is stopped first."""
        guest = subprocess.Popen(command, env=env, start_new_session=True)
        self.guests.append(guest)
        return guest

    def stop_guests(self) -> None:
        for guest in self.guests:
            if guest.poll() is None:
                guest.send_signal(signal.SIGINT)
        for guest in self.guests:
            try:
                guest.wait(timeout=30)
            except subprocess.TimeoutExpired:
                guest.kill()
                guest.wait()

    def environ_of(self, service: str) -> dict[str, str]:
        """The environment make dev gives the service's replicas."""
        return self._environ(service)

    def _environ(self, service: str) -> dict[str, str]:
        child = next(r for r in self.replicas if r.service == service).child()
        assert child is not None, f"{service} has no running process"
        return dict(child.environ())

    def of(self, service: str) -> list[Replica]:
        return [replica for replica in self.replicas if replica.service == service]

    def server(self, binary: str) -> psutil.Process:
        """The NATS, Redis or PostgreSQL (``bin/postgres``: the postmaster) server of this
        platform: the supervisor's child running ``binary`` on this data dir."""
        for proc in psutil.Process(self.process.pid).children():
            with contextlib.suppress(psutil.Error):
                cmdline = " ".join(proc.cmdline())
                if binary in cmdline and str(self.data_dir) in cmdline:
                    return proc
        raise LookupError(f"no {binary} of {self.data_dir} is running")

    async def ready(self, timeout: float = READY_TIMEOUT) -> float:
        """Wait until every replica answers /readyz (and the gateway /healthz); seconds taken."""
        started = time.monotonic()
        urls = [replica.health_url for replica in self.replicas]
        urls.append(f"{self.base_url}/healthz")
        async with httpx.AsyncClient(timeout=2) as http:
            for url in urls:
                while not await _answers(http, url):
                    if time.monotonic() - started > timeout:
                        raise AssertionError(f"{url} not ready after {timeout:.0f}s")
                    await asyncio.sleep(0.25)
        return time.monotonic() - started

    async def restarted(self, replica: Replica, sig: signal.Signals) -> float:
        """Send ``sig`` to the replica's process and wait until its new process is ready."""
        old = replica.child()
        assert old is not None, f"{replica.service} has no running process"
        started = time.monotonic()
        old.send_signal(sig)
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                new = replica.child()
                if (
                    new is not None
                    and new.pid != old.pid
                    and await _answers(http, replica.health_url)
                ):
                    return time.monotonic() - started
                if time.monotonic() - started > READY_TIMEOUT:
                    raise AssertionError(f"{replica.service} did not come back after {sig.name}")
                await asyncio.sleep(0.25)


async def _answers(http: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_make_dev(port: int, window_seconds: int) -> Iterator[DevPlatform]:
    """``make dev`` with two replicas (what ``make dev`` runs, without its install step),
    ready; stopped with Ctrl-C's signal at the end, and killed if it does not stop. Its data
    and its log (``make-dev.log``) are in a new directory others may enter (PostgreSQL runs
    as its own user when we are root, and pytest's tmp dirs are the owner's only), removed
    at the end unless the block failed: then it is kept for a look (``/tmp/ticketing-faults-*``;
    pytest's own tmp dirs are rotated away by later runs)."""
    data_dir = Path(tempfile.mkdtemp(prefix="ticketing-faults-"))
    data_dir.chmod(0o755)
    env = {
        **os.environ,
        "TICKETING_PORT": str(port),
        "TICKETING_DATA_DIR": str(data_dir),
        "TICKETING_REPLICAS": "2",
        "EXPIRATION_WINDOW_SECONDS": str(window_seconds),
        "PYTHONUNBUFFERED": "1",
    }
    log = (data_dir / "make-dev.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "ticketing.devstack", "up"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    keep, dev = True, None
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        log_path = Path(log.name)
        while "ready:" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        dev = DevPlatform(process, f"http://127.0.0.1:{port}", data_dir)
        yield dev
    except BaseException:
        keep = True  # what went wrong is in there (PostgreSQL's data, NATS' streams)
        raise
    else:
        keep = False
    finally:
        if dev is not None:
            dev.stop_guests()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
