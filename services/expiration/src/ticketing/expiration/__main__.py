"""``python -m ticketing.expiration``: the worker, settings from the EXPIRATION_* environment.

SIGTERM (Kubernetes) and SIGINT (Ctrl-C) stop it gracefully: no new jobs are taken, running
ones finish, scheduled ones stay in Redis for the next start.
"""

import asyncio
import signal

from ticketing.common.logs import configure_logging
from ticketing.expiration.config import ExpirationSettings
from ticketing.expiration.worker import run


async def main() -> None:
    settings = ExpirationSettings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, stop)


if __name__ == "__main__":
    configure_logging("expiration")
    asyncio.run(main())
