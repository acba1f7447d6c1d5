"""Every env var the manifests give a service is a field of its Settings class, and every
required field is given: a typo or a renamed field fails here, not as a crash-looping pod.

The env vars of all services are in infra/k8s/base/env.yaml; this checks what the overlays
render (base + overlay patches)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

Manifest = dict[str, Any]
SERVICES = sorted(p.parent.name for p in Path(__file__).parents[2].glob("services/*/Dockerfile"))


def env_names(objects: list[Manifest], service: str) -> set[str]:
    (deployment,) = [
        obj for obj in objects if obj["kind"] == "Deployment" and obj["metadata"]["name"] == service
    ]
    names: set[str] = set()
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        assert "envFrom" not in container, "list env vars by name (base/env.yaml)"
        names |= {var["name"] for var in container.get("env", [])}
    return names


def settings_class(service: str) -> type[BaseSettings]:
    module_name = f"ticketing.{service}.config"
    class_name = f"{service.capitalize()}Settings"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            pytest.fail(
                f"{module_name} does not exist yet, so the env vars the manifests set for "
                f"{service} cannot be checked against {class_name}"
            )
        raise
    found = getattr(module, class_name, None)
    if not (isinstance(found, type) and issubclass(found, BaseSettings)):
        pytest.fail(f"{module_name} has no pydantic-settings class {class_name}")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_overlays_give_a_service_the_same_env_vars(
    rendered: dict[str, list[Manifest]], service: str
) -> None:
    names = {overlay: env_names(objects, service) for overlay, objects in rendered.items()}

    assert names["staging"] == names["dev"]
    assert names["prod"] == names["dev"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_env_var_set_for_a_service_is_a_field_of_its_settings(
    rendered: dict[str, list[Manifest]], service: str
) -> None:
    settings = settings_class(service)
    prefix = f"{service.upper()}_"
    names = env_names(rendered["dev"], service)

    assert settings.model_config.get("env_prefix") == prefix
    assert {name for name in names if not name.startswith(prefix)} == set()
    fields = set(settings.model_fields)
    unknown = {name for name in names if name.removeprefix(prefix).lower() not in fields}
    assert unknown == set(), f"{settings.__name__} has no field for these env vars"


@pytest.mark.parametrize("service", SERVICES)
def test_every_required_settings_field_is_set_by_the_manifests(
    rendered: dict[str, list[Manifest]], service: str
) -> None:
    settings = settings_class(service)
    prefix = f"{service.upper()}_"
    given = {name.removeprefix(prefix).lower() for name in env_names(rendered["dev"], service)}

    required = {name for name, field in settings.model_fields.items() if field.is_required()}

    assert required - given == set(), f"{settings.__name__} would refuse to start"
