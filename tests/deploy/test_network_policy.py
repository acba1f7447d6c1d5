"""Who can reach whom once the rendered NetworkPolicies apply (staging and prod; dev has none).

A small evaluator of the NetworkPolicy rules (a pod that a policy of some type selects is
isolated in that direction; a connection needs the sender's egress and the receiver's ingress
allowed) runs over every pod of the overlay (each replica) and the peers around it: the
ingress controller, cluster DNS, cert-manager's HTTP-01 solver, a pod of another namespace
wearing our labels, an address on the internet and one on a private network. What it allows
must be exactly the platform's flows. The kubelet's probes are not modelled: most CNIs never
filter the node's own traffic (components/network-policy/kustomization.yaml)."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Any, NamedTuple

import pytest

Manifest = dict[str, Any]
Selector = dict[str, Any]
Flow = tuple[str, str, int, str]  # from (workload), to (workload), port, protocol
API = ("auth", "tickets", "orders", "payments", "query")
DATABASE_SERVICES = (*API, "notifications")
BUS = (*API, "expiration", "notifications")
NAMESPACE = {"staging": "ticketing-staging", "prod": "ticketing"}


class Endpoint(NamedTuple):
    """A pod (its namespace and labels) or an address outside the cluster (namespace None)."""

    name: str
    namespace: str | None
    labels: dict[str, str]
    ip: str
    ports: frozenset[tuple[int, str]]
    port_names: dict[str, int]


def tcp(*ports: int) -> frozenset[tuple[int, str]]:
    return frozenset((port, "TCP") for port in ports)


def overlay_pods(objects: list[Manifest]) -> list[Endpoint]:
    """One endpoint per replica of every Deployment and StatefulSet."""
    pods: list[Endpoint] = []
    for obj in (o for o in objects if o["kind"] in ("Deployment", "StatefulSet")):
        template = obj["spec"]["template"]
        declared = [port for c in template["spec"]["containers"] for port in c.get("ports", [])]
        ports = frozenset((p["containerPort"], p.get("protocol", "TCP")) for p in declared)
        names = {p["name"]: p["containerPort"] for p in declared}
        for _ in range(obj["spec"].get("replicas", 1)):
            ip = f"10.244.1.{len(pods) + 10}"
            labels = template["metadata"]["labels"]
            namespace = obj["metadata"]["namespace"]
            pods.append(Endpoint(obj["metadata"]["name"], namespace, labels, ip, ports, names))
    return pods


def peers_around(namespace: str) -> list[Endpoint]:
    dns = frozenset({(53, "UDP"), (53, "TCP")})
    nginx = {"app.kubernetes.io/name": "ingress-nginx"}
    solver = {"acme.cert-manager.io/http01-solver": "true"}
    return [
        Endpoint("ingress-nginx", "ingress-nginx", nginx, "10.244.2.2", tcp(80, 443), {}),
        Endpoint("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, "10.244.2.3", dns, {}),
        Endpoint("acme-solver", namespace, solver, "10.244.2.4", tcp(8089), {}),
        # our labels in another namespace: a stranger to every policy all the same
        Endpoint(
            "impostor", "default", {"app.kubernetes.io/name": "orders"}, "10.244.2.5", tcp(8000), {}
        ),
        Endpoint("internet", None, {}, "203.0.113.10", tcp(25, 80, 443, 465, 587, 5432), {}),
        Endpoint("private-host", None, {}, "10.20.30.40", tcp(25, 443, 465, 587), {}),
    ]


def selects(selector: Selector, labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, values = expression["key"], expression.get("values", [])
        matches = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }
        if not matches[expression["operator"]]:
            return False
    return True


def in_block(address: str, block: dict[str, Any]) -> bool:
    def within(cidr: str) -> bool:
        network, ip = ip_network(cidr), ip_address(address)
        return ip.version == network.version and ip in network

    return within(block["cidr"]) and not any(within(cidr) for cidr in block.get("except", []))


def peer_matches(peer: Selector, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return in_block(other.ip, peer["ipBlock"])
    if other.namespace is None:
        return False
    if "namespaceSelector" in peer:
        namespace_labels = {"kubernetes.io/metadata.name": other.namespace}
        if not selects(peer["namespaceSelector"], namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector", {}), other.labels)


def port_matches(rule: Manifest, target: Endpoint, port: int, protocol: str) -> bool:
    if not rule.get("ports"):
        return True
    for allowed in rule["ports"]:
        if allowed.get("protocol", "TCP") != protocol:
            continue
        if "port" not in allowed:
            return True
        first = target.port_names.get(allowed["port"], allowed["port"])
        if first <= port <= allowed.get("endPort", first):
            return True
    return False


def allows(
    policies: list[Manifest],
    direction: str,
    subject: Endpoint,
    other: Endpoint,
    target: Endpoint,
    port: int,
    protocol: str,
) -> bool:
    """Whether ``subject``'s policies let it send to ``other`` (Egress) or receive from it
    (Ingress), on ``target``'s port; a pod no policy isolates in that direction is open."""
    rules_field, peers_field = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    isolating = [
        policy
        for policy in policies
        if subject.namespace == policy["metadata"]["namespace"]
        and selects(policy["spec"]["podSelector"], subject.labels)
        and direction in policy["spec"]["policyTypes"]
    ]
    return not isolating or any(
        (
            not rule.get(peers_field)
            or any(
                peer_matches(p, policy["metadata"]["namespace"], other) for p in rule[peers_field]
            )
        )
        and port_matches(rule, target, port, protocol)
        for policy in isolating
        for rule in policy["spec"].get(rules_field) or []
    )


