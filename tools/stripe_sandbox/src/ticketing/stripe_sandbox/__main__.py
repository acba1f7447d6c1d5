"""``python -m ticketing.stripe_sandbox``: serve the sandbox in the foreground.

Binds ``--host``/``--port`` (default 127.0.0.1:12111; port 0 picks a free one), then prints one
line containing ``ready`` and the base URL once uvicorn accepts connections, for process
supervisors and scripts to wait on. Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ticketing.stripe_sandbox.app import create_app
from ticketing.stripe_sandbox.server import DEFAULT_HOST, base_url, bind, build_server

DEFAULT_PORT = 12111


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ticketing.stripe_sandbox",
        description="A local Stripe-compatible HTTP sandbox (PaymentIntents and refunds).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sock = bind(args.host, args.port)
    except OSError as error:
        print(f"stripe-sandbox: cannot bind {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    url = base_url(sock)
    server = build_server(
        create_app(),
        on_ready=lambda: print(f"stripe-sandbox ready on {url}", flush=True),
        log_level=args.log_level,
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
