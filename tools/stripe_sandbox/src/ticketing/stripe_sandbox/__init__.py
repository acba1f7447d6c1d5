"""A local Stripe-compatible HTTP sandbox: PaymentIntents, charges and refunds, in memory.

Point the real SDK at it with ``stripe.StripeClient("sk_test_...", base_addresses={"api":
base_url}, max_network_retries=0)``. Modules: ``app`` (routes, auth, idempotent POSTs),
``ledger`` (objects and Stripe's rules), ``params`` (form decoding), ``cards`` (test cards),
``idempotency`` (key store), ``errors`` (Stripe's error shape), ``server`` (``serve()`` /
``run_in_thread()``) and ``__main__`` (``python -m ticketing.stripe_sandbox``).
"""

from ticketing.stripe_sandbox.app import create_app
from ticketing.stripe_sandbox.ledger import Ledger
from ticketing.stripe_sandbox.server import run_in_thread, serve

__all__ = ["Ledger", "create_app", "run_in_thread", "serve"]