def reachable(objects: list[Manifest], namespace: str, sides: str = "both") -> set[Flow]:
    """Every (from, to, port) the policies allow: on both sides (where either end is in the
    namespace; traffic between two outsiders is not these policies' business), or by the
    receivers' ingress policies alone (to the namespace), or by the senders' egress alone."""
    policies = [obj for obj in objects if obj["kind"] == "NetworkPolicy"]
    endpoints = overlay_pods(objects) + peers_around(namespace)
    flows = set()
    for source, target in ((s, t) for s in endpoints for t in endpoints if s is not t):
        if not in_scope(sides, namespace, source.namespace, target.namespace):
            continue
        for port, protocol in target.ports:
            egress = sides == "ingress" or allows(
                policies, "Egress", source, target, target, port, protocol
            )
            ingress = sides == "egress" or allows(
                policies, "Ingress", target, source, target, port, protocol
            )
            if egress and ingress:
                flows.add((source.name, target.name, port, protocol))
    return flows


def in_scope(sides: str, namespace: str, source: str | None, target: str | None) -> bool:
    return {
        "both": namespace in (source, target),
        "ingress": target == namespace,
        "egress": source == namespace,
    }[sides]


def platform_flows(objects: list[Manifest]) -> set[Flow]:
    ours = {pod.name for pod in overlay_pods(objects)} | {"acme-solver"}
    flows = {(name, "kube-dns", 53, protocol) for name in ours for protocol in ("UDP", "TCP")}
    flows |= {("ingress-nginx", name, 8000, "TCP") for name in (*API, "client")}
    flows |= {("ingress-nginx", "acme-solver", 8089, "TCP")}
    flows |= {("client", name, 8000, "TCP") for name in API}
    flows |= {(name, f"{name}-postgres", 5432, "TCP") for name in DATABASE_SERVICES}
    flows |= {(name, "nats", 4222, "TCP") for name in BUS}
    flows |= {("expiration", "redis", 6379, "TCP")}
    flows |= {("payments", "internet", 443, "TCP")}
    flows |= {("notifications", "internet", port, "TCP") for port in (25, 465, 587)}
    nats_replicas = [pod for pod in overlay_pods(objects) if pod.name == "nats"]
    if len(nats_replicas) > 1:
        flows.add(("nats", "nats", 6222, "TCP"))  # cluster routes between the JetStream peers
    return flows


@pytest.mark.parametrize("sides", ["both", "ingress", "egress"])
@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_only_the_platforms_own_flows_are_allowed_by_either_side(
    rendered: dict[str, list[Manifest]], overlay: str, sides: str
) -> None:
    """Each side alone admits only the platform's flows: one mistake opens nothing."""
    namespace = NAMESPACE[overlay]
    endpoints = {
        e.name: e.namespace for e in overlay_pods(rendered[overlay]) + peers_around(namespace)
    }

    allowed = reachable(rendered[overlay], namespace, sides)
    needed = {
        flow
        for flow in platform_flows(rendered[overlay])
        if in_scope(sides, namespace, endpoints[flow[0]], endpoints[flow[1]])
    }

    assert sorted(needed - allowed) == [], "flows the platform needs but the policies deny"
    assert sorted(allowed - needed) == [], "flows the policies allow but nothing needs"


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_each_database_answers_its_own_service_only(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    allowed = reachable(rendered[overlay], NAMESPACE[overlay])

    for service in DATABASE_SERVICES:
        callers = {source for source, target, _, _ in allowed if target == f"{service}-postgres"}
        assert callers == {service}, service


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_every_pod_of_the_namespace_is_isolated_both_ways(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    policies = [obj for obj in rendered[overlay] if obj["kind"] == "NetworkPolicy"]
    (deny,) = [p for p in policies if p["metadata"]["name"] == "default-deny"]

    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert {p["metadata"]["namespace"] for p in policies} == {NAMESPACE[overlay]}


def test_dev_has_no_network_policy(rendered: dict[str, list[Manifest]]) -> None:
    assert [obj for obj in rendered["dev"] if obj["kind"] == "NetworkPolicy"] == []


def test_the_evaluator_tells_a_denied_flow_from_an_allowed_one(
    rendered: dict[str, list[Manifest]],
) -> None:
    without_policies = [obj for obj in rendered["prod"] if obj["kind"] != "NetworkPolicy"]

    open_flows = reachable(without_policies, NAMESPACE["prod"])

    assert ("impostor", "orders-postgres", 5432, "TCP") in open_flows
    assert ("payments", "private-host", 443, "TCP") in open_flows
    assert ("impostor", "orders-postgres", 5432, "TCP") not in reachable(
        rendered["prod"], NAMESPACE["prod"]
    )
