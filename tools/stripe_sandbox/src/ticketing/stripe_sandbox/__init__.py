"""A local Stripe-compatible HTTP sandbox: PaymentIntents (3-D Secure included), refunds and
signed webhooks, in memory.

Point the real SDK at it with ``stripe.StripeClient("sk_test_...", base_addresses={"api":
base_url}, max_network_retries=0)``. Modules: ``app`` (the routes), ``sandbox`` (how a v1
request runs: auth, params, idempotency), ``ledger`` (objects and Stripe's rules, with
``payment_intents``, ``payment_methods``, ``cards`` and ``money``), ``webhooks`` (signed
delivery), ``control`` (``/_sandbox/*``) and ``three_d_secure`` (the authentication page),
``server`` (``serve()`` / ``run_in_thread()``) and ``__main__`` (``python -m
ticketing.stripe_sandbox``).
"""

from ticketing.stripe_sandbox.app import create_app
from ticketing.stripe_sandbox.ledger import Ledger
from ticketing.stripe_sandbox.server import run_in_thread, serve

__all__ = ["Ledger", "create_app", "run_in_thread", "serve"]
