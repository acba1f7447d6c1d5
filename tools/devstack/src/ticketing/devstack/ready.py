"""Prints the ready line once every service answers; then waits (honcho needs it alive)."""

from __future__ import annotations

import signal
import sys
import time

import httpx


def wait_until_ready(urls: list[str], timeout: float = 120) -> bool:
    """Wait for each URL in turn: the client, which checks the services, is asked last, so
    it is not polled (and does not log) while the services are still starting."""
    deadline = time.monotonic() + timeout
    for url in urls:
        while not _answers(url):
            if time.monotonic() >= deadline:
                print(f"not ready after {timeout:.0f}s: {url}", flush=True)
                return False
            time.sleep(0.2)
    return True


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


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
