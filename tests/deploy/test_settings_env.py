"""What each service container's environment is once Kubernetes has expanded it: its
``envFrom`` ConfigMaps (under their prefixes) and its ``env`` entries, as the overlays render
them. Every variable is a field of the service's Settings class, every required field is set,
secrets come from Secrets only, and the values that differ per environment differ as meant: a
typo, a renamed field or a secret in a ConfigMap fails here, not as a crash-looping pod."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest
from pydantic_settings import BaseSettings

Manifest = dict[str, Any]
SERVICES = sorted(
    p.parent.name for p in Path(__file__).parents[2].glob("services/*/pyproject.toml")
)
# Fields that hold a secret (or, for the keys, live beside one): only ever from a Secret.
SECRET_FIELD = re.compile(r"(database_url|_key|secret|password)$")
PUBLIC_URL = {
    "dev": "http://ticketing.local",
    "staging": "https://staging.ticketing.example.com",
    "prod": "https://ticketing.example.com",
}


class SecretRef(NamedTuple):
    name: str
    key: str


Value = str | SecretRef


def of_kind(objects: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def config_maps(objects: list[Manifest]) -> dict[str, dict[str, str]]:
    return {name: obj.get("data", {}) for name, obj in of_kind(objects, "ConfigMap").items()}


def env_sources(objects: list[Manifest], service: str) -> list[tuple[str, Value]]:
    """(variable, value) in the order Kubernetes applies them: envFrom, then env. A variable
    given twice is listed twice (the later one would win, silently)."""
    maps = config_maps(objects)
    (container,) = of_kind(objects, "Deployment")[service]["spec"]["template"]["spec"]["containers"]
    given: list[tuple[str, Value]] = []
    for source in container.get("envFrom", []):
        assert "secretRef" not in source, "secrets by key (env), never a whole Secret"
        prefix = source.get("prefix", "")
        given += [
            (prefix + key, value) for key, value in maps[source["configMapRef"]["name"]].items()
        ]
    for var in container.get("env", []):
        if "value" in var:
            given.append((var["name"], var["value"]))
        elif "configMapKeyRef" in var["valueFrom"]:
            ref = var["valueFrom"]["configMapKeyRef"]
            given.append((var["name"], maps[ref["name"]][ref["key"]]))
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            given.append((var["name"], SecretRef(ref["name"], ref["key"])))
    return given


def effective_env(objects: list[Manifest], service: str) -> dict[str, Value]:
    return dict(env_sources(objects, service))


def settings_class(service: str) -> type[BaseSettings]:
    module_name = f"ticketing.{service}.config"
    class_name = f"{service.capitalize()}Settings"
    found = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(found, type) and issubclass(found, BaseSettings)):
        pytest.fail(f"{module_name} has no pydantic-settings class {class_name}")
    return found


def fields_given(objects: list[Manifest], service: str) -> dict[str, Value]:
    prefix = f"{service.upper()}_"
    return {
        name.removeprefix(prefix).lower(): value
        for name, value in effective_env(objects, service).items()
    }


@pytest.mark.parametrize("service", SERVICES)
def test_overlays_give_a_service_the_same_env_vars(
    rendered: dict[str, list[Manifest]], service: str
) -> None:
    names = {overlay: set(effective_env(objects, service)) for overlay, objects in rendered.items()}

    assert names["staging"] == names["dev"]
    assert names["prod"] == names["dev"]


@pytest.mark.parametrize("overlay", ["dev", "staging", "prod"])
@pytest.mark.parametrize("service", SERVICES)
def test_no_env_var_is_given_twice(
    rendered: dict[str, list[Manifest]], service: str, overlay: str
) -> None:
    names = [name for name, _ in env_sources(rendered[overlay], service)]

    assert sorted(names) == sorted(set(names))


@pytest.mark.parametrize("service", SERVICES)
def test_every_env_var_set_for_a_service_is_a_field_of_its_settings(
    rendered: dict[str, list[Manifest]], service: str
) -> None:
    settings = settings_class(service)
    prefix = f"{service.upper()}_"
    names = set(effective_env(rendered["dev"], service))

    assert settings.model_config.get("env_prefix") == prefix
    assert {name for name in names if not name.startswith(prefix)} == set()
    unknown = {
        name for name in names if name.removeprefix(prefix).lower() not in settings.model_fields
    }
    assert unknown == set(), f"{settings.__name__} has no field for these env vars"


@pytest.mark.parametrize("service", SERVICES)
def test_every_required_settings_field_is_set_by_the_manifests(
    rendered: dict[str, list[Manifest]], service: str
) -> None:
    settings = settings_class(service)
    required = {name for name, field in settings.model_fields.items() if field.is_required()}

    assert required - set(fields_given(rendered["dev"], service)) == set(), (
        f"{settings.__name__} would refuse to start"
    )


@pytest.mark.parametrize("overlay", ["dev", "staging", "prod"])
@pytest.mark.parametrize("service", SERVICES)
def test_secrets_reach_a_service_from_secrets_only(
    rendered: dict[str, list[Manifest]], service: str, overlay: str
) -> None:
    given = fields_given(rendered[overlay], service)

    secret_fields = {name for name in given if SECRET_FIELD.search(name)}
    assert {name for name in secret_fields if not isinstance(given[name], SecretRef)} == set()
    in_config_maps = {
        f"{name}/{key}"
        for name, data in config_maps(rendered[overlay]).items()
        for key in data
        if SECRET_FIELD.search(key.lower())
    }
    assert in_config_maps == set()


@pytest.mark.parametrize("overlay", ["dev", "staging", "prod"])
def test_each_overlay_sets_its_environment_cookies_stream_replicas_and_site(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    env = {service: fields_given(rendered[overlay], service) for service in SERVICES}
    production = overlay != "dev"

    assert {service: given["environment"] for service, given in env.items()} == {
        service: "production" if production else "development" for service in SERVICES
    }
    assert {
        given.get("cookie_secure") for service, given in env.items() if service != "expiration"
    } == {"true" if production else "false"}
    assert {given["bus_stream_replicas"] for given in env.values() if "nats_url" in given} == {
        "3" if overlay == "prod" else "1"
    }
    assert env["payments"]["client_url"] == PUBLIC_URL[overlay]
    assert env["notifications"]["client_base_url"] == PUBLIC_URL[overlay]


@pytest.mark.parametrize("overlay", ["dev", "staging", "prod"])
def test_orders_and_expiration_wait_the_same_payment_grace(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    orders = fields_given(rendered[overlay], "orders")
    expiration = fields_given(rendered[overlay], "expiration")

    assert orders["payment_grace_seconds"] == expiration["payment_grace_seconds"] == "30"


@pytest.mark.parametrize("overlay", ["dev", "staging", "prod"])
def test_internal_urls_name_a_service_and_port_of_the_overlay(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    services = of_kind(rendered[overlay], "Service")
    urls = {
        f"{service}.{field}": value
        for service in SERVICES
        for field, value in fields_given(rendered[overlay], service).items()
        if isinstance(value, str)
        and field.endswith("_url")
        and field != "client_url"
        and field != "client_base_url"
    }

    assert len(urls) == 5 + 7 + 1  # the client's upstreams, every bus process's NATS, Redis
    for where, url in urls.items():
        parts = urlsplit(url)
        assert parts.hostname in services, where
        assert parts.port in [port["port"] for port in services[parts.hostname]["spec"]["ports"]]
