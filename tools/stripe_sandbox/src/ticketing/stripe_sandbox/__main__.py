"""``python -m ticketing.stripe_sandbox``: serve the sandbox in the foreground.

Binds ``--host``/``--port`` (default 127.0.0.1:12111; port 0 picks a free one), then prints one
line containing ``ready`` and the base URL once uvicorn accepts connections, for process
supervisors and scripts to wait on. ``--webhook-url``/``--webhook-secret`` (or
``STRIPE_SANDBOX_WEBHOOK_URL``/``STRIPE_SANDBOX_WEBHOOK_SECRET``) deliver events there, as a
Stripe webhook endpoint would receive them. Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from ticketing.stripe_sandbox.app import create_app
from ticketing.stripe_sandbox.server import DEFAULT_HOST, base_url, bind, build_server

DEFAULT_PORT = 12111


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ticketing.stripe_sandbox",
        description="A local Stripe-compatible HTTP sandbox (PaymentIntents, refunds, webhooks).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("STRIPE_SANDBOX_WEBHOOK_URL") or None,
        help="deliver events to this URL (env STRIPE_SANDBOX_WEBHOOK_URL)",
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("STRIPE_SANDBOX_WEBHOOK_SECRET") or None,
        help="sign them with this whsec_ secret (env STRIPE_SANDBOX_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level="DEBUG" if args.log_level == "trace" else args.log_level.upper(),
        format="%(asctime)s stripe-sandbox %(levelname)s %(name)s: %(message)s",
    )
    try:
        app = create_app(webhook_url=args.webhook_url, webhook_secret=args.webhook_secret)
    except ValueError as error:
        print(f"stripe-sandbox: {error}", file=sys.stderr)
        return 2
    try:
        sock = bind(args.host, args.port)
    except OSError as error:
        print(f"stripe-sandbox: cannot bind {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    url = base_url(sock)
    server = build_server(
        app,
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
