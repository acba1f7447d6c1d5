"""make dev's process handling: the supervisor restarts crashes; a busy port is refused."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from conftest import StartDev

CRASH_ONCE = """
import pathlib, sys, time
marker = pathlib.Path(sys.argv[1])
if not marker.exists():
    marker.write_text("crashed once")
    sys.exit(3)
pathlib.Path(sys.argv[2]).write_text("second run")
time.sleep(600)
"""


def wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_crashed_process_is_reported_restarted_and_stopped_cleanly(tmp_path: Path) -> None:
    crashed, restarted = tmp_path / "crashed", tmp_path / "restarted"
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "ticketing.devstack.supervise",
         sys.executable, "-c", CRASH_ONCE, str(crashed), str(restarted)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_for(restarted)
        children = psutil.Process(supervisor.pid).children()
        assert len(children) == 1  # the second run, alive

        supervisor.send_signal(signal.SIGTERM)

        assert supervisor.wait(timeout=15) == 0
        assert not children[0].is_running()
        output = supervisor.stdout.read() if supervisor.stdout else ""
        assert "crashed with exit code 3; restarting in 1s" in output
    finally:
        if supervisor.poll() is None:
            supervisor.kill()


def test_make_dev_refuses_a_busy_port_with_a_clear_message(
    tmp_path: Path, start_dev: StartDev
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = start_dev({"TICKETING_PORT": str(port)})

    assert result.returncode == 1
    assert f"port {port} is in use" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written
