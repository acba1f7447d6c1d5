"""The Kubernetes manifests: valid for Kubernetes 1.30, complete, hardened, and per overlay
what the environment needs (dev: one replica, plain HTTP; prod: HA, HTTPS). The settings each
container gets: test_settings_env.py; who reaches whom: test_network_policy.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import kubernetes_validate
import pytest

Manifest = dict[str, Any]
KUBERNETES_VERSION = "1.30.0"
DATABASE_SERVICES = {"auth", "tickets", "orders", "payments", "query", "notifications"}
BUILT_IN_KINDS = {
    *("ConfigMap", "Deployment", "Ingress", "Secret", "Service", "StatefulSet", "Namespace"),
    *("HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"),
}
APPLICATION_KINDS = {"ConfigMap", "Deployment", "Ingress", "Service", "StatefulSet"}
HTTPS_KINDS = {"Namespace", "Certificate", "ClusterIssuer"}
MONITORING_KINDS = {"ServiceMonitor", "PrometheusRule"}  # checked in test_observability.py
EXPECTED_KINDS = {
    "dev": APPLICATION_KINDS | {"Secret"},  # the generated dev-only database credentials
    "staging": APPLICATION_KINDS | HTTPS_KINDS | {"NetworkPolicy"},
    "prod": APPLICATION_KINDS
    | HTTPS_KINDS
    | MONITORING_KINDS
    | {"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"},
}
# cert-manager CRDs have no schema in kubernetes-validate: the fields they cannot do without.
CERT_MANAGER_REQUIRED = {
    "Certificate": ("secretName", "issuerRef", "dnsNames"),
    "ClusterIssuer": ("acme",),
}
OVERLAYS = sorted(EXPECTED_KINDS)


def of_kind(objects: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def workloads(objects: list[Manifest]) -> list[Manifest]:
    return [obj for obj in objects if obj["kind"] in ("Deployment", "StatefulSet")]


def env_of(deployment: Manifest) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {var["name"]: var for var in container.get("env", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_exactly_the_expected_kinds(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    kinds = {obj["kind"] for obj in rendered[overlay]}

    assert kinds == EXPECTED_KINDS[overlay]


def schema_problems(objects: Iterable[Manifest]) -> list[str]:
    """What Kubernetes' own schemas refuse in the built-in objects among ``objects``, each as
    ``Kind/name: why`` (custom resources have no schema here: their tests check them)."""
    problems = []
    for obj in objects:
        if obj["kind"] not in BUILT_IN_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc}")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_built_in_object_is_valid_for_kubernetes_1_30(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    assert schema_problems(rendered[overlay]) == []


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_cert_manager_objects_have_their_required_fields(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    custom = [
        obj for obj in rendered[overlay] if obj["kind"] not in BUILT_IN_KINDS | MONITORING_KINDS
    ]

    assert Counter(obj["kind"] for obj in custom) == {"Certificate": 1, "ClusterIssuer": 1}
    for obj in custom:
        assert obj["apiVersion"] == "cert-manager.io/v1"
        assert obj["metadata"]["name"]
        assert set(CERT_MANAGER_REQUIRED[obj["kind"]]) <= set(obj["spec"])
    (issuer,) = of_kind(custom, "ClusterIssuer").values()
    assert "namespace" not in issuer["metadata"], "ClusterIssuer is cluster-scoped"
    acme = issuer["spec"]["acme"]
    assert acme["server"].startswith("https://")
    assert acme["privateKeySecretRef"]["name"]
    assert acme["solvers"][0]["http01"]["ingress"]["ingressClassName"] == "nginx"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_a_deployment_and_a_service_on_port_8000(
    rendered: dict[str, list[Manifest]], overlay: str, service_names: list[str]
) -> None:
    deployments = of_kind(rendered[overlay], "Deployment")
    services = of_kind(rendered[overlay], "Service")

    assert sorted(deployments) == service_names
    for name in service_names:
        assert [port["port"] for port in services[name]["spec"]["ports"]] == [8000]
        assert services[name]["spec"]["selector"] == {"app.kubernetes.io/name": name}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_paths_are_exactly_the_route_table(
    rendered: dict[str, list[Manifest]], overlay: str, route_table: list[dict[str, str]]
) -> None:
    (ingress,) = of_kind(rendered[overlay], "Ingress").values()
    services = of_kind(rendered[overlay], "Service")

    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    paths = rule["http"]["paths"]
    assert [(path["path"], path["backend"]["service"]["name"]) for path in paths] == [
        (route["prefix"], route["service"]) for route in route_table
    ]
    assert {path["pathType"] for path in paths} == {"Prefix"}
    for path in paths:
        backend = path["backend"]["service"]
        service_ports = services[backend["name"]]["spec"]["ports"]
        assert backend["port"] in ({"name": p["name"]} for p in service_ports)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_database_service_has_its_own_persistent_postgres_16(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    statefulsets = of_kind(rendered[overlay], "StatefulSet")
    services = of_kind(rendered[overlay], "Service")

    postgres = {name for name in statefulsets if name.endswith("-postgres")}
    assert postgres == {f"{service}-postgres" for service in DATABASE_SERVICES}
    for name in postgres:
        spec = statefulsets[name]["spec"]
        (container,) = spec["template"]["spec"]["containers"]
        assert container["image"].startswith("postgres:16")
        password = env_of(statefulsets[name])["POSTGRES_PASSWORD"]
        assert password["valueFrom"]["secretKeyRef"]["key"] == "password"
        assert [claim["metadata"]["name"] for claim in spec["volumeClaimTemplates"]] == ["data"]
        assert services[spec["serviceName"]]["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_persists_jetstream_and_redis_appends_only(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    statefulsets = of_kind(rendered[overlay], "StatefulSet")
    nats, redis = statefulsets["nats"]["spec"], statefulsets["redis"]["spec"]

    nats_args = " ".join(nats["template"]["spec"]["containers"][0]["args"])
    assert "-js -sd /data" in nats_args or nats_args == "--config /etc/nats/nats.conf"
    assert "--appendonly yes" in " ".join(redis["template"]["spec"]["containers"][0]["args"])
    for spec in (nats, redis):
        assert spec["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_as_non_root_read_only_with_probes_and_resources(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    for workload in workloads(rendered[overlay]):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod.get("initContainers", []) + pod["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["runAsUser"] > 0, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
            # dev syncs code into the HTTP services' site-packages (components/live-sync)
            live_sync = (
                overlay == "dev"
                and workload["metadata"]["labels"].get("app.kubernetes.io/component") == "api"
            )
            assert security["readOnlyRootFilesystem"] is not live_sync, where
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in container, f"{where} has no {probe}"
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_run_as_uid_10001_ready_on_readyz_alive_on_healthz(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    for name, deployment in of_kind(rendered[overlay], "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["securityContext"]["runAsUser"] == 10001, name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], name


def test_dev_runs_one_replica_each_on_ticketing_local_over_http(
    rendered: dict[str, list[Manifest]],
) -> None:
    dev = rendered["dev"]
    (ingress,) = of_kind(dev, "Ingress").values()

    assert {obj["spec"]["replicas"] for obj in workloads(dev)} == {1}
    assert ingress["spec"]["rules"][0]["host"] == "ticketing.local"
    assert "tls" not in ingress["spec"]


def test_only_dev_generates_secrets_and_only_database_placeholders(
    rendered: dict[str, list[Manifest]],
) -> None:
    secrets = of_kind(rendered["dev"], "Secret")

    assert {name.rsplit("-", 1)[0] for name in secrets} == {
        f"{service}-db" for service in DATABASE_SERVICES
    }
    assert of_kind(rendered["staging"], "Secret") == {}
    assert of_kind(rendered["prod"], "Secret") == {}


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_outside_dev_the_ingress_serves_https_with_a_cert_manager_certificate(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    objects = rendered[overlay]
    (ingress,) = of_kind(objects, "Ingress").values()
    (certificate,) = of_kind(objects, "Certificate").values()
    (issuer,) = of_kind(objects, "ClusterIssuer").values()

    host = ingress["spec"]["rules"][0]["host"]
    assert ingress["spec"]["tls"] == [
        {"hosts": [host], "secretName": certificate["spec"]["secretName"]}
    ]
    assert (
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
        == (issuer["metadata"]["name"])
    )
    assert certificate["spec"]["dnsNames"] == [host]
    assert certificate["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": issuer["metadata"]["name"],
    }


def test_prod_runs_two_or_more_replicas_of_each_http_service_with_hpa_and_pdb(
    rendered: dict[str, list[Manifest]], http_service_names: list[str]
) -> None:
    prod = rendered["prod"]
    deployments = of_kind(prod, "Deployment")
    autoscalers = of_kind(prod, "HorizontalPodAutoscaler")
    budgets = of_kind(prod, "PodDisruptionBudget")

    for name in http_service_names:
        assert deployments[name]["spec"]["replicas"] >= 2, name
        autoscaler = autoscalers[name]
        assert autoscaler["apiVersion"] == "autoscaling/v2"
        assert autoscaler["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert autoscaler["spec"]["minReplicas"] >= 2
        assert budgets[name]["spec"]["selector"] == {
            "matchLabels": deployments[name]["spec"]["selector"]["matchLabels"]
        }


def test_prod_runs_a_three_node_jetstream_cluster(rendered: dict[str, list[Manifest]]) -> None:
    prod = rendered["prod"]
    nats = of_kind(prod, "StatefulSet")["nats"]
    pod = nats["spec"]["template"]["spec"]
    config_map_name = next(v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v)
    config = of_kind(prod, "ConfigMap")[config_map_name]["data"]["nats.conf"]

    assert nats["spec"]["replicas"] == 3
    assert nats["spec"]["podManagementPolicy"] == "Parallel"
    assert "jetstream" in config
    assert "store_dir: /data" in config
    for ordinal in range(3):
        assert f"nats://nats-{ordinal}.{nats['spec']['serviceName']}:6222" in config
    assert of_kind(prod, "PodDisruptionBudget")["nats"]["spec"]["maxUnavailable"] == 1
