"""Counts of what happened to emails, by outcome and template, kept in one small place.

Outcomes: ``sent`` (the relay said 250), ``failed`` (an attempt the relay refused for now or
could not take: retried), ``rejected`` (5xx for the address or message: never retried),
``unknown`` (a send that never confirmed: not resent), ``suppressed`` (recipient banned).
Each count is also the Prometheus counter ``ticketing_notifications_mails_total{outcome,
template}`` on the worker's ``/metrics``; ``snapshot()`` is the same figures for tests.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from prometheus_client import Counter as PrometheusCounter

MAILS = PrometheusCounter(
    "ticketing_notifications_mails", "What happened to emails", ["outcome", "template"]
)


@dataclass
class MailMetrics:
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, outcome: str, template: str) -> None:
        self.counts[(outcome, template)] += 1
        MAILS.labels(outcome, template).inc()

    def snapshot(self) -> dict[str, dict[str, int]]:
        """{outcome: {template: count}}"""
        result: dict[str, dict[str, int]] = {}
        for (outcome, template), value in sorted(self.counts.items()):
            result.setdefault(outcome, {})[template] = value
        return result
