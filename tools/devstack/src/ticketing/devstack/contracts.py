"""The platform's contracts as files, for review and for clients in any language.

``make contracts`` (``python -m ticketing.devstack.contracts``) writes, under docs/contracts/:

- ``events/<type>.schema.json``: the JSON Schema (2020-12) of each event as published, the
  envelope with its ``data`` (``ticketing.common.events``);
- ``openapi/<service>.json``: the OpenAPI document of each API the ingress routes to (the
  client serves HTML and has no OpenAPI; notifications and expiration serve only health
  probes, which no client of the platform calls).

Output is deterministic (sorted keys, two-space indent, trailing newline), so a contract change
shows up as a diff in review; a test regenerates everything in memory and fails when the
committed files are stale.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ticketing.common.auth import generate_key_pair
from ticketing.common.events import EVENT_TYPES
from ticketing.devstack.configuration import settings_class
from ticketing.devstack.routes import load_routes

CONTRACTS = Path(__file__).resolve().parents[5] / "docs" / "contracts"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Never connected to: building an app opens nothing, only its lifespan would.
PLACEHOLDER_DATABASE = "postgresql+asyncpg://contracts@127.0.0.1:1/contracts"


def api_services() -> list[str]:
    """The services whose JSON API the ingress routes to (``infra/routes.yaml``)."""
    return sorted({route.service for route in load_routes()} - {"client"})


def event_schema(event_type: str) -> dict[str, Any]:
    """What a consumer reads: every envelope field is always there, defaults included."""
    schema = EVENT_TYPES[event_type].model_json_schema(by_alias=True, mode="serialization")
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def service_app(service: str) -> FastAPI:
    """``create_app(settings)`` of the service, with settings that reach no infrastructure."""
    keys = generate_key_pair()
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": PLACEHOLDER_DATABASE,
        "jwt_public_key": keys.public_pem,
    }
    if service == "auth":
        values["jwt_private_key"] = keys.private_pem
    settings = settings_class(service)(**values)
    app: FastAPI = importlib.import_module(f"ticketing.{service}.app").create_app(settings)
    return app


def openapi_document(service: str) -> dict[str, Any]:
    document: dict[str, Any] = service_app(service).openapi()
    return document


def render() -> dict[str, str]:
    """Every contract file: its path under docs/contracts/ -> its exact text."""
    documents = {f"events/{name}.schema.json": event_schema(name) for name in EVENT_TYPES}
    documents |= {f"openapi/{name}.json": openapi_document(name) for name in api_services()}
    return {path: _text(documents[path]) for path in sorted(documents)}


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def committed(root: Path = CONTRACTS) -> dict[str, str]:
    """The contract files on disk, by the same relative paths."""
    files = sorted(root.glob("events/*.json")) + sorted(root.glob("openapi/*.json"))
    return {path.relative_to(root).as_posix(): path.read_text(encoding="utf-8") for path in files}


def write(root: Path = CONTRACTS) -> list[str]:
    """Bring ``root`` up to date (a removed event or service loses its file); what changed."""
    wanted, present = render(), committed(root)
    for path in sorted(set(present) - set(wanted)):
        (root / path).unlink()
    for path, text in wanted.items():
        if present.get(path) != text:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
    return sorted(
        path for path in set(wanted) | set(present) if wanted.get(path) != present.get(path)
    )


if __name__ == "__main__":
    changed = write()
    print("\n".join(f"docs/contracts/{path}" for path in changed) or "docs/contracts: up to date")
