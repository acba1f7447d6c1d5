"""The key figures of a running ``make dev`` at a glance: the gateway's ``/dev/metrics`` (a page)
and ``/dev/metrics.json``, and ``make dev-metrics`` (``python -m ticketing.devstack.metricspage
URL``: the same figures as a table in the terminal).

The gateway scrapes every process's ``/metrics`` (the HTTP services and the workers' probe
ports; ``DEVSTACK_METRICS``, set by ``processes.py``) when asked, sums counters over the
replicas of a service and takes the largest of a sampled gauge (every replica samples the
same backlog). A process that does not answer is shown as down, never as zeros.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections import defaultdict
from collections.abc import Mapping
from html import escape

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

Figures = dict[str, dict[str, float]]
SUMMED = {
    "requests": "ticketing_http_request_duration_seconds_count",
    "request seconds": "ticketing_http_request_duration_seconds_sum",
    "published": "ticketing_events_published_total",
    "handled": "ticketing_events_handled_total",
    "failed": "ticketing_events_failed_total",
    "dead-lettered": "ticketing_events_dead_lettered_total",
    "expiries scheduled": "ticketing_expiration_jobs_scheduled_total",
    "expiries fired": "ticketing_expiration_jobs_fired_total",
    "sign-ins throttled": "ticketing_auth_sign_ins_throttled_total",
    "mails": "ticketing_notifications_mails_total",
}
LARGEST = {
    "outbox backlog": "ticketing_outbox_backlog",
    "oldest unpublished (s)": "ticketing_outbox_oldest_unpublished_age_seconds",
    "pending": "ticketing_consumer_pending_messages",
    "ack-pending": "ticketing_consumer_ack_pending_messages",
}
PLATFORM_GAUGES = {
    "refunds": "ticketing_payments_refunds",
    "stream bytes": "ticketing_stream_bytes",
    "stream cap": "ticketing_stream_max_bytes",
    "stream messages": "ticketing_stream_messages",
}
COLUMNS = ["requests", "5xx", "mean ms", *list(SUMMED)[2:6], *LARGEST]


def _service_of(process: str) -> str:
    return re.sub(r"-\d+$", "", process)  # orders-2 is a replica of orders


def summarise(scrapes: Mapping[str, str | None]) -> dict[str, object]:
    """``{process: its /metrics text, or None if it did not answer}`` -> the key figures."""
    services: Figures = defaultdict(lambda: defaultdict(float))
    platform: Figures = defaultdict(dict)
    down = sorted(process for process, text in scrapes.items() if text is None)
    for process, text in scrapes.items():
        if text is None:
            continue
        row = services[_service_of(process)]
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if labels.get("service", _service_of(process)) != _service_of(process):
                    continue  # e.g. stream gauges: every process reports them
                for column, name in SUMMED.items():
                    if sample.name == name:
                        row[column] += sample.value
                        if column == "requests" and labels.get("status", "").startswith("5"):
                            row["5xx"] += sample.value
                for column, name in LARGEST.items():
                    if sample.name == name:
                        row[column] = max(row[column], sample.value)
                for title, name in PLATFORM_GAUGES.items():
                    if sample.name == name:
                        key = labels.get("stream") or labels.get("state") or title
                        platform[title][key] = max(platform[title].get(key, 0.0), sample.value)
    for row in services.values():
        if row["requests"]:
            row["mean ms"] = round(1000 * row["request seconds"] / row["requests"], 1)
    return {
        "services": {name: dict(row) for name, row in sorted(services.items())},
        "platform": {title: dict(values) for title, values in platform.items()},
        "down": down,
    }


async def scrape_all(targets: Mapping[str, str]) -> dict[str, str | None]:
    async with httpx.AsyncClient(timeout=3) as http:

        async def scrape(url: str) -> str | None:
            try:
                response = await http.get(f"{url}/metrics")
            except httpx.TransportError:
                return None
            return response.text if response.status_code == 200 else None

        texts = await asyncio.gather(*(scrape(url) for url in targets.values()))
    return dict(zip(targets, texts, strict=True))


def as_table(summary: Mapping[str, object]) -> str:
    """The summary as plain text columns (``make dev-metrics``)."""
    services: dict[str, dict[str, float]] = summary["services"]  # type: ignore[assignment]
    lines = ["service".ljust(14) + "".join(column.rjust(14) for column in COLUMNS)]
    for name, row in services.items():
        lines.append(name.ljust(14) + "".join(f"{row.get(c, 0):>14g}" for c in COLUMNS))
    platform: dict[str, dict[str, float]] = summary["platform"]  # type: ignore[assignment]
    for title, values in platform.items():
        lines.append(f"{title}: " + ", ".join(f"{k} {v:g}" for k, v in sorted(values.items())))
    if summary["down"]:
        lines.append("not answering: " + ", ".join(summary["down"]))  # type: ignore[arg-type]
    return "\n".join(lines)


def metrics_routes(targets: Mapping[str, str]) -> list[Route]:
    async def as_json(request: Request) -> JSONResponse:
        return JSONResponse(summarise(await scrape_all(targets)))

    async def as_page(request: Request) -> HTMLResponse:
        table = escape(as_table(summarise(await scrape_all(targets))))
        return HTMLResponse(
            "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=5>"
            f"<title>Ticketing metrics</title><h1>make dev, at a glance</h1><pre>{table}</pre>"
            "<p>Every process's own figures: its <code>/metrics</code>. Refreshes every 5 s.</p>"
        )

    return [Route("/dev/metrics.json", as_json), Route("/dev/metrics", as_page)]


def main(argv: list[str]) -> int:
    base = argv[0] if argv else "http://127.0.0.1:8080"
    try:
        response = httpx.get(f"{base}/dev/metrics.json", timeout=10)
    except httpx.TransportError:
        print(f"make dev-metrics: nothing answers at {base} (is make dev running?)")
        return 1
    print(as_table(response.json()))
    print(f"\nLive page: {base}/dev/metrics")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
