"""The dev gateway routes paths exactly as infra/routes.yaml (which the Ingress also follows)."""

import pytest

from ticketing.devstack.routes import load_routes, route_for


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/users/signup", "auth"),
        ("/api/users", "auth"),
        ("/api/tickets", "tickets"),
        ("/api/tickets/6f1c0a1e-0000-4000-8000-000000000000", "tickets"),
        ("/api/orders/abc", "orders"),
        ("/api/payments/webhook", "payments"),
        ("/api/query/tickets", "query"),
        ("/", "client"),
        ("/orders/abc", "client"),
        ("/api/usersx", "client"),  # a prefix matches whole path segments only
    ],
)
def test_each_path_goes_to_its_service(path: str, service: str) -> None:
    route = route_for(path, load_routes())

    assert route is not None
    assert route.service == service
