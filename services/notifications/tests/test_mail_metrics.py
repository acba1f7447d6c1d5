"""What happened to emails is counted where Prometheus reads it, not only in ``snapshot()``."""

from __future__ import annotations

from uuid import uuid4

from prometheus_client import REGISTRY

from ticketing.notifications.metrics import MailMetrics


def test_a_counted_mail_is_on_the_registry_by_outcome_and_template() -> None:
    template = f"template-{uuid4().hex[:8]}"  # a series no other test counts
    metrics = MailMetrics()

    metrics.count("sent", template)
    metrics.count("sent", template)
    metrics.count("rejected", template)

    labels = {"outcome": "sent", "template": template}
    assert REGISTRY.get_sample_value("ticketing_notifications_mails_total", labels) == 2
    assert metrics.snapshot() == {"rejected": {template: 1}, "sent": {template: 2}}
