"""docs/contracts/ holds exactly what the code says: every event's schema, every API's OpenAPI."""

from __future__ import annotations

import json
from pathlib import Path

from ticketing.common.events import EVENT_TYPES
from ticketing.devstack.contracts import api_services, committed, render, write


def test_the_committed_contracts_are_what_the_code_generates() -> None:
    wanted, present = render(), committed()

    stale = sorted(p for p in set(wanted) | set(present) if wanted.get(p) != present.get(p))

    assert stale == [], f"docs/contracts/ is stale ({', '.join(stale)}): run `make contracts`"


def test_there_is_one_schema_per_event_type_and_one_document_per_api() -> None:
    paths = set(render())

    assert {p for p in paths if p.startswith("events/")} == {
        f"events/{name}.schema.json" for name in EVENT_TYPES
    }
    assert {p for p in paths if p.startswith("openapi/")} == {
        "openapi/auth.json", "openapi/tickets.json", "openapi/orders.json",
        "openapi/payments.json", "openapi/query.json",
    }  # fmt: skip
    assert api_services() == ["auth", "orders", "payments", "query", "tickets"]


def test_each_openapi_document_serves_its_own_prefix_and_the_probes() -> None:
    documents = {path: json.loads(text) for path, text in render().items()}

    for service, prefix in [("auth", "/api/users"), ("tickets", "/api/tickets")]:
        paths = set(documents[f"openapi/{service}.json"]["paths"])
        assert {"/healthz", "/readyz"} <= paths
        assert all(p in ("/healthz", "/readyz") or p.startswith(prefix) for p in paths)


def test_writing_fixes_a_stale_file_removes_an_orphan_and_adds_a_missing_one(
    tmp_path: Path,
) -> None:
    write(tmp_path)
    (tmp_path / "events/ticket.created.schema.json").write_text("{}\n")
    (tmp_path / "events/ticket.deleted.schema.json").write_text("{}\n")
    (tmp_path / "openapi/orders.json").unlink()

    changed = write(tmp_path)

    assert changed == [
        "events/ticket.created.schema.json",
        "events/ticket.deleted.schema.json",
        "openapi/orders.json",
    ]
    assert committed(tmp_path) == render()
    assert write(tmp_path) == []
