"""The platform under test, started as ``make dev`` starts it, and the bare baseline beside it.

``python -m ticketing.devstack up`` with ``TICKETING_DATA_DIR`` in the run's work dir and a free
``TICKETING_PORT``; ready when it prints its ``ready:`` line. The services' own ports (the
benchmarks measure each service directly, and the gateway in one row of its own) are read from
the command lines of the processes it started, and the dev JWT key from its data dir, so the
drivers can sign sessions for a thousand buyers without a thousand sign-ups.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from ticketing.devstack.processes import _uvicorn
from ticketing.testkit.embedded import free_port

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 180
# make dev's interpreter: .venv-runtime's (the workspace without the dev tools; `make bench`
# passes it), else this one. The platform and the bare baseline both run on it.
PYTHON = os.environ.get("TICKETING_RUNTIME_PYTHON") or sys.executable


@dataclass
class Platform:
    gateway: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    ready_seconds: float
    ports: dict[str, int] = field(default_factory=dict)
    nats_url: str = ""  # read from a service's environment once ready (a restart may hide it)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def processes(self) -> list[psutil.Process]:
        """Everything the platform runs: make dev's supervisor (its own memory and the CPU of
        relaying every child's output count too), the tree under it and PostgreSQL."""
        supervisor = psutil.Process(self.process.pid)
        found: list[psutil.Process] = [supervisor, *supervisor.children(recursive=True)]
        known = {p.pid for p in found}
        for proc in psutil.process_iter(["cmdline"]):
            if proc.pid not in known and str(self.data_dir) in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        return found

    def env_of(self, service: str) -> dict[str, str]:
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                if f"ticketing.{service}.app:create_app" in proc.cmdline():
                    env: dict[str, str] = proc.environ()
                    return env
        raise LookupError(service)


def _service_ports(processes: list[psutil.Process]) -> dict[str, int]:
    ports: dict[str, int] = {}
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            argv = proc.cmdline()
            if "--factory" in argv and "--port" in argv:
                service = argv[argv.index("--factory") + 1].split(".")[1]
                ports.setdefault(service, int(argv[argv.index("--port") + 1]))
    return ports


@contextlib.contextmanager
def running_platform(*, window_seconds: int, workdir: Path) -> Iterator[Platform]:
    """make dev with its data dir ``workdir/dev`` and its log ``workdir/make-dev.log``: a
    cold start on a new ``workdir``, a warm one (databases migrated, streams there) on one
    that a platform before it used."""
    data_dir, port = workdir / "dev", free_port()
    env = {
        **os.environ,
        "TICKETING_PORT": str(port),
        "TICKETING_DATA_DIR": str(data_dir),
        "TICKETING_REPLICAS": "1",
        "EXPIRATION_WINDOW_SECONDS": str(window_seconds),
    }
    log = (workdir / "make-dev.log").open("wb")
    started = time.monotonic()
    process = subprocess.Popen(
        [PYTHON, "-m", "ticketing.devstack", "up"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    platform = Platform(f"http://127.0.0.1:{port}", data_dir, process, 0.0)
    try:
        _await_ready(Path(log.name), process)
        platform.ready_seconds = time.monotonic() - started
        platform.ports = _service_ports(platform.processes())
        platform.nats_url = platform.env_of("orders")["ORDERS_NATS_URL"]
        yield platform
    except BaseException:
        lines = Path(log.name).read_text(errors="replace").splitlines()
        crashes = [line for line in lines if "crash" in line.lower() or "rror" in line]
        print("make dev's errors during the run:", *crashes[-40:], sep="\n", file=sys.stderr)
        raise
    finally:
        _stop(platform)
        log.close()


def _await_ready(log: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "ready:" in text:
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"make dev did not get ready:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(platform: Platform) -> None:
    """Ctrl-C, as a person stops make dev; whatever is left after 30 s is killed by pid."""
    leftovers = platform.processes()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(platform.process.pid, signal.SIGINT)
    try:
        platform.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(platform.process.pid, signal.SIGKILL)
        platform.process.wait()
    _, alive = psutil.wait_procs(leftovers, timeout=10)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()


@contextlib.contextmanager
def bare_endpoint() -> Iterator[str]:
    """``benchmarks.bare`` under the services' own uvicorn command line; its base URL."""
    port = free_port()
    _, *arguments = _uvicorn("benchmarks.bare", port)
    process = subprocess.Popen([PYTHON, *arguments], cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/tickets", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
