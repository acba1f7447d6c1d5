"""`make dev` as a person uses it: start, wait for the ready line, use it, Ctrl-C, nothing left."""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from ticketing.common.embedded import free_port

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 120


def _processes_of(root: psutil.Process, data_dir: Path) -> list[psutil.Process]:
    """Everything make dev started: its descendants and the postgres it daemonised."""
    found = root.children(recursive=True)
    for proc in psutil.process_iter(["cmdline"]):
        if str(data_dir) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


@pytest.fixture
def make_dev(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    data_dir = tmp_path / "dev-data"
    env = {**os.environ, "TICKETING_PORT": str(port), "TICKETING_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        ["make", "--no-print-directory", "dev"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "ready:" in line:
                break
        assert any("ready:" in line for line in lines), "".join(lines[-60:])
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_make_dev_serves_the_platform_and_stops_cleanly(
    make_dev: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    base_url, process = make_dev
    started = _processes_of(psutil.Process(process.pid), tmp_path / "dev-data")
    assert len(started) > 5

    with httpx.Client(base_url=base_url, timeout=10) as browser:
        signup = browser.post(
            "/api/users/signup", json={"email": "dev@example.com", "password": "password123"}
        )
        ticket = browser.post("/api/tickets", json={"title": "Smoke test", "price": 12.5})
        home = browser.get("/")
    assert signup.status_code == 201
    assert ticket.status_code == 201
    assert home.status_code == 200
    assert "dev@example.com" in home.text  # the first HTML already knows who is signed in

    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does
    assert process.wait(timeout=60) in (0, 2, 130, -signal.SIGINT)  # make dies of the SIGINT too
    _, alive = psutil.wait_procs(started, timeout=15)
    assert [p.pid for p in alive] == [], f"left behind: {[p.cmdline() for p in alive]}"
