"""Keeps one dev process alive: a crash is reported and the process restarted with backoff.

honcho stops everything when one of its processes exits; wrapping each command in this
supervisor turns "the orders service crashed" into a logged restart instead. SIGTERM/SIGINT
stop the child and the supervisor, so Ctrl-C still leaves nothing behind.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import FrameType


def supervise(command: list[str]) -> int:
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delay = 1.0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        code = child.wait()
        if stopping:
            return 0
        if time.monotonic() - started > 30:
            delay = 1.0  # it ran for a while: this is a new crash, not a crash loop
        print(f"!! crashed with exit code {code}; restarting in {delay:.0f}s", flush=True)
        time.sleep(delay)
        delay = min(delay * 2, 30)
        if stopping:
            return 0


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1:]))
