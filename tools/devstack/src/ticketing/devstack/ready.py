"""Prints the ready line once every service answers; then waits (honcho needs it alive)."""

from __future__ import annotations

import signal
import sys
import time

import httpx


def wait_until_ready(urls: list[str], timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        still: list[str] = []
        for url in pending:
            try:
                ok = httpx.get(url, timeout=1).status_code == 200
            except httpx.HTTPError:
                ok = False
            if not ok:
                still.append(url)
        pending = still
        if pending:
            time.sleep(0.2)
    if pending:
        print(f"not ready after {timeout:.0f}s: {', '.join(pending)}", flush=True)
        return False
    return True


def main(argv: list[str]) -> int:
    public_url, *health_urls = argv
    started = time.monotonic()
    if wait_until_ready(health_urls):
        elapsed = time.monotonic() - started
        print(f"ready: Ticketing is up at {public_url} ({elapsed:.1f}s)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
