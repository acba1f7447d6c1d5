"""Demo data for a running ``make dev``: two users and a few tickets, through the public API."""

from __future__ import annotations

import httpx

DEMO_PASSWORD = "password123"
DEMO_TICKETS = [
    ("Radiohead — Royal Albert Hall, row F", 89.50),
    ("Champions League final, block 112", 350.00),
    ("Hamilton, Saturday matinee", 129.99),
    ("Glastonbury weekend pass", 355.00),
]


def _session(base_url: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=10)
    credentials = {"email": email, "password": DEMO_PASSWORD}
    response = client.post("/api/users/signup", json=credentials)
    if response.status_code == 400:  # already seeded: sign in instead
        response = client.post("/api/users/signin", json=credentials)
    response.raise_for_status()
    return client


def seed(base_url: str) -> int:
    seller = _session(base_url, "seller@example.com")
    _session(base_url, "buyer@example.com").close()
    for title, price in DEMO_TICKETS:
        seller.post("/api/tickets", json={"title": title, "price": price}).raise_for_status()
    seller.close()
    print(f"seeded: seller@example.com and buyer@example.com (password {DEMO_PASSWORD!r}),")
    print(f"        {len(DEMO_TICKETS)} tickets for sale at {base_url}")
    return 0
