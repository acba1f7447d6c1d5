"""``docs/reliability.md``: what the last fault suite run did to the platform and what it found,
written by the suite itself (so the figures are measured, never typed)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from faults.load import Load, counts
from faults.record import FaultRecord
from ticketing.testkit.platform_invariants import Snapshot

REPORT = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


@dataclass
class Run:
    started: float
    load_started: float
    load_stopped: float
    ended: float
    startup_seconds: float
    window_seconds: int
    faults: list[FaultRecord]
    load: Load
    snapshot: Snapshot
    charges: Counter[str]
    dead_letters: Counter[str]  # consumer: payload kind
    converged_after: float | None
    inconsistencies: list[str]
    grace_seconds: float
    paid_past_the_grace: list[str]


def _tally(tally: Counter[str]) -> str:
    return " / ".join(f"{tally[k]}" for k in ("2xx", "4xx", "5xx", "no answer"))


def render(run: Run) -> str:
    load, ledger = run.load, run.load.ledger
    orders = run.snapshot.get("orders", {}).get("orders", {})
    statuses = Counter(row[1] for row in orders.values())
    expired = statuses["cancelled"] - len(ledger.cancelled)
    total = counts(load.outcomes, run.load_started, run.load_stopped)
    by_action = Counter(o.action for o in load.outcomes)
    declined = sum(1 for o in load.outcomes if o.action == "pay-declined" and o.status == 400)
    lines = [
        "# Reliability: the fault suite",
        "",
        "Written by `make test-faults` (`tests/faults/`), which fails on any inconsistency. "
        f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, "
        f"{run.ended - run.started:.0f} s in all (make dev ready in {run.startup_seconds:.0f} s).",
        "",
        "The platform is `make dev` with `TICKETING_REPLICAS=2`: two processes of every service "
        "and of the expiration worker behind the gateway's balancers, one PostgreSQL (a database "
        "per service), NATS JetStream, Redis, the Stripe sandbox; "
        f"`EXPIRATION_WINDOW_SECONDS={run.window_seconds}` (payment grace 30 s).",
        "",
        "## Load",
        "",
        f"For {run.load_stopped - run.load_started:.0f} s, through every fault, sellers list "
        "tickets, buyers order them and pay (a working card, a declined card, 3-D Secure), "
        "cancel (the ticket is then offered again) or let the order expire; newcomers sign up.",
        "",
        f"- requests: {sum(total.values())} (2xx / 4xx / 5xx / no answer: {_tally(total)})",
        f"- sign-ups {len(ledger.users)}, tickets listed {len(ledger.tickets)}, "
        f"orders placed {len(ledger.orders)}, paid {len(ledger.payments)} "
        f"(and {by_action['3ds-complete']} 3-D Secure authentications; "
        f"{declined} declined), "
        f"cancelled by the buyer {len(ledger.cancelled)}, expired {expired}",
        f"- orders at the end: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}",
        f"- Stripe charges: {', '.join(f'{k} {v}' for k, v in sorted(run.charges.items()))}",
        "",
        "## Faults, one after another",
        "",
        "| # | fault | what was done | at (s) | lasted (s) | recovered in (s) | "
        "load meanwhile: 2xx / 4xx / 5xx / no answer | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number, fault in enumerate(run.faults, start=1):
        during = counts(
            load.outcomes, fault.started, fault.started + fault.lasted + fault.recovered
        )
        lines.append(
            f"| {number} | {fault.name} | {fault.what} | {fault.started - run.started:.0f} | "
            f"{fault.lasted:.1f} | {fault.recovered:.1f} | {_tally(during)} | "
            f"{'; '.join(fault.notes)} |"
        )
    converged = (
        f"converged {run.converged_after:.1f} s later"
        if run.converged_after is not None
        else "did not converge (the checks below still failed at the timeout)"
    )
    lines += [
        "",
        '"Recovered in": until every replica answered `/readyz` again and the load had '
        "placed and paid an order since.",
        "",
        "## Checked at the end",
        "",
        f"The load stopped; the platform {converged}: every order final, every outbox "
        "published, no refund owed, and every check below true.",
        "",
        "- every 2xx the load got is in the owning service's database (users, tickets, orders, "
        "payments with their order complete, cancellations);",
        "- no ticket has two live orders, and each ticket is held by exactly its live order;",
        "- a charge is kept at Stripe for exactly the complete orders (every other one refunded);",
        "- every paid-in-time order is complete;",
        "- the replicas equal their source: orders' and notifications' tickets, payments', "
        "query's and notifications' orders, query's listings, payments and users;",
        "- dead letters: only the injected poison and malformed messages "
        f"({', '.join(f'{k} {v}' for k, v in sorted(run.dead_letters.items())) or 'none'}).",
        "",
        "Paid in time (201) but refunded because the payment's event could not leave payments "
        f"within the {run.grace_seconds:.0f} s payment grace (an outage longer than the grace, "
        'DESIGN §3: "past it, the charge is refunded automatically"): '
        f"{', '.join(run.paid_past_the_grace) or 'none'}.",
        "",
        f"**Inconsistencies found: {len(run.inconsistencies)}**",
        "",
        *(f"- {problem}" for problem in run.inconsistencies),
    ]
    return "\n".join(lines).rstrip() + "\n"


def write(run: Run) -> None:
    REPORT.write_text(render(run))
