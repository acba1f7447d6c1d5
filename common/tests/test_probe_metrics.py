"""A worker's probe port serves ``/metrics`` beside its probes, outside its API document."""

from __future__ import annotations

import httpx

from ticketing.common.health import probe_app


async def test_a_workers_probe_app_serves_prometheus_text() -> None:
    app = probe_app("Ticketing test worker", [])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        scraped = await http.get("/metrics")

    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert "# TYPE ticketing_events_published_total counter" in scraped.text
    assert "/metrics" not in app.openapi()["paths"]
