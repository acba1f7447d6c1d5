"""The contract_double promises nothing the real services' committed OpenAPI does not.

For every operation the double serves: its service documents the same method and path, every
status the double can answer (its own OpenAPI, built by the same ``install_error_handlers``
rules as the services', plus what each route declares) and every body field and parameter the
double reads. A drift fails here: fix the double, or the service and then ``make contracts``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from client_testing.contract_double import STANDS_IN_FOR, ContractDouble
from fastapi import Response

from ticketing.common.auth import generate_key_pair
from ticketing.devstack.routes import load_routes, route_for

OPENAPI = Path(__file__).resolve().parents[3] / "docs" / "contracts" / "openapi"
Document = dict[str, Any]
DOUBLE: Document = ContractDouble(generate_key_pair().public_pem).app().openapi()
OPERATIONS = [(method, path) for path, ops in DOUBLE["paths"].items() for method in ops]


def services_of(path: str) -> list[str]:
    """The service the ingress sends ``path`` to; the probes: every service the double plays."""
    route = route_for(path, load_routes())
    if route is None or route.service == "client":
        return list(STANDS_IN_FOR)
    return [route.service]


def _schema(document: Document, schema: dict[str, Any]) -> dict[str, Any]:
    name = schema.get("$ref", "").removeprefix("#/components/schemas/")
    found: dict[str, Any] = document["components"]["schemas"][name] if name else schema
    return found


def reads(document: Document, operation: dict[str, Any]) -> set[str]:
    """What a request carries: ``body.<field>`` and ``<in>.<name>`` of each parameter."""
    content = operation.get("requestBody", {}).get("content", {})
    body = _schema(document, content.get("application/json", {}).get("schema", {}))
    fields = {f"body.{name}" for name in body.get("properties", {})}
    return fields | {f"{p['in']}.{p['name']}" for p in operation.get("parameters", [])}


def problems(method: str, path: str, double: Document, service: str, real: Document) -> list[str]:
    """How the double's operation promises more than ``real`` (the service's document)."""
    where = f"{method.upper()} {path}"
    operation = real["paths"].get(path, {}).get(method)
    if operation is None:
        return [f"{service} has no {where}"]
    ours = double["paths"][path][method]
    found = [
        f"{service} does not document {status} for {where}"
        for status in sorted(set(ours["responses"]) - set(operation["responses"]))
    ]
    found += [
        f"{service} does not take {item} in {where}"
        for item in sorted(reads(double, ours) - reads(real, operation))
    ]
    return found


def committed(service: str) -> Document:
    document: Document = json.loads((OPENAPI / f"{service}.json").read_text(encoding="utf-8"))
    return document


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_double_answers_as_its_service_documents(method: str, path: str) -> None:
    found = [
        problem
        for service in services_of(path)
        for problem in problems(method, path, DOUBLE, service, committed(service))
    ]

    assert found == [], "contract_double disagrees with docs/contracts/openapi: " + "; ".join(found)


def test_the_double_stands_in_for_payments_including_3d_secure() -> None:
    assert ("post", "/api/payments/authenticated") in OPERATIONS
    assert "202" in DOUBLE["paths"]["/api/payments"]["post"]["responses"]
    assert {services_of(path)[0] for _, path in OPERATIONS if path.startswith("/api/")} == set(
        STANDS_IN_FOR
    )


def test_a_status_route_or_field_the_service_does_not_document_is_reported() -> None:
    real = committed("payments")
    drifted = json.loads(json.dumps(DOUBLE))
    operation = drifted["paths"]["/api/payments"]["post"]
    operation["responses"]["418"] = {"description": "teapot"}
    operation["parameters"] = [{"in": "query", "name": "coupon"}]
    drifted["paths"]["/api/payments/refund"] = {"post": operation}

    assert problems("post", "/api/payments", drifted, "payments", real) == [
        "payments does not document 418 for POST /api/payments",
        "payments does not take query.coupon in POST /api/payments",
    ]
    assert problems("post", "/api/payments/refund", drifted, "payments", real) == [
        "payments has no POST /api/payments/refund"
    ]


async def test_the_double_never_answers_a_status_it_does_not_declare(
    contract_double: ContractDouble,
) -> None:
    app = contract_double.app()

    @app.get("/api/tickets/{ticket_id}/teapot")
    async def teapot(ticket_id: UUID) -> Response:
        return Response(status_code=418)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://double") as http:
        undeclared = await http.get(f"/api/tickets/{uuid4()}/teapot")
        declared = await http.get(f"/api/tickets/{uuid4()}")

    assert undeclared.status_code == 500
    assert "answered 418 to GET /api/tickets/{ticket_id}/teapot" in undeclared.text
    assert declared.status_code == 404
    assert declared.json() == {"errors": [{"message": "Not found"}]}
